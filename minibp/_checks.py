"""Small argument checks shared by modules, costs, optimizers and the training loop.

Each one names the module or function at fault and the values involved.
Scanning a whole data set for NaN is left to the entry points that see it
once (`minibp.train.train`, `minibp.train.evaluate`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, TypeGuard, TypeVar

import numpy as np
from numpy.typing import NDArray

from .errors import HyperparameterError, NonFiniteError, ShapeError

T = TypeVar("T")  # for small generic helpers, here and in the modules that import these checks


def as_batch(x: object, owner: object, n: int, dtype: np.dtype | None = None) -> NDArray:
    """Return ``x`` as a real ``(n, m)`` array of ``dtype``, or raise naming ``owner`` (a module)."""
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[0] != n or x.shape[1] == 0:
        hint = ""
        if x.ndim == 1:
            hint = " (a single example must be a column: use x.reshape(-1, 1))"
        elif x.ndim == 2 and x.shape[1] == n:
            hint = " (examples are columns: did you pass rows? use x.T)"
        elif x.ndim == 2 and x.shape[1] == 0:
            hint = " (an empty mini-batch: m must be at least 1)"
        raise ShapeError(f"{owner!r} expected input of shape ({n}, m), got {x.shape}{hint}")
    if x.dtype.kind not in "fiub":
        raise TypeError(f"{owner!r} expected a real numeric array, got dtype {x.dtype}")
    if dtype is not None and x.dtype != dtype:
        x = x.astype(dtype)
    return x


def as_float_batch(x: object, owner: object) -> NDArray:
    """Return ``x`` as a float ``(n, m)`` batch (integers and booleans become float64), or raise naming ``owner``."""
    x = np.asarray(x)
    if x.ndim != 2:
        hint = " (a single example must be a column: use x.reshape(-1, 1))" if x.ndim == 1 else ""
        raise ShapeError(f"{owner!r} expected input of shape (n, m), got {x.shape}{hint}")
    return as_batch(x, owner, x.shape[0], x.dtype if x.dtype.kind == "f" else np.dtype(np.float64))


def check_gradient(owner: object, grad_output: object, shape: tuple[int, ...]) -> NDArray:
    """Return ``grad_output`` as a real float array of ``shape``, or raise naming ``owner``."""
    g = np.asarray(grad_output)
    if g.shape != shape:
        raise ShapeError(f"{owner!r}.backward expected grad_output of shape {shape}, got {g.shape}")
    if g.dtype.kind != "f":
        if g.dtype.kind not in "iub":
            raise TypeError(f"{owner!r}.backward expected a real numeric grad_output, got dtype {g.dtype}")
        g = g.astype(np.float64)
    return g


def all_finite(x: NDArray) -> bool:
    """Whether ``x`` holds no NaN or infinity."""
    return bool(np.isfinite(x).all())


def magnitude(x: NDArray) -> float:
    """An upper bound on ``max |x|``: the 2-norm, else the exact maximum; NaN or infinity if ``x`` holds them."""
    square = float(np.vdot(x, x))  # one BLAS pass, no temporary, no warning on overflow
    if math.isfinite(square):
        return math.sqrt(square)
    return float(np.abs(x).max())


def check_step(owner: object, what: str, x: NDArray, change: float, exact: Callable[[], float] | None = None) -> None:
    """Raise `NonFiniteError` unless adding at most ``change`` to every entry of ``x`` keeps it far from overflow.

    ``exact()``, if given, is the exact largest change, tried when the bound on ``max |x|`` is too loose.
    """
    limit = float(np.finfo(x.dtype).max) / 2
    if magnitude(x) + change < limit:
        return
    if exact is not None and x.size and float(np.abs(x).max()) + exact() < limit:
        return
    raise NonFiniteError(
        f"{type(owner).__name__}.step: the update of {what} {x.shape} would overflow (changes up to {change:.3g}); "
        "no parameter was changed"
    )


def max_change(scale: float, x: NDArray) -> Callable[[], float]:
    """Return a function computing ``scale * max |x|``: `check_step`'s ``exact``, run only if it is needed."""
    return lambda: scale * float(np.abs(x).max())


def check_distinct(owner: str, children: Iterable[tuple[str, Any]]) -> None:
    """Raise ``ValueError`` if one module object appears twice in the trees below ``(name, module)`` pairs."""
    seen: dict[int, str] = {}
    stack = list(children)[::-1]
    while stack:
        name, module = stack.pop()
        if id(module) in seen:
            raise ValueError(  # a module keeps what its forward saw for backward: a second use overwrites it
                f"{owner}: {module!r} is used twice, as {seen[id(module)]} and as {name}; give each place its own "
                "module (to share weights, give two modules one Parameter: second.w = first.w)"
            )
        seen[id(module)] = name
        stack.extend([(f"{name}.{child_name}", child) for child_name, child in module.named_children()][::-1])


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
