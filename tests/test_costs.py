import numpy as np
import pytest

import minibp as bp
from minibp.gradcheck import numerical_gradient


def test_quadratic_cost_value_is_mean_half_squared_norm(rng):
    a, y = rng.random((10, 4)), rng.random((10, 4))
    expected = np.mean([0.5 * np.sum((y[:, j] - a[:, j]) ** 2) for j in range(4)])
    assert bp.QuadraticCost()(a, y) == pytest.approx(expected, rel=1e-14)


def test_quadratic_cost_gradient_matches_finite_differences(rng):
    cost = bp.QuadraticCost()
    a, y = rng.random((10, 4)), rng.random((10, 4))
    cost.forward(a, y)
    analytic = cost.backward()
    numeric = numerical_gradient(lambda: cost.forward(a, y), a)
    assert np.linalg.norm(analytic - numeric) / np.linalg.norm(numeric) < 1e-7


def test_quadratic_cost_gradient_is_a_minus_y_over_m(rng):
    cost = bp.QuadraticCost()
    a, y = rng.random((3, 5)), rng.random((3, 5))
    cost(a, y)
    np.testing.assert_allclose(cost.backward(), (a - y) / 5, atol=1e-16)


def test_quadratic_cost_shape_errors():
    with pytest.raises(bp.ShapeError, match=r"\(10, 4\).*\(10, 3\)"):
        bp.QuadraticCost()(np.zeros((10, 4)), np.zeros((10, 3)))
    with pytest.raises(RuntimeError, match="before forward"):
        bp.QuadraticCost().backward()
