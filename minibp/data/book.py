r"""`from_book`: the book's lists of ``(x, y)`` pairs as minibp's ``(X, y)`` arrays.

The book's ``mnist_loader.load_data_wrapper`` gives each split as a list (a
``zip`` in Python 3 ports) of pairs: ``x`` is a ``(784, 1)`` column of
pixels, and ``y`` is a one-hot ``(10, 1)`` column in the training data but
an integer label in the validation and test data. minibp keeps a split as
two arrays instead, one example per column:

```python
training_data, validation_data, test_data = mnist_loader.load_data_wrapper()
X, y = from_book(training_data)          # X: (784, 50000) float64, y: (50000,) int64 labels
bp.train(net, (X, y), optimizer=optimizer, epochs=30, mini_batch_size=10,
         evaluation_data=from_book(validation_data))
```

Deliberately left out: reading the book's ``mnist.pkl.gz``, which is a
pickle (`minibp.data.load_mnist` reads the same digits from the IDX files).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from ..errors import LabelError, NonFiniteError, ShapeError
from ._common import float_dtype

__all__ = ["from_book"]


def from_book(data: Iterable[tuple[object, object]], *, dtype: DTypeLike = np.float64) -> tuple[NDArray, NDArray]:
    r"""Turn the book's list of ``(x, y)`` pairs into ``(X, y)`` with examples as columns.

    Each ``x`` is a column ``(n_in, 1)`` (a flat ``(n_in,)`` vector is
    taken too), the same ``n_in`` for every example. Each ``y`` is either

    - an integer label $k \ge 0$ (the book's validation and test data), or
    - a column ``(n_out, 1)`` (or ``(n_out,)``) of targets (its training
      data, where ``y`` is the one-hot $e_k$ of ``vectorized_result``),

    the same kind for every example. One-hot columns become their labels
    (``argmax``), which `minibp.train.train` turns back into the same
    one-hot targets; other columns (and any single-output column) are kept
    as targets.

    Args:
        data: the pairs, in a list, a tuple or any iterable (it is read once).
        dtype: the floating type of ``X`` (and of targets): ``float64`` (default) or ``float32``.

    Returns:
        ``(X, y)``: ``X`` of shape ``(n_in, N)``, each example contiguous in
        memory, and ``y`` either labels ``(N,)`` (``int64``) or targets
        ``(n_out, N)`` of ``dtype``.

    Raises:
        TypeError: an example is not an ``(x, y)`` pair, or holds a
            non-numeric ``x`` or ``y``.
        ShapeError: an ``x`` is not an ``(n_in, 1)`` column of the first
            example's size, or a target column differs from the first one's shape.
        LabelError: a label is negative or not an integer, or labels and
            target columns are mixed.
        NonFiniteError: an ``x`` or a target holds NaN or infinity.
        ValueError: ``data`` holds no examples.

    Each message names the index of the first bad example.

    Example:
        >>> import numpy as np
        >>> book = [(np.zeros((3, 1)), 2), (np.ones((3, 1)), 0)]
        >>> X, y = from_book(book)
        >>> X.shape, y.tolist()
        ((3, 2), [2, 0])
    """
    dt = float_dtype(dtype)
    if isinstance(data, np.ndarray):
        raise TypeError(f"from_book takes the book's list of (x, y) pairs, got an array of shape {data.shape}")
    pairs = list(data)
    if not pairs:
        raise ValueError("from_book: no examples (the list of (x, y) pairs is empty)")
    x0, y0 = _pair(pairs[0], 0, data)
    n_in = _column(x0, None, 0, "x").shape[0]
    rows = np.empty((len(pairs), n_in), dtype=dt)  # one example per row: X = rows.T keeps each contiguous
    first_is_label = np.ndim(y0) == 0
    ys: NDArray
    if first_is_label:
        ys = np.empty(len(pairs), dtype=np.int64)  # labels
    else:
        ys = np.empty((len(pairs), _column(y0, None, 0, "y").shape[0]), dtype=dt)  # target rows
    for i, pair in enumerate(pairs):
        x, y = _pair(pair, i, data)
        rows[i] = _column(x, n_in, i, "x")
        if (np.ndim(y) == 0) != first_is_label:
            kinds = ("an integer label", "a target column") if first_is_label else ("a target column", "a label")
            raise LabelError(
                f"from_book: example {i}: y is {kinds[1]} but example 0's y is {kinds[0]}; give every example "
                "the same kind of y"
            )
        ys[i] = _label(y, i) if first_is_label else _column(y, ys.shape[1], i, "y")
    _check_finite(rows, "x")
    if first_is_label:
        return rows.T, ys
    _check_finite(ys, "y")
    if ys.shape[1] > 1 and np.isin(ys, (0, 1)).all() and (ys.sum(axis=1) == 1).all():
        return rows.T, ys.argmax(axis=1).astype(np.int64)  # one-hot e_k -> k
    return rows.T, ys.T


def _pair(pair: object, i: int, data: object) -> tuple[Any, Any]:
    """Return ``(x, y)`` of example ``i``, or raise `TypeError` naming it."""
    if isinstance(pair, (tuple, list)) and len(pair) == 2:
        return pair[0], pair[1]
    got = f"an array of shape {pair.shape}" if isinstance(pair, np.ndarray) else type(pair).__name__
    hint = ""
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(d, np.ndarray) for d in data):
        hint = "; it looks like minibp's (X, y) already, which train takes as it is"
    raise TypeError(f"from_book: example {i} is {got}, not an (x, y) pair{hint}")


def _column(v: object, n: int | None, i: int, name: str) -> NDArray:
    """Return ``v`` as a flat vector of ``n`` reals (any length if ``None``), or raise naming example ``i``."""
    a = np.asarray(v)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"from_book: example {i}: {name} must hold real numbers, got dtype {a.dtype}")
    size = a.shape[0] if a.ndim in (1, 2) else -1
    if a.ndim not in (1, 2) or (a.ndim == 2 and a.shape[1] != 1) or size == 0 or (n is not None and size != n):
        want = "(n, 1)" if n is None else f"({n}, 1)"
        hint = " (a row: the book's columns are (n, 1))" if a.ndim == 2 and a.shape[0] == 1 and a.shape[1] > 1 else ""
        raise ShapeError(f"from_book: example {i}: {name} must be a column {want}, got shape {a.shape}{hint}")
    return a.reshape(-1)


def _label(y: object, i: int) -> int:
    """Return the label ``y`` of example ``i`` as an int, or raise `LabelError`."""
    a = np.asarray(y)
    if a.dtype.kind not in "iu":
        raise LabelError(f"from_book: example {i}: the label must be an integer, got {y!r}")
    if not 0 <= a <= np.iinfo(np.int64).max:
        raise LabelError(f"from_book: example {i}: the label must be an integer >= 0, got {int(a)}")
    return int(a)


def _check_finite(rows: NDArray, name: str) -> None:
    """Raise `NonFiniteError` naming the first example whose ``name`` (a row of ``rows``) holds NaN or infinity."""
    if np.isfinite(rows).all():
        return
    i = int(np.argwhere(~np.isfinite(rows))[0][0])
    raise NonFiniteError(f"from_book: example {i}: {name} holds NaN or infinity")
