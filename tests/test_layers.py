import numpy as np
import pytest

import minibp as bp
from minibp.gradcheck import gradcheck


@pytest.mark.parametrize("n_in,n_out,m", [(1, 1, 1), (5, 3, 4), (784, 30, 2)])
def test_dense_gradients_match_finite_differences(n_in, n_out, m, rng):
    layer = bp.Dense(n_in, n_out, rng=rng)
    x = rng.standard_normal((n_in, m))
    if n_in * n_out > 1000:  # keep the finite-difference loop short: check a slice of the weights
        layer = bp.Dense(20, n_out, rng=rng)
        x = rng.standard_normal((20, m))
    result = gradcheck(layer, x)
    assert result.ok, str(result)


def test_sigmoid_gradient_matches_finite_differences(rng):
    result = gradcheck(bp.Sigmoid(), rng.standard_normal((6, 5)) * 3)
    assert result.ok, str(result)


def test_dense_computes_w_x_plus_b(rng):
    layer = bp.Dense(4, 3, rng=rng)
    x = rng.standard_normal((4, 7))
    np.testing.assert_allclose(layer(x), layer.w.data @ x + layer.b.data, rtol=0, atol=1e-14)


def test_dense_backward_is_bp3_bp4_and_bp2(rng):
    layer = bp.Dense(4, 3, rng=rng)
    x = rng.standard_normal((4, 5))
    delta = rng.standard_normal((3, 5))
    layer(x)
    grad_input = layer.backward(delta)
    np.testing.assert_allclose(layer.b.grad, delta.sum(axis=1, keepdims=True), atol=1e-14)
    np.testing.assert_allclose(layer.w.grad, delta @ x.T, atol=1e-13)
    np.testing.assert_allclose(grad_input, layer.w.data.T @ delta, atol=1e-13)


def test_backward_adds_into_grad_until_zero_grad(rng):
    layer = bp.Dense(6, 4, rng=rng)
    x = rng.standard_normal((6, 3))
    delta = rng.standard_normal((4, 3))
    layer(x)
    layer.backward(delta)
    first = layer.w.grad.copy()
    layer.backward(delta)
    np.testing.assert_allclose(layer.w.grad, 2 * first, atol=1e-13)
    layer.zero_grad()
    assert not layer.w.grad.any() and not layer.b.grad.any()


def test_parameter_arrays_never_move_and_assignment_copies_in(rng):
    layer = bp.Dense(4, 3, rng=rng)
    data, grad = layer.w.data, layer.w.grad
    layer.w.data = np.ones((3, 4))
    layer.w.grad = np.full((3, 4), 2)  # integers are real numbers: converted
    layer.w.data -= 0.5 * layer.w.grad
    assert layer.w.data is data and layer.w.grad is grad
    np.testing.assert_array_equal(data, 0.0)
    with pytest.raises(bp.ShapeError, match=r"\(3, 4\).*\(4, 3\)"):
        layer.w.data = np.ones((4, 3))
    with pytest.raises(TypeError, match="real numbers"):
        layer.w.grad = np.ones((3, 4), dtype=complex)
    layer.zero_grad()
    assert layer.w.grad is grad and not grad.any()


def test_dense_shapes_and_default_init(rng):
    layer = bp.Dense(784, 30, rng=0)
    assert layer.w.shape == (30, 784) and layer.b.shape == (30, 1)
    # The book's initialisation: standard normal weights and biases.
    assert abs(layer.w.data.mean()) < 0.02 and abs(layer.w.data.std() - 1) < 0.02


def test_dense_rejects_wrong_input_shape_naming_layer_and_shapes():
    layer = bp.Dense(784, 30, rng=0)
    with pytest.raises(bp.ShapeError, match=r"Dense\(784, 30\).*\(784, m\).*\(783, 10\)"):
        layer(np.zeros((783, 10)))
    with pytest.raises(bp.ShapeError, match="single example must be a column"):
        layer(np.zeros(784))
    with pytest.raises(bp.ShapeError, match="did you pass rows"):
        layer(np.zeros((10, 784)))


def test_dense_rejects_complex_and_object_inputs():
    layer = bp.Dense(2, 2, rng=0)
    with pytest.raises(TypeError, match="complex"):
        layer(np.zeros((2, 3), dtype=complex))
    with pytest.raises(TypeError, match="object"):
        layer(np.array([[1, None], [2, 3]], dtype=object))


def test_dense_backward_checks_order_and_a_container_checks_the_shape():
    layer = bp.Dense(3, 2, rng=0)
    with pytest.raises(RuntimeError, match="before forward"):
        layer.backward(np.zeros((2, 4)))
    net = bp.Sequential(layer)
    net(np.zeros((3, 4)))
    with pytest.raises(bp.ShapeError, match=r"\(2, 4\).*\(2, 5\)"):
        net.backward(np.zeros((2, 5)))


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_dense_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="n_in"):
        bp.Dense(bad, 3)


def test_sigmoid_extremes_are_exact_and_silent():
    s = bp.Sigmoid()
    z = np.array([[-1e308, -1000.0, -np.inf, 0.0, 1000.0, 1e308, np.inf]])
    a = s(z)  # warnings are errors in this suite
    np.testing.assert_array_equal(a, [[0, 0, 0, 0.5, 1, 1, 1]])
    np.testing.assert_array_equal(s.backward(np.ones_like(z)), [[0, 0, 0, 0.25, 0, 0, 0]])


def test_float32_stays_float32(rng):
    net = bp.mlp([5, 4, 3], rng=0, dtype=np.float32)
    x = rng.standard_normal((5, 6))  # float64 input is converted at the first layer
    a = net(x)
    assert a.dtype == np.float32
    g = net.backward(np.ones_like(a))
    assert g.dtype == np.float32
    assert all(p.data.dtype == np.float32 and p.grad.dtype == np.float32 for p in net.parameters())


def test_inputs_are_not_mutated(rng):
    net = bp.mlp([5, 4, 3], rng=0)
    x = rng.standard_normal((5, 6))
    x_before = x.copy()
    a = net(x)
    g = np.ones_like(a)
    g_before = g.copy()
    net.backward(g)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(g, g_before)


def test_dense_backward_adds_bp3_and_bp4_for_any_dtype_and_layout(rng):
    layer = bp.Dense(3, 2, rng=rng)
    x = rng.standard_normal((3, 5))
    delta = rng.standard_normal((2, 5))
    for x_in, d_in in ((np.asfortranarray(x), delta.astype(np.float32)), (x[:, ::1], np.asfortranarray(delta))):
        layer(x_in)
        layer.backward(d_in)
    np.testing.assert_allclose(layer.b.grad, 2 * delta.sum(axis=1, keepdims=True), rtol=1e-6)  # BP3, twice
    np.testing.assert_allclose(layer.w.grad, 2 * delta @ x.T, rtol=1e-6)  # BP4, twice
    assert layer.w.grad.dtype == np.float64
