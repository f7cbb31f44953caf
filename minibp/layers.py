r"""Layers: `Dense` ($z = wa + b$) and the activations `Sigmoid`, `Tanh`, `ReLU`, `Identity`, `Softmax`; `Dropout`.

The book's layer $l$ computes $a^l = \sigma(w^l a^{l-1} + b^l)$ (eq. 17). minibp
splits it in two modules so that each backward pass is one short rule:

* `Sigmoid.backward` multiplies by $\sigma'(z)$ (each activation by its own derivative);
* `Dense.backward` stores BP3 and BP4 and returns $w^T\delta$ (``backward_parameters`` stores them alone).

BP1 is then ``sigmoid.backward(cost.backward())`` and BP2 is
``sigmoid.backward(dense.backward(delta))``.

Where the book loops over the examples of a mini-batch, minibp handles them
all at once: each array has one column per example. Like a layer of your
own, these hold only the mathematics: calling a module (``layer(x)``) checks
the batch and converts it to the layer's dtype, and the containers check the
gradients (see `minibp.module`).

The costs that pair with an output activation are in `minibp.costs`; the
ones that take the weighted input $z$ directly (`SigmoidCrossEntropyCost`,
`SoftmaxLogLikelihoodCost`) follow a `Dense` layer with no activation.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike, NDArray
from scipy.special import expit

from ._checks import as_generator
from .errors import HyperparameterError
from .init import Initializer, initial_parameters
from .module import Module, Parameter, saved

__all__ = ["Dense", "Sigmoid", "Tanh", "ReLU", "Identity", "Softmax", "Dropout"]


class Dense(Module):
    r"""Fully connected layer: $z = w a + b$.

    $$z^l = w^l a^{l-1} + b^l$$

    Args:
        n_in: number of inputs $n_{in}$ (neurons in the previous layer).
        n_out: number of outputs $n_{out}$ (neurons in this layer).
        init: initialiser name (``"book"``, ``"scaled"``, ``"glorot"``, ``"he"``) or a callable, see
            `minibp.init`. Default ``"book"``: $w, b \sim \mathcal N(0, 1)$.
        rng: a `numpy.random.Generator` or an int seed for the initialiser; ``None`` seeds from the system.
        dtype: ``float64`` (default) or ``float32``; ``layer(x)`` converts inputs to it.

    Attributes:
        w: `Parameter` of shape ``(n_out, n_in)``; ``w.data[j, k]`` is the book's $w_{jk}$, input $k$ to neuron $j$.
        b: `Parameter` of shape ``(n_out, 1)``, broadcast over the ``m`` columns.
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
        w, b = initial_parameters("Dense", n_in, n_out, init, as_generator(rng), dtype)
        self.n_in, self.n_out = w.shape[1], w.shape[0]
        self.w = Parameter(w)
        self.b = Parameter(b)
        self.x: NDArray | None = None  # the input a^{l-1}, kept for BP4

    def forward(self, x: NDArray) -> NDArray:
        r"""Compute $z = w x + b$ for a mini-batch.

        Args:
            x: activations of the previous layer $a^{l-1}$, shape ``(n_in, m)``.

        Returns:
            Weighted input $z^l$, shape ``(n_out, m)``.
        """
        self.x = x
        return self.w.data @ x + self.b.data  # eq. 17: z = w a + b

    def backward(self, grad_output: NDArray) -> NDArray:
        r"""Add BP3 and BP4 into the gradients and return $w^T \delta$.

        Args:
            grad_output: $\delta^l = \partial C/\partial z^l$, shape ``(n_out, m)``.

        Returns:
            $\partial C/\partial a^{l-1} = (w^l)^T \delta^l$, shape ``(n_in, m)``: the first half of BP2.
        """
        self.backward_parameters(grad_output)  # BP3 and BP4
        return self.w.data.T @ grad_output  # BP2, first half: (w^l)^T delta^l

    def backward_parameters(self, grad_output: NDArray) -> None:
        r"""Add BP3 and BP4 into the gradients for $\delta^l$ = ``grad_output`` ``(n_out, m)``; no $w^T\delta$."""
        x = saved(self, self.x)
        self.b.grad += grad_output.sum(axis=1, keepdims=True)  # BP3: dC/db = delta, summed over the batch
        self.w.grad += grad_output @ x.T  # BP4: dC/dw = delta a^T, summed over the batch

    def __repr__(self) -> str:
        dtype = "" if self.w.data.dtype == np.float64 else f", dtype={self.w.data.dtype}"
        return f"Dense({self.n_in}, {self.n_out}{dtype})"


class Sigmoid(Module):
    r"""The logistic function, applied element by element.

    $$\sigma(z) = \frac{1}{1 + e^{-z}}, \qquad \sigma'(z) = \sigma(z)\,(1 - \sigma(z))$$

    Computed by `scipy.special.expit`: $\sigma(\pm 1000)$ is exactly 1 or 0, with no overflow warning.
    """

    def __init__(self) -> None:
        self.a: NDArray | None = None

    def forward(self, x: NDArray) -> NDArray:
        r"""Return $a = \sigma(z)$ for the weighted input $z$ = ``x`` ``(n, m)``: same shape and dtype."""
        self.a = expit(x)  # eq. 17: a = sigma(z), kept for sigma'(z) = a (1 - a)
        return self.a

    def backward(self, grad_output: NDArray) -> NDArray:
        r"""Return $\partial C/\partial z = \partial C/\partial a \odot \sigma'(z)$, shape ``(n, m)`` (BP1, BP2)."""
        a = saved(self, self.a)
        return grad_output * (a * (1 - a))  # BP1 and BP2: ... (*) sigma'(z), sigma'(z) = a (1 - a)


class Tanh(Module):
    r"""The hyperbolic tangent, element by element (the book's chapter 3 alternative to $\sigma$).

    $$a = \tanh(z) = 2\sigma(2z) - 1, \qquad \tanh'(z) = 1 - a^2$$

    Outputs lie in $(-1, 1)$; targets for a tanh output layer should too.
    """

    def __init__(self) -> None:
        self.a: NDArray | None = None

    def forward(self, x: NDArray) -> NDArray:
        r"""Compute $a = \tanh(z)$.

        Args:
            x: weighted input $z$, shape ``(n, m)``.

        Returns:
            $a$, same shape and dtype as ``x``.
        """
        self.a = np.tanh(x)
        return self.a

    def backward(self, grad_output: NDArray) -> NDArray:
        r"""Multiply by $\tanh'(z) = 1 - a^2$.

        Args:
            grad_output: $\partial C/\partial a$, shape ``(n, m)``.

        Returns:
            $\partial C/\partial z$, shape ``(n, m)``.
        """
        a = saved(self, self.a)
        return grad_output * (1 - a * a)  # tanh'(z) = 1 - tanh(z)^2


class ReLU(Module):
    r"""The rectified linear unit, element by element.

    $$a = \max(0, z), \qquad \frac{da}{dz} = \begin{cases}1 & z > 0\\ 0 & z \le 0\end{cases}$$

    The derivative at $z = 0$ is taken as 0 (as PyTorch does); finite
    differences across $z = 0$ disagree with any choice, so gradient checks
    keep their inputs away from it.
    """

    def __init__(self) -> None:
        self.positive: NDArray | None = None

    def forward(self, x: NDArray) -> NDArray:
        r"""Compute $a = \max(0, z)$.

        Args:
            x: weighted input $z$, shape ``(n, m)``.

        Returns:
            $a$, same shape and dtype as ``x``.
        """
        self.positive = x > 0
        return np.maximum(x, 0, dtype=x.dtype)  # max(0, z); unlike z * (z > 0), gives 0 (not NaN) for z = -inf

    def backward(self, grad_output: NDArray) -> NDArray:
        r"""Keep the gradient where $z > 0$ and zero it elsewhere.

        Args:
            grad_output: $\partial C/\partial a$, shape ``(n, m)``.

        Returns:
            $\partial C/\partial z$, shape ``(n, m)``.
        """
        return grad_output * saved(self, self.positive)  # 1 where z > 0, else 0


class Identity(Module):
    r"""The identity, $a = z$: a linear output layer (regression) or a placeholder.

    $$a = z, \qquad \frac{\partial C}{\partial z} = \frac{\partial C}{\partial a}$$
    """

    def __init__(self) -> None:
        self._shape: tuple[int, ...] | None = None

    def forward(self, x: NDArray) -> NDArray:
        """Return ``x`` (shape ``(n, m)``) unchanged."""
        self._shape = x.shape
        return x

    def backward(self, grad_output: NDArray) -> NDArray:
        """Return ``grad_output`` (shape ``(n, m)``) unchanged."""
        saved(self, self._shape)
        return grad_output


class Softmax(Module):
    r"""The softmax over the neurons of each column (the book's chapter 3 output layer).

    $$a_j = \frac{e^{z_j}}{\sum_k e^{z_k}}, \qquad
      \frac{\partial C}{\partial z} = a \odot \Big(\frac{\partial C}{\partial a}
        - \sum_k a_k \frac{\partial C}{\partial a_k}\Big)$$

    Each column is shifted by its maximum before exponentiating, which leaves
    $a$ unchanged and keeps every exponent $\le 0$: no overflow for any finite
    $z$. The backward pass is the Jacobian-vector product above, computed
    without forming the $n \times n$ Jacobian. For the log-likelihood cost,
    `minibp.costs.SoftmaxLogLikelihoodCost` on a `Dense` output is exact
    where this module's $a$ rounds to 0.
    """

    def __init__(self) -> None:
        self.a: NDArray | None = None

    def forward(self, x: NDArray) -> NDArray:
        r"""Compute $a = \mathrm{softmax}(z)$ column by column.

        Args:
            x: weighted input $z$, shape ``(n, m)``.

        Returns:
            $a$, shape ``(n, m)``; each column is positive and sums to 1.
        """
        info = np.finfo(x.dtype)
        x = np.clip(x, info.min, info.max)  # z = +-inf acts as the largest finite value (its limit)
        top = x.max(axis=0, keepdims=True)
        # shift: exponents <= 0. Raising z first to max(top, 0) - max_float keeps z - top from
        # overflowing; those z have e^{z - top} = 0 either way.
        e = np.maximum(x, np.maximum(top, 0) - info.max)
        e -= top
        np.exp(e, out=e)
        e /= e.sum(axis=0, keepdims=True)  # eq. 78: a_j = e^{z_j} / sum_k e^{z_k}
        self.a = e
        return e

    def backward(self, grad_output: NDArray) -> NDArray:
        r"""Multiply by the softmax Jacobian.

        Args:
            grad_output: $\partial C/\partial a$, shape ``(n, m)``.

        Returns:
            $\partial C/\partial z = a \odot (g - \sum_k a_k g_k)$, shape ``(n, m)``.
        """
        a = saved(self, self.a)
        inner = np.einsum("ij,ij->j", a, grad_output)  # sum_k a_k dC/da_k, per column
        grad_input = np.subtract(grad_output, inner, dtype=a.dtype)
        grad_input *= a
        return grad_input


class Dropout(Module):
    r"""Inverted dropout: in training, zero each input with probability $p$ and scale the rest.

    $$a = \frac{r \odot z}{1 - p}, \qquad r_{ij} \sim \text{Bernoulli}(1 - p),
      \qquad \frac{\partial C}{\partial z} = \frac{r}{1-p} \odot \frac{\partial C}{\partial a}$$

    A fresh mask $r$ is drawn from ``rng`` at every training-mode forward.
    Scaling by $1/(1-p)$ while training keeps each output's expectation equal
    to its input, so in evaluation mode (``eval()``) the module is the
    identity. The book's chapter 3 instead halves the outgoing weights after
    training; the two agree in expectation.

    Args:
        p: probability of dropping an input, $0 \le p < 1$.
        rng: a `numpy.random.Generator` or an int seed; ``None`` seeds from
            the operating system.

    Attributes:
        mask: the last training-mode mask $r/(1-p)$, shape ``(n, m)``
            (``None`` in evaluation mode).
    """

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator | int | None = None) -> None:
        try:
            p = float(p)
        except (TypeError, ValueError):
            raise HyperparameterError(f"Dropout: p must be a number, got {p!r}") from None
        if not 0.0 <= p < 1.0:
            raise HyperparameterError(f"Dropout: p must be in [0, 1), got {p!r}")
        self.p = p
        self.rng = as_generator(rng)
        self.mask: NDArray | None = None
        self._shape: tuple[int, ...] | None = None

    def forward(self, x: NDArray) -> NDArray:
        r"""Drop and scale (training mode) or pass through (evaluation mode).

        Args:
            x: input, shape ``(n, m)``.

        Returns:
            Output, same shape and dtype as ``x``.
        """
        self._shape = x.shape
        if not self.training or self.p == 0.0:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=x.dtype) >= self.p  # r ~ Bernoulli(1 - p)
        mask = np.multiply(keep, 1.0 / (1.0 - self.p), dtype=x.dtype)
        self.mask = mask
        return np.multiply(x, mask, out=np.zeros_like(x), where=keep)  # dropped entries are 0, even where x is inf

    def backward(self, grad_output: NDArray) -> NDArray:
        """Multiply by the same mask as the last forward (identity in evaluation mode).

        Args:
            grad_output: $\\partial C/\\partial a$, shape ``(n, m)``.

        Returns:
            $\\partial C/\\partial z$, shape ``(n, m)``.
        """
        saved(self, self._shape)
        return grad_output if self.mask is None else grad_output * self.mask

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"
