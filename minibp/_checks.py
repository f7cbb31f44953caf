"""Small argument checks shared by modules, costs, optimizers and the training loop.

Each one names the module or function at fault and the values involved. `parameters_only` (public in
`minibp.module`) checks which of a module's two backward methods is in charge.
Scanning a whole data set for NaN is left to the entry points that see it
once (`minibp.train.train`, `minibp.train.evaluate`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterable
from contextvars import ContextVar, copy_context
from typing import Any, TypeGuard, TypeVar

import numpy as np
from numpy.typing import NDArray

from .errors import HyperparameterError, NestingError, NonFiniteError, ShapeError

T = TypeVar("T")  # for small generic helpers, here and in the modules that import these checks


def as_batch(x: object, owner: object, n: object = None, dtype: np.dtype | None = None) -> NDArray:
    """Return ``x`` as a real ``(n, m)`` batch with ``m >= 1``, or raise naming ``owner`` (a module).

    ``n`` that is not an integer (``None``) accepts any number of rows. The result has ``dtype``; with
    ``dtype=None`` a float array keeps its own and integers and booleans become float64.
    """
    if type(x) is np.ndarray and x.ndim == 2 and x.shape[1] and (n is None or x.shape[0] == n):
        if x.dtype == dtype if dtype is not None else x.dtype.kind == "f":
            return x  # the common case: nothing to convert
    if not is_integer(n):
        n = None
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] == 0 or (n is not None and x.shape[0] != n):
        hint = ""
        if x.ndim == 1:
            hint = " (a single example must be a column: use x.reshape(-1, 1))"
        elif x.ndim == 2 and x.shape[1] == 0:
            hint = " (an empty mini-batch: m must be at least 1)"
        elif x.ndim == 2 and x.shape[1] == n:
            hint = " (examples are columns: did you pass rows? use x.T)"
        raise ShapeError(f"{owner!r} expected input of shape ({'n' if n is None else n}, m), got {x.shape}{hint}")
    if x.dtype != dtype:
        if x.dtype.kind not in "fiub":
            raise TypeError(f"{owner!r} expected a real numeric array, got dtype {x.dtype}")
        if dtype is not None:
            x = x.astype(dtype)
        elif x.dtype.kind != "f":
            x = x.astype(np.float64)
    return x


def first_dtype(values: Iterable[Any], kind: type[Any]) -> np.dtype | None:
    """The ``data`` dtype of the first of ``values`` that is a ``kind`` (a module's `Parameter`), else ``None``."""
    for value in values:
        if isinstance(value, kind):
            return value.data.dtype
    return None


def as_pair(owner: object, a: object, y: object) -> tuple[NDArray, NDArray]:
    """Return a cost's ``(a, y)`` as real float arrays of one ``(n_L, m)`` shape, or raise naming ``owner``."""
    if type(a) is np.ndarray and type(y) is np.ndarray and a.ndim == 2 and a.shape == y.shape and a.shape[1]:
        if a.dtype == y.dtype and a.dtype.kind == "f":
            return a, y  # the common case: nothing to convert
    a, y = np.asarray(a), np.asarray(y)
    if a.ndim != 2 or a.shape != y.shape or a.shape[1] == 0:
        raise ShapeError(f"{owner!r}: output a {a.shape} and target y {y.shape} must both be (n_L, m) with m >= 1")
    if a.dtype.kind not in "fiub" or y.dtype.kind not in "fiub":
        raise TypeError(f"{owner!r}: a and y must be real numeric arrays, got dtypes {a.dtype} and {y.dtype}")
    dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float64)
    return a.astype(dtype, copy=False), y.astype(dtype, copy=False)


def check_gradient(owner: object, grad_output: object, shape: tuple[int, ...]) -> NDArray:
    """Return ``grad_output`` as a real float array of ``shape``, or raise naming ``owner``."""
    if type(grad_output) is np.ndarray and grad_output.shape == shape and grad_output.dtype.kind == "f":
        return grad_output  # the common case: nothing to convert
    g = np.asarray(grad_output)
    if g.shape != shape:
        raise ShapeError(f"{owner!r}.backward expected grad_output of shape {shape}, got {g.shape}")
    if g.dtype.kind != "f":
        if g.dtype.kind not in "iub":
            raise TypeError(f"{owner!r}.backward expected a real numeric grad_output, got dtype {g.dtype}")
        g = g.astype(np.float64)
    return g


def check_returned(owner: object, i: int, child: object, grad_input: object, shape: tuple[int, ...]) -> NDArray:
    """Return what child ``i`` of the container ``owner`` returned from ``backward``, checked against its input's
    ``shape`` (a sum would broadcast a wrong one silently), or raise naming the child."""
    if type(grad_input) is np.ndarray and grad_input.shape == shape and grad_input.dtype.kind == "f":
        return grad_input  # the common case: nothing to convert
    g = np.asarray(grad_input)
    if g.shape != shape:
        raise ShapeError(
            f"{type(owner).__name__}: module {i} ({child!r}).backward returned a gradient of shape {g.shape}, "
            f"expected the shape of its input {shape}"
        )
    if g.dtype.kind != "f":
        if g.dtype.kind not in "iub":
            raise TypeError(
                f"{type(owner).__name__}: module {i} ({child!r}).backward returned dtype {g.dtype}, not real numbers"
            )
        g = g.astype(np.float64)
    return g


def copy_checked(target: NDArray, value: object, what: str) -> None:
    """Copy ``value`` into ``target`` after checking its shape and kind; errors name ``what`` ("Parameter.data")."""
    value = np.asarray(value)
    if value.shape != target.shape:
        raise ShapeError(f"{what} has shape {target.shape}; cannot assign an array of shape {value.shape}")
    if value.dtype.kind not in "fiub":
        raise TypeError(f"{what} must be real numbers, got dtype {value.dtype}")
    np.copyto(target, value, casting="unsafe")


def all_finite(x: NDArray) -> bool:
    """Whether ``x`` holds no NaN or infinity."""
    return bool(np.isfinite(x).all())


HEADROOM = 0.5
"""The fraction of its dtype's largest value that no parameter or optimizer state may reach.

A step that would leave a value at or beyond ``HEADROOM * np.finfo(dtype).max`` (float32: 1.7e38,
float64: 9.0e307) is refused, on the module path (`minibp.optim.Optimizer.step`) and on the fused
one (`minibp.fast`) alike, so the next forward pass still has room to add and multiply.
"""


def limit(dtype: np.dtype) -> float:
    """The largest magnitude a parameter or an optimizer's state of ``dtype`` may reach: see `HEADROOM`."""
    return _largest(dtype) * HEADROOM


@functools.cache
def _largest(dtype: np.dtype) -> float:
    return float(np.finfo(dtype).max)  # np.finfo takes a microsecond even when it has seen the dtype


def within_limit(x: NDArray) -> bool:
    """Whether every entry of the float array ``x`` is finite and below `limit` in magnitude.

    One BLAS pass in the common case: $\\sqrt{x \\cdot x} \\ge \\max|x|$, and NaN or infinity make
    $x \\cdot x$ NaN or infinite. Only when that bound is not below the limit is the exact maximum computed.
    """
    bound = limit(x.dtype)
    if float(np.vdot(x, x)) < bound * bound:  # Python floats: for float64, bound * bound is inf (any finite sum)
        return True
    return bool(x.size == 0 or np.abs(x).max() < bound)  # NaN compares False


MAX_DEPTH = 64
"""How deeply modules may nest: at most this many containers above any module of a network.

A network is at depth 0, its children at depth 1, and so on. Building a container
(`check_distinct`), `train`, `gradcheck`, `check_module` (`check_network`), `minibp.io.save`
and `minibp.io.load` refuse a deeper network with `NestingError`, so that every walk of a
network (forward, backward, ``repr``, saving) stays far below Python's recursion limit.
"""

_deferred: ContextVar[bool] = ContextVar("minibp_tree_checks_deferred", default=False)


def check_distinct(owner: str, children: Iterable[tuple[str, Any]]) -> None:
    """Raise unless the trees below the ``(name, module)`` pairs hold each module once, at most `MAX_DEPTH` deep.

    The pairs are a new container's children, at depth 1. One walk, without
    recursion, visits each module below once.

    Raises:
        ValueError: one module object appears twice (a second use would
            overwrite what its forward saved for backward).
        NestingError: a module would sit more than `MAX_DEPTH` containers deep.
    """
    if not _deferred.get():
        _walk(owner, list(children), {})


def check_network(net: Any, owner: str | None = None) -> None:
    """`check_distinct` for a whole network as it is now, edits of ``layers`` or ``branches`` included.

    ``net`` itself is at depth 0; a module placed inside itself counts as used twice.

    Raises:
        ValueError: one module object appears twice in ``net``.
        NestingError: a module sits more than `MAX_DEPTH` containers deep.
    """
    named_children = getattr(net, "named_children", None)
    if callable(named_children):  # not a Module: the caller's own check says so
        _walk(owner or type(net).__name__, list(named_children()), {id(net): "the network itself"})


def without_tree_checks(build: Callable[..., T], *args: Any) -> T:
    """Return ``build(*args)``, with `check_distinct` skipped inside, for a caller that runs `check_network` once after.

    Building a tree of depth $d$ bottom-up checks each module $d$ times; `minibp.io.load` builds this way and
    checks the result once. The skip is set in a copy of the current context, so nothing can leave it on
    after the call: not an exception, and not a Ctrl-C arriving at any moment.
    """

    def skipping() -> T:
        _deferred.set(True)
        return build(*args)

    return copy_context().run(skipping)


def _walk(owner: str, children: list[tuple[str, Any]], seen: dict[int, str]) -> None:
    stack = [(name, module, 1) for name, module in reversed(children)]
    while stack:
        name, module, depth = stack.pop()
        below = list(module.named_children())
        if id(module) in seen:
            shown = type(module).__name__ if below else repr(module)  # a container's repr may hold itself
            raise ValueError(  # a module keeps what its forward saw for backward: a second use overwrites it
                f"{owner}: {shown} is used twice, as {seen[id(module)]} and as {name}; give each place its "
                "own module (to share weights, give two modules one Parameter: second.w = first.w)"
            )
        if depth > MAX_DEPTH:
            shown = name if len(name) <= 80 else f"{name[:40]}...{name[-30:]}"
            raise NestingError(
                f"{owner}: module {shown} ({type(module).__name__}) sits {depth} containers deep, more than "
                f"MAX_DEPTH = {MAX_DEPTH}; flatten the nesting (a Sequential of Sequentials is one Sequential)"
            )
        seen[id(module)] = name
        stack.extend((f"{name}.{child_name}", child, depth + 1) for child_name, child in reversed(below))


def check_finite(x: NDArray, what: str) -> None:
    """Raise `NonFiniteError` naming ``what`` and the first bad index if ``x`` holds NaN or infinity."""
    if x.dtype.kind != "f" or all_finite(x):
        return
    bad = np.argwhere(~np.isfinite(x))[0]
    raise NonFiniteError(
        f"{what} contains non-finite values (first at index {tuple(int(i) for i in bad)}: {x[tuple(bad)]})"
    )


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Return a `numpy.random.Generator`: ``rng`` itself, or one seeded with it.

    ``None`` gives a generator seeded from the operating system. numpy's global
    random state is never used.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or is_integer(rng):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def is_integer(value: object) -> TypeGuard[int | np.integer]:
    """Whether ``value`` is an integer: a Python or numpy integer alike, never a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_count(owner: str, name: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise `HyperparameterError` unless it is an integer ``>= minimum``.

    Python and numpy integers are accepted alike; a bool is not a count.
    """
    if not is_integer(value) or value < minimum:
        raise HyperparameterError(f"{owner}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _number(owner: str, name: str, value: object) -> float:
    if isinstance(value, (bool, str, bytes)):
        raise HyperparameterError(f"{owner}: {name} must be a number, got {value!r}")
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise HyperparameterError(f"{owner}: {name} must be a number, got {value!r}") from None


def check_positive(owner: str, name: str, value: object) -> float:
    """Return ``value`` as a float, or raise `HyperparameterError` unless it is finite and > 0."""
    number = _number(owner, name, value)
    if not (math.isfinite(number) and number > 0):
        raise HyperparameterError(f"{owner}: {name} must be a finite number > 0, got {value!r}")
    return number


def check_non_negative(owner: str, name: str, value: object) -> float:
    """Return ``value`` as a float, or raise `HyperparameterError` unless it is finite and >= 0."""
    number = _number(owner, name, value)
    if not (math.isfinite(number) and number >= 0):
        raise HyperparameterError(f"{owner}: {name} must be a finite number >= 0, got {value!r}")
    return number


def check_unit_interval(owner: str, name: str, value: object) -> float:
    """Return ``value`` as a float, or raise `HyperparameterError` unless 0 <= value < 1."""
    number = _number(owner, name, value)
    if not (0.0 <= number < 1.0):
        raise HyperparameterError(f"{owner}: {name} must be in [0, 1), got {value!r}")
    return number


def parameters_only(module: Any, grad_output: NDArray) -> None:
    r"""Add ``module``'s parameter gradients for ``grad_output`` without computing its input's: what `train` needs.

    Calls ``module.backward_parameters(grad_output)``, which skips $\partial C/\partial x$ where a module
    knows how (`Dense` and `Conv2d` skip $w^T\delta$, and containers pass the call on to the modules their
    input goes to: the book's loop stops at layer 2 the same way). A ``backward`` written without its
    ``backward_parameters`` (by a subclass or a mixin that overrides ``backward`` alone, or as
    ``module.backward = ...`` on the instance) is never bypassed: then this calls
    ``module.backward(grad_output)`` and drops its result. (Replacing ``Dense.backward`` on the class
    itself leaves ``Dense.backward_parameters`` as it was: replace both, or write a subclass.)

    Args:
        module: a `minibp.module.Module`, after its ``forward``.
        grad_output: $\partial C/\partial(\text{output})$, shape ``(n_out, m)``.
    """
    own = vars(module)
    if "backward_parameters" in own or ("backward" not in own and _pairs_written(type(module))):
        module.backward_parameters(grad_output)
    else:
        module.backward(grad_output)


def _pairs_written(kind: type) -> bool:
    """Whether every class of ``kind`` (and its bases) that writes ``backward`` writes ``backward_parameters`` too.

    Then no ``backward`` can be reached that its class's ``backward_parameters`` would leave out, whatever
    the methods pass on with ``super()``.
    """
    return all("backward_parameters" in vars(c) for c in kind.__mro__ if "backward" in vars(c))
