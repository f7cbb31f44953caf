r"""Chapter 6's layers on columns: `Conv2d` (a valid cross-correlation) and `MaxPool2d`.

An image of ``C`` channels, ``H`` rows and ``W`` columns is one column of
``C·H·W`` numbers, channel-major, as ``image.reshape(C, H, W)`` reads it; a
mini-batch of ``m`` images is an array of shape ``(C·H·W, m)``, as every other
module takes it. So these layers chain with `Dense` and every container, and
their outputs flatten for free: a `Dense` after a pooling layer reads the
``C·H'·W'`` numbers of each column.

Inside, a batch is viewed as ``(C, H, W, m)`` (a reshape, no copy): the
examples are the fastest axis, so one shifted window of every image is a
block of consecutive numbers, and one matrix product per layer writes the
whole output. The convolution is computed by unfolding the input
(``im2col``): the ``k·k`` shifted windows of each channel are copied into the
rows of a matrix

$$\mathrm{cols}[(c, p, q),\,(i, j, x)] = a_{c,\,i+p,\,j+q}(x), \qquad
  z = w\,\mathrm{cols} + b,$$

with $w$ read as an ``(F, C·k·k)`` matrix: the book's $z = wa + b$ once more,
with shared weights. Backpropagation (the problem the book leaves to the
reader) is then

$$\frac{\partial C}{\partial b_f} = \sum_{i,j,x} \delta_{f,i,j}(x), \qquad
  \frac{\partial C}{\partial w} = \delta\,\mathrm{cols}^T, \qquad
  \frac{\partial C}{\partial a} = \mathrm{fold}(w^T \delta),$$

where ``fold`` adds each unfolded window back where it came from: the
"full" convolution of $\delta$ with the flipped kernel.

Deliberately left out: stride, padding, dilation and groups (the book's
network needs none), and overlapping pooling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from ._checks import as_generator, check_count, is_integer
from .errors import ShapeError
from .init import Initializer, initial_filters
from .module import Module, Parameter, saved

__all__ = ["Conv2d", "MaxPool2d"]


def _image_shape(owner: str, in_shape: object) -> tuple[int, int, int]:
    """Return ``in_shape`` as ``(C, H, W)``, or raise `ShapeError` unless it is three positive integers."""
    dims = [
        int(d)
        for d in (in_shape if isinstance(in_shape, (tuple, list)) else ())
        if is_integer(d) and d >= 1
    ]
    if len(dims) != 3 or len(in_shape) != 3:  # type: ignore[arg-type]
        raise ShapeError(f"{owner}: in_shape must be (C, H, W), three positive integers, got {in_shape!r}")
    return dims[0], dims[1], dims[2]


def unfold(x: NDArray, k: int) -> NDArray:
    r"""The ``k·k`` shifted windows of a batch of images, one row per (channel, row shift, column shift).

    Args:
        x: images, shape ``(C, H, W, m)``.
        k: the kernel size.

    Returns:
        ``cols`` of shape ``(C, k, k, H', W', m)`` with $H' = H - k + 1$,
        $W' = W - k + 1$ and ``cols[c, p, q, i, j] = x[c, i + p, j + q]``.
    """
    c, h, w, m = x.shape
    cols = np.empty((c, k, k, h - k + 1, w - k + 1, m), dtype=x.dtype)
    for p in range(k):
        for q in range(k):
            cols[:, p, q] = x[:, p : p + h - k + 1, q : q + w - k + 1]
    return cols


def fold(cols: NDArray, h: int, w: int) -> NDArray:
    """Add every window of ``cols`` ``(C, k, k, H', W', m)`` back where `unfold` took it: shape ``(C, H, W, m)``."""
    c, k, _, h_out, w_out, m = cols.shape
    x = np.zeros((c, h, w, m), dtype=cols.dtype)
    for p in range(k):
        for q in range(k):
            x[:, p : p + h_out, q : q + w_out] += cols[:, p, q]
    return x


class Conv2d(Module):
    r"""Convolutional layer: a valid cross-correlation with stride 1, as `torch.nn.Conv2d` computes it.

    $$z_{f,i,j} = b_f + \sum_{c=0}^{C-1}\sum_{p=0}^{k-1}\sum_{q=0}^{k-1} w_{f,c,p,q}\; a_{c,\,i+p,\,j+q}$$

    for $0 \le i < H' = H - k + 1$ and $0 \le j < W' = W - k + 1$: each of the
    ``F`` feature maps slides one $k \times k$ filter (the book's "shared
    weights") over every position of the image.

    Args:
        in_shape: ``(C, H, W)``: channels, rows and columns of each input image.
        out_channels: the number of feature maps $F$.
        kernel_size: the side $k$ of the square filters (the book's local
            receptive field), at most ``H`` and ``W``.
        init: initialiser name or callable, see `minibp.init`; it sees the
            layer as one with $n_{in} = C k^2$ inputs (a neuron's receptive
            field) and $n_{out} = F$ outputs. Default ``"he"``:
            $w \sim \mathcal N(0, 2/(C k^2))$, $b = 0$ (the book's $\mathcal N(0, 1)$
            diverges in the chapter-6 network).
        rng: a `numpy.random.Generator` or an int seed for the initialiser;
            ``None`` seeds from the operating system.
        dtype: ``float64`` (default) or ``float32``.

    Attributes:
        w: `Parameter` of shape ``(F, C, k, k)``, PyTorch's ``weight`` layout.
        b: `Parameter` of shape ``(F, 1)``.
        n_in: ``C·H·W``, the rows of an input batch ``(n_in, m)``.
        n_out: ``F·H'·W'``, the rows of an output batch ``(n_out, m)``, channel-major.
        out_shape: ``(F, H', W')``.

    Example:
        >>> conv = Conv2d((1, 28, 28), 20, 5, rng=0)
        >>> conv(np.zeros((784, 3))).shape
        (11520, 3)
    """

    def __init__(
        self,
        in_shape: tuple[int, int, int] | Sequence[int],
        out_channels: int,
        kernel_size: int,
        *,
        init: str | Initializer = "he",
        rng: np.random.Generator | int | None = None,
        dtype: DTypeLike = np.float64,
    ) -> None:
        c, h, w = _image_shape("Conv2d", in_shape)
        f = check_count("Conv2d", "out_channels", out_channels)
        k = check_count("Conv2d", "kernel_size", kernel_size)
        if k > min(h, w):
            raise ShapeError(f"Conv2d: kernel_size {k} is larger than the image (H, W) = ({h}, {w}) of in_shape")
        weights, biases = initial_filters("Conv2d", c, f, k, init, as_generator(rng), dtype)
        self.in_shape = (c, h, w)
        self.out_shape = (f, h - k + 1, w - k + 1)
        self.kernel_size = k
        self.n_in, self.n_out = c * h * w, f * (h - k + 1) * (w - k + 1)
        self.w = Parameter(weights)
        self.b = Parameter(biases)
        self.cols: NDArray | None = None  # the unfolded input, kept for BP4

    @property
    def out_channels(self) -> int:
        """The number of feature maps $F$."""
        return self.out_shape[0]

    def forward(self, x: NDArray) -> NDArray:
        r"""Compute $z = w * a + b$ for a mini-batch of images.

        Args:
            x: images $a$, shape ``(C·H·W, m)``, each column ``image.reshape(-1)``
                of an image of shape ``(C, H, W)``.

        Returns:
            Feature maps $z$, shape ``(F·H'·W', m)``, each column a ``(F, H', W')`` array flattened.
        """
        c, h, w = self.in_shape
        f, k = self.out_channels, self.kernel_size
        m = x.shape[1]
        self.cols = None  # the last batch's unfolded input goes before this one's is made
        images = np.ascontiguousarray(x, dtype=self.w.data.dtype).reshape(c, h, w, m)  # examples last
        cols = unfold(images, k).reshape(c * k * k, -1)
        self.cols = cols
        z = self.w.data.reshape(f, c * k * k) @ cols  # z = w cols + b: every position of every image at once
        z += self.b.data
        return z.reshape(self.n_out, m)

    def backward(self, grad_output: NDArray) -> NDArray:
        r"""Add BP3 and BP4 into the gradients and return $\partial C/\partial a$.

        Args:
            grad_output: $\delta = \partial C/\partial z$, shape ``(F·H'·W', m)``.

        Returns:
            $\partial C/\partial a$, shape ``(C·H·W, m)``: $w^T\delta$ folded back onto the image.
        """
        self.backward_parameters(grad_output)  # BP3 and BP4
        (c, h, w), (f, h_out, w_out), k = self.in_shape, self.out_shape, self.kernel_size
        m = grad_output.shape[1]
        delta = np.ascontiguousarray(grad_output, dtype=self.w.data.dtype).reshape(f, -1)  # (F, H'·W'·m)
        grad_cols = (self.w.data.reshape(f, -1).T @ delta).reshape(c, k, k, h_out, w_out, m)  # w^T delta, per window
        return fold(grad_cols, h, w).reshape(self.n_in, m)

    def backward_parameters(self, grad_output: NDArray) -> None:
        r"""Add BP3 and BP4 for $\delta$ = ``grad_output`` ``(F·H'·W', m)``, without $\partial C/\partial a$."""
        cols = saved(self, self.cols)
        delta = np.ascontiguousarray(grad_output, dtype=cols.dtype).reshape(self.out_shape[0], -1)  # (F, H'·W'·m)
        self.b.grad += delta.sum(axis=1, keepdims=True)  # BP3: dC/db_f = sum of delta over positions and batch
        self.w.grad += (delta @ cols.T).reshape(self.w.shape)  # BP4: dC/dw = delta cols^T, shared weights summed

    def workspace(self) -> int:
        """The numbers per example `forward` allocates beside its output: the unfolded input, ``C·k·k·H'·W'``.

        Read by `minibp.train.evaluate` and the others that size their chunks in bytes.
        """
        (c, _, _), (_, h_out, w_out), k = self.in_shape, self.out_shape, self.kernel_size
        return c * k * k * h_out * w_out

    def get_config(self) -> dict[str, Any]:
        """The arguments that rebuild this layer (without its parameters), for `minibp.io.save`."""
        return {
            "in_shape": list(self.in_shape),
            "out_channels": self.out_channels,
            "kernel_size": self.kernel_size,
            "dtype": str(self.w.data.dtype),
        }

    def __repr__(self) -> str:
        dtype = "" if self.w.data.dtype == np.float64 else f", dtype={self.w.data.dtype}"
        return f"Conv2d({self.in_shape}, {self.out_channels}, {self.kernel_size}{dtype})"


class MaxPool2d(Module):
    r"""Max-pooling over non-overlapping ``size × size`` windows of each feature map.

    $$a_{c,i,j} = \max_{0 \le p, q < s} z_{c,\,si+p,\,sj+q}$$

    The gradient of each window goes to the input that was the maximum; when
    several are equal, to the first of them in row-major order (PyTorch's rule).

    Args:
        in_shape: ``(C, H, W)`` of each input; ``H`` and ``W`` must be multiples of ``size``.
        size: the side $s$ of the windows (and the stride).

    Attributes:
        n_in: ``C·H·W``.
        n_out: ``C·(H/s)·(W/s)``.
        out_shape: ``(C, H/s, W/s)``.
    """

    def __init__(self, in_shape: tuple[int, int, int] | Sequence[int], size: int = 2) -> None:
        c, h, w = _image_shape("MaxPool2d", in_shape)
        s = check_count("MaxPool2d", "size", size)
        if h % s or w % s:
            raise ShapeError(
                f"MaxPool2d: the image (H, W) = ({h}, {w}) of in_shape {(c, h, w)} is not divisible into "
                f"{s}x{s} windows; use a size that divides both"
            )
        self.in_shape = (c, h, w)
        self.size = s
        self.out_shape = (c, h // s, w // s)
        self.n_in, self.n_out = c * h * w, c * (h // s) * (w // s)
        self.first: tuple[NDArray, NDArray] | None = None  # where each window's first maximum is

    def forward(self, x: NDArray) -> NDArray:
        r"""Return the maximum of each window.

        Args:
            x: feature maps $z$, shape ``(C·H·W, m)``.

        Returns:
            $a$, shape ``(C·(H/s)·(W/s), m)``.
        """
        (c, h, w), s = self.in_shape, self.size
        x = np.ascontiguousarray(x)
        m = x.shape[1]
        # First along each row of a window, then down its rows: the first maximum in row-major order.
        in_row, first_column = _first_max(x.reshape(c * h * (w // s), s, m))
        a, first_row = _first_max(in_row.reshape(c * (h // s), s, (w // s) * m))
        self.first = (first_column, first_row)
        return a.reshape(self.n_out, m)

    def backward(self, grad_output: NDArray) -> NDArray:
        r"""Send each window's gradient to its (first) maximum; the other inputs get 0.

        Args:
            grad_output: $\partial C/\partial a$, shape ``(C·(H/s)·(W/s), m)``.

        Returns:
            $\partial C/\partial z$, shape ``(C·H·W, m)``.
        """
        first_column, first_row = saved(self, self.first)
        g = np.asarray(grad_output)
        m = g.shape[1]
        to_row = _route(g.reshape(first_row.shape[0], 1, -1), first_row, self.size)  # down to the row of the maximum
        return _route(to_row.reshape(first_column.shape[0], 1, m), first_column, self.size).reshape(self.n_in, m)

    def get_config(self) -> dict[str, Any]:
        """The arguments that rebuild this layer, for `minibp.io.save`."""
        return {"in_shape": list(self.in_shape), "size": self.size}

    def __repr__(self) -> str:
        size = "" if self.size == 2 else f", size={self.size}"
        return f"MaxPool2d({self.in_shape}{size})"


def _first_max(x: NDArray) -> tuple[NDArray, NDArray]:
    """The maximum over axis 1 of ``x`` ``(n, s, r)`` and the index of its first occurrence, both ``(n, r)``."""
    if x.shape[1] == 1:
        return x[:, 0].copy(), np.zeros(x[:, 0].shape, dtype=np.uint8)
    first = np.greater(x[:, 1], x[:, 0]).view(np.uint8)  # strictly larger: an equal later value does not win
    a = np.maximum(x[:, 0], x[:, 1])  # (NaN propagates, as in PyTorch)
    for i in range(2, x.shape[1]):
        first = np.where(x[:, i] > a, np.uint8(i), first)
        np.maximum(a, x[:, i], out=a)
    return a, first


def _route(g: NDArray, first: NDArray, s: int) -> NDArray:
    """Spread ``g`` ``(n, 1, r)`` over ``(n, s, r)``: entry ``i`` of axis 1 gets ``g`` where ``first == i``, else 0."""
    n, r = first.shape
    out = np.zeros((n, s, r), dtype=g.dtype if g.dtype.kind == "f" else np.float64)
    for i in range(s):
        np.multiply(g[:, 0], first == i, out=out[:, i])
    return out
