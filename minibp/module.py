"""`Parameter` and `Module`: the protocol every layer and container follows.

A module maps a mini-batch to a mini-batch. Examples are **columns**: an
input ``x`` of shape ``(n_in, m)`` holds ``m`` examples of ``n_in`` features,
exactly as the book writes $a^{l-1}$ with one column per training input.

The protocol is four verbs:

* ``forward(x)`` computes the output and keeps on ``self`` only what
  ``backward`` will need (calling the module, ``module(x)``, is ``forward``);
* ``backward(grad_output)`` receives $\\partial C/\\partial(\\text{output})$,
  **adds** into each parameter's ``grad`` and returns
  $\\partial C/\\partial(\\text{input})$;
* ``parameters()`` lists the module's `Parameter` objects;
* ``zero_grad()`` sets every parameter's ``grad`` to zero in place.

Updating the parameters is not a module's business: an optimizer from
`minibp.optim` does it, so a module never imports one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from ._blas import add_matmul

__all__ = ["Parameter", "Module"]


class Parameter:
    """A trainable array and the gradient of the cost with respect to it.

    Attributes:
        data: the values, updated in place by an optimizer.
        grad: $\\partial C/\\partial(\\text{data})$, same shape and dtype as
            ``data``; modules add into it, ``zero_grad`` clears it.

    Reading ``grad`` always gives the true gradient, but the array behind it
    is only filled when something needs it:

    * ``zero_grad`` just marks the gradient as zero; the next ``accumulate*``
      call overwrites the array instead of adding to it.
    * ``accumulate_matmul(a, b)`` on a zero gradient of a large matrix keeps
      the two factors when they are much smaller than their product (copies,
      except a read-only array that owns its memory, such as each mini-batch
      `minibp.train.train` gathers). For
      [784, 30, 10] and a mini-batch of 10, the first `Dense` weight gradient
      $\\delta a^T$ is then a $30 \\times 10$ and a $10 \\times 784$ matrix instead
      of $30 \\times 784$, and `SGD` applies $w \\to w - \\eta\\,\\delta a^T$ with one
      BLAS call without ever writing the product out. Below ``FACTOR_MIN_SIZE``
      entries, keeping the factors costs more than it saves and the product is
      formed as usual. Anything that reads ``grad`` gets the product.
    """

    FACTOR_MIN_SIZE = 8_192

    __slots__ = ("data", "_grad", "_grad_is_zero", "_factors", "_ones")

    def __init__(self, data: NDArray) -> None:
        data = np.asarray(data)
        if data.dtype.kind != "f":
            raise TypeError(f"Parameter data must be a floating-point array, got dtype {data.dtype}")
        self.data: NDArray = np.array(data, order="C")
        self._grad: NDArray = np.zeros_like(self.data)
        self._grad_is_zero = False
        self._factors: tuple[NDArray, NDArray] | None = None
        self._ones: NDArray | None = None  # a vector of m ones, for accumulate_row_sums

    @property
    def grad(self) -> NDArray:
        """The gradient, same shape and dtype as ``data``."""
        if self._grad_is_zero or self._factors is not None:
            self._materialize()
        return self._grad

    @grad.setter
    def grad(self, value: NDArray) -> None:
        value = np.asarray(value)
        if value.shape != self.data.shape:
            raise ValueError(f"Parameter.grad must have shape {self.data.shape}, got {value.shape}")
        self._grad[...] = value
        self._grad_is_zero, self._factors = False, None

    @property
    def grad_factors(self) -> tuple[NDArray, NDArray] | None:
        """``(a, b)`` with ``grad == a @ b`` while the gradient is held as two factors, else ``None``."""
        return self._factors

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of ``data``."""
        return self.data.shape

    def _materialize(self) -> None:
        """Write the gradient into its array (from the zero mark or the factors)."""
        if self._factors is not None:
            a, b = self._factors
            add_matmul(self._grad, a, b, overwrite=True)
        else:
            self._grad.fill(0)
        self._grad_is_zero, self._factors = False, None

    def zero_grad(self) -> None:
        """Set ``grad`` to zero (lazily: nothing is written until it is next used)."""
        self._grad_is_zero, self._factors = True, None

    def accumulate(self, value: NDArray) -> None:
        """Add ``value`` into ``grad``.

        Args:
            value: broadcastable to the parameter's shape.
        """
        if self._grad_is_zero:
            self._grad_is_zero = False
            np.copyto(self._grad, value)
        else:
            self.grad += value

    def accumulate_row_sums(self, x: NDArray) -> None:
        """Add the sums of the rows of ``x`` into ``grad``: a bias gradient summed over the mini-batch.

        The sums are one BLAS matrix-vector product with a vector of ones
        (half the time of ``x.sum(axis=1)`` for a mini-batch of 10).

        Args:
            x: shape ``(p, m)`` with ``(p, 1)`` the parameter's shape, same dtype.
        """
        ones = self._ones
        if ones is None or ones.shape[0] != x.shape[1]:
            ones = self._ones = np.ones(x.shape[1], dtype=self._grad.dtype)
        if x.dtype != ones.dtype:
            x = x.astype(ones.dtype)
        if self._grad_is_zero:
            self._grad_is_zero = False
            x.dot(ones, out=self._grad.ravel())
        else:
            self.grad += x.dot(ones).reshape(self._grad.shape)

    def accumulate_matmul(self, a: NDArray, b: NDArray) -> None:
        """Add ``a @ b`` into ``grad`` with one BLAS call and no temporary array.

        Right after ``zero_grad``, for a large gradient whose factors hold fewer
        than half as many numbers as the product, the factors are kept instead
        (see above).

        Args:
            a: shape ``(p, q)``.
            b: shape ``(q, r)``, with ``(p, r)`` the parameter's shape.
        """
        if self._grad_is_zero:
            p, r = self._grad.shape
            if p * r >= self.FACTOR_MIN_SIZE and 2 * a.shape[1] * (p + r) <= p * r:
                dtype = self._grad.dtype
                a = np.array(a, dtype=dtype) if a.flags.writeable else _frozen_or_copy(a, dtype)  # delta: usually ours
                self._factors = (a, _frozen_or_copy(b, dtype))
            else:
                add_matmul(self._grad, a, b, overwrite=True)
            self._grad_is_zero = False
        else:
            add_matmul(self.grad, a, b)

    def _rehome(self, data: NDArray, grad: NDArray) -> None:
        """Move ``data`` and ``grad`` into the given arrays (views of an optimizer's buffers)."""
        data[...] = self.data
        grad[...] = self.grad
        self.data, self._grad = data, grad

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


def _frozen_or_copy(x: NDArray, dtype: np.dtype) -> NDArray:
    """Return ``x`` itself if nothing can change its values, else a copy (of ``dtype``).

    An array is left as it is when it and every array it is a view of are
    read-only and the last of them owns its memory: then its values can only
    change if someone deliberately makes that owner writeable again. The
    training loop hands the layers its mini-batches that way, which saves
    copying the first layer's input for its factored weight gradient.
    """
    if x.dtype == dtype:
        root = x
        while not root.flags.writeable:
            base = root.base
            if base is None:
                return x  # read-only down to the memory's owner
            if type(base) is not np.ndarray:
                break
            root = base
    return np.array(x, dtype=dtype)


class Module:
    """Base class of every layer, activation and container.

    Subclasses implement ``forward`` and ``backward``; those with parameters
    also override ``named_parameters``. The defaults here make a module with
    no parameters.

    Attributes:
        training: ``True`` in training mode (the default), ``False`` after
            ``eval()``. Only modules that behave differently while training
            (such as dropout) read it.
    """

    training: bool = True

    def forward(self, x: NDArray) -> NDArray:
        """Compute the output for a mini-batch.

        Args:
            x: input, shape ``(n_in, m)``.

        Returns:
            Output, shape ``(n_out, m)``.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_output: NDArray) -> NDArray:
        """Back-propagate through the last ``forward``.

        Adds $\\partial C/\\partial\\theta$ into ``grad`` of each parameter
        $\\theta$ and returns $\\partial C/\\partial x$.

        Args:
            grad_output: $\\partial C/\\partial(\\text{output})$, shape ``(n_out, m)``.

        Returns:
            $\\partial C/\\partial x$, shape ``(n_in, m)``.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def backward_parameters(self, grad_output: NDArray) -> None:
        """Like ``backward`` but without computing $\\partial C/\\partial x$.

        A container calls this on its first module when its caller does not
        need the gradient with respect to the data (the training loop never
        does). The default calls ``backward`` when the module has parameters and
        does nothing otherwise; `Dense` overrides it to skip the product
        $w^T\\delta$, a third of a layer's backward arithmetic.

        Args:
            grad_output: $\\partial C/\\partial(\\text{output})$, shape ``(n_out, m)``.
        """
        if self.parameters():
            self.backward(grad_output)

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Yield ``(name, parameter)`` pairs, for example ``("w", ...)``."""
        return iter(())

    def parameters(self) -> list[Parameter]:
        """Return the module's parameters, in a fixed order."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set the ``grad`` of every parameter to zero in place."""
        for p in self.parameters():
            p.zero_grad()

    def train(self, mode: bool = True) -> Module:
        """Switch to training mode (or to evaluation mode with ``mode=False``)."""
        self.training = bool(mode)
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode; same as ``train(False)``."""
        return self.train(False)

    def __call__(self, x: NDArray) -> NDArray:
        return self.forward(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@contextlib.contextmanager
def _evaluation_mode(module: Module) -> Iterator[Module]:
    """Run the ``with`` block with ``module`` in evaluation mode, then restore the mode it had."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)
