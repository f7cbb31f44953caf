"""BLAS helpers for the hot path: ``out += a @ b`` (``gemm``), ``out += alpha x`` (``axpy``),
finiteness checks and sums of absolute values (``asum``), sums of squares (``dot``).

numpy's ``@`` always allocates its result, so accumulating a weight gradient
with ``w.grad += delta @ x.T`` writes the product to a temporary and then adds
it. BLAS can do both in one pass (``C <- alpha A B + beta C`` with ``beta = 1``).
scipy exposes these routines; the helpers arrange the operands so that no copy
is made for the layouts minibp uses, and fall back to numpy for anything else.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import blas

_GEMM = {np.dtype(np.float64): blas.dgemm, np.dtype(np.float32): blas.sgemm}

# Below this many output entries, numpy's matmul is as cheap as scipy's gemm
# (whose argument handling costs more), and the temporary it allocates is small.
SMALL = 2048


def _fortran_operand(m: NDArray) -> tuple[NDArray, int]:
    """Return ``(array, trans)`` with ``array`` Fortran-ordered and ``op(array) == m``."""
    if m.flags.f_contiguous:
        return m, 0
    if m.flags.c_contiguous:
        return m.T, 1
    return np.asfortranarray(m), 0


def add_matmul(out: NDArray, a: NDArray, b: NDArray, overwrite: bool = False, alpha: float = 1.0) -> None:
    """Add ``alpha * (a @ b)`` into ``out`` in place (or store it there, with ``overwrite=True``).

    Args:
        out: ``(p, r)``, updated in place.
        a: ``(p, q)``.
        b: ``(q, r)``.
        overwrite: ignore the old contents of ``out`` instead of adding to them.
        alpha: scale of the product.
    """
    gemm = _GEMM.get(out.dtype) if out.size >= SMALL else None
    if (
        gemm is None
        or not out.flags.c_contiguous
        or not out.flags.writeable
        or a.dtype != out.dtype
        or b.dtype != out.dtype
        or a.shape[1] == 0
    ):
        if overwrite and alpha == 1.0:
            if out.flags.c_contiguous and a.dtype == b.dtype == out.dtype:
                a.dot(b, out=out)
            else:
                np.matmul(a, b, out=out)
            return
        product = a @ b
        if alpha != 1.0:
            product *= alpha
        if overwrite:
            out[...] = product
        else:
            out += product
        return
    # out is C-ordered, so out.T is Fortran-ordered: compute out.T += b.T @ a.T.
    bt, at = b.T, a.T
    bt, trans_b = (bt, 0) if bt.flags.f_contiguous else _fortran_operand(bt)
    at, trans_a = (at, 0) if at.flags.f_contiguous else _fortran_operand(at)
    # out.T is Fortran-ordered, writeable and of gemm's dtype, so scipy computes in place.
    gemm(alpha, bt, at, 0.0 if overwrite else 1.0, out.T, trans_a=trans_b, trans_b=trans_a, overwrite_c=True)


_AXPY = {np.dtype(np.float64): blas.daxpy, np.dtype(np.float32): blas.saxpy}


def add_scaled(out: NDArray, alpha: float, x: NDArray) -> None:
    """Set ``out += alpha * x`` in place, in one pass (BLAS ``axpy``).

    Args:
        out: any shape, updated in place.
        alpha: the scalar.
        x: same shape and dtype as ``out``.
    """
    axpy = _AXPY.get(out.dtype)
    if (
        axpy is None
        or out.size == 0
        or x.dtype != out.dtype
        or x.shape != out.shape
        or not (out.flags.c_contiguous and x.flags.c_contiguous)
        or not out.flags.writeable
    ):
        out += alpha * x
        return
    # out is contiguous, writeable and of axpy's dtype, so scipy updates it in place.
    if out.ndim == 1:  # the optimizers' flat buffers
        axpy(x, out, a=alpha)
    else:
        axpy(x.ravel(), out.ravel(), a=alpha)


_ASUM = {np.dtype(np.float64): blas.dasum, np.dtype(np.float32): blas.sasum}


def all_finite(x: NDArray) -> bool:
    """Return whether every entry of ``x`` is finite.

    The fast path is one BLAS ``asum`` (sum of absolute values): NaN and
    infinity always reach it. Only when that sum is not finite (NaN, infinity,
    or an overflow of huge finite values) is the exact element-wise test run.
    """
    asum = _ASUM.get(x.dtype)
    if asum is not None and x.flags.c_contiguous and x.size:
        if math.isfinite(asum(x.ravel())):
            return True
    return bool(np.isfinite(x).all())


_DOT = {np.dtype(np.float64): blas.ddot, np.dtype(np.float32): blas.sdot}


def sum_of_squares(x: NDArray) -> float:
    """Return $\\sum x^2$ as a float; a sum too large for the dtype is ``inf``, without a warning.

    Args:
        x: any shape.
    """
    dot = _DOT.get(x.dtype)
    if dot is not None and x.flags.c_contiguous and x.size:
        flat = x.ravel()
        return float(dot(flat, flat))
    with np.errstate(over="ignore"):
        flat = np.ravel(x)
        return float(flat @ flat)


def abs_sum(x: NDArray) -> float:
    """Return the sum of ``|x|`` (BLAS ``asum`` for contiguous floats); ``inf`` without a warning on overflow."""
    asum = _ASUM.get(x.dtype)
    if asum is not None and x.flags.c_contiguous and x.size:
        return float(asum(x.ravel()))
    with np.errstate(over="ignore"):
        return float(np.abs(x).sum())
