r"""Layers: `Dense` (the weighted input $z = wa + b$) and `Sigmoid` ($a = \sigma(z)$).

The book's layer $l$ computes $a^l = \sigma(w^l a^{l-1} + b^l)$ (eq. 17). minibp
splits it in two modules so that each backward pass is one short rule:

* `Sigmoid.backward` multiplies by $\sigma'(z)$;
* `Dense.backward` stores BP3 and BP4 and returns $w^T\delta$.

BP1 is then ``sigmoid.backward(cost.backward())`` and BP2 is
``sigmoid.backward(dense.backward(delta))``.

Where the book loops over the examples of a mini-batch, minibp handles them
all at once: each array has one column per example.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from numpy.typing import DTypeLike, NDArray
from scipy.special import expit

from ._checks import as_batch, as_generator
from .errors import ShapeError
from .init import Initializer, get_initializer
from .module import Module, Parameter

__all__ = ["Dense", "Sigmoid"]


def _no_forward(module: Module) -> RuntimeError:
    return RuntimeError(f"{module!r}: backward called before forward")


class Dense(Module):
    r"""Fully connected layer: $z = w a + b$.

    $$z^l = w^l a^{l-1} + b^l$$

    Args:
        n_in: number of inputs $n_{in}$ (neurons in the previous layer).
        n_out: number of outputs $n_{out}$ (neurons in this layer).
        init: initialiser name (``"book"``, ``"scaled"``, ``"glorot"``,
            ``"he"``) or a callable, see `minibp.init`. Default ``"book"``:
            $w, b \sim \mathcal N(0, 1)$.
        rng: a `numpy.random.Generator` or an int seed for the initialiser;
            ``None`` seeds from the operating system.
        dtype: ``float64`` (default) or ``float32``; inputs are converted to it.

    Attributes:
        w: `Parameter` of shape ``(n_out, n_in)``; ``w.data[j, k]`` is the book's
            $w_{jk}$, the weight from input $k$ to neuron $j$.
        b: `Parameter` of shape ``(n_out, 1)``, broadcast over the ``m`` columns.

    Example:
        >>> layer = Dense(3, 2, rng=0)
        >>> layer(np.ones((3, 5))).shape
        (2, 5)
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        *,
        init: str | Initializer = "book",
        rng: np.random.Generator | int | None = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        for name, value in (("n_in", n_in), ("n_out", n_out)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Dense: {name} must be a positive integer, got {value!r}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"Dense: dtype must be float32 or float64, got {dtype}")
        w, b = get_initializer(init)(int(n_in), int(n_out), as_generator(rng), dtype)
        if w.shape != (n_out, n_in) or b.shape != (n_out, 1):
            raise ShapeError(
                f"Dense({n_in}, {n_out}): initialiser returned w {w.shape} and b {b.shape}, "
                f"expected ({n_out}, {n_in}) and ({n_out}, 1)"
            )
        self.n_in, self.n_out = int(n_in), int(n_out)
        self.w = Parameter(np.asarray(w, dtype=dtype))
        self.b = Parameter(np.asarray(b, dtype=dtype))
        self.x: NDArray | None = None

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        yield "w", self.w
        yield "b", self.b

    def forward(self, x: NDArray) -> NDArray:
        r"""Compute $z = w x + b$ for a mini-batch.

        Args:
            x: activations of the previous layer $a^{l-1}$, shape ``(n_in, m)``.

        Returns:
            Weighted input $z^l$, shape ``(n_out, m)``.
        """
        w = self.w.data
        if type(x) is not np.ndarray or x.ndim != 2 or x.shape[0] != self.n_in or x.dtype != w.dtype:
            x = as_batch(x, self, self.n_in, w.dtype)
        self.x = x
        z = w @ x  # eq. 17: z = w a + b
        z += self.b.data
        return z

    def _accumulate(self, delta: NDArray) -> NDArray:
        x = self.x
        if x is None:
            raise _no_forward(self)
        if type(delta) is not np.ndarray:
            delta = np.asarray(delta)
        if delta.shape != (self.n_out, x.shape[1]):
            raise ShapeError(
                f"{self!r}.backward expected grad_output of shape {(self.n_out, x.shape[1])}, got {delta.shape}"
            )
        if delta.dtype != self.w.data.dtype:
            delta = delta.astype(self.w.data.dtype)
        self.b.accumulate(delta.sum(axis=1, keepdims=True))  # BP3: dC/db = delta (summed over the batch)
        self.w.accumulate_matmul(delta, x.T)  # BP4: dC/dw = delta a_in^T
        return delta

    def backward(self, grad_output: NDArray) -> NDArray:
        r"""Accumulate BP3 and BP4 and return $w^T \delta$.

        Args:
            grad_output: $\delta^l = \partial C/\partial z^l$, shape ``(n_out, m)``.

        Returns:
            $\partial C/\partial a^{l-1} = (w^l)^T \delta^l$, shape ``(n_in, m)``:
            the first half of BP2.
        """
        delta = self._accumulate(grad_output)
        return self.w.data.T @ delta  # BP2, first half: (w^l)^T delta^l

    def backward_parameters(self, grad_output: NDArray) -> None:
        """Accumulate BP3 and BP4 only, skipping $w^T\\delta$ (see `Module.backward_parameters`)."""
        self._accumulate(grad_output)

    def __repr__(self) -> str:
        dtype = "" if self.w.data.dtype == np.float64 else f", dtype={self.w.data.dtype}"
        return f"Dense({self.n_in}, {self.n_out}{dtype})"


class Sigmoid(Module):
    r"""The logistic function, applied element by element.

    $$\sigma(z) = \frac{1}{1 + e^{-z}}, \qquad \sigma'(z) = \sigma(z)\,(1 - \sigma(z))$$

    Computed with `scipy.special.expit`, which is exact at the extremes:
    $\sigma(\pm 1000)$ is exactly 1 or 0 and raises no overflow warning.
    The output $a$ is kept for the backward pass, where $\sigma'(z) = a(1-a)$.
    """

    def __init__(self) -> None:
        self.a: NDArray | None = None

    def forward(self, x: NDArray) -> NDArray:
        r"""Compute $a = \sigma(z)$.

        Args:
            x: weighted input $z$, shape ``(n, m)``.

        Returns:
            Activation $a = \sigma(z)$, same shape and dtype as ``x``.
        """
        if type(x) is not np.ndarray:
            x = np.asarray(x)
        if x.dtype.kind != "f":
            x = x.astype(np.float64)
        a = expit(x)  # eq. 17: a = sigma(z)
        self.a = a
        return a

    def backward(self, grad_output: NDArray) -> NDArray:
        r"""Multiply by $\sigma'(z)$: the Hadamard product in BP1 and BP2.

        Args:
            grad_output: $\partial C/\partial a$, shape ``(n, m)``.

        Returns:
            $\partial C/\partial z = \partial C/\partial a \odot \sigma'(z)$, shape ``(n, m)``.
        """
        a = self.a
        if a is None:
            raise _no_forward(self)
        if type(grad_output) is not np.ndarray:
            grad_output = np.asarray(grad_output)
        if grad_output.shape != a.shape:
            raise ShapeError(f"Sigmoid.backward expected grad_output of shape {a.shape}, got {grad_output.shape}")
        sigmoid_prime = 1.0 - a
        sigmoid_prime *= a  # sigma'(z) = sigma(z) (1 - sigma(z))
        return np.multiply(grad_output, sigmoid_prime, dtype=a.dtype)  # BP1/BP2: ... (*) sigma'(z)
