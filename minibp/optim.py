r"""Optimizers: `SGD`, the book's update rule, kept apart from the modules.

An optimizer holds a list of `Parameter` objects. After a backward pass has
filled their ``grad``, ``step()`` updates ``data`` in place;
``zero_grad()`` clears ``grad`` for the next mini-batch.

Because the costs average over the mini-batch, plain SGD with learning rate
$\eta$ reproduces the book's eq. 13–14 exactly:

$$w \to w - \eta \frac{\partial C}{\partial w}
  = w - \frac{\eta}{m}\sum_x \frac{\partial C_x}{\partial w}$$

**Contiguous storage.** When all its parameters share one dtype, an optimizer
moves their ``data`` into one contiguous array and their ``grad`` into
another (each `Parameter` then holds views of them; values are unchanged).
A step then checks every gradient for NaN in one pass and updates every
parameter in one BLAS call, instead of a few small calls per parameter. Keep
using ``param.data`` rather than an array object taken from it before the
optimizer was created.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

from ._blas import add_scaled, all_finite
from .errors import HyperparameterError, NonFiniteError
from .module import Parameter

__all__ = ["Optimizer", "SGD"]


def check_positive(owner: str, name: str, value: float) -> float:
    """Return ``value`` as a float, or raise `HyperparameterError` unless it is finite and > 0."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise HyperparameterError(f"{owner}: {name} must be a number, got {value!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise HyperparameterError(f"{owner}: {name} must be a finite number > 0, got {value!r}")
    return value


class Optimizer:
    """Base class: holds the parameters, clears their gradients, checks them before a step.

    Subclasses implement `update`; `step` checks the gradients first.

    Args:
        parameters: the `Parameter` objects to update, e.g. ``net.parameters()``.

    Attributes:
        parameters: the list of parameters.
        flat_data: all parameters' ``data`` in one 1-D array (``None`` if
            their dtypes differ or another optimizer has since taken them over).
        flat_grad: all parameters' ``grad`` in one 1-D array, likewise.
    """

    def __init__(self, parameters: Iterable[Parameter]) -> None:
        params = list(parameters)
        name = type(self).__name__
        if not params:
            raise ValueError(f"{name}: got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Parameter):
                raise TypeError(f"{name}: item {i} is {type(p).__name__}, not a Parameter")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter appears twice in the list")
        self.parameters: list[Parameter] = params
        self._flat_data: NDArray | None = None
        self._flat_grad: NDArray | None = None
        dtypes = {p.data.dtype for p in params}
        if len(dtypes) == 1:
            size = sum(p.data.size for p in params)
            self._flat_data = np.empty(size, dtype=dtypes.pop())
            self._flat_grad = np.empty_like(self._flat_data)
            offset = 0
            for p in params:
                k = p.data.size
                view = slice(offset, offset + k)
                p._rehome(self._flat_data[view].reshape(p.data.shape), self._flat_grad[view].reshape(p.data.shape))
                offset += k

    @property
    def flat_data(self) -> NDArray | None:
        return self._flat_data if self._owns_storage() else None

    @property
    def flat_grad(self) -> NDArray | None:
        return self._flat_grad if self._owns_storage() else None

    def _owns_storage(self) -> bool:
        flat = self._flat_data
        if flat is None:
            return False
        grad = self._flat_grad
        for p in self.parameters:
            if p.data.base is not flat or p._grad.base is not grad:
                return False
        return True

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to zero."""
        for p in self.parameters:
            p.zero_grad()

    def check_gradients(self) -> None:
        """Raise `NonFiniteError` if any gradient holds NaN or infinity."""
        grads = [p.grad for p in self.parameters]  # also clears gradients still marked zero
        if self._owns_storage() and all_finite(self._flat_grad):
            return
        for i, g in enumerate(grads):
            if not all_finite(g):
                bad = int(np.count_nonzero(~np.isfinite(g)))
                raise NonFiniteError(
                    f"{type(self).__name__}.step: gradient of parameter {i} {g.shape} is not finite "
                    f"({bad} non-finite entries); no parameter was changed"
                )

    def step(self) -> None:
        """Check every gradient, then update every parameter.

        Raises:
            NonFiniteError: a gradient holds NaN or infinity; nothing is changed.
        """
        self.check_gradients()
        self.update()

    def update(self) -> None:
        """Apply the update rule to every parameter (gradients already checked)."""
        raise NotImplementedError


class SGD(Optimizer):
    r"""Plain (stochastic) gradient descent: $\theta \to \theta - \eta\,\nabla_\theta C$.

    Args:
        parameters: the `Parameter` objects to update.
        eta: the learning rate $\eta > 0$.

    Example:
        >>> from minibp import mlp
        >>> net = mlp([2, 3, 1], rng=0)
        >>> optimizer = SGD(net.parameters(), eta=3.0)
    """

    def __init__(self, parameters: Iterable[Parameter], eta: float) -> None:
        super().__init__(parameters)
        self.eta = check_positive("SGD", "eta", eta)

    def update(self) -> None:
        """Apply eq. 13–14, $w \\to w - \\eta\\,\\partial C/\\partial w$, to every parameter."""
        minus_eta = -self.eta
        if self._owns_storage():
            add_scaled(self._flat_data, minus_eta, self._flat_grad)  # eq. 13-14, all parameters at once
            return
        for p in self.parameters:
            add_scaled(p.data, minus_eta, p.grad)  # eq. 13-14: w -> w - eta dC/dw

    def __repr__(self) -> str:
        return f"SGD(eta={self.eta})"
