"""`summary`: a table of a network's modules, output shapes and parameter counts.

```python
print(summary(mlp([784, 30, 10], rng=0), 784))
```

```text
#  Module          Output shape  Parameters
-------------------------------------------
0  Dense(784, 30)  (30, m)           23,550
1  Sigmoid()       (30, m)                0
2  Dense(30, 10)   (10, m)              310
3  Sigmoid()       (10, m)                0
===========================================
Input: (784, m); m = examples (columns) in a batch
Total parameters: 23,860 (186.4 KiB as float64)
```

Shapes are found by passing one example (a column of zeros) through the
network in evaluation mode; ``m`` stands for the number of examples, since
every module maps columns to columns. A `minibp.containers.Parallel` or
`minibp.containers.Residual` gets a row of its own (its output shape, and no
count: its parameters are in the rows below), then a row for each module it
holds, numbered like ``2.0``, ``2.1``.
"""

from __future__ import annotations

import numpy as np

from .containers import Parallel, Residual
from .layers import Dense, Dropout, Identity, ReLU, Sigmoid, Softmax, Tanh
from .module import Module, evaluation_mode
from .sequential import Sequential

__all__ = ["input_size", "summary"]


def _rows(module: Module, x: np.ndarray, prefix: str, rows: list[tuple[str, str, str, str]]) -> np.ndarray:
    if isinstance(module, Sequential):
        for name, child in module.named_children():
            x = _rows(child, x, f"{prefix}{name}.", rows)
        return x
    out = module(x)  # checked, as in training
    shape = "(" + ", ".join(str(d) for d in out.shape[:-1]) + ", m)"
    if isinstance(module, (Parallel, Residual)):  # a row for the merge, then the rows of what it merges
        merge = f"Parallel, {len(module)} branches stacked" if isinstance(module, Parallel) else "Residual, x + f(x)"
        rows.append((prefix[:-1], merge, shape, ""))  # no count: the rows below hold its parameters
        for name, child in module.named_children():
            _rows(child, x, f"{prefix}{name}.", rows)  # every branch, and f, reads the container's input
        return out
    size = sum(p.data.size for _, p in module.named_parameters())
    rows.append((prefix[:-1] or "0", repr(module), shape, f"{size:,}"))
    return out


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


_SAME_SHAPE = (Sigmoid, Tanh, ReLU, Identity, Softmax, Dropout)  # map (n, m) to (n, m) for any n


def input_size(net: Module) -> int | None:
    """Return the number of input features ``net`` takes, or ``None`` if it takes any number (or it cannot be told).

    The first module that fixes it decides: a `Dense` layer's ``n_in``, found
    through `Sequential` chains (past modules that keep the shape, such as
    activations, `Dropout` and `Residual`), any branch of a `Parallel`, and
    the module inside a `Residual`. A module of another kind stops the search.

    Example:
        >>> from minibp import Dense, Dropout, Parallel, Sequential, Sigmoid
        >>> input_size(Sequential(Dropout(0.5), Parallel(Dense(784, 5), Dense(784, 5))))
        784
        >>> input_size(Sequential(Sigmoid())) is None
        True
    """
    if isinstance(net, Dense):
        return net.n_in
    if isinstance(net, Residual):
        return input_size(net.module)
    if isinstance(net, Parallel):
        return next((size for size in map(input_size, net.branches) if size is not None), None)
    if isinstance(net, Sequential):
        for module in net.layers:
            size = input_size(module)
            if size is not None or not isinstance(module, (*_SAME_SHAPE, Residual)):
                return size  # a Parallel that fixes nothing stacks its outputs: what follows does not tell
    return None


def summary(net: Module, input_size: int | tuple[int, ...]) -> str:
    """Return a table of the modules of ``net``, their output shapes and parameter counts.

    Args:
        net: a module; the children of a `Sequential` (nested ones too) get a row each, and so
            do the branches of a `Parallel` and the module inside a `Residual`, below a row for
            the container (its output shape, its parameters counted in the rows below).
        input_size: the number of input features $n_{in}$ (or the input
            shape ``(n_in, m)``, whose ``m`` is ignored).

    Returns:
        The table as a string (``print`` it), ending with the totals.

    Raises:
        ShapeError: ``input_size`` does not fit the first layer.
    """
    n_in = input_size[0] if isinstance(input_size, tuple) else int(input_size)
    params = [p for _, p in net.named_parameters()]
    dtype = params[0].data.dtype if params else np.dtype(np.float64)
    rows: list[tuple[str, str, str, str]] = []
    with evaluation_mode(net):
        _rows(net, np.zeros((n_in, 1), dtype=dtype), "", rows)
    header = ("#", "Module", "Output shape", "Parameters")
    table = [header, *rows]
    widths = [max(len(row[k]) for row in table) for k in range(4)]

    def line(row: tuple[str, str, str, str]) -> str:
        return "  ".join(
            [row[0].ljust(widths[0]), row[1].ljust(widths[1]), row[2].ljust(widths[2]), row[3].rjust(widths[3])]
        )

    width = len(line(header))
    total = sum(p.data.size for p in params)
    nbytes = sum(p.data.nbytes for p in params)
    dtypes = sorted({str(p.data.dtype) for p in params}) or ["float64"]
    lines = [line(header), "-" * width, *(line(row) for row in table[1:]), "=" * width]
    lines.append(f"Input: ({n_in}, m); m = examples (columns) in a batch")
    lines.append(f"Total parameters: {total:,} ({_bytes(nbytes)} as {'/'.join(dtypes)})")
    return "\n".join(lines)
