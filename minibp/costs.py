r"""Costs of $a$ (`QuadraticCost`, `CrossEntropyCost`, `LogLikelihoodCost`) and of $z$ (`SigmoidCrossEntropyCost`, ...).

A cost has the same two verbs as a module. ``forward(a, y)`` returns the cost
of a mini-batch as a float; ``backward()`` returns the gradient of the cost
with respect to what ``forward`` was given, ready for the last module's
``backward``. Calling the cost, ``cost(a, y)``, checks the pair first
(`Cost.__call__`); a direct ``forward`` call skips that check.

**What a cost takes.** Each cost says in its class attribute ``takes``
whether its first argument is the activation $a^L$ (``"a"``: the network
ends in its output activation, as in the book) or the weighted input $z^L$
(``"z"``: the network ends in a `Dense` layer and the cost applies the
activation itself, as PyTorch's ``BCEWithLogitsLoss`` and
``CrossEntropyLoss`` take logits). A cost of $a$ returns $\nabla_a C$ and
the activation's ``backward`` multiplies by its derivative (BP1). A cost of
$z$ returns $\delta^L = \partial C/\partial z^L$ itself, computed from $z$
in closed form, so it stays exact where $\sigma'(z)$ rounds to 0.
`minibp.train` refuses a cost of $z$ after an output activation (the
activation would be applied twice).

**Reduction.** Every cost here averages over the ``m`` examples of the
mini-batch, as the book's $C = \frac1n\sum_x C_x$ (eq. 1) does over the
training set, and sums over the $n_L$ output neurons. The gradient therefore
already carries the factor $1/m$, and one plain gradient step
$w \to w - \eta\,\partial C/\partial w$ is exactly the book's
$w \to w - \frac{\eta}{m}\sum_x \partial C_x/\partial w$ (eq. 13–14).

| cost | takes | network ends in | $\delta^L$ |
|---|---|---|---|
| `QuadraticCost` | $a$ | `Sigmoid` | $(a - y) \odot \sigma'(z)/m$ |
| `CrossEntropyCost` | $a$ | `Sigmoid` | $(a - y)/m$ where $0 < a < 1$ |
| `LogLikelihoodCost` | $a$ | `Softmax` | $(a - y)/m$ where $a > 0$ |
| `SigmoidCrossEntropyCost` | $z$ | `Dense` | $(\sigma(z) - y)/m$, always |
| `SoftmaxLogLikelihoodCost` | $z$ | `Dense` | $(\mathrm{softmax}(z) - y)/m$, always |

The PyTorch losses that give the same gradient step for the same $\eta$ are
listed in ``docs/snippets/cost_equivalences.md`` (checked by the tests).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import expit, log_expit

from ._checks import as_pair
from .module import saved

__all__ = [
    "Cost",
    "QuadraticCost",
    "CrossEntropyCost",
    "LogLikelihoodCost",
    "SigmoidCrossEntropyCost",
    "SoftmaxLogLikelihoodCost",
]


class Cost:
    """Base class of costs: ``forward(a, y) -> float`` and ``backward() -> dC/da`` (or ``dC/dz``).

    Attributes:
        takes: ``"a"`` if ``forward`` takes the output activation $a^L$,
            ``"z"`` if it takes the weighted input $z^L$ of a final `Dense`.
    """

    takes: str = "a"

    def forward(self, a: NDArray, y: NDArray) -> float:
        """Return the mean cost of the mini-batch.

        Args:
            a: network output ($a^L$, or $z^L$ for a cost of $z$), shape ``(n_L, m)``.
            y: desired output $y(x)$, shape ``(n_L, m)``.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self) -> NDArray:
        r"""Return the gradient of the last ``forward``'s cost with respect to its ``a``, shape ``(n_L, m)``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def check_targets(self, y: NDArray) -> None:
        """Raise ``ValueError`` if a target lies outside the values this cost is defined for (here: none does).

        `minibp.train.train` calls it once on all the targets before the first
        step, and each built-in cost's ``forward`` on its mini-batch's.

        Args:
            y: desired outputs, shape ``(n_L, m)`` (one column per example).
        """

    def __call__(self, a: NDArray, y: NDArray) -> float:
        """Check ``(a, y)`` (real, one ``(n_L, m)`` shape, ``m >= 1``; integers become float64), then ``forward``."""
        return self.forward(*as_pair(self, a, y))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _check_targets(owner: Cost, y: NDArray, high: float | None) -> None:
    """Raise ``ValueError`` unless every target is in ``[0, high]`` (``[0, inf)`` for ``high=None``)."""
    y = np.asarray(y)
    low_ok = bool(y.min() >= 0)
    if not (low_ok and (high is None or y.max() <= high)):
        row, column = np.argwhere(~((y >= 0) & (y <= (np.inf if high is None else high))))[0]
        where = "[0, 1]" if high is not None else "[0, inf)"
        raise ValueError(
            f"{owner!r}: targets y must lie in {where}, got {y[row, column]} (output {row} of example {column})"
        )


def _finite_z(z: NDArray) -> NDArray:
    """``z`` with +-inf replaced by the largest finite values (the limits a cost of z tends to)."""
    info = np.finfo(z.dtype)
    return np.clip(z, info.min, info.max)


class QuadraticCost(Cost):
    r"""The quadratic cost (mean squared error), averaged over the mini-batch.

    $$C = \frac{1}{m}\sum_x \tfrac12 \lVert y(x) - a^L(x)\rVert^2,
    \qquad \nabla_a C = \frac{1}{m}\,(a^L - y)$$

    This is eq. 1 (and eq. 18–19 for one example) with the mini-batch in
    place of the training set.
    """

    def __init__(self) -> None:
        self.diff: NDArray | None = None

    def forward(self, a: NDArray, y: NDArray) -> float:
        r"""Return $\frac{1}{m}\sum_x \frac12\lVert y - a\rVert^2$.

        Args:
            a: network output $a^L$, shape ``(n_L, m)``.
            y: desired output, shape ``(n_L, m)``.
        """
        self.diff = a - y
        return 0.5 * float(np.vdot(self.diff, self.diff)) / a.shape[1]  # eq. 1: (1/m) sum_x 1/2 |y - a|^2

    def backward(self) -> NDArray:
        r"""Return $\nabla_a C = (a^L - y)/m$, shape ``(n_L, m)``."""
        diff = saved(self, self.diff)
        return diff / diff.shape[1]  # dC_x/da = a - y, averaged over the mini-batch


class CrossEntropyCost(Cost):
    r"""The cross-entropy cost of sigmoid outputs $a$ (chapter 3, eq. 63), averaged over the mini-batch.

    $$C = -\frac{1}{m}\sum_x \sum_j \big[y_j \ln a_j + (1 - y_j)\ln(1 - a_j)\big],
    \qquad \nabla_a C = \frac{1}{m}\,\frac{a - y}{a(1 - a)}.$$

    After a `Sigmoid`, BP1 multiplies by $\sigma'(z) = a(1-a)$ and the
    product is $\delta^L = (a - y)/m$: the output error no longer shrinks when
    an output neuron saturates. In floating point that cancellation fails
    where $a$ rounds to exactly 0 or 1 ($|z| \gtrsim 37$ in float64); there the
    logarithms are taken at the last representable point and the denominator
    is floored, so the cost and gradient stay finite but the gradient is
    wrong. `SigmoidCrossEntropyCost` works from $z$ and is exact everywhere.

    Targets $y$ are in $[0, 1]$ (one-hot vectors for classification).
    """

    def __init__(self) -> None:
        self.a: NDArray | None = None
        self.y: NDArray | None = None

    def check_targets(self, y: NDArray) -> None:
        """Raise ``ValueError`` naming the first target outside ``[0, 1]``; ``y`` has shape ``(n_L, m)``."""
        _check_targets(self, y, 1.0)

    def forward(self, a: NDArray, y: NDArray) -> float:
        r"""Return $-\frac1m\sum_x\sum_j [y\ln a + (1-y)\ln(1-a)]$.

        Args:
            a: network output $a^L \in [0, 1]$, shape ``(n_L, m)``.
            y: desired output in $[0, 1]$, shape ``(n_L, m)``.

        Returns:
            The mean cost over the ``m`` columns.
        """
        self.check_targets(y)
        self.a, self.y = a, y
        info = np.finfo(a.dtype)
        log_a = np.log(np.maximum(a, info.tiny))  # ln a, never ln 0
        log_1_minus_a = np.log1p(-np.minimum(a, 1 - info.epsneg))  # ln(1 - a), never ln 0
        return -float(np.vdot(y, log_a) + np.vdot(1 - y, log_1_minus_a)) / a.shape[1]  # eq. 63

    def backward(self) -> NDArray:
        r"""Return $\nabla_a C = (a - y)/(m\,a(1-a))$, shape ``(n_L, m)``."""
        a, y = saved(self, self.a), saved(self, self.y)
        info = np.finfo(a.dtype)
        denominator = np.maximum(a * (1 - a), info.tiny / info.eps)  # a(1 - a), floored so 1/x cannot overflow
        return (a - y) / (a.shape[1] * denominator)


class LogLikelihoodCost(Cost):
    r"""The log-likelihood cost of `Softmax` outputs $a$ (chapter 3, eq. 80), averaged over the mini-batch.

    $$C = -\frac{1}{m}\sum_x \sum_j y_j \ln a_j \quad(= -\tfrac1m\textstyle\sum_x \ln a_{y(x)}
      \text{ for one-hot } y), \qquad \nabla_a C = -\frac{1}{m}\,\frac{y}{a}.$$

    After a `Softmax`, the Jacobian turns this into $\delta^L = (a - y)/m$
    for one-hot $y$. The logarithm is taken of $\max(a, \text{tiny})$: a
    softmax output is exactly 0 only when it is about 745 below the column's
    largest input. `SoftmaxLogLikelihoodCost` works from $z$ and needs no clip.
    """

    def __init__(self) -> None:
        self.a: NDArray | None = None
        self.y: NDArray | None = None

    def check_targets(self, y: NDArray) -> None:
        """Raise ``ValueError`` naming the first target outside ``[0, inf)``; ``y`` has shape ``(n_L, m)``."""
        _check_targets(self, y, None)

    def forward(self, a: NDArray, y: NDArray) -> float:
        r"""Return $-\frac1m\sum_x\sum_j y_j\ln a_j$.

        Args:
            a: softmax output $a^L$, shape ``(n_L, m)``.
            y: desired output (one-hot or a distribution per column), shape ``(n_L, m)``.

        Returns:
            The mean cost over the ``m`` columns.
        """
        self.check_targets(y)
        self.a, self.y = a, y
        log_a = np.log(np.maximum(a, np.finfo(a.dtype).tiny))
        return -float(np.vdot(y, log_a)) / a.shape[1]  # eq. 80, averaged over the mini-batch

    def backward(self) -> NDArray:
        r"""Return $\nabla_a C = -y/(m\,a)$, shape ``(n_L, m)``."""
        a, y = saved(self, self.a), saved(self, self.y)
        info = np.finfo(a.dtype)
        return -y / (a.shape[1] * np.maximum(a, info.tiny / info.eps))


class SigmoidCrossEntropyCost(Cost):
    r"""Sigmoid and cross-entropy in one cost of the weighted input $z^L$ (PyTorch's ``BCEWithLogitsLoss``).

    Use it on a network whose last module is a `Dense` layer: the cost
    applies $\sigma$ itself.

    $$C = \frac{1}{m}\sum_x \sum_j \big[-y_j \ln\sigma(z_j) - (1 - y_j)\ln\sigma(-z_j)\big],
      \qquad \delta^L = \frac{\partial C}{\partial z} = \frac{1}{m}\big(\sigma(z) - y\big).$$

    $\ln\sigma$ is computed by `scipy.special.log_expit`, finite for every
    finite $z$, and $\delta^L$ is exact even where $\sigma'(z)$ underflows. A
    prediction is still $\sigma(z) > 0.5$, that is $z > 0$; apply
    `minibp.layers.Sigmoid` to get $a$.
    """

    takes = "z"

    def __init__(self) -> None:
        self.z: NDArray | None = None
        self.y: NDArray | None = None

    def check_targets(self, y: NDArray) -> None:
        """Raise ``ValueError`` naming the first target outside ``[0, 1]``; ``y`` has shape ``(n_L, m)``."""
        _check_targets(self, y, 1.0)

    def forward(self, a: NDArray, y: NDArray) -> float:
        r"""Return the mean cross-entropy of $\sigma(z)$.

        Args:
            a: the network's output, here the weighted input $z^L$, shape ``(n_L, m)``.
            y: desired output in $[0, 1]$, shape ``(n_L, m)``.

        Returns:
            The mean cost over the ``m`` columns.
        """
        self.check_targets(y)
        z = _finite_z(a)
        self.z, self.y = z, y
        total = np.vdot(y, log_expit(z)) + np.vdot(1 - y, log_expit(-z))  # y ln sigma(z) + (1-y) ln sigma(-z)
        return -float(total) / z.shape[1]

    def backward(self) -> NDArray:
        r"""Return $\delta^L = (\sigma(z) - y)/m$, shape ``(n_L, m)``."""
        z, y = saved(self, self.z), saved(self, self.y)
        return (expit(z) - y) / z.shape[1]  # BP1 with sigma' cancelled


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

    takes = "z"

    def __init__(self) -> None:
        self.a: NDArray | None = None
        self.y: NDArray | None = None

    def check_targets(self, y: NDArray) -> None:
        """Raise ``ValueError`` naming the first target outside ``[0, inf)``; ``y`` has shape ``(n_L, m)``."""
        _check_targets(self, y, None)

    def forward(self, a: NDArray, y: NDArray) -> float:
        r"""Return the mean log-likelihood cost of $\mathrm{softmax}(z)$.

        Args:
            a: the network's output, here the weighted input $z^L$, shape ``(n_L, m)``.
            y: desired output (one-hot or a distribution per column), shape ``(n_L, m)``.

        Returns:
            The mean cost over the ``m`` columns.
        """
        self.check_targets(y)
        z = _finite_z(a)
        dtype = z.dtype
        top = z.max(axis=0, keepdims=True)
        # Every exponent <= 0. Raising z first to max(top, 0) - max_float keeps z - top from overflowing
        # (to -inf, and 0 * -inf = NaN below); for those z, e^{z - top} is 0 either way.
        shifted = np.maximum(z, np.maximum(top, 0) - np.finfo(dtype).max, dtype=dtype)
        shifted -= top
        e = np.exp(shifted)
        total = e.sum(axis=0, keepdims=True)  # >= 1: the largest term is e^0
        log_softmax = shifted - np.log(total)  # ln softmax(z) = z - LSE(z)
        e /= total
        self.a, self.y = e, y  # a = softmax(z), kept for backward
        return -float(np.vdot(y, log_softmax)) / z.shape[1]

    def backward(self) -> NDArray:
        r"""Return $\delta^L = (\mathrm{softmax}(z)\sum_j y_j - y)/m$, shape ``(n_L, m)``."""
        a, y = saved(self, self.a), saved(self, self.y)
        delta = a * y.sum(axis=0, keepdims=True)
        delta -= y
        delta /= a.shape[1]  # delta^L = (softmax(z) - y)/m
        return delta
