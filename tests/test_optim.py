import numpy as np
import pytest

import minibp as bp


def test_sgd_step_is_w_minus_eta_grad(rng):
    net = bp.mlp([4, 3, 2], rng=rng)
    before = [p.data.copy() for p in net.parameters()]
    optimizer = bp.SGD(net.parameters(), eta=0.5)
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.data, b)  # contiguous storage keeps the values
    x = rng.standard_normal((4, 5))
    cost = bp.QuadraticCost()
    cost(net(x), rng.random((2, 5)))
    optimizer.zero_grad()
    net.backward(cost.backward())
    grads = [p.grad.copy() for p in net.parameters()]
    optimizer.step()
    for p, b, g in zip(net.parameters(), before, grads):
        np.testing.assert_allclose(p.data, b - 0.5 * g, rtol=0, atol=1e-15)


@pytest.mark.parametrize("eta", [0, -1.0, float("nan"), float("inf"), "fast", None])
def test_sgd_rejects_bad_eta(eta):
    net = bp.mlp([2, 1], rng=0)
    with pytest.raises(bp.HyperparameterError, match="eta"):
        bp.SGD(net.parameters(), eta=eta)


def test_sgd_with_nan_gradient_changes_nothing_and_raises(rng):
    net = bp.mlp([30, 40, 2], rng=rng)
    optimizer = bp.SGD(net.parameters(), eta=1.0)
    before = [p.data.copy() for p in net.parameters()]
    for p in net.parameters():
        p.grad = np.ones(p.shape)
    net[2].w.grad[1, 3] = np.nan
    with pytest.raises(bp.NonFiniteError, match="parameter 2 .*no parameter was changed"):
        optimizer.step()
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.data, b)


def test_optimizer_rejects_bad_parameter_lists():
    net = bp.mlp([2, 1], rng=0)
    with pytest.raises(ValueError, match="empty"):
        bp.SGD([], eta=1.0)
    with pytest.raises(ValueError, match="twice"):
        bp.SGD(net.parameters() * 2, eta=1.0)
    with pytest.raises(TypeError, match="not a Parameter"):
        bp.SGD([np.zeros(3)], eta=1.0)


def test_optimizers_never_move_a_parameters_arrays(rng):
    net = bp.mlp([3, 2], rng=rng)
    held = [(p.data, p.grad) for p in net.parameters()]
    first = bp.SGD(net.parameters(), eta=1.0)
    second = bp.Adam(net.parameters(), eta=0.1)
    for p in net.parameters():
        p.grad = np.ones(p.shape)
    before = net[0].w.data.copy()
    first.step()
    np.testing.assert_array_equal(net[0].w.data, before - 1)
    second.step()
    for p, (data, grad) in zip(net.parameters(), held):
        assert p.data is data and p.grad is grad  # anything holding them sees the live values
