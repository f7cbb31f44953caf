r"""Labels, targets and predictions: the one rule that turns each into the other.

A network with $n_{out} \ge 2$ outputs classifies an example as the index of
its most active output, and the target of a label $k$ is the unit vector
$e_k$ (the book's ``vectorized_result``). A network with one output classifies
an example as 1 when its output exceeds 0.5 and as 0 otherwise, and the labels
0 and 1 are its targets themselves. `minibp.train`, `minibp.plot` and the
``minibp`` command all read labels, targets and outputs through this file.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .._checks import check_finite
from ..errors import LabelError, ShapeError

__all__ = ["classes", "target_rows"]


def classes(a: NDArray) -> NDArray[np.intp]:
    """Return the class of each column of ``a``: outputs or targets, shape ``(n_out, m)``.

    The index of the largest entry, or, for a single row, whether it exceeds 0.5.

    Args:
        a: a network's outputs or targets, shape ``(n_out, m)``.

    Returns:
        Class indices, shape ``(m,)``.
    """
    if a.shape[0] == 1:
        return (a[0] > 0.5).astype(np.intp)
    return a.argmax(axis=0)


def target_rows(y: object, n: int, n_out: int, dtype: np.dtype, what: str) -> NDArray:
    """Return the target rows ``(N, n_out)`` after checking ``y`` (labels or targets)."""
    y = np.asarray(y)
    if y.ndim == 1:
        if y.shape[0] != n:
            raise ShapeError(f"{what}: X has {n} examples but y has {y.shape[0]} labels")
        if n_out == 1:  # one output neuron: the labels 0 and 1 are its targets, as `evaluate` reads them
            if y.dtype.kind not in "iufb" or not np.isin(y, (0, 1)).all():
                raise LabelError(f"{what}: a network with one output takes labels 0 and 1, got {np.unique(y)[:5]}")
            return np.asarray(y, dtype=dtype).reshape(n, 1)
        if y.dtype.kind not in "iu":
            if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
                y = y.astype(np.int64)
            else:
                raise LabelError(f"{what}: labels must be integers, got dtype {y.dtype}")
        if n and (y.min() < 0 or y.max() >= n_out):
            bad = y[(y < 0) | (y >= n_out)][0]
            raise LabelError(
                f"{what}: label {int(bad)} is out of range for a network with {n_out} outputs (0..{n_out - 1})"
            )
        rows = np.zeros((n, n_out), dtype=dtype)
        rows[np.arange(n), y] = 1  # the book's vectorized_result: e_k for label k
        return rows
    if y.ndim == 2:
        if y.shape != (n_out, n):
            raise ShapeError(
                f"{what}: targets y must have shape ({n_out}, {n}) to match X and the network's output, got {y.shape}"
            )
        if y.dtype.kind not in "fiub":
            raise TypeError(f"{what}: targets must be real numbers, got dtype {y.dtype}")
        check_finite(y, f"{what}: y")
        return np.ascontiguousarray(y.T, dtype=dtype)
    raise ShapeError(f"{what}: y must be labels of shape ({n},) or targets of shape ({n_out}, {n}), got {y.shape}")
