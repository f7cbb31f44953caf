r"""Regularisation: the book's `L2` and `L1` (chapter 3) and decoupled `WeightDecay`.

All three act on the **weights only** (every parameter named ``w``, such as
`Dense.w`), never on the biases, as in the book. Pass them to
`minibp.train` (``regularization=[...]``) or call their hooks yourself
around an optimizer step.

**Which is which.** With $n$ the size of the training set, $m$ the mini-batch
size and $C_0$ the unregularised cost:

*   `L2` adds $\frac{\lambda}{2n}\sum_w w^2$ to the cost (eq. 85–87), so its
    gradient $\frac{\lambda}{n} w$ is added to $\partial C_0/\partial w$
    before the optimizer sees it. With `SGD` this is exactly the book's eq. 93:

    $$w \to \Big(1 - \frac{\eta\lambda}{n}\Big) w - \frac{\eta}{m}\sum_x \frac{\partial C_x}{\partial w}.$$

    With `Momentum` or `Adam` the extra gradient goes through the velocity or
    the moment estimates like any other gradient ("coupled").

*   `L1` adds $\frac{\lambda}{n}\sum_w |w|$ to the cost (eq. 95), so its
    gradient $\frac{\lambda}{n}\,\mathrm{sgn}(w)$ is added to
    $\partial C_0/\partial w$ in the same place as `L2`'s. With `SGD` this is
    the book's eq. 97 (with the mini-batch average for $\partial C_0/\partial w$):
    each weight moves a constant amount towards 0,

    $$w \to w - \frac{\eta\lambda}{n}\,\mathrm{sgn}(w) - \frac{\eta}{m}\sum_x \frac{\partial C_x}{\partial w}.$$

    As in the book, $\mathrm{sgn}(0) = 0$: a weight that is exactly 0 gets no
    push from the penalty.

*   `WeightDecay` shrinks the weights directly, after the gradients are
    checked and before the optimizer's own update ("decoupled", Loshchilov and
    Hutter, 2019):

    $$w \to (1 - \eta\,\mathrm{wd})\, w + \Delta w_{\text{optimizer}}.$$

    It adds nothing to the gradient or to the reported cost.

**How they relate.** For plain `SGD`, `L2` and `WeightDecay` give the same steps when
$\mathrm{wd} = \lambda / n$: ``L2(net, lmbda=5.0, n=50_000)`` is
``WeightDecay(net, wd=1e-4)``. With momentum or Adam they differ; the
decoupled form with Adam is PyTorch's ``AdamW``, the coupled form is the
``weight_decay`` of ``torch.optim.SGD`` and ``torch.optim.Adam``. PyTorch's
optimizers have no L1 option; `L1` is what adding
``lmbda / n * sum(w.abs().sum() for w in weights)`` to the loss does there.

**In the costs `minibp.train` records.** `L2`'s and `L1`'s ``penalty()`` use
the training-set size $n$ they were given; a cost that `train` measures on
$N$ examples (the validation set, or the whole training set) adds the penalty
with $N$ in place of $n$, as network2's ``total_cost`` does for L2:
$\frac{\lambda}{2N}\sum_w w^2$ and $\frac{\lambda}{N}\sum_w |w|$.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ._checks import check_non_negative, is_integer
from ._text import as_typed
from .errors import HyperparameterError
from .module import Module, Parameter

__all__ = ["Regularizer", "L2", "L1", "WeightDecay", "weight_parameters"]


def weight_parameters(net: Module) -> list[Parameter]:
    """Return the parameters of ``net`` named ``w`` (the weights of every `Dense`), not the biases.

    Args:
        net: any module; for a `Sequential` the names are ``"0.w"``, ``"2.w"``, ...
    """
    return [p for name, p in net.named_parameters() if name.rsplit(".", 1)[-1] == "w"]


def _weights(owner: str, target: Module | Iterable[Parameter]) -> list[Parameter]:
    params = weight_parameters(target) if isinstance(target, Module) else list(target)
    if not params:
        raise ValueError(f"{owner}: no weights to regularise (no parameter named 'w')")
    for i, p in enumerate(params):
        if not isinstance(p, Parameter):
            raise TypeError(f"{owner}: item {i} is {type(p).__name__}, not a Parameter")
    return params


def _training_set_size(owner: str, n: object) -> int:
    if not is_integer(n) or n < 1:
        raise HyperparameterError(f"{owner}: n (the training-set size) must be an integer >= 1, got {n!r}")
    return int(n)


class Regularizer:
    """Base class: three hooks `minibp.train` calls around each optimizer step.

    Per mini-batch, after the backward pass: ``add_gradient()``; then the
    optimizer checks the gradients; then ``before_update(eta)``; then the
    optimizer updates. ``penalty()`` is the term added to the reported cost.
    """

    def penalty(self) -> float:
        """Return the term this regulariser adds to the cost (0 by default)."""
        return 0.0

    def add_gradient(self) -> None:
        """Add the penalty's gradient into the parameters' ``grad`` (nothing by default)."""

    def before_update(self, eta: float) -> None:
        """Change the parameters just before the optimizer's update (nothing by default)."""


class L2(Regularizer):
    r"""L2 regularisation as the book writes it (chapter 3, eq. 85–87 and 93).

    $$C = C_0 + \frac{\lambda}{2n}\sum_w w^2, \qquad
      \frac{\partial C}{\partial w} = \frac{\partial C_0}{\partial w} + \frac{\lambda}{n} w,
      \qquad \frac{\partial C}{\partial b} = \frac{\partial C_0}{\partial b}.$$

    Args:
        target: a network (its weights, the parameters named ``w``, are
            regularised) or an explicit list of parameters.
        lmbda: the regularisation parameter $\lambda \ge 0$ (network2's ``lmbda``).
        n: the size $n$ of the whole training set (not the mini-batch).

    Example:
        >>> from minibp import mlp
        >>> net = mlp([784, 30, 10], init="scaled", rng=0)
        >>> l2 = L2(net, lmbda=5.0, n=50_000)
    """

    def __init__(self, target: Module | Iterable[Parameter], lmbda: float, n: int) -> None:
        self.weights = _weights("L2", target)
        self.lmbda = check_non_negative("L2", "lmbda", lmbda)
        self.n = _training_set_size("L2", n)

    def penalty(self) -> float:
        r"""Return $\frac{\lambda}{2n}\sum_w w^2$."""
        # np.square, not a BLAS dot: train asks between epochs, outside its one-thread BLAS limit, where a threaded
        # ddot of a 784 x 30 matrix took 1.1 ms of CPU on a busy 2-core machine against 38 us for this
        total = sum(float(np.sum(np.square(p.data))) for p in self.weights)
        return 0.5 * self.lmbda / self.n * total  # eq. 85: (lambda / 2n) sum_w w^2

    def add_gradient(self) -> None:
        r"""Add $\frac{\lambda}{n} w$ to each weight's ``grad``."""
        scale = self.lmbda / self.n
        for p in self.weights:
            p.grad += scale * p.data  # eq. 87: dC/dw = dC0/dw + (lambda/n) w

    def __repr__(self) -> str:
        return f"L2(lmbda={as_typed(self.lmbda)}, n={self.n})"


class L1(Regularizer):
    r"""L1 regularisation as the book writes it (chapter 3, eq. 95–97).

    $$C = C_0 + \frac{\lambda}{n}\sum_w |w|, \qquad
      \frac{\partial C}{\partial w} = \frac{\partial C_0}{\partial w} + \frac{\lambda}{n}\,\mathrm{sgn}(w),
      \qquad \frac{\partial C}{\partial b} = \frac{\partial C_0}{\partial b},$$

    with $\mathrm{sgn}(0) = 0$ (the book's convention where $|w|$ has no
    derivative). It takes the same weights as `L2`: every parameter named
    ``w``. Where `L2` shrinks a weight in proportion to its size, `L1` moves
    every weight by the same $\eta\lambda/n$ towards 0, so a few large weights
    survive and many small ones end near 0.

    `minibp.train` runs it on the modules' own ``forward`` and ``backward``:
    the fused epoch of `minibp.fast` knows only the book's `L2`, and says so.

    Args:
        target: a network (its weights, the parameters named ``w``, are
            regularised) or an explicit list of parameters.
        lmbda: the regularisation parameter $\lambda \ge 0$.
        n: the size $n$ of the whole training set (not the mini-batch).

    Example:
        >>> from minibp import mlp
        >>> net = mlp([784, 30, 10], init="scaled", rng=0)
        >>> l1 = L1(net, lmbda=5.0, n=50_000)
    """

    def __init__(self, target: Module | Iterable[Parameter], lmbda: float, n: int) -> None:
        self.weights = _weights("L1", target)
        self.lmbda = check_non_negative("L1", "lmbda", lmbda)
        self.n = _training_set_size("L1", n)

    def penalty(self) -> float:
        r"""Return $\frac{\lambda}{n}\sum_w |w|$."""
        total = sum(float(np.sum(np.abs(p.data))) for p in self.weights)
        return self.lmbda / self.n * total  # eq. 95: (lambda / n) sum_w |w|

    def add_gradient(self) -> None:
        r"""Add $\frac{\lambda}{n}\,\mathrm{sgn}(w)$ to each weight's ``grad`` ($\mathrm{sgn}(0) = 0$)."""
        scale = self.lmbda / self.n
        for p in self.weights:
            p.grad += scale * np.sign(p.data)  # eq. 96: dC/dw = dC0/dw + (lambda/n) sgn(w)

    def __repr__(self) -> str:
        return f"L1(lmbda={as_typed(self.lmbda)}, n={self.n})"


class WeightDecay(Regularizer):
    r"""Decoupled weight decay: $w \to (1 - \eta\,\mathrm{wd})\,w$ before each optimizer update.

    For `SGD`, ``WeightDecay(net, wd)`` equals ``L2(net, lmbda, n)`` with
    $\mathrm{wd} = \lambda / n$ (see the module docstring); with `Adam` it is
    PyTorch's ``AdamW(weight_decay=wd)``.

    Args:
        target: a network (its parameters named ``w``) or a list of parameters.
        wd: the decay rate per unit of learning rate, $\ge 0$; $\eta\,\mathrm{wd}$
            must stay below 1.
    """

    def __init__(self, target: Module | Iterable[Parameter], wd: float) -> None:
        self.weights = _weights("WeightDecay", target)
        self.wd = check_non_negative("WeightDecay", "wd", wd)

    def before_update(self, eta: float) -> None:
        r"""Multiply each weight by $1 - \eta\,\mathrm{wd}$."""
        factor = 1.0 - eta * self.wd
        if not factor > 0:
            raise HyperparameterError(f"WeightDecay: eta * wd must be < 1, got eta={eta}, wd={self.wd}")
        for p in self.weights:
            p.data *= factor  # w -> (1 - eta wd) w

    def __repr__(self) -> str:
        return f"WeightDecay(wd={as_typed(self.wd)})"
