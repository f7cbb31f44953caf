"""Reliability, round 3, for images: a file's header decides what reading it may cost, before any pixel is decoded.

An image file declares its size in a few header bytes: a 131-byte PNG can
declare 13,300 x 13,300 pixels, and a compressible real image of a few
hundred kilobytes can hold as many. `image_to_column` (and ``minibp
predict``) refuse, from the header alone and with a `DataFormatError` naming
the file and the size, an image of more than `MAX_PIXELS`; a JPEG is first
set to decode at 1/2, 1/4 or 1/8 of its size (Pillow's ``draft``); an image
that is read is reduced by a whole factor to `WORK_PIXELS` before the
conversion to floats. The whole class, in every header format and colour
mode a tiny file can fake, is measured in a child process: its peak resident
memory stays under 300 MB.
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

from minibp.cli import main
from minibp.data import digit, image_to_column
from minibp.data.digit import MAX_SIDE, WORK_PIXELS, probe_image
from minibp.errors import DataFormatError

Image = pytest.importorskip("PIL.Image")

LIMIT = 300 * 2**20  # bytes of peak resident memory, the whole child process included


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def fake_png(width: int, height: int, colour: int = 0, depth: int = 8, *, complete: bool = False) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` and whose data hold a few zero rows, or all of them."""
    ihdr = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))
    plte = chunk(b"PLTE", bytes(range(6))) if colour == 3 else b""
    data = zlib.compress(bytes(4096), 9)
    if complete:
        row = bytes(1 + (width * depth + 7) // 8)  # filter type 0, then the zero pixels
        deflate = zlib.compressobj(9)
        data = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()
    idat = chunk(b"IDAT", data)
    return b"\x89PNG\r\n\x1a\n" + ihdr + plte + idat + chunk(b"IEND", b"")


def fake_bmp(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (4, 4)).save(buffer, "BMP")
    data = bytearray(buffer.getvalue())
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def fake_gif(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (4, 4)).save(buffer, "GIF")
    data = bytearray(buffer.getvalue())
    data[6:10] = struct.pack("<HH", width, height)  # the logical screen
    frame = data.index(b"\x2c")  # the image descriptor: left, top, width, height
    data[frame + 5 : frame + 9] = struct.pack("<HH", width, height)
    return bytes(data)


def fake_jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (16, 16), 255).save(buffer, "JPEG")
    data = bytearray(buffer.getvalue())
    sof = data.index(b"\xff\xc0")  # length, precision, then height and width
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def digit_on_paper(width: int, height: int, mode: str = "L") -> Image.Image:
    """Dark ink on white paper: a thick "7" filling the middle third of the page, as a photo would."""
    page = Image.new("L", (width, height), 235)
    bar, stem = height // 12, width // 15
    top, left, right, bottom = height // 3, width // 3, 2 * width // 3, 2 * height // 3
    page.paste(20, (left, top, right, top + bar))
    page.paste(20, (right - stem, top, right, bottom))
    return page.convert(mode)


def assert_same_digit(ours: np.ndarray, theirs: np.ndarray, atol: float) -> None:
    """Equal within ``atol`` after the better of the whole-pixel shifts by at most one pixel.

    The digit is centred by whole pixels, rounding its centre of mass; a change
    of resolution moves that centre by a fraction of a pixel, which can turn
    the rounding either way.
    """
    a, b = ours.reshape(28, 28), theirs.reshape(28, 28)
    error = min(np.abs(np.roll(a, (dy, dx), axis=(0, 1)) - b).max() for dy in (-1, 0, 1) for dx in (-1, 0, 1))
    assert error <= atol, error


MEASURE = textwrap.dedent(
    """
    import json, re, resource, sys
    from minibp.data import image_to_column
    from minibp.data.digit import probe_image
    from minibp.errors import MinibpError

    def peak():
        # VmHWM: this process's own peak; ru_maxrss can carry the peak of the process that started it
        try:
            with open("/proc/self/status") as f:
                return int(re.search(r"VmHWM:\\s*(\\d+) kB", f.read()).group(1)) * 1024
        except OSError:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)

    out = {"before": peak(), "files": {}}
    for path in sys.argv[1:]:
        try:
            probe_image(path)
        except MinibpError:
            pass
        try:
            image_to_column(path)
            result = "read"
        except Exception as err:
            result = type(err).__name__ + ": " + str(err)
        out["files"][path] = result
    out["peak"] = peak()
    print(json.dumps(out))
    """
)


def measure(paths: list) -> dict:
    """Read each file in one child process; return what each gave and the process's peak resident memory."""
    run = subprocess.run(
        [sys.executable, "-c", MEASURE, *map(str, paths)], capture_output=True, text=True, timeout=600, check=True
    )
    return json.loads(run.stdout)


def fakes() -> dict[str, bytes]:
    big = 13_300
    out = {f"png-{c}-{d}-{big}.png": fake_png(big, big, c, d) for c, d in ((0, 8), (0, 16), (0, 1), (2, 8), (3, 8))}
    out |= {f"png-{c}-{big}.png": fake_png(big, big, c) for c in (4, 6)}
    out |= {
        "png-1-bit-complete.png": fake_png(big, big, 0, 1, complete=True),  # 22 kB: every row is there
        "png-wide.png": fake_png(2**31 - 1, 1),
        "png-tall.png": fake_png(1, 2**31 - 1),
        "png-one-over.png": fake_png(MAX_SIDE + 1, MAX_SIDE, 6),
        "bmp.bmp": fake_bmp(big, big),
        "gif.gif": fake_gif(65_535, 65_535),
        "jpeg-huge.jpg": fake_jpeg(65_535, 65_535),  # over twice Pillow's own limit
        "jpeg-over-pillows-limit.jpg": fake_jpeg(MAX_SIDE * 8 + 8, MAX_SIDE * 8),
    }
    return out


def test_tiny_files_declaring_huge_images_are_refused_from_the_header_in_bounded_memory(tmp_path):
    paths = []
    for name, data in fakes().items():
        (tmp_path / name).write_bytes(data)
        assert len(data) < 30_000
        paths.append(tmp_path / name)
    result = measure(paths)
    for path in paths:
        message = result["files"][str(path)]
        assert message.startswith("DataFormatError: "), (path.name, message)
        assert repr(str(path)) in message
        assert f"more than image_to_column reads ({MAX_SIDE} x {MAX_SIDE}" in message
    assert result["peak"] < LIMIT, result["peak"]


def test_the_message_names_the_file_and_its_size(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    path.write_bytes(fake_png(13_300, 13_300))
    with pytest.raises(DataFormatError, match=r"bomb\.png' is 13300 x 13300 pixels, more than image_to_column"):
        image_to_column(path)
    with pytest.raises(DataFormatError, match=r"is 13300 x 13300 pixels"):
        probe_image(path)
    path.write_bytes(fake_jpeg(MAX_SIDE * 8 + 8, MAX_SIDE * 8))
    with pytest.raises(
        DataFormatError, match=rf"bomb\.png' declares {(MAX_SIDE * 8 + 8) * MAX_SIDE * 8:,} pixels, more than"
    ):
        image_to_column(path)  # over twice Pillow's own limit, which it refuses giving only the pixel count
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(DataFormatError, match=rf"is {MAX_SIDE * 8 + 8} x {MAX_SIDE * 8} pixels \(still 4097 x 4096"):
        image_to_column(path)


def test_images_at_the_limit_and_under_it_are_read_and_the_same_digit_as_a_small_copy(tmp_path):
    """Real, compressible images: a PNG of exactly MAX_PIXELS, a large JPEG decoded at 1/4, a grey PNG with 16 bits.

    Each gives the digit a 300 x 300 copy of the same page gives, and all are
    read in one process whose peak stays under 300 MB.
    """
    reference = image_to_column(digit_on_paper(300, 300))
    files = {
        "limit.png": (digit_on_paper(MAX_SIDE, MAX_SIDE, "RGB"), "PNG"),
        "phone.jpg": (digit_on_paper(6000, 6000), "JPEG"),
        "sixteen.png": (digit_on_paper(3000, 3000, "I;16"), "PNG"),
        "palette.png": (digit_on_paper(3000, 3000, "P"), "PNG"),
    }
    for name, (img, kind) in files.items():
        img.save(tmp_path / name, kind)
        assert (tmp_path / name).stat().st_size < 2_000_000
    result = measure([tmp_path / name for name in files])
    assert set(result["files"].values()) == {"read"}, result["files"]
    assert result["peak"] < LIMIT, result["peak"]
    for name in files:
        assert_same_digit(image_to_column(tmp_path / name), reference, atol=0.05)


def test_large_arrays_and_pillow_images_are_reduced_before_the_conversion_to_floats(monkeypatch):
    """An image given in memory is the caller's; the conversion works on a reduced copy, and the digit is the same."""
    big = digit_on_paper(3000, 2000)
    array = np.asarray(big)
    assert array.size > WORK_PIXELS
    reduced = [image_to_column(image) for image in (big, array, array > 128, array.astype(np.float32))]
    monkeypatch.setattr(digit, "WORK_PIXELS", array.size)  # as before: every pixel converted to float64
    for image, ours in zip((big, array, array > 128, array.astype(np.float32)), reduced):
        assert_same_digit(ours, image_to_column(image), atol=0.05)


def test_predict_names_the_image_and_exits_before_loading_the_model(tmp_path, capsys):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(fake_png(13_300, 13_300, 6))
    model = tmp_path / "model.npz"
    model.write_bytes(b"not read")  # the images are checked first
    with pytest.raises(SystemExit) as raised:
        main(["predict", str(model), str(bomb)])
    assert raised.value.code == 2
    err = capsys.readouterr().err
    assert "bomb.png" in err and "13300 x 13300 pixels" in err and "internal error" not in err


def test_a_large_photos_orientation_tag_still_turns_it_upright(tmp_path):
    """The tag is applied after the reduction: a sideways 3000 x 2000 JPEG gives the upright page's digit."""
    page = digit_on_paper(3000, 2000)
    page.save(tmp_path / "upright.jpg", quality=95)
    upright = image_to_column(tmp_path / "upright.jpg")
    for tag, stored in [(6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270)]:
        exif = Image.Exif()
        exif[0x0112] = tag  # the camera was held turned: show the stored pixels turned back
        page.transpose(stored).save(tmp_path / "sideways.jpg", exif=exif.tobytes(), quality=95)
        assert_same_digit(image_to_column(tmp_path / "sideways.jpg"), upright, atol=0.05)
    page.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "untagged.jpg", quality=95)
    assert np.abs(image_to_column(tmp_path / "untagged.jpg") - upright).max() > 0.5  # the check can fail
