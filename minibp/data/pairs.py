"""The data `minibp.train.train` and `minibp.train.evaluate` take: ``(X, y)`` pairs with examples as columns.

``X`` has shape ``(n_in, N)``; ``y`` holds labels or targets (read by
`minibp.data.targets`). Each check names the function at fault and what was
passed; data given as the book's list of ``(x, y)`` tuples, or as rows, get a
hint on how to convert them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._checks import check_finite
from ..errors import ShapeError
from ..module import Module, evaluation_mode

__all__ = ["check_inputs", "output_size", "unpack"]


def output_size(net: Module, X: NDArray, what: str) -> int:
    """Run one example through ``net`` to learn (and check) the output size."""
    with evaluation_mode(net), np.errstate(all="ignore"):
        try:
            out = net(X[:, :1])
        except ShapeError as err:  # the module saw one probe column: say what the caller passed
            hint = " (examples are columns: did you pass rows? use X.T)" if fits(net, X.T) else ""
            raise ShapeError(f"{what}: X of shape {X.shape} does not fit the network{hint}: {err}") from err
    return out.shape[0]


def fits(net: Module, X: NDArray) -> bool:
    """Whether the first column of ``X`` goes through ``net`` (to suggest ``X.T`` for data passed as rows)."""
    try:
        net(X[:, :1])
    except (ShapeError, ValueError, TypeError):
        return False
    return True


FROM_BOOK = "looks like the book's list of (x, y) tuples; convert it with minibp.data.from_book(data)"


def is_book_list(data: object) -> bool:
    """Whether ``data`` looks like the book's examples: an iterator, or a list or tuple of ``(x, y)`` tuples."""
    return isinstance(data, Iterator) or (isinstance(data, (list, tuple)) and bool(data) and isinstance(data[0], tuple))


def unpack(data: Any, what: str) -> tuple[Any, Any]:
    """Return ``X, y`` from ``data``, naming `minibp.data.from_book` when it is the book's list of pairs."""
    if isinstance(data, tuple) and hasattr(data, "training"):
        raise TypeError(f"{what} must be a pair (X, y), got a Splits: pass data.training (or data.validation)")
    if is_book_list(data):
        raise TypeError(f"{what} {FROM_BOOK}")
    if isinstance(data, (list, tuple)) and len(data) != 2:
        raise TypeError(
            f"{what} must be a pair (X, y), got {len(data)} items; if it is the book's list of (x, y) "
            "tuples, convert it with minibp.data.from_book(data)"
        )
    X, y = data
    return X, y


def check_inputs(X: object, what: str) -> NDArray:
    if is_book_list(X):
        raise TypeError(f"{what}: X {FROM_BOOK}")
    X = np.asarray(X)
    if X.ndim != 2:
        hint = " (a single example must be a column: X.reshape(-1, 1))" if X.ndim == 1 else ""
        raise ShapeError(f"{what}: X must have shape (n_in, N) with one column per example, got {X.shape}{hint}")
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{what}: X must be a real numeric array, got dtype {X.dtype}")
    if X.shape[1] == 0:
        raise ValueError(f"{what}: X holds no examples (shape {X.shape})")
    check_finite(X, f"{what}: X")
    return X
