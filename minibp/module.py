r"""`Parameter` and `Module`: the protocol every layer and container follows.

A module maps a mini-batch to a mini-batch; examples are **columns**, so an input of shape
``(n_in, m)`` holds ``m`` examples, as the book's $a^{l-1}$. ``forward(x)`` computes the output and
keeps what ``backward`` needs; ``backward(grad_output)`` **adds** into each parameter's ``grad`` and
returns $\partial C/\partial(\text{input})$ (`parameters_only` skips that where nobody needs it, as in
`train`), so gradients add up until ``zero_grad()`` sets every ``grad`` to zero, in place. Every attribute
holding a `Parameter` is a parameter, every attribute holding a `Module` (or a list of them) a child:
nothing needs registering. Updating parameters is an optimizer's job.

**Checks at the edges.** ``module(x)`` checks the batch once (`Module.__call__`) and containers check
each gradient a child is given or returns, naming the child: ``forward`` and ``backward`` hold only the
mathematics. Calling ``forward`` or ``backward`` directly skips those checks, as in PyTorch.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Mapping

import numpy as np
from numpy.typing import NDArray

from ._checks import T, as_batch, copy_checked, first_dtype, parameters_only
from .errors import ShapeError

__all__ = ["Parameter", "Module", "evaluation_mode", "parameters_only", "saved"]


class Parameter:
    """A trainable array and the gradient of the cost with respect to it.

    ``data`` and ``grad`` are plain arrays that stay the same objects for the parameter's whole life:
    assigning to either copies the values in (after checking the shape), so a reference taken earlier stays valid.

    Args:
        data: the initial values, a float32 or float64 array (copied).

    Attributes:
        data: the values; an optimizer updates them in place.
        grad: $\\partial C/\\partial(\\text{data})$, same shape and dtype, zero at first; modules add into it.
    """

    __slots__ = ("_data", "_grad")

    def __init__(self, data: NDArray) -> None:
        data = np.asarray(data)
        if data.dtype not in (np.float32, np.float64):
            raise TypeError(f"Parameter data must be float32 or float64, got dtype {data.dtype}")
        self._data: NDArray = np.array(data, order="C")
        self._grad: NDArray = np.zeros_like(self._data)

    @property
    def data(self) -> NDArray:
        """The values."""
        return self._data

    @data.setter
    def data(self, value: NDArray) -> None:
        if value is not self._data:  # p.data -= ... has already done the work in place
            copy_checked(self._data, value, "Parameter.data")

    @property
    def grad(self) -> NDArray:
        """The gradient."""
        return self._grad

    @grad.setter
    def grad(self, value: NDArray) -> None:
        if value is not self._grad:  # p.grad += ... has already done the work in place
            copy_checked(self._grad, value, "Parameter.grad")

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``data``."""
        return self._data.shape

    def zero_grad(self) -> None:
        """Set ``grad`` to zero, in place."""
        self._grad.fill(0)

    def __repr__(self) -> str:
        return f"Parameter(shape={self._data.shape}, dtype={self._data.dtype})"


class Module:
    """Base class of every layer, activation and container: subclasses implement ``forward`` and ``backward``.

    Attributes:
        training: ``True`` (the default) or ``False`` after ``eval()``; read by modules such as dropout.
    """

    training: bool = True

    def forward(self, x: NDArray) -> NDArray:
        """Return the output for a mini-batch ``x`` of shape ``(n_in, m)``: shape ``(n_out, m)``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_output: NDArray) -> NDArray:
        r"""Add into each ``grad``; return $\partial C/\partial x$ ``(n_in, m)`` from ``grad_output`` ``(n_out, m)``."""
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def backward_parameters(self, grad_output: NDArray) -> None:
        r"""Add into each ``grad`` what `backward` adds, without $\partial C/\partial x$: here, by calling it."""
        self.backward(grad_output)

    def __call__(self, x: NDArray) -> NDArray:
        """Return ``forward(x)``, ``x`` checked: a real ``(n, m)`` batch, ``m >= 1`` (a `ShapeError` or `TypeError`
        names the module); with ``n_in``, ``n = n_in`` and ``x`` in the parameters' dtype (else ints become float64)."""
        n_in = getattr(self, "n_in", None)
        dtype = None if n_in is None else first_dtype(vars(self).values(), Parameter)
        return self.forward(as_batch(x, self, n_in, dtype))

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Yield ``(name, child)`` for each attribute holding a module (``name.i`` inside a list)."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{i}", item

    def children(self) -> Iterator[Module]:
        """Yield the direct sub-modules."""
        return (child for _, child in self.named_children())

    def modules(self) -> Iterator[Module]:
        """Yield this module and every module below it, depth first, each once."""
        seen: set[int] = set()
        stack: list[Module] = [self]
        while stack:
            module = stack.pop()
            if id(module) not in seen:
                seen.add(id(module))
                yield module
                stack.extend(reversed(list(module.children())))

    def named_parameters(self, prefix: str = "", remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """Yield ``(name, parameter)`` for this module and its children (``"w"``, ``"0.w"``, ...): a parameter
        held in two places (tied weights) once, under its first name, unless ``remove_duplicate=False``."""
        own = [(prefix + name, p) for name, p in vars(self).items() if isinstance(p, Parameter)]
        below = (
            pair for name, child in self.named_children() for pair in child.named_parameters(f"{prefix}{name}.", False)
        )
        seen: set[int] = set()
        for name, p in itertools.chain(own, below):
            if not (remove_duplicate and id(p) in seen):
                seen.add(id(p))
                yield name, p

    def parameters(self) -> list[Parameter]:
        """Return the parameters, each once, in a fixed order."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set the ``grad`` of every parameter to zero, in place."""
        for p in self.parameters():
            p.zero_grad()

    def state_dict(self) -> dict[str, NDArray]:
        """Return a copy of every parameter's values, by name (``{"0.w": ..., "0.b": ...}``)."""
        return {name: p.data.copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, NDArray]) -> None:
        """Copy values from a `state_dict` into the parameters, after checking every name (KeyError) and shape."""
        named = dict(self.named_parameters())
        missing, unexpected = sorted(set(named) - set(state)), sorted(set(state) - set(named))
        if missing or unexpected:
            raise KeyError(f"{self!r}.load_state_dict: missing {missing}, unexpected {unexpected}")
        for name, p in named.items():
            if np.shape(state[name]) != p.shape:
                raise ShapeError(f"load_state_dict: {name} has shape {np.shape(state[name])}, expected {p.shape}")
        for name, p in named.items():
            p.data = state[name]

    def train(self, mode: bool = True) -> Module:
        """Switch this module and all below it to training mode (evaluation mode with ``mode=False``)."""
        for module in self.modules():
            module.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode; same as ``train(False)``."""
        return self.train(False)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def saved(module: object, value: T | None) -> T:
    """Return ``value``, kept by ``module.forward`` for ``backward``; `RuntimeError` if ``None`` (no forward yet)."""
    if value is None:
        raise RuntimeError(f"{module!r}: backward called before forward")
    return value


@contextlib.contextmanager
def evaluation_mode(module: Module) -> Iterator[Module]:
    """Run the ``with`` block with ``module`` in evaluation mode, then restore the mode it had."""
    modes = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, mode in modes:
            m.training = mode
