"""IDX files: round trips, and every way a file can be wrong."""

from __future__ import annotations

import gzip
import io
import struct
import subprocess
import sys
import tracemalloc
import zlib

import numpy as np
import pytest

from minibp.data import read_idx, write_idx
from minibp.errors import DataFormatError

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


def header(code: int, *shape: int) -> bytes:
    return struct.pack(f">HBB{len(shape)}I", 0, code, len(shape), *shape)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_round_trip_every_type(tmp_path, rng, dtype, suffix):
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else np.finfo(dtype)
    array = rng.uniform(info.min / 2, info.max / 2, size=(5, 3, 4)).astype(dtype)
    path = tmp_path / f"a.idx{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)
    assert back.flags.writeable
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


def test_layout_is_big_endian_c_order(tmp_path):
    array = np.array([[0x01020304, -2], [7, 8]], dtype=np.int32)
    path = tmp_path / "x.idx"
    write_idx(path, array)
    data = path.read_bytes()
    assert data[:4] == bytes([0, 0, 0x0C, 2])
    assert data[4:12] == struct.pack(">II", 2, 2)
    assert data[12:16] == bytes([1, 2, 3, 4])
    assert data[16:20] == struct.pack(">i", -2)
    assert len(data) == 12 + 4 * 4


def test_gzip_is_recognised_by_content_not_name(tmp_path, rng):
    array = rng.integers(0, 256, size=(4, 6), dtype=np.uint8)
    gz_named_raw = tmp_path / "raw.gz"
    write_idx(gz_named_raw, array, compress=False)
    plain_named_gz = tmp_path / "compressed.idx"
    write_idx(plain_named_gz, array, compress=True)
    np.testing.assert_array_equal(read_idx(gz_named_raw), array)
    np.testing.assert_array_equal(read_idx(plain_named_gz), array)


def test_file_objects(tmp_path, rng):
    array = rng.integers(0, 256, size=(3, 2, 2), dtype=np.uint8)
    for compress in (False, True):
        buffer = io.BytesIO()
        write_idx(buffer, array, compress=compress)
        buffer.seek(0)
        np.testing.assert_array_equal(read_idx(buffer), array)
        path = tmp_path / f"f{compress}"
        path.write_bytes(buffer.getvalue())
        with open(path, "rb") as f:  # a BufferedReader: has peek
            np.testing.assert_array_equal(read_idx(f), array)


def test_caller_file_is_left_open(tmp_path, rng):
    path = tmp_path / "a.idx.gz"
    write_idx(path, rng.integers(0, 256, size=(2, 2), dtype=np.uint8))
    with open(path, "rb") as f:
        read_idx(f)
        assert not f.closed


def test_unseekable_stream_is_refused():
    class Stream(io.RawIOBase):
        def readable(self):
            return True

        def readinto(self, b):
            return 0

    with pytest.raises(TypeError, match="seekable"):
        read_idx(Stream())


def test_writer_is_deterministic_and_rejects_bad_arrays(tmp_path, rng):
    array = rng.integers(0, 256, size=(10, 28, 28), dtype=np.uint8)
    a, b = tmp_path / "a.gz", tmp_path / "b.gz"
    write_idx(a, array)
    write_idx(b, array)
    assert a.read_bytes() == b.read_bytes()
    with pytest.raises(ValueError, match="no IDX type code"):
        write_idx(tmp_path / "c", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="shape"):
        write_idx(tmp_path / "d", np.uint8(3))


# ---------------------------------------------------------------- wrong files

BAD = {
    "empty": (b"", "too short"),
    "short magic": (b"\x00\x00", "too short"),
    "wrong magic": (b"\x12\x34\x08\x01" + struct.pack(">I", 1) + b"\x00", "not an IDX file"),
    "text file": (b"label,pixel1,pixel2\n1,2,3\n", "not an IDX file"),
    "unknown type": (header(0x0A, 2) + b"\x00\x00", "unknown IDX type code 0x0A"),
    "zero dimensions": (b"\x00\x00\x08\x00", "0 dimensions"),
    "truncated dims": (b"\x00\x00\x08\x03" + struct.pack(">I", 5), "truncated IDX header"),
    "truncated body": (
        header(0x08, 2, 3) + bytes(5),
        r"truncated: shape \(2, 3\) of uint8 needs 6 data bytes, file has 5",
    ),
    "truncated wide body": (header(0x0C, 4) + bytes(15), "needs 16 data bytes, file has 15"),
    "extra bytes": (header(0x08, 2, 3) + bytes(7), "extra bytes"),
    "huge claim": (header(0x08, 2**31, 2**31, 2**31) + bytes(10), "header announces|truncated|max_bytes"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("compress", [False, True])
def test_bad_files_raise_data_format_error(tmp_path, case, compress):
    data, message = BAD[case]
    path = tmp_path / "bad-file-idx"
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    with pytest.raises(DataFormatError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def good_gzip(tmp_path) -> bytes:
    write_idx(tmp_path / "good.gz", np.arange(100, dtype=np.uint8).reshape(10, 10))
    return (tmp_path / "good.gz").read_bytes()


def test_truncated_gzip(tmp_path):
    data = good_gzip(tmp_path)
    for cut in (len(data) // 2, len(data) - 4, len(data) - 1):
        path = tmp_path / f"cut{cut}.gz"
        path.write_bytes(data[:cut])
        with pytest.raises(DataFormatError, match=r"cut\d+\.gz: corrupt or truncated gzip"):
            read_idx(path)


def test_gzip_crc_mismatch(tmp_path):
    data = bytearray(good_gzip(tmp_path))
    data[-8] ^= 0xFF  # the CRC-32 in the gzip trailer
    path = tmp_path / "crc.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(DataFormatError, match="corrupt or truncated gzip"):
        read_idx(path)


def test_gzip_with_trailing_garbage(tmp_path):
    path = tmp_path / "tail.gz"
    path.write_bytes(good_gzip(tmp_path) + b"garbage!")
    with pytest.raises(DataFormatError, match="tail.gz"):
        read_idx(path)


def test_gzip_bomb_is_not_decompressed(tmp_path):
    """A 64 MiB stream behind a header announcing 4 bytes: reading stops after 5 bytes of data."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    parts = [compressor.compress(header(0x08, 4))]
    zeros = bytes(1 << 20)
    parts += [compressor.compress(zeros) for _ in range(64)]
    parts.append(compressor.flush())
    path = tmp_path / "bomb.gz"
    path.write_bytes(b"".join(parts))
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(DataFormatError, match="extra bytes"):
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"reading the bomb allocated {peak} bytes"


def test_validation_holds_under_python_O(tmp_path):
    path = tmp_path / "bad.idx"
    path.write_bytes(header(0x08, 2, 3) + bytes(5))
    code = (
        "import sys\n"
        "from minibp.data import read_idx\n"
        "from minibp.errors import DataFormatError\n"
        "try:\n"
        f"    read_idx({str(path)!r})\n"
        "except DataFormatError as err:\n"
        "    print('refused:', err)\n"
        "    sys.exit(0)\n"
        "sys.exit(3)\n"
    )
    result = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "truncated" in result.stdout
