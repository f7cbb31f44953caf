"""`Sequential`: modules applied one after another.

``Sequential(Dense(784, 30), Sigmoid(), Dense(30, 10), Sigmoid())`` is the
book's ``Network([784, 30, 10])``. Forward runs the modules in order;
backward runs them in reverse, each receiving the gradient its successor
returned. That reverse loop *is* backpropagation: every $\\delta^l$ of BP1
and BP2 passes through it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
from numpy.typing import DTypeLike, NDArray

from ._checks import as_generator, check_distinct, check_gradient, check_returned
from .init import Initializer
from .layers import Dense, Sigmoid
from .module import Module, parameters_only, saved

__all__ = ["Sequential", "mlp"]


class Sequential(Module):
    """A chain of modules, the first to last given (kept in ``layers``); ``net[0]`` is a module, ``net[1:]`` a chain.

    Raises ``ValueError`` for no modules or one used twice below, `NestingError` beyond ``MAX_DEPTH`` (64) levels.
    """

    def __init__(self, *modules: Module) -> None:
        if not modules:
            raise ValueError("Sequential needs at least one module")
        for i, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(f"Sequential: item {i} is {type(module).__name__}, not a Module")
        check_distinct("Sequential", ((str(i), m) for i, m in enumerate(modules)))
        self.layers: list[Module] = list(modules)
        self.shapes: list[tuple[int, ...]] | None = None  # each module's input shape, then the output's

    def forward(self, x: NDArray) -> NDArray:
        """Feed ``x`` ``(n_in, m)`` forward through every module (eq. 17, layer by layer); return ``(n_out, m)``."""
        self.shapes, shapes = None, []  # until every module has run
        for module in self.layers:
            shapes.append(x.shape if isinstance(x, np.ndarray) else np.shape(x))
            x = module(x)  # checks x for the module: a 2-D real batch, its n_in, its dtype
        self.shapes = [*shapes, x.shape if isinstance(x, np.ndarray) else np.shape(x)]
        return x

    def backward(self, grad_output: NDArray) -> NDArray:
        """Back-propagate ``grad_output`` ``(n_out, m)`` last to first (BP1 and BP2 fall out); return ``(n_in, m)``."""
        return self._back_to(0, grad_output)

    def backward_parameters(self, grad_output: NDArray) -> None:
        """`backward` without the input's gradient: the first module gets `parameters_only`."""
        parameters_only(self.layers[0], self._back_to(1, grad_output))

    def _back_to(self, first: int, grad_output: NDArray) -> NDArray:
        """Back-propagate through modules last to ``first``; return what module ``first`` returned."""
        shapes = saved(self, self.shapes)
        grad_output = check_gradient(self, grad_output, shapes[-1])
        for i, module in reversed(list(enumerate(self.layers))[first:]):
            grad_output = check_returned(self, i, module, module.backward(grad_output), shapes[i])
        return grad_output

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Yield ``("0", first module)``, ``("1", second module)``, ..."""
        for i, module in enumerate(self.layers):
            yield str(i), module

    def __getitem__(self, index: int | slice) -> Module:
        if isinstance(index, slice):
            return Sequential(*self.layers[index])
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = ",\n".join(f"  {m!r}" for m in self.layers)
        return f"Sequential(\n{inner}\n)"


def mlp(
    sizes: Sequence[int],
    *,
    init: str | Initializer = "book",
    rng: np.random.Generator | int | None = None,
    dtype: DTypeLike = np.float64,
    activation: Callable[[], Module] | None = None,
) -> Sequential:
    """Build the book's network: ``Dense`` and ``Sigmoid`` layers for ``sizes``.

    ``mlp([784, 30, 10])`` is chapter 1's ``Network([784, 30, 10])``: 784
    inputs, 30 hidden sigmoid neurons, 10 sigmoid outputs, weights and biases
    drawn from $\\mathcal N(0, 1)$.

    Args:
        sizes: neurons per layer, input first; at least two entries.
        init: initialiser for every `Dense` (name or callable, see `minibp.init`).
        rng: `numpy.random.Generator` or int seed; the layers draw from it in order.
        dtype: ``float64`` (default) or ``float32`` for the whole network.
        activation: a factory for the activation after each `Dense`
            (default `Sigmoid`).

    Returns:
        ``Sequential(Dense(sizes[0], sizes[1]), Sigmoid(), Dense(sizes[1], sizes[2]), Sigmoid(), ...)``.

    Example:
        >>> net = mlp([784, 30, 10], rng=0)
        >>> net[0].w.shape, net[2].b.shape
        ((30, 784), (10, 1))
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"mlp: sizes needs at least an input and an output size, got {sizes}")
    rng = as_generator(rng)
    make_activation = Sigmoid if activation is None else activation
    modules: list[Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        modules.append(Dense(n_in, n_out, init=init, rng=rng, dtype=dtype))
        modules.append(make_activation())
    return Sequential(*modules)
