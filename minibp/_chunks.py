r"""How many examples to pass through a network at once when evaluating: chunks bounded in bytes.

`minibp.train.evaluate`, `minibp.train.predict` and
`minibp.callbacks.LearningSpeed` run a network on a whole data set, a chunk
of examples at a time. A chunk of ``m`` examples takes memory in proportion
to ``m``: every module's output, what it keeps for ``backward``, and the work
arrays of its ``forward`` (a `Conv2d` unfolds its input into
$C k^2 H' W'$ numbers per example: 14,400 for the first layer of the chapter-6
network, 2.6 GB for 10,000 examples in all). So the chunks are sized in bytes:

$$m = \left\lfloor \frac{\text{chunk\_bytes}}{\text{numbers per example} \times \text{itemsize}} \right\rfloor,$$

at least 1 and at most 10,000. The numbers per example are an upper estimate
read from the network, without running it: the input's width, plus, for each
module without children in ``net.modules()`` order, the width of its output
(its ``n_out`` when it has one, the width before it otherwise, as for an
activation) and its ``workspace()`` when it has that method (the numbers per
example its ``forward`` allocates beside its output; `Conv2d` has it).
Every output is counted as if all were alive at once, which they rarely are:
measured with tracemalloc on the chapter-6 network, the peak of `evaluate`
is about 0.9 of the bound. A module of your own that changes the width
should say so with an ``n_out`` attribute, and one that allocates more than
its output with ``workspace()``. The default bound, 128 MiB, lets the
book's ``[784, 30, 10]`` network evaluate 10,000 examples in one pass.
"""

from __future__ import annotations

from collections.abc import Iterator

from numpy.typing import NDArray

from ._checks import is_integer
from .module import Module

__all__ = ["CHUNK_BYTES", "MAX_CHUNK", "check_chunk_bytes", "chunk_size", "numbers_per_example", "chunks"]

CHUNK_BYTES = 128 * 2**20
"""The default bound, in bytes, on what one chunk of examples takes while a network evaluates it (128 MiB)."""

MAX_CHUNK = 10_000
"""The most examples in one chunk, however small the network."""


def _count(value: object) -> int | None:
    return int(value) if is_integer(value) and value >= 0 else None


def numbers_per_example(net: Module, n_in: int) -> int:
    """An upper estimate of the numbers one example takes in a forward pass of ``net`` (see the module docstring).

    Args:
        net: the network.
        n_in: the rows of its input, ``X.shape[0]``.

    Returns:
        The input's width, plus each leaf module's output width and its ``workspace()``.
    """
    width = total = n_in
    for module in net.modules():
        if next(module.children(), None) is not None:
            continue  # a container: its children compute
        n_out = _count(getattr(module, "n_out", None))
        width = width if n_out is None else n_out
        workspace = getattr(module, "workspace", None)
        extra = _count(workspace()) if callable(workspace) else None
        total += width + (extra or 0)
    return total


def check_chunk_bytes(chunk_bytes: object) -> int:
    """Return ``chunk_bytes`` as an int (`CHUNK_BYTES` for ``None``); ``ValueError`` unless a positive integer."""
    if chunk_bytes is None:
        return CHUNK_BYTES
    if not is_integer(chunk_bytes) or isinstance(chunk_bytes, bool) or chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be a positive integer number of bytes or None, got {chunk_bytes!r}")
    return int(chunk_bytes)


def chunk_size(net: Module, X: NDArray, chunk_bytes: int | None, *, passes: int = 1, cap: int = MAX_CHUNK) -> int:
    """The number of examples of ``X`` to run through ``net`` at once so that a chunk takes about ``chunk_bytes``.

    Args:
        net: the network.
        X: the inputs, shape ``(n_in, N)``.
        chunk_bytes: the bound in bytes; ``None`` uses `CHUNK_BYTES`.
        passes: 1 for a forward pass, 2 for a forward and a backward pass
            (the gradients mirror the activations).
        cap: the most examples in a chunk.

    Returns:
        Between 1 and ``cap``.

    Raises:
        ValueError: ``chunk_bytes`` is not a positive integer.
    """
    bound = check_chunk_bytes(chunk_bytes)
    itemsize = max([X.dtype.itemsize if X.dtype.kind == "f" else 8] + [p.data.itemsize for p in net.parameters()])
    per_example = passes * numbers_per_example(net, X.shape[0]) * itemsize
    return int(max(1, min(cap, bound // per_example)))


def chunks(n: int, size: int) -> Iterator[slice]:
    """The slices ``0:size``, ``size:2*size``, ... covering ``n`` examples."""
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))
