r"""What every data set shares: where the files live, the `Splits` a loader returns, examples as columns.

Only the standard library, numpy and `minibp.errors` are imported here, so
every other room of `minibp.data` can import it: `_common` and `idx` import
nothing of `minibp.data`; `remote` and `sample` import `_common`; `mnist`
imports all four, and nothing imports `mnist` but the package itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
from numpy.typing import DTypeLike, NDArray

from ..errors import MinibpError

__all__ = ["Splits", "DataNotFoundError", "data_home", "float_dtype", "as_columns"]


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
