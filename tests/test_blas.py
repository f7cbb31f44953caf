"""The BLAS helpers of the hot path agree with plain numpy for every layout and dtype they accept."""

from __future__ import annotations

import numpy as np
import pytest

from minibp._blas import SMALL, abs_sum, add_matmul, add_scaled, all_finite, sum_of_squares

LAYOUTS = ("C", "F", "strided")


def laid_out(x: np.ndarray, layout: str) -> np.ndarray:
    """A copy of ``x`` stored C-ordered, Fortran-ordered or as a non-contiguous view."""
    if layout in ("C", "F"):
        return np.array(x, order=layout)
    padded = np.zeros((x.shape[0], 2 * x.shape[1]), dtype=x.dtype)
    padded[:, ::2] = x
    return padded[:, ::2]


# (p, q, r): one output below SMALL (numpy's matmul) and one above it (scipy's gemm).
SHAPES = [(6, 4, 5), (40, 3, SMALL // 40 + 1)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout_a", LAYOUTS)
@pytest.mark.parametrize("layout_b", LAYOUTS)
@pytest.mark.parametrize("layout_out", LAYOUTS)
@pytest.mark.parametrize("overwrite", [False, True])
@pytest.mark.parametrize("alpha", [1.0, -0.5])
def test_add_matmul_matches_numpy_for_every_layout(shape, layout_a, layout_b, layout_out, overwrite, alpha):
    p, q, r = shape
    rng = np.random.default_rng(0)
    a, b, start = rng.standard_normal((p, q)), rng.standard_normal((q, r)), rng.standard_normal((p, r))
    out = laid_out(start, layout_out)
    add_matmul(out, laid_out(a, layout_a), laid_out(b, layout_b), overwrite=overwrite, alpha=alpha)
    expected = alpha * (a @ b) + (0.0 if overwrite else start)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("overwrite", [False, True])
def test_add_matmul_with_operands_of_another_dtype(shape, overwrite):
    p, q, r = shape
    rng = np.random.default_rng(1)
    a = rng.standard_normal((p, q)).astype(np.float32)
    b = rng.standard_normal((q, r))
    out = np.ones((p, r))
    add_matmul(out, a, b, overwrite=overwrite)
    expected = a.astype(np.float64) @ b + (0.0 if overwrite else 1.0)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    assert out.dtype == np.float64


def test_add_matmul_overwrite_gives_the_same_bits_as_matmul():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((10, 10)), rng.standard_normal((10, 30))
    out = np.full((10, 30), np.nan)
    add_matmul(out, a, b, overwrite=True)
    assert np.array_equal(out, np.matmul(a, b))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(7,), (3, 5)])
def test_add_scaled(dtype, shape):
    rng = np.random.default_rng(3)
    out, x = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    expected = out + dtype(-0.25) * x
    add_scaled(out, -0.25, x)
    np.testing.assert_allclose(out, expected, rtol=1e-6 if dtype == np.float32 else 1e-15)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, None])
def test_all_finite_and_the_sums(layout, bad):
    rng = np.random.default_rng(4)
    values = rng.standard_normal((4, 6))
    if bad is not None:
        values[2, 3] = bad
    x = laid_out(values, layout)
    assert all_finite(x) == (bad is None)
    if bad is None:
        assert sum_of_squares(x) == pytest.approx(float(np.sum(values**2)), rel=1e-14)
        assert abs_sum(x) == pytest.approx(float(np.sum(np.abs(values))), rel=1e-14)
    else:
        assert not np.isfinite(sum_of_squares(x))
        assert not np.isfinite(abs_sum(x))


def test_all_finite_survives_an_overflowing_sum_of_huge_finite_values():
    x = np.full((3, 3), np.finfo(np.float64).max)  # sum |x| overflows, yet every entry is finite
    assert all_finite(x)
    assert sum_of_squares(x) == np.inf  # and no overflow warning: the tests turn warnings into errors
