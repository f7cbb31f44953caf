"""Mini-batches: seeded shuffling and slicing, the book's ``SGD`` inner loop.

Each epoch draws one permutation of the ``n`` examples from the given
`numpy.random.Generator` and cuts it into consecutive slices of
``mini_batch_size``; the last slice is shorter when ``n`` is not a multiple.
Every example is used exactly once per epoch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from .._checks import is_integer
from ..errors import HyperparameterError

__all__ = ["minibatch_indices", "check_mini_batch_size"]


def check_mini_batch_size(mini_batch_size: int, n: int) -> int:
    """Return ``mini_batch_size`` as an int, or raise unless ``1 <= mini_batch_size <= n``."""
    if not is_integer(mini_batch_size):
        raise HyperparameterError(f"mini_batch_size must be an integer, got {mini_batch_size!r}")
    if not 1 <= mini_batch_size <= n:
        raise HyperparameterError(
            f"mini_batch_size must be between 1 and the number of training examples ({n}), got {mini_batch_size}"
        )
    return int(mini_batch_size)


def minibatch_indices(n: int, mini_batch_size: int, rng: np.random.Generator) -> Iterator[NDArray[np.intp]]:
    """Yield the example indices of each mini-batch of one epoch, shuffled.

    Args:
        n: number of examples.
        mini_batch_size: the book's $m$; ``1 <= m <= n``.
        rng: the generator that draws this epoch's permutation.

    Yields:
        Index arrays of shape ``(m,)`` (the last may be shorter).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> [len(i) for i in minibatch_indices(25, 10, rng)]
        [10, 10, 5]
    """
    m = check_mini_batch_size(mini_batch_size, n)
    perm = rng.permutation(n)
    for k in range(0, n, m):
        yield perm[k : k + m]
