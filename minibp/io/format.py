r"""The model file's layout: an uncompressed ``.npz`` archive, checked entry by entry before any array is read.

| entry | contents |
|---|---|
| ``minibp.json`` | UTF-8 JSON in a ``uint8`` array: format and minibp versions, architecture, |
| | parameter names, tied parameters, optimizer scalars, history, rng state, your metadata, the cost |
| ``param/<name>`` | each parameter once, named as ``net.named_parameters()`` does (``param/0.w``, ...) |
| ``optimizer/<key>`` | the arrays of ``optimizer.state_dict()`` (velocities, moment estimates) |
| ``optimizer/<k>/<key>`` | the same for optimizer ``k`` of a list (format 3) |

`write_npz` writes the archive with fixed time stamps, so the same network
gives the same bytes. `open_archive` reads the ``.npy`` header of every entry
before any data: object arrays (the only way an ``.npy`` file can carry a
pickle), compressed or encrypted entries, non-numeric dtypes and sizes that
do not add up are refused before a byte of array data is allocated. Then it
checks the JSON header's format name, version and keys. What the header
*means* (the network, its parameters) is checked by `minibp.io.load_checkpoint`.
`archive_of` makes the same checks on the arrays `minibp.io.save` is about to write.

Format versions: 1 is what minibp 0.1.0 wrote; 2 (minibp 0.2.0) adds
``"tied"``, an object mapping each further name of a shared parameter to its
first name (``{"2.w": "0.w"}``), and may hold ``"rng_shared_with"``; 3
(minibp 0.3.0) adds ``"cost"``, the cost the network was trained with
(``{"type": "SoftmaxLogLikelihoodCost", "takes": "z"}``, or ``null``).
`minibp.io.save` writes the oldest version that holds what it has to say
(`header_for`): a file with no shared parameter and no cost is version 1, so
it still loads in minibp 0.1.0. Every older version loads. The keys of each
version are listed once, in ``_KEYS``.
3 also lets ``"optimizer"`` be a list, one ``{"scalars", "arrays"}`` entry per
optimizer of a list given to `minibp.io.save` (one optimizer per group of parameters), whose
arrays are stored as ``optimizer/<k>/<key>`` for optimizer ``k``; a file with such a list is
version 3 (with ``"cost"`` ``null`` if the cost is not known).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tokenize
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
from numpy.typing import NDArray

from .._checks import MAX_DEPTH, is_integer
from ..errors import ModelFormatError, ModelNestingError
from .state import ALLOWED_KINDS

__all__ = [
    "FORMAT_VERSION",
    "FORMAT_NAME",
    "HEADER",
    "PARAM",
    "OPTIM",
    "header_for",
    "header_keys",
    "write_npz",
    "Archive",
    "open_archive",
    "archive_of",
    "refusing_corrupt_files",
]

FORMAT_VERSION = 3
"""The newest file layout this minibp reads and writes; `minibp.io.load` refuses files with a larger one."""

FORMAT_NAME = "minibp-model"
HEADER = "minibp.json"
PARAM = "param/"
OPTIM = "optimizer/"
_MAX_HEADER_BYTES = 64 << 20

# What each format version adds to the JSON header: the keys every file of that version holds, each with
# the value `header_for` writes when a file has nothing to say there, and the keys a file of that version
# may hold. A file of version v holds the keys of versions 1 to v. A new key of the next release goes in
# its version's two entries here, and nowhere else in this file.
_KEYS: dict[int, dict[str, Any]] = {
    1: {
        "format": FORMAT_NAME,
        "format_version": None,
        "minibp_version": None,
        "architecture": None,
        "parameters": None,
        "optimizer": None,
        "history": None,
        "rng": None,
        "metadata": None,
    },
    2: {"tied": {}},  # further name of a shared parameter -> its first name
    3: {"cost": None},  # the cost the network was trained with: {"type": "SoftmaxLogLikelihoodCost", "takes": "z"}
}
_OPTIONAL: dict[int, frozenset[str]] = {
    2: frozenset(("rng_shared_with",)),  # the modules that draw from the shuffling generator
}


def header_keys(version: int) -> tuple[frozenset[str], frozenset[str]]:
    """Return the keys a header of format ``version`` must hold and the further keys it may hold."""
    required = frozenset(k for v in range(1, version + 1) for k in _KEYS.get(v, {}))
    optional = frozenset(k for v in range(1, version + 1) for k in _OPTIONAL.get(v, frozenset()))
    return required, optional


def header_for(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Return the header of the oldest format version that holds ``fields``, in their order.

    ``fields`` holds the keys of version 1 and, of the later keys, only those with something to say
    (``"tied"`` when a parameter is shared, ``"cost"`` when it is known). The version is the oldest
    whose keys include them all, so a file with nothing newer to say is the file minibp 0.1.0 wrote
    (and reads); the keys of that version not in ``fields`` are added with their values in `_KEYS`.
    """
    version = next(v for v in range(1, FORMAT_VERSION + 1) if set(fields) <= set().union(*header_keys(v)))
    header = {**fields, "format_version": version}
    for v in range(2, version + 1):
        for key, default in _KEYS[v].items():
            header.setdefault(key, default)
    return header


def write_npz(f: IO[bytes], arrays: Mapping[str, NDArray]) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` with fixed timestamps: the same net gives the same bytes."""
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            with archive.open(info, mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(value), allow_pickle=False)


# Everything numpy's and zipfile's parsers raise on a damaged file (found by fuzzing, see tests/test_io.py).
_READ_ERRORS = (
    ValueError,
    OSError,
    EOFError,
    KeyError,
    IndexError,
    TypeError,
    OverflowError,
    MemoryError,
    RuntimeError,  # zipfile's "encrypted, password required"; includes RecursionError
    NotImplementedError,
    UnicodeError,
    SyntaxError,  # numpy parses .npy headers with ast and tokenize
    tokenize.TokenError,
    zlib.error,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    Warning,
)


@contextlib.contextmanager
def refusing_corrupt_files(where: str) -> Iterator[None]:
    """Turn every failure of the parsers inside the block (warnings included) into `ModelFormatError`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            yield
    except ModelFormatError:
        raise
    except _READ_ERRORS as err:
        raise ModelFormatError(f"{where} is corrupt or not a minibp model: {type(err).__name__}: {err}") from err


@dataclass
class Archive:
    """An open model file whose entries and header have been checked.

    Attributes:
        header: the decoded JSON header (format, version and keys checked).
        members: ``shape, dtype`` of every entry, by key (``"param/0.w"``), read from the ``.npy`` headers.
        where: how error messages name the file.
        reader: returns the array of an entry, by key.
    """

    header: dict[str, Any]
    members: dict[str, tuple[tuple[int, ...], np.dtype]]
    where: str
    reader: Callable[[str], NDArray]

    def require_entries(self, wanted: set[str]) -> None:
        """Raise `ModelFormatError` unless the archive holds exactly the entries ``wanted``."""
        if set(self.members) != wanted:
            missing, extra = sorted(wanted - set(self.members)), sorted(set(self.members) - wanted)
            raise ModelFormatError(f"{self.where}: missing entries {missing}, unexpected entries {extra}")

    def read(self, key: str) -> NDArray:
        """Read the array of entry ``key`` (its header was checked when the archive was opened)."""
        return self.reader(key)


@contextlib.contextmanager
def open_archive(source: IO[bytes], where: str) -> Iterator[Archive]:
    """Open a model file, check every entry's ``.npy`` header and the JSON header, and yield an `Archive`."""
    start = source.tell()
    magic = source.read(4)
    source.seek(start)
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):  # only a zip archive; never a bare .npy or a pickle
        raise ModelFormatError(f"{where} is not an .npz archive (it starts with {magic!r})")
    with np.load(source, allow_pickle=False) as npz:
        if not isinstance(npz, np.lib.npyio.NpzFile):  # pragma: no cover - np.load returned a plain array
            raise ModelFormatError(f"{where}: not an .npz archive")
        archive = npz.zip
        if archive is None:  # pragma: no cover - an open NpzFile always has its zip
            raise ModelFormatError(f"{where}: not an .npz archive")
        archive_size = archive.fp.seek(0, os.SEEK_END) if archive.fp is not None else 0
        members: dict[str, tuple] = {}
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise ModelFormatError(f"{where}: unexpected entry {info.filename!r} (not an array)")
            key = info.filename[: -len(".npy")]
            if key in members:
                raise ModelFormatError(f"{where}: entry {info.filename!r} appears twice")
            members[key] = _check_member(archive, info, archive_size, where)
        _check_header_entry(members, where)
        header = _decode_header(npz[HEADER + ".npy"].tobytes(), where)
        yield Archive(_check_header(header, where), members, where, lambda key: npz[key + ".npy"])


def archive_of(arrays: Mapping[str, NDArray], where: str) -> Archive:
    """Return the `Archive` that `open_archive` would give for a file of ``arrays``, checked the same way.

    `minibp.io.save` checks what it is about to write with this, so that it refuses what loading would refuse.

    Raises:
        ModelFormatError: an entry name would not survive the zip format, or an entry or the header is refused.
    """
    members: dict[str, tuple] = {}
    for key, value in arrays.items():
        if zipfile.ZipInfo(key + ".npy").filename != key + ".npy":
            raise ModelFormatError(f"{where}: the entry name {key!r} cannot be stored in a zip archive as it is")
        _check_dtype(key + ".npy", value.dtype, where)
        members[key] = value.shape, value.dtype
    _check_header_entry(members, where)
    header = _decode_header(arrays[HEADER].tobytes(), where)
    return Archive(_check_header(header, where), members, where, arrays.__getitem__)


def _decode_header(raw: bytes, where: str) -> object:
    """The JSON header; JSON nested deeper than the decoder's recursion allows is modules nested too deep."""
    try:
        return json.loads(raw.decode("utf-8"))
    except RecursionError as err:  # hundreds of levels: far beyond MAX_DEPTH containers, refused at once
        raise ModelNestingError(
            f"{where}: the header nests JSON too deeply to decode: modules nested far more than MAX_DEPTH = "
            f"{MAX_DEPTH} containers deep"
        ) from err


def _check_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, archive_size: int, where: str) -> tuple:
    """Read and check the ``.npy`` header of one archive member; return ``(shape, dtype)``."""
    if info.flag_bits & 0x1:
        raise ModelFormatError(f"{where}: entry {info.filename!r} is encrypted")
    if info.compress_type != zipfile.ZIP_STORED:  # save never compresses; no decompressor ever runs
        raise ModelFormatError(f"{where}: entry {info.filename!r} is compressed; minibp model files are not")
    if info.compress_size > archive_size or info.file_size != info.compress_size:
        raise ModelFormatError(f"{where}: entry {info.filename!r} declares impossible sizes")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ModelFormatError(f"{where}: entry {info.filename!r} has unsupported .npy version {version}")
        header_size = member.tell()
    _check_dtype(info.filename, dtype, where)
    nbytes = math.prod(shape) * dtype.itemsize
    if header_size + nbytes != info.file_size:
        raise ModelFormatError(
            f"{where}: entry {info.filename!r} is truncated or corrupt: its header promises {nbytes} bytes of "
            f"data for shape {shape}, but it holds {info.file_size - header_size}"
        )
    return shape, dtype


def _check_dtype(filename: str, dtype: np.dtype, where: str) -> None:
    """Refuse an entry whose dtype is not a plain number type (objects, strings, records, sub-arrays)."""
    if dtype.hasobject:
        raise ModelFormatError(
            f"{where}: entry {filename!r} is an object array, which can only be read by unpickling it; "
            "refusing to load it"
        )
    if dtype.kind not in ALLOWED_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ModelFormatError(f"{where}: entry {filename!r} has dtype {dtype}, not a plain number type")


def _check_header_entry(members: Mapping[str, tuple], where: str) -> None:
    """Refuse an archive without ``minibp.json``, or one where it is not a 1-D ``uint8`` array of at most 64 MiB."""
    if HEADER not in members:
        raise ModelFormatError(f"{where}: no {HEADER!r} entry; this is not a minibp model file")
    shape, dtype = members[HEADER]
    if dtype != np.uint8 or len(shape) != 1 or shape[0] > _MAX_HEADER_BYTES:
        raise ModelFormatError(f"{where}: {HEADER!r} must be a 1-D uint8 array, got {dtype} {shape}")


def _check_header(header: object, where: str) -> dict[str, Any]:
    """Return the decoded JSON header after checking its format name, version and keys."""
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ModelFormatError(f"{where}: {HEADER!r} does not describe a minibp model")
    version = header.get("format_version")
    if not is_integer(version) or version < 1:
        raise ModelFormatError(f"{where}: invalid format version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFormatError(
            f"{where}: written in format version {version} by minibp {header.get('minibp_version')!r}; "
            f"this minibp reads format versions up to {FORMAT_VERSION}. Upgrade minibp to load it."
        )
    expected, optional = header_keys(int(version))
    if not expected <= set(header) <= expected | optional:
        raise ModelFormatError(
            f"{where}: header keys differ from format {version}: missing {sorted(expected - set(header))}, "
            f"unexpected {sorted(set(header) - expected)}"
        )
    return header
