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
than the array it claims to hold; and that array must fit in ``max_bytes``
(by default 1 GiB), checked against the header before any element is
decompressed or allocated. Every problem raises
[`DataFormatError`][minibp.errors.DataFormatError] naming the file. A Python
pickle, such as the book's ``mnist.pkl.gz``, is recognised by its name or its
first two bytes and refused with a pointer to the IDX files: it is never
unpickled (loading a pickle can run any code).
"""

from __future__ import annotations

import gzip
import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol, TypeVar, cast

import numpy as np
from numpy.typing import NDArray

from .._files import atomic_write
from ..errors import DataFormatError
from ._common import DEFAULT_MAX_BYTES, check_max_bytes, check_size, describe_bytes

__all__ = ["read_idx", "read_idx_header", "write_idx", "is_pickle", "IDX_TYPES", "PICKLE_HINT"]

#: IDX type code -> numpy dtype of the elements as stored (big-endian).
IDX_TYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_T = TypeVar("_T")
_CODES = {dt.newbyteorder("="): code for code, dt in IDX_TYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 24  # bytes per read: memory follows what the file really holds, not what its header claims
_PICKLE_SUFFIXES = (".pkl", ".pkl.gz", ".pickle", ".pickle.gz")

#: What a pickle (the book's ``mnist.pkl.gz``) is told, after its name.
PICKLE_HINT = (
    "is a Python pickle, like the book's mnist.pkl.gz; minibp never unpickles a file (loading a pickle can run "
    "any code). It reads the four IDX files of MNIST instead: get them with `minibp data download` "
    "(or load_mnist(download=True)) and pass their directory"
)


class _Stream(Protocol):
    """What the readers use of a binary file: ``open(path, "rb")``, ``gzip.GzipFile`` and ``io.BytesIO`` have it."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readinto(self, buffer: memoryview, /) -> int | None: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...  # gzip.GzipFile needs it of the file it reads


def _pickle_start(head: bytes) -> bool:
    """Whether ``head`` (the first two bytes, gunzipped) starts a pickle.

    Protocols 2 to 5 start with PROTO (``0x80``, then the protocol); 0 and 1
    with MARK (``(``) and then, for a tuple of arrays such as the book's
    data, another MARK or a GLOBAL (``c``); a list or dict adds ``l``, ``d``.
    An IDX file starts with two zero bytes, so it is never mistaken for one.
    """
    return (len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5) or head[:2] in (b"((", b"(c", b"(l", b"(d")


def is_pickle(path: str | os.PathLike) -> bool:
    """Whether the file at ``path`` is a Python pickle, judged by its name or its first two bytes.

    A name ending in ``.pkl``, ``.pickle`` (either with ``.gz``) is enough;
    otherwise the first two bytes, after gunzipping if the file is gzipped,
    are compared with how pickles start. Nothing is unpickled.
    """
    if os.fspath(path).lower().endswith(_PICKLE_SUFFIXES):
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(2)
            if head == _GZIP_MAGIC:
                f.seek(0)
                with gzip.GzipFile(fileobj=f, mode="rb") as gz:
                    head = gz.read(2)
    except (OSError, EOFError, zlib.error):
        return False
    return _pickle_start(head)


def _name(source: object) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return str(getattr(source, "name", "<stream>"))


def _read_exactly(f: _Stream, n: int) -> bytearray:
    """Read up to ``n`` bytes (fewer only at the end of the stream) into a writable buffer."""
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def _read_body(f: _Stream, n: int, what: str) -> tuple[NDArray[np.uint8], int]:
    """Read up to ``n`` bytes into a new array; return it and the number of bytes read.

    The array is allocated uninitialised, so memory pages are only touched
    as data arrive: a header that overstates the size costs nothing.
    """
    try:
        out = np.empty(n, dtype=np.uint8)
    except (MemoryError, ValueError) as err:
        raise DataFormatError(f"{what} needs {describe_bytes(n)}, more than can be allocated") from err
    view = out.data
    got = 0
    while got < n:
        k = f.readinto(view[got : min(n, got + _CHUNK)])
        if not k:
            break
        got += k
    return out, got


def _header(f: _Stream, name: str) -> tuple[tuple[int, ...], np.dtype]:
    """Read and check the magic number and the sizes; return the shape and the stored dtype."""
    head = _read_exactly(f, 4)
    if len(head) < 4:
        raise DataFormatError(f"{name}: file too short for an IDX header ({len(head)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", head)
    if zero != 0:
        if _pickle_start(bytes(head)) or name.lower().endswith(_PICKLE_SUFFIXES):
            raise DataFormatError(f"{name} {PICKLE_HINT}")
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
    return struct.unpack(f">{ndim}I", raw_dims), IDX_TYPES[code]


def _parse(f: _Stream, name: str, max_bytes: int | None) -> NDArray:
    shape, dtype = _header(f, name)
    expected = dtype.itemsize
    for n in shape:
        expected *= n
    what = f"{name}: shape {shape} of {dtype.name}"
    check_size(what, expected, max_bytes)  # before decompressing the body
    data, got = _read_body(f, expected, what)
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


def _open(source: str | os.PathLike | BinaryIO, stack: list) -> tuple[_Stream, bool]:
    """Return a binary stream positioned at the start and whether it is gzip-compressed."""
    if isinstance(source, (str, os.PathLike)):
        f = open(source, "rb")  # noqa: SIM115 - closed by the caller through ``stack``
        stack.append(f)
        magic = f.read(2)
        f.seek(0)
        return f, magic == _GZIP_MAGIC
    stream = cast(_Stream, source)  # a binary file object has readinto too; typing.BinaryIO does not declare it
    if hasattr(source, "peek"):
        return stream, source.peek(2)[:2] == _GZIP_MAGIC
    if hasattr(source, "seekable") and source.seekable():
        start = source.tell()
        magic = source.read(2)
        source.seek(start)
        return stream, magic == _GZIP_MAGIC
    raise TypeError(f"read_idx needs a path or a seekable binary file object, got {type(source).__name__}")


def _read(source: str | os.PathLike | BinaryIO, read: Callable[[_Stream, str], _T]) -> _T:
    """Open ``source`` (gunzipping it if needed), call ``read(stream, name)``, close what was opened."""
    name = _name(source)
    stack: list = []
    try:
        f, compressed = _open(source, stack)
        if compressed:
            f = gzip.GzipFile(fileobj=f, mode="rb")
            stack.append(f)
        try:
            return read(f, name)
        except (EOFError, gzip.BadGzipFile, zlib.error) as err:
            raise DataFormatError(f"{name}: corrupt or truncated gzip stream ({err})") from err
    finally:
        for f in reversed(stack):
            f.close()


def read_idx(source: str | os.PathLike | BinaryIO, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> NDArray:
    """Read an IDX file, raw or gzip-compressed, into a numpy array.

    Args:
        source: a path, or a binary file object that is seekable or has
            ``peek`` (an ``io.BufferedReader``, ``io.BytesIO``).
        max_bytes: the largest array to accept, in bytes, checked against the
            header before any element is read; ``None`` for no limit. The
            default, 1 GiB, holds any MNIST file 20 times over (the largest
            is 47,040,000 bytes of pixels).

    Returns:
        The array, with the shape of the header (``(N, 28, 28)`` for MNIST
        images, ``(N,)`` for labels) and the native-endian dtype of the type
        code (``uint8`` for MNIST). It is writable and owns no file.

    Raises:
        DataFormatError: wrong magic number (with a pointer to the IDX files
            if it is a pickle), unknown type code, zero dimensions, a
            truncated header or body, bytes after the body, a corrupt gzip
            stream, or an array larger than ``max_bytes``. The message names
            the file.
        OSError: the file cannot be opened.
    """
    max_bytes = check_max_bytes(max_bytes)
    return _read(source, lambda f, name: _parse(f, name, max_bytes))


def read_idx_header(source: str | os.PathLike | BinaryIO) -> tuple[tuple[int, ...], np.dtype]:
    """Read only the header of an IDX file: the shape and dtype its array would have.

    Reading a gzip-compressed file's header decompresses a few bytes, never
    the body, so the size of the array (``prod(shape) * dtype.itemsize``) is
    known before anything is allocated.

    Args:
        source: as for [`read_idx`][minibp.data.idx.read_idx].

    Returns:
        ``(shape, dtype)``: the sizes of the header and the native-endian
        dtype of its type code.

    Raises:
        DataFormatError: the header is wrong or truncated, as for ``read_idx``.
        OSError: the file cannot be opened.
    """
    shape, dtype = _read(source, _header)
    return shape, dtype.newbyteorder("=")


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
    if compress is None:
        compress = isinstance(target, (str, os.PathLike)) and Path(target).name.endswith(".gz")
    payload = header + body
    if compress:
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
            gz.write(payload)
        payload = buffer.getvalue()
    if isinstance(target, (str, os.PathLike)):
        atomic_write(target, lambda f: f.write(payload))  # a failed write leaves any old file as it was
    else:
        target.write(payload)
