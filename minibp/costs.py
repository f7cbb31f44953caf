r"""Cost functions: `QuadraticCost`.

A cost has the same two verbs as a module. ``forward(a, y)`` returns the cost
of a mini-batch as a float; ``backward()`` returns $\nabla_a C$, the gradient
with respect to the network's output, ready to be passed to the last module's
``backward``.

**Reduction.** Costs average over the ``m`` examples of the mini-batch, as the
book's $C = \frac1n\sum_x C_x$ (eq. 1) does over the training set. The
gradient therefore already carries the factor $1/m$, and one plain gradient
step $w \to w - \eta\,\partial C/\partial w$ is exactly the book's
$w \to w - \frac{\eta}{m}\sum_x \partial C_x/\partial w$ (eq. 13–14).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .errors import ShapeError

__all__ = ["Cost", "QuadraticCost"]


class Cost:
    """Base class of costs: ``forward(a, y) -> float`` and ``backward() -> dC/da``."""

    def forward(self, a: NDArray, y: NDArray) -> float:
        """Return the mean cost of the mini-batch.

        Args:
            a: network output $a^L$, shape ``(n_L, m)``.
            y: desired output $y(x)$, shape ``(n_L, m)``.
        """
        raise NotImplementedError

    def backward(self) -> NDArray:
        r"""Return $\nabla_a C$ for the last ``forward``, shape ``(n_L, m)``."""
        raise NotImplementedError

    def __call__(self, a: NDArray, y: NDArray) -> float:
        return self.forward(a, y)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _check_pair(owner: Cost, a: NDArray, y: NDArray) -> tuple[NDArray, NDArray]:
    if type(a) is not np.ndarray:
        a = np.asarray(a)
    if type(y) is not np.ndarray:
        y = np.asarray(y)
    if a.ndim != 2 or a.shape != y.shape:
        raise ShapeError(f"{owner!r}: output a {a.shape} and target y {y.shape} must both be (n_L, m)")
    return a, y


class QuadraticCost(Cost):
    r"""The quadratic cost (mean squared error), averaged over the mini-batch.

    $$C = \frac{1}{m}\sum_x \tfrac12 \lVert y(x) - a^L(x)\rVert^2,
    \qquad \nabla_a C = \frac{1}{m}\,(a^L - y)$$

    This is eq. 1 (and eq. 18–19 for one example) with the mini-batch in
    place of the training set.
    """

    def __init__(self) -> None:
        self._diff: NDArray | None = None

    def forward(self, a: NDArray, y: NDArray) -> float:
        r"""Return $\frac{1}{m}\sum_x \frac12\lVert y - a\rVert^2$.

        Args:
            a: network output $a^L$, shape ``(n_L, m)``.
            y: desired output, shape ``(n_L, m)``.

        Returns:
            The mean cost over the ``m`` columns.
        """
        a, y = _check_pair(self, a, y)
        diff = np.subtract(a, y, dtype=a.dtype)  # a^L - y
        self._diff = diff
        flat = diff.ravel()
        with np.errstate(over="ignore"):  # a diverging run gives inf here, which `train` reports
            return 0.5 * float(flat @ flat) / diff.shape[1]  # eq. 1: (1/m) sum_x 1/2 |y - a|^2

    def backward(self) -> NDArray:
        r"""Return $\nabla_a C = (a^L - y)/m$, shape ``(n_L, m)``."""
        diff = self._diff
        if diff is None:
            raise RuntimeError("QuadraticCost: backward called before forward")
        return diff / diff.shape[1]  # dC_x/da = a - y, averaged over the batch
