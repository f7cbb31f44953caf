"""Small argument checks shared by modules, costs and the training loop.

They run on every forward call, so each one is a handful of attribute reads;
scanning for NaN is left to the entry points that see the data once
(`minibp.train.train`, `minibp.train.evaluate`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ._blas import all_finite
from .errors import NonFiniteError, ShapeError


def as_batch(x: object, owner: object, n: int, dtype: np.dtype | None = None) -> NDArray:
    """Return ``x`` as a real ``(n, m)`` array of ``dtype``, or raise naming ``owner`` (a module)."""
    if type(x) is not np.ndarray:
        x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] != n:
        hint = ""
        if x.ndim == 1:
            hint = " (a single example must be a column: use x.reshape(-1, 1))"
        elif x.ndim == 2 and x.shape[1] == n:
            hint = " (examples are columns: did you pass rows? use x.T)"
        raise ShapeError(f"{owner} expected input of shape ({n}, m), got {x.shape}{hint}")
    kind = x.dtype.kind
    if kind not in "fiub":
        raise TypeError(f"{owner} expected a real numeric array, got dtype {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        x = x.astype(dtype)
    return x


def check_finite(x: NDArray, what: str) -> None:
    """Raise `NonFiniteError` if ``x`` holds NaN or infinity.

    For a contiguous array (in either order) this is one BLAS pass without a
    temporary (see `minibp._blas.all_finite`); the data set is checked once per
    `train` call, so that pass matters for large data.
    """
    if x.dtype.kind != "f":
        return
    flat = x if x.flags.c_contiguous else x.T if x.T.flags.c_contiguous else None
    if flat is not None and all_finite(flat):
        return
    if not np.isfinite(x).all():
        bad = np.argwhere(~np.isfinite(x))[0]
        raise NonFiniteError(
            f"{what} contains non-finite values (first at index {tuple(int(i) for i in bad)}: {x[tuple(bad)]})"
        )


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Return a `numpy.random.Generator`: ``rng`` itself, or one seeded with it.

    ``None`` gives a generator seeded from the operating system. numpy's global
    random state is never used.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")
