r"""Cost functions: `QuadraticCost`, `CrossEntropyCost`, `LogLikelihoodCost`, `SoftmaxLogLikelihoodCost`.

A cost has the same two verbs as a module. ``forward(a, y)`` returns the cost
of a mini-batch as a float; ``backward()`` returns $\nabla_a C$, the gradient
with respect to the network's output, ready to be passed to the last module's
``backward``.

**Reduction.** Every cost here averages over the ``m`` examples of the
mini-batch, as the book's $C = \frac1n\sum_x C_x$ (eq. 1) does over the
training set, and sums over the $n_L$ output neurons. The gradient therefore
already carries the factor $1/m$, and one plain gradient step
$w \to w - \eta\,\partial C/\partial w$ is exactly the book's
$w \to w - \frac{\eta}{m}\sum_x \partial C_x/\partial w$ (eq. 13–14).

**Output error $\delta^L$** (BP1, $\delta^L = \nabla_a C \odot \sigma'(z^L)$ per
example; the $1/m$ of the reduction included):

| cost | output layer | $\delta^L$ |
|---|---|---|
| `QuadraticCost` | `Sigmoid` | $(a - y) \odot \sigma'(z)/m$ |
| `CrossEntropyCost` | `Sigmoid` | $(a - y)/m$ (fused: $\sigma'$ cancels) |
| `LogLikelihoodCost` | `Softmax` | $(a - y)/m$ (fused) |
| `SoftmaxLogLikelihoodCost` | none: the net outputs $z$ | $(\mathrm{softmax}(z) - y)/m$ |

"Fused" means ``backward()`` returns a `CostGradient`: an array holding
$\nabla_a C$ that also carries the closed-form $\delta^L$. The `Sigmoid` or
`Softmax` module that produced ``a`` returns that $\delta^L$ as it is, so
``net.backward(cost.backward())`` works with `Sequential` and `train` and
computes the book's $\delta^L = a - y$ exactly, even where $\sigma'(z)$
rounds to 0. Any other module treats it as the plain array $\nabla_a C$.

The PyTorch losses that give the same gradient step for the same $\eta$ are
listed in ``docs/snippets/cost_equivalences.md`` (checked by the tests).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ._blas import sum_of_squares
from .errors import ShapeError

__all__ = [
    "Cost",
    "CostGradient",
    "QuadraticCost",
    "CrossEntropyCost",
    "LogLikelihoodCost",
    "SoftmaxLogLikelihoodCost",
]


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


def _difference(owner: Cost, a: NDArray, y: NDArray) -> NDArray:
    """``a - y`` in ``a``'s dtype, after checking that both are real arrays of the same shape."""
    a, y = _check_pair(owner, a, y)
    return np.subtract(a, y, dtype=a.dtype)


def _compute_dtype(a: NDArray) -> np.dtype:
    """The dtype a cost computes in: ``a``'s own if it is a float type, else float64."""
    return a.dtype if a.dtype.kind == "f" else np.dtype(np.float64)


def _saved(cost: Cost) -> tuple[NDArray, NDArray]:
    """Return the ``(a, y)`` a cost's ``forward`` kept for ``backward``, or raise if there was no forward."""
    a, y = cost._a, cost._y  # type: ignore[attr-defined]
    if a is None or y is None:
        raise RuntimeError(f"{type(cost).__name__}: backward called before forward")
    return a, y


def _check_pair(owner: Cost, a: NDArray, y: NDArray) -> tuple[NDArray, NDArray]:
    if type(a) is not np.ndarray:
        a = np.asarray(a)
    if type(y) is not np.ndarray:
        y = np.asarray(y)
    if a.ndim != 2 or a.shape != y.shape:
        raise ShapeError(f"{owner!r}: output a {a.shape} and target y {y.shape} must both be (n_L, m)")
    if a.dtype.kind not in "fiub" or y.dtype.kind not in "fiub":
        raise TypeError(f"{owner!r}: a and y must be real numeric arrays, got dtypes {a.dtype} and {y.dtype}")
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
        if type(a) is not np.ndarray or type(y) is not np.ndarray or a.shape != y.shape or a.ndim != 2:
            a, y = _check_pair(self, a, y)
        diff = a - y if y.dtype == a.dtype == np.float64 else _difference(self, a, y)  # a^L - y
        self._diff = diff
        # A diverging run gives inf here (without a warning), which `train` reports.
        return 0.5 * sum_of_squares(diff) / diff.shape[1]  # eq. 1: (1/m) sum_x 1/2 |y - a|^2

    def backward(self) -> NDArray:
        r"""Return $\nabla_a C = (a^L - y)/m$, shape ``(n_L, m)``."""
        diff = self._diff
        if diff is None:
            raise RuntimeError("QuadraticCost: backward called before forward")
        return diff / diff.shape[1]  # dC_x/da = a - y, averaged over the batch


class CostGradient(np.ndarray):
    r"""$\nabla_a C$ as an array, carrying the fused $\delta^L$ for the activation that produced $a$.

    Returned by the ``backward`` of `CrossEntropyCost` and `LogLikelihoodCost`.
    Used as an array it is $\nabla_a C$. The activation named in
    ``activation`` returns ``delta`` instead of multiplying by its derivative,
    but only if its own last output is the very array ``output`` the cost
    saw (so a stale or unrelated gradient is never short-circuited).
    Arrays derived from it (slices, arithmetic) carry no ``delta``.

    Attributes:
        delta: $\delta^L = \partial C/\partial z^L$, shape ``(n_L, m)``.
        output: the array $a^L$ passed to the cost's ``forward``.
        activation: class name of the activation the fusion applies to.
    """

    delta: NDArray | None
    output: NDArray | None
    activation: str | None

    @classmethod
    def wrap(cls, grad: NDArray, delta: NDArray, output: NDArray, activation: str) -> CostGradient:
        """Return ``grad`` viewed as a `CostGradient` carrying ``delta`` for ``activation``'s ``output``."""
        g = grad.view(cls)
        g.delta, g.output, g.activation = delta, output, activation
        return g

    def __array_finalize__(self, obj: object) -> None:
        self.delta = None
        self.output = None
        self.activation = None

    def fuses(self, module: object, a: NDArray) -> bool:
        """Whether ``module`` (whose last output is ``a``) may return ``delta`` directly."""
        return self.delta is not None and self.output is a and type(module).__name__ == self.activation


def _floor(dtype: np.dtype) -> float:
    """A positive floor for denominators: small, yet 1 / floor cannot overflow."""
    info = np.finfo(dtype)
    return float(info.tiny / info.eps)


class CrossEntropyCost(Cost):
    r"""The cross-entropy cost for sigmoid outputs (chapter 3, eq. 63), averaged over the mini-batch.

    $$C = -\frac{1}{m}\sum_x \sum_j \big[y_j \ln a_j + (1 - y_j)\ln(1 - a_j)\big],$$
    $$\nabla_a C = \frac{1}{m}\,\frac{a - y}{a(1 - a)}, \qquad
      \delta^L = \nabla_a C \odot \sigma'(z^L) = \frac{1}{m}\,(a - y).$$

    The $\sigma'(z)$ of BP1 cancels: the output error no longer shrinks when
    an output neuron saturates, which is why this cost learns faster than the
    quadratic cost from a bad start. ``backward`` returns a `CostGradient`, so
    after a `Sigmoid` output layer ``net.backward(cost.backward())`` uses
    $\delta^L = (a - y)/m$ exactly.

    **Stability.** Only $a$ is seen, and in floating point $a = \sigma(z)$
    rounds to exactly 1 once $z \gtrsim 36.7$ in float64 ($\ln 2^{53}$; 16.6 in
    float32) and to 0 below $z \approx -745$. The logarithms are therefore
    taken of $\max(a, \text{tiny})$ and of $1 - \min(a, 1 - \epsilon_-)$, with
    $\epsilon_- = 2^{-53}$ the gap below 1 (``numpy.finfo(dtype).epsneg``):
    $1 - a$ cannot be smaller than that unless it is 0, so the clip changes
    nothing for any $a$ that is not exactly 0 or 1, and there it gives the cost
    at the last representable point ($\ln\epsilon_- \approx -36.7$) instead of
    $\ln 0$. No warning is raised or silenced. The gradient uses the fused
    $\delta^L$ and never divides by $a(1-a)$ on the fused path.

    Targets $y$ are in $[0, 1]$ (one-hot vectors for classification).
    """

    def __init__(self) -> None:
        self._a: NDArray | None = None
        self._y: NDArray | None = None

    def forward(self, a: NDArray, y: NDArray) -> float:
        r"""Return $-\frac1m\sum_x\sum_j [y\ln a + (1-y)\ln(1-a)]$.

        Args:
            a: network output $a^L \in [0, 1]$, shape ``(n_L, m)``.
            y: desired output in $[0, 1]$, shape ``(n_L, m)``.

        Returns:
            The mean cost over the ``m`` columns.
        """
        a, y = _check_pair(self, a, y)
        self._a, self._y = a, y
        dtype = _compute_dtype(a)
        info = np.finfo(dtype)
        log_a = np.log(np.maximum(a, info.tiny, dtype=dtype))  # ln a, never ln 0
        log_1_minus_a = np.log1p(-np.minimum(a, 1.0 - info.epsneg, dtype=dtype))  # ln(1 - a), never ln 0
        total = np.vdot(y, log_a) + np.vdot(1.0 - y, log_1_minus_a)
        return -float(total) / a.shape[1]  # eq. 63, averaged over the mini-batch

    def backward(self) -> CostGradient:
        r"""Return $\nabla_a C$, carrying $\delta^L = (a - y)/m$ for the `Sigmoid` that produced $a$.

        Returns:
            A `CostGradient` of shape ``(n_L, m)``.
        """
        a, y = _saved(self)
        dtype = _compute_dtype(a)
        delta = np.subtract(a, y, dtype=dtype)
        delta /= a.shape[1]  # delta^L = (a - y)/m: BP1 with sigma' cancelled
        denominator = np.multiply(a, 1.0 - a, dtype=dtype)  # sigma'(z) = a (1 - a)
        np.maximum(denominator, _floor(dtype), out=denominator)
        return CostGradient.wrap(delta / denominator, delta, a, "Sigmoid")


class LogLikelihoodCost(Cost):
    r"""The log-likelihood cost for a `Softmax` output layer (chapter 3, eq. 80), averaged over the mini-batch.

    $$C = -\frac{1}{m}\sum_x \sum_j y_j \ln a_j \quad(= -\tfrac1m\textstyle\sum_x \ln a_{y(x)}
      \text{ for one-hot } y),$$
    $$\nabla_a C = -\frac{1}{m}\,\frac{y}{a}, \qquad
      \delta^L = \frac{1}{m}\,(a - y) \quad\text{when each column of } y \text{ sums to 1.}$$

    ``backward`` returns a `CostGradient`, so after a `Softmax` module the
    fused $\delta^L$ is used (for targets whose columns do not sum to 1 it is
    $(a \sum_j y_j - y)/m$, still exact). The logarithm is taken of
    $\max(a, \text{tiny})$: a softmax output is exactly 0 only when it is
    more than about 745 below the column's largest input, where the clip
    caps the cost at $-\ln(\text{tiny}) \approx 708$ per example.
    `SoftmaxLogLikelihoodCost` works from $z$ and needs no clip.
    """

    def __init__(self) -> None:
        self._a: NDArray | None = None
        self._y: NDArray | None = None

    def forward(self, a: NDArray, y: NDArray) -> float:
        r"""Return $-\frac1m\sum_x\sum_j y_j\ln a_j$.

        Args:
            a: softmax output $a^L$, shape ``(n_L, m)``.
            y: desired output (one-hot or a distribution per column), shape ``(n_L, m)``.

        Returns:
            The mean cost over the ``m`` columns.
        """
        a, y = _check_pair(self, a, y)
        self._a, self._y = a, y
        dtype = _compute_dtype(a)
        log_a = np.log(np.maximum(a, np.finfo(dtype).tiny, dtype=dtype))
        return -float(np.vdot(y, log_a)) / a.shape[1]  # eq. 80, averaged over the mini-batch

    def backward(self) -> CostGradient:
        r"""Return $\nabla_a C = -y/(m a)$, carrying $\delta^L = (a\sum_j y_j - y)/m$ for the `Softmax`.

        Returns:
            A `CostGradient` of shape ``(n_L, m)``.
        """
        a, y = _saved(self)
        dtype = _compute_dtype(a)
        m = a.shape[1]
        delta = np.multiply(a, y.sum(axis=0, keepdims=True), dtype=dtype)
        delta -= y
        delta /= m  # delta^L = (a - y)/m for one-hot y
        grad = np.divide(y, np.maximum(a, _floor(dtype), dtype=dtype), dtype=dtype)
        grad *= -1.0 / m
        return CostGradient.wrap(grad, delta, a, "Softmax")


class SoftmaxLogLikelihoodCost(Cost):
    r"""Softmax and log-likelihood fused in one cost on the weighted inputs $z^L$ (PyTorch's ``CrossEntropyLoss``).

    Use it on a network whose last module is a `Dense` layer (no
    activation): the cost applies the softmax itself.

    $$C = \frac{1}{m}\sum_x \Big(\sum_j y_j\Big)\operatorname{LSE}(z) - \sum_j y_j z_j,
      \qquad \operatorname{LSE}(z) = \max_k z_k + \ln\sum_k e^{z_k - \max_k z_k},$$
    $$\frac{\partial C}{\partial z} = \delta^L = \frac{1}{m}\big(\mathrm{softmax}(z)\textstyle\sum_j y_j - y\big)
      = \frac{1}{m}(a - y) \text{ for one-hot } y.$$

    The log-sum-exp is shifted by each column's maximum, so no exponent is
    positive and no logarithm sees 0: the cost and its gradient are finite
    for every finite $z$, with no clipping. The predicted class is still the
    arg-max of the output, so `minibp.evaluate` and `minibp.predict` work
    unchanged; apply `minibp.layers.Softmax` to get probabilities.
    """

    def __init__(self) -> None:
        self._a: NDArray | None = None
        self._y: NDArray | None = None

    def forward(self, a: NDArray, y: NDArray) -> float:
        r"""Return the mean log-likelihood cost of $\mathrm{softmax}(z)$.

        Args:
            a: the network's output, here the weighted input $z^L$, shape ``(n_L, m)``.
            y: desired output (one-hot or a distribution per column), shape ``(n_L, m)``.

        Returns:
            The mean cost over the ``m`` columns.
        """
        z, y = _check_pair(self, a, y)
        dtype = _compute_dtype(z)
        top = z.max(axis=0, keepdims=True)
        # Every exponent <= 0. Raising z first to max(top, 0) - max_float keeps z - top from overflowing
        # (to -inf, and 0 * -inf = NaN below); for those z, e^{z - top} is 0 either way.
        shifted = np.maximum(z, np.maximum(top, 0) - np.finfo(dtype).max, dtype=dtype)
        shifted -= top
        e = np.exp(shifted)
        total = e.sum(axis=0, keepdims=True)  # >= 1: the largest term is e^0
        log_softmax = shifted - np.log(total)  # ln softmax(z) = z - LSE(z)
        e /= total
        self._a, self._y = e, y
        return -float(np.vdot(y, log_softmax)) / z.shape[1]

    def backward(self) -> NDArray:
        r"""Return $\delta^L = (\mathrm{softmax}(z)\sum_j y_j - y)/m$, shape ``(n_L, m)``."""
        a, y = _saved(self)
        delta = a * y.sum(axis=0, keepdims=True)
        delta -= y
        delta /= a.shape[1]  # delta^L = (softmax(z) - y)/m
        return delta
