r"""What every data set shares: where the files live, the `Splits` a loader returns, examples as columns, memory.

Only the standard library, numpy and `minibp.errors` are imported here, so
every other room of `minibp.data` can import it: `_common` imports nothing of
`minibp.data`; `idx` imports only `_common`; `remote` and `sample` import
`_common`; `mnist` imports all four, and nothing imports `mnist` but the
package itself.

Memory: a loader returns floats, 8 bytes a pixel in ``float64`` and 4 in
``float32``, so what it takes is known from the files' headers before any
pixel is read. Every loader compares that with its ``max_bytes`` argument
(by default [`DEFAULT_MAX_BYTES`][minibp.data._common.DEFAULT_MAX_BYTES], 1 GiB) and
refuses, naming the size, a data set that would take more: a few hundred
kilobytes of gzip can declare gigabytes of pixels.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .._checks import is_integer
from ..errors import DataFormatError, MinibpError

__all__ = [
    "Splits",
    "DataNotFoundError",
    "data_home",
    "float_dtype",
    "as_columns",
    "DEFAULT_MAX_BYTES",
    "check_max_bytes",
    "check_size",
    "describe_bytes",
]

#: The most memory a loader's arrays may take unless told otherwise: 1 GiB (1,073,741,824 bytes).
#: MNIST and Fashion-MNIST take 439,600,000 bytes in float64, less than half of it.
DEFAULT_MAX_BYTES = 1 << 30


class Splits(NamedTuple):
    """Training, validation and test data, each an ``(X, y)`` pair.

    ``X`` has shape ``(n_in, N)`` (examples as columns, each contiguous in
    memory) and ``y`` shape ``(N,)`` (``int64`` labels).
    """

    training: tuple[NDArray, NDArray]
    validation: tuple[NDArray, NDArray]
    test: tuple[NDArray, NDArray]


class DataNotFoundError(MinibpError, FileNotFoundError):
    """The files of a data set are not where they were looked for; the message says where and how to get them."""


def data_home() -> Path:
    """Return the root directory for downloaded data sets.

    ``$MINIBP_DATA`` if set, else ``$XDG_CACHE_HOME/minibp``, else
    ``~/.cache/minibp``. Each data set lives in a sub-directory named after it.
    """
    env = os.environ.get("MINIBP_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "minibp"


def float_dtype(dtype: DTypeLike) -> np.dtype:
    """Return ``np.dtype(dtype)`` if it is a floating type.

    Raises:
        TypeError: it is not (an integer dtype would truncate every pixel to 0 or 1).
    """
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"dtype must be a floating type such as float64 or float32, got {dt}")
    return dt


def as_columns(images: NDArray[np.uint8], dtype: DTypeLike = np.float64) -> NDArray:
    """Turn ``(N, rows, cols)`` bytes into an ``(rows * cols, N)`` float array in $[0, 1]$.

    The result is the transpose of a C-ordered ``(N, rows * cols)`` array, so
    each example (column) is contiguous in memory.
    """
    rows = images.reshape(images.shape[0], -1)
    out = np.empty(rows.shape, dtype=float_dtype(dtype))
    np.divide(rows, 255, out=out)
    return out.T


def check_max_bytes(max_bytes: object) -> int | None:
    """Return ``max_bytes`` if it is ``None`` (no limit) or a positive integer.

    Raises:
        TypeError: it is neither an integer nor ``None``.
        ValueError: it is not positive.
    """
    if max_bytes is None:
        return None
    if not is_integer(max_bytes):
        raise TypeError(f"max_bytes must be an integer number of bytes or None, got {max_bytes!r}")
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be positive, got {max_bytes!r}")
    return int(max_bytes)


def _human(n: int) -> str:
    """``n`` bytes for a reader, in integer arithmetic: a header's sizes can multiply past a float's range."""
    for unit, size in (("PB", 10**15), ("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= size:
            tenths = (10 * n + size // 2) // size  # rounded to one decimal place
            return f"{tenths // 10:,}.{tenths % 10} {unit}"
    return f"{n} bytes"


def _scientific(n: int) -> str:
    """A positive integer as ``d.de+k`` (truncated), without ``str(n)``, which refuses more than 4,300 digits."""
    k = max(0, int((n.bit_length() - 1) * 0.30102999566398120) - 1)  # log10(2); k <= floor(log10 n)
    while 10 ** (k + 1) <= n:
        k += 1
    two = n // 10 ** (k - 1) if k else 10 * n
    return f"{two // 10}.{two % 10}e+{k:02d}"


def describe_bytes(n: int) -> str:
    """``n`` bytes as ``"1,073,741,824 bytes (1.1 GB)"``; beyond $10^{21}$ only the order, ``"about 3.4e+38 bytes"``."""
    if n >= 10**21:
        return f"about {_scientific(n)} bytes"
    return f"{n:,} bytes ({_human(n)})"


def check_size(what: str, nbytes: int, max_bytes: int | None) -> None:
    """Refuse, before anything is allocated, arrays of ``nbytes`` bytes in all when that exceeds ``max_bytes``.

    Args:
        what: the arrays and where they come from, to start the message.
        nbytes: what they would take.
        max_bytes: the limit, or ``None`` for none.

    Raises:
        DataFormatError: ``nbytes > max_bytes``; the message gives both.
    """
    if max_bytes is not None and nbytes > max_bytes:
        raise DataFormatError(
            f"{what} would take {describe_bytes(nbytes)} of memory, more than max_bytes={describe_bytes(max_bytes)}; "
            "pass a larger max_bytes (or max_bytes=None for no limit) if this is meant"
        )
