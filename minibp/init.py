r"""Weight initialisers for `Dense` and `Conv2d`.

An initialiser is a callable ``init(n_in, n_out, rng, dtype) -> (w, b)``
returning ``w`` of shape ``(n_out, n_in)`` and ``b`` of shape ``(n_out, 1)``.
Pass one to `Dense`, `mlp` or `Conv2d`, by name or as a function of your own.
The layer says what $n_{in}$ (the fan-in) and $n_{out}$ are: for `Dense`
its sizes; for a `Conv2d` with $C$ input channels, $F$ feature maps and
$k \times k$ filters, $n_{in} = C k^2$ (the inputs one neuron sees) and
$n_{out} = F$, and the ``(F, C·k·k)`` matrix returned becomes the
``(F, C, k, k)`` filters.

| name | weights $w$ | biases $b$ | where from |
|---|---|---|---|
| ``"book"`` | $\mathcal N(0, 1)$ | $\mathcal N(0, 1)$ | chapter 1's ``network.py`` (the default) |
| ``"scaled"`` | $\mathcal N(0, 1/n_{in})$ | $\mathcal N(0, 1)$ | chapter 3's ``network2.py`` |
| ``"glorot"`` | $\mathcal U(\pm\sqrt{6/(n_{in}+n_{out})})$ | $0$ | Glorot and Bengio (2010) |
| ``"he"`` | $\mathcal N(0, 2/n_{in})$ | $0$ | He et al. (2015), for ReLU |

The book's $\mathcal N(0,1)$ weights make $z = wx + b$ large for 784 inputs,
so some hidden sigmoids start saturated and learn slowly; ``"scaled"`` keeps
$z$ of order one. See the how-to guide on choosing an initialisation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import DTypeLike, NDArray

from ._checks import is_integer
from .errors import ShapeError

__all__ = ["Initializer", "book", "scaled", "glorot", "he", "INITIALIZERS", "get_initializer"]

Initializer = Callable[[int, int, np.random.Generator, DTypeLike], tuple[NDArray, NDArray]]


def book(n_in: int, n_out: int, rng: np.random.Generator, dtype: DTypeLike = np.float64) -> tuple[NDArray, NDArray]:
    """Weights and biases from the standard normal $\\mathcal N(0, 1)$, as in chapter 1."""
    w = rng.standard_normal((n_out, n_in)).astype(dtype, copy=False)
    b = rng.standard_normal((n_out, 1)).astype(dtype, copy=False)
    return w, b


def scaled(n_in: int, n_out: int, rng: np.random.Generator, dtype: DTypeLike = np.float64) -> tuple[NDArray, NDArray]:
    """Weights from $\\mathcal N(0, 1/n_{in})$, biases from $\\mathcal N(0, 1)$, as in chapter 3."""
    w = (rng.standard_normal((n_out, n_in)) / np.sqrt(n_in)).astype(dtype, copy=False)
    b = rng.standard_normal((n_out, 1)).astype(dtype, copy=False)
    return w, b


def glorot(n_in: int, n_out: int, rng: np.random.Generator, dtype: DTypeLike = np.float64) -> tuple[NDArray, NDArray]:
    """Weights uniform on $\\pm\\sqrt{6/(n_{in}+n_{out})}$, biases zero."""
    limit = np.sqrt(6.0 / (n_in + n_out))
    w = rng.uniform(-limit, limit, (n_out, n_in)).astype(dtype, copy=False)
    return w, np.zeros((n_out, 1), dtype=dtype)


def he(n_in: int, n_out: int, rng: np.random.Generator, dtype: DTypeLike = np.float64) -> tuple[NDArray, NDArray]:
    """Weights from $\\mathcal N(0, 2/n_{in})$, biases zero."""
    w = (rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)).astype(dtype, copy=False)
    return w, np.zeros((n_out, 1), dtype=dtype)


INITIALIZERS: dict[str, Initializer] = {"book": book, "scaled": scaled, "glorot": glorot, "he": he}
"""The initialisers known by name."""


def get_initializer(init: str | Initializer) -> Initializer:
    """Return the initialiser called ``init``, or ``init`` itself if it is callable."""
    if callable(init):
        return init
    try:
        return INITIALIZERS[init]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown initialiser {init!r}; choose one of {sorted(INITIALIZERS)} or pass a callable"
        ) from None


def initial_parameters(
    owner: str, n_in: object, n_out: object, init: str | Initializer, rng: np.random.Generator, dtype: DTypeLike
) -> tuple[NDArray, NDArray]:
    """Check a layer's sizes and dtype, then return its initial ``(w, b)`` of shapes ``(n_out, n_in)``, ``(n_out, 1)``.

    Raises:
        ValueError: a size is not a positive integer, or ``init`` is unknown.
        TypeError: ``dtype`` is not float32 or float64.
        ShapeError: the initialiser returned arrays of other shapes.
    """
    n_in, n_out = _size(owner, "n_in", n_in), _size(owner, "n_out", n_out)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"{owner}: dtype must be float32 or float64, got {dtype}")
    w, b = get_initializer(init)(n_in, n_out, rng, dtype)
    if np.shape(w) != (n_out, n_in) or np.shape(b) != (n_out, 1):
        raise ShapeError(
            f"{owner}({n_in}, {n_out}): initialiser returned w {np.shape(w)} and b {np.shape(b)}, "
            f"expected ({n_out}, {n_in}) and ({n_out}, 1)"
        )
    return np.asarray(w, dtype=dtype), np.asarray(b, dtype=dtype)


def initial_filters(
    owner: str,
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    init: str | Initializer,
    rng: np.random.Generator,
    dtype: DTypeLike,
) -> tuple[NDArray, NDArray]:
    """Return a convolution's initial ``(w, b)``, shapes ``(F, C, k, k)`` and ``(F, 1)``.

    The initialiser sees a layer of fan-in $n_{in} = C k^2$ and $n_{out} = F$
    (see `initial_parameters`, whose checks apply).
    """
    fan_in = in_channels * kernel_size * kernel_size
    w, b = initial_parameters(owner, fan_in, out_channels, init, rng, dtype)
    return w.reshape(out_channels, in_channels, kernel_size, kernel_size), b


def _size(owner: str, name: str, value: object) -> int:
    """Return ``value`` as an int, or raise ``ValueError`` unless it is a positive integer (a bool is not)."""
    if not is_integer(value) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)
