r"""`Parallel` and `Residual`: networks whose data flow forks instead of running in one line.

A `Sequential` hands each module's output to the next one. Here one input
feeds several modules at once: `Parallel` runs branches side by side and
stacks their outputs, `Residual` adds a module's output to its own input
($x + f(x)$). Backward needs one rule beyond BP2, the chain rule at a fork:
when the quantities $u_1, \dots, u_K$ all read $x_j$, the cost depends on
$x_j$ through each of them, and the gradients that come back along the paths
**add up**:

$$\frac{\partial C}{\partial x_j} = \sum_{k=1}^{K} \frac{\partial C}{\partial u_k}\,\frac{\partial u_k}{\partial x_j}$$

Deliberately left out: merges other than stacking and adding (a branch that
ends in `Dense` can weight and mix its features before the merge), and graphs
written as free-form wiring.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._checks import check_distinct, check_gradient, check_returned
from .errors import ShapeError
from .module import Module, parameters_only, saved

__all__ = ["Parallel", "Residual"]


def _modules(owner: str, modules: tuple[Any, ...]) -> list[Module]:
    """Check that ``modules`` are distinct `Module` objects (none used twice anywhere below) and list them."""
    for i, module in enumerate(modules):
        if not isinstance(module, Module):
            raise TypeError(f"{owner}: item {i} is {type(module).__name__}, not a Module")
    check_distinct(owner, ((str(i), m) for i, m in enumerate(modules)))
    return list(modules)


class Parallel(Module):
    r"""Branches that read the same input; their outputs are stacked along the feature axis (rows).

    $$a = \begin{bmatrix} f_1(x) \\ \vdots \\ f_K(x) \end{bmatrix}, \qquad
    \frac{\partial C}{\partial x} = \sum_{k=1}^{K} \Big(\frac{\partial f_k}{\partial x}\Big)^T
    \frac{\partial C}{\partial f_k(x)}$$

    Backward cuts ``grad_output`` into the row blocks of each branch and adds
    what the branches return. ``Parallel(Dense(n, p), Dense(n, q))`` equals one
    ``Dense(n, p + q)`` whose weights are the two blocks stacked.

    Args:
        *branches: the modules, each mapping ``(n_in, m)`` to ``(n_k, m)``; at least one.

    Attributes:
        branches: the modules, in order; their outputs appear top to bottom.
        sizes: the rows ``n_k`` each branch returned on the last forward (``None`` before).
        x_shape: the shape ``(n_in, m)`` of the last input (``None`` before forward).

    Example:
        >>> from minibp import Dense
        >>> net = Parallel(Dense(4, 3, rng=0), Dense(4, 2, rng=1))
        >>> net(np.ones((4, 10))).shape
        (5, 10)
    """

    def __init__(self, *branches: Module) -> None:
        if not branches:
            raise ValueError("Parallel needs at least one branch")
        self.branches: list[Module] = _modules("Parallel", branches)
        self.sizes: list[int] | None = None  # rows of each branch's output, kept to cut grad_output
        self.x_shape: tuple[int, ...] | None = None  # (n_in, m), kept to check what backward returns

    def forward(self, x: NDArray) -> NDArray:
        """Run every branch on ``x`` ``(n_in, m)``; return their outputs stacked, ``(n_1 + ... + n_K, m)``."""
        self.sizes = self.x_shape = None  # until every branch has run
        outputs = [branch(x) for branch in self.branches]
        for i, out in enumerate(outputs):
            if np.ndim(out) != 2 or np.shape(out)[1] != x.shape[1]:
                raise ShapeError(
                    f"Parallel: branch {i} ({self.branches[i]!r}) returned shape {np.shape(out)} for input "
                    f"{x.shape}; each branch must return (n_k, {x.shape[1]}), one column per example"
                )
        self.sizes = [out.shape[0] for out in outputs]
        self.x_shape = x.shape
        return np.concatenate(outputs, axis=0)

    def backward(self, grad_output: NDArray) -> NDArray:
        r"""Send each branch its rows of ``grad_output`` ``(n_1 + ... + n_K, m)``; return the sum, ``(n_in, m)``."""
        sizes, x_shape = saved(self, self.sizes), saved(self, self.x_shape)
        grad_output = check_gradient(self, grad_output, (sum(sizes), x_shape[1]))
        pieces = np.split(grad_output, np.cumsum(sizes)[:-1], axis=0)  # branch k's rows: dC/d f_k(x)
        grad_input = np.zeros(x_shape, dtype=grad_output.dtype)
        for i, (branch, piece) in enumerate(zip(self.branches, pieces)):
            grad_branch = branch.backward(piece)  # dC/dx along this branch's path alone
            grad_branch = check_returned(self, i, branch, grad_branch, x_shape)  # a ShapeError names the branch
            grad_input = grad_input + grad_branch  # x fans out, so the paths' gradients add up
        return grad_input

    def backward_parameters(self, grad_output: NDArray) -> None:
        """`backward` without the input's gradient: each branch gets `parameters_only` with its rows."""
        sizes, x_shape = saved(self, self.sizes), saved(self, self.x_shape)
        grad_output = check_gradient(self, grad_output, (sum(sizes), x_shape[1]))
        for branch, piece in zip(self.branches, np.split(grad_output, np.cumsum(sizes)[:-1], axis=0)):
            parameters_only(branch, piece)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Yield ``("0", first branch)``, ``("1", second branch)``, ..."""
        for i, branch in enumerate(self.branches):
            yield str(i), branch

    def __getitem__(self, index: int) -> Module:
        return self.branches[index]

    def __len__(self) -> int:
        return len(self.branches)

    def __repr__(self) -> str:
        return _nested_repr(self, self.branches)


class Residual(Module):
    r"""A module plus a shortcut around it: $a = x + f(x)$.

    $$a = x + f(x), \qquad
    \frac{\partial C}{\partial x} = \frac{\partial C}{\partial a}
    + \Big(\frac{\partial f}{\partial x}\Big)^T \frac{\partial C}{\partial a}$$

    The input takes two paths to $a$, the shortcut (whose derivative is the
    identity) and $f$, so backward adds ``grad_output`` to what ``f`` returns.

    Args:
        module: $f$, mapping ``(n, m)`` to ``(n, m)``: the same shape in and out.

    Attributes:
        module: $f$.
        x_shape: the shape ``(n, m)`` of the last input (``None`` before forward).

    Raises:
        ShapeError: in ``forward``, when ``module`` changes the shape of its input.

    Example:
        >>> from minibp import Dense
        >>> block = Residual(Dense(4, 4, rng=0))
        >>> block(np.ones((4, 10))).shape
        (4, 10)
    """

    def __init__(self, module: Module) -> None:
        self.module: Module = _modules("Residual", (module,))[0]
        self.x_shape: tuple[int, ...] | None = None  # the only thing backward needs: f keeps its own

    def forward(self, x: NDArray) -> NDArray:
        """Return ``x + module(x)``, shape ``(n, m)`` like ``x``."""
        self.x_shape = None  # until f has run
        fx = self.module(x)
        if np.shape(fx) != x.shape:
            raise ShapeError(
                f"Residual: {self.module!r} maps input {x.shape} to {np.shape(fx)}; x + f(x) needs f to keep "
                "the shape (put a Dense(n_in, n_out) outside the Residual to change the number of features)"
            )
        self.x_shape = x.shape
        return x + fx

    def backward(self, grad_output: NDArray) -> NDArray:
        r"""Return $\partial C/\partial x$ = ``grad_output`` + ``module.backward(grad_output)``, shape ``(n, m)``."""
        x_shape = saved(self, self.x_shape)
        grad_output = check_gradient(self, grad_output, x_shape)
        grad_f = self.module.backward(grad_output)  # dC/dx along the path through f
        grad_f = check_returned(self, 0, self.module, grad_f, x_shape)
        return grad_output + grad_f  # plus the shortcut's path, whose derivative is the identity

    def backward_parameters(self, grad_output: NDArray) -> None:
        """`backward` without the input's gradient: the module gets `parameters_only`; the shortcut has none."""
        parameters_only(self.module, check_gradient(self, grad_output, saved(self, self.x_shape)))

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Yield ``("0", module)``."""
        yield "0", self.module

    def get_config(self) -> dict[str, Any]:
        """No settings of its own: `minibp.io.save` stores the module as this container's child."""
        return {}

    def __repr__(self) -> str:
        return _nested_repr(self, [self.module])


def _nested_repr(owner: Module, children: list[Module]) -> str:
    """``Name(a, b)`` on one line if the children fit, else one child per line, indented."""
    parts = [repr(child) for child in children]
    one_line = f"{type(owner).__name__}({', '.join(parts)})"
    if len(one_line) <= 80 and "\n" not in one_line:
        return one_line
    inner = ",\n".join(textwrap.indent(part, "  ") for part in parts)
    return f"{type(owner).__name__}(\n{inner}\n)"
