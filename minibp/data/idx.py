r"""Read and write IDX files, the format of MNIST and Fashion-MNIST.

An IDX file is a 4-byte magic number, one big-endian ``uint32`` per dimension,
then the array's elements in C order, big-endian:

| bytes | meaning |
|---|---|
| 0, 1 | always zero |
| 2 | element type: ``0x08`` uint8, ``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64 |
| 3 | number of dimensions $d \ge 1$ |
| 4 ... $4 + 4d$ | the $d$ sizes |
| then | $\prod_i n_i$ elements |

[`read_idx`][minibp.data.idx.read_idx] accepts the file raw or gzip-compressed
(recognised by its first two bytes, not by its name). It checks every field
and the exact length, and decompresses at most one byte more than the header
announces, so a corrupt or hostile file (a "gzip bomb") costs no more memory
than the array it claims to hold. Every problem raises
[`DataFormatError`][minibp.errors.DataFormatError] naming the file.
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

from .._files import atomic_write
from ..errors import DataFormatError

__all__ = ["read_idx", "write_idx", "IDX_TYPES"]

#: IDX type code -> numpy dtype of the elements as stored (big-endian).
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("="): code for code, dt in IDX_TYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 24  # bytes per read: memory follows what the file really holds, not what its header claims


def _name(source: object) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return str(getattr(source, "name", "<stream>"))


def _read_exactly(f: BinaryIO, n: int) -> bytearray:
    """Read up to ``n`` bytes (fewer only at the end of the stream) into a writable buffer."""
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def _read_body(f: BinaryIO, n: int, name: str) -> tuple[NDArray[np.uint8], int]:
    """Read up to ``n`` bytes into a new array; return it and the number of bytes read.

    The array is allocated uninitialised, so memory pages are only touched
    as data arrive: a header that overstates the size costs nothing.
    """
    try:
        out = np.empty(n, dtype=np.uint8)
    except (MemoryError, ValueError) as err:
        raise DataFormatError(f"{name}: header announces {n} data bytes, more than can be allocated") from err
    view = memoryview(out)
    got = 0
    while got < n:
        k = f.readinto(view[got : min(n, got + _CHUNK)])
        if not k:
            break
        got += k
    return out, got


def _parse(f: BinaryIO, name: str) -> NDArray:
    head = _read_exactly(f, 4)
    if len(head) < 4:
        raise DataFormatError(f"{name}: file too short for an IDX header ({len(head)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", head)
    if zero != 0:
        raise DataFormatError(
            f"{name}: not an IDX file (magic number 0x{bytes(head).hex()}, expected 0x0000 then type and dimensions)"
        )
    if code not in IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_TYPES)
        raise DataFormatError(f"{name}: unknown IDX type code 0x{code:02X} (known: {known})")
    if ndim == 0:
        raise DataFormatError(f"{name}: IDX header declares 0 dimensions")
    raw_dims = _read_exactly(f, 4 * ndim)
    if len(raw_dims) < 4 * ndim:
        raise DataFormatError(f"{name}: truncated IDX header ({ndim} dimensions declared, file ends within them)")
    shape = struct.unpack(f">{ndim}I", raw_dims)
    dtype = IDX_TYPES[code]
    expected = dtype.itemsize
    for n in shape:
        expected *= n
    data, got = _read_body(f, expected, name)
    if got < expected:
        raise DataFormatError(
            f"{name}: truncated: shape {shape} of {dtype.name} needs {expected} data bytes, file has {got}"
        )
    if f.read(1):
        raise DataFormatError(f"{name}: extra bytes after the {expected} data bytes of shape {shape}")
    try:
        array = data.view(dtype).reshape(shape)
    except ValueError as err:  # an empty array whose other sizes multiply beyond what numpy can index
        raise DataFormatError(f"{name}: shape {shape} cannot be represented ({err})") from err
    if dtype.itemsize > 1:
        array = array.astype(dtype.newbyteorder("="))
    return array


def _open(source: str | os.PathLike | BinaryIO, stack: list) -> tuple[BinaryIO, bool]:
    """Return a binary stream positioned at the start and whether it is gzip-compressed."""
    if isinstance(source, (str, os.PathLike)):
        f = open(source, "rb")  # noqa: SIM115 - closed by the caller through ``stack``
        stack.append(f)
        magic = f.read(2)
        f.seek(0)
        return f, magic == _GZIP_MAGIC
    if hasattr(source, "peek"):
        return source, source.peek(2)[:2] == _GZIP_MAGIC
    if hasattr(source, "seekable") and source.seekable():
        start = source.tell()
        magic = source.read(2)
        source.seek(start)
        return source, magic == _GZIP_MAGIC
    raise TypeError(f"read_idx needs a path or a seekable binary file object, got {type(source).__name__}")


def read_idx(source: str | os.PathLike | BinaryIO) -> NDArray:
    """Read an IDX file, raw or gzip-compressed, into a numpy array.

    Args:
        source: a path, or a binary file object that is seekable or has
            ``peek`` (an ``io.BufferedReader``, ``io.BytesIO``).

    Returns:
        The array, with the shape of the header (``(N, 28, 28)`` for MNIST
        images, ``(N,)`` for labels) and the native-endian dtype of the type
        code (``uint8`` for MNIST). It is writable and owns no file.

    Raises:
        DataFormatError: wrong magic number, unknown type code, zero
            dimensions, a truncated header or body, bytes after the body, or a
            corrupt gzip stream. The message names the file.
        OSError: the file cannot be opened.
    """
    name = _name(source)
    stack: list = []
    try:
        f, compressed = _open(source, stack)
        if compressed:
            f = gzip.GzipFile(fileobj=f, mode="rb")
            stack.append(f)
        try:
            return _parse(f, name)
        except (EOFError, gzip.BadGzipFile, zlib.error) as err:
            raise DataFormatError(f"{name}: corrupt or truncated gzip stream ({err})") from err
    finally:
        for f in reversed(stack):
            f.close()


def write_idx(target: str | os.PathLike | BinaryIO, array: NDArray, *, compress: bool | None = None) -> None:
    """Write ``array`` as an IDX file.

    Writing to a path is atomic: the file appears complete or not at all, and
    an existing file is replaced only once the new one is fully written.

    Args:
        target: a path or a writable binary file object.
        array: any shape with at least one dimension (each size below
            $2^{32}$), dtype ``uint8``, ``int8``, ``int16``, ``int32``,
            ``float32`` or ``float64``.
        compress: gzip the file; by default, when ``target`` is a path ending
            in ``.gz``. The gzip header holds no time stamp, so equal arrays
            give equal files.

    Raises:
        ValueError: the dtype has no IDX type code, or the array is 0-dimensional.
    """
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"write_idx: no IDX type code for dtype {array.dtype}")
    if array.ndim == 0 or array.ndim > 255 or any(n >= 2**32 for n in array.shape):
        raise ValueError(f"write_idx: cannot store an array of shape {array.shape} in IDX")
    header = struct.pack(f">HBB{array.ndim}I", 0, code, array.ndim, *array.shape)
    body = np.ascontiguousarray(array, dtype=IDX_TYPES[code]).tobytes()
    is_path = isinstance(target, (str, os.PathLike))
    if compress is None:
        compress = is_path and Path(target).name.endswith(".gz")
    payload = header + body
    if compress:
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
            gz.write(payload)
        payload = buffer.getvalue()
    if is_path:
        atomic_write(target, lambda f: f.write(payload))  # a failed write leaves any old file as it was
    else:
        target.write(payload)
