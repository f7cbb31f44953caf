"""Gradients held as two factors (Parameter.grad_factors): same results as the formed product."""

from __future__ import annotations

import numpy as np
import pytest

import minibp as bp
from minibp.module import Parameter


@pytest.fixture
def factoring(monkeypatch):
    monkeypatch.setattr(Parameter, "FACTOR_MIN_SIZE", 0)


def make_net_and_batch(rng):
    net = bp.mlp([40, 25, 3], rng=1)
    x = np.asfortranarray(rng.random((40, 4)))
    y = np.eye(3)[:, rng.integers(0, 3, 4)]
    return net, x, y


def one_step(net, optimizer, x, y):
    cost = bp.QuadraticCost()
    cost(net(x), y)
    optimizer.zero_grad()
    net.backward_parameters(cost.backward())
    optimizer.step()


def test_large_first_layer_gradient_is_held_as_factors(rng):
    net = bp.mlp([784, 100, 10], rng=0)
    optimizer = bp.SGD(net.parameters(), eta=1.0)
    cost = bp.QuadraticCost()
    x = rng.random((784, 10))
    cost(net(x), np.eye(10)[:, :10])
    optimizer.zero_grad()
    net.backward_parameters(cost.backward())
    factors = net[0].w.grad_factors
    assert factors is not None and factors[0].shape == (100, 10) and factors[1].shape == (10, 784)
    assert net[2].w.grad_factors is None  # 10 x 100 is too small to be worth it
    np.testing.assert_allclose(net[0].w.grad, factors[0] @ factors[1], rtol=0, atol=1e-15)
    assert net[0].w.grad_factors is None  # reading grad wrote the product out


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda ps: bp.SGD(ps, eta=0.5),
        lambda ps: bp.optim.Momentum(ps, eta=0.5, mu=0.9),
        lambda ps: bp.optim.Adam(ps, eta=0.01),
    ],
)
def test_factored_steps_match_formed_gradients(rng, monkeypatch, make_optimizer):
    runs = []
    for min_size in (0, 10**9):  # factors for every large-enough gradient / never
        monkeypatch.setattr(Parameter, "FACTOR_MIN_SIZE", min_size)
        net, x, y = make_net_and_batch(np.random.default_rng(5))
        optimizer = make_optimizer(net.parameters())
        for _ in range(3):
            one_step(net, optimizer, x, y)
        runs.append([p.data.copy() for p in net.parameters()])
    for a, b in zip(*runs):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


def test_factors_are_copies_so_changing_the_input_later_changes_nothing(rng, factoring):
    net, x, y = make_net_and_batch(rng)
    cost = bp.QuadraticCost()
    cost(net(x), y)
    net.zero_grad()
    net.backward(cost.backward())
    expected = net[0].w.grad_factors[0] @ net[0].w.grad_factors[1]
    x[...] = 7.0  # the caller reuses its buffer before the step
    np.testing.assert_allclose(net[0].w.grad, expected, rtol=0, atol=0)


def test_nan_in_a_factored_gradient_changes_nothing_and_raises(rng, factoring):
    net, x, y = make_net_and_batch(rng)
    optimizer = bp.SGD(net.parameters(), eta=1.0)
    cost = bp.QuadraticCost()
    cost(net(x), y)
    optimizer.zero_grad()
    net.backward_parameters(cost.backward())
    assert net[0].w.grad_factors is not None
    net[0].w.grad_factors[1][0, 3] = np.nan
    before = [p.data.copy() for p in net.parameters()]
    with pytest.raises(bp.NonFiniteError, match="parameter 0"):
        optimizer.step()
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.data, b)


def test_a_second_backward_adds_to_factored_gradient(rng, factoring):
    net, x, y = make_net_and_batch(rng)
    cost = bp.QuadraticCost()
    cost(net(x), y)
    net.zero_grad()
    g = cost.backward()
    net.backward(g)
    once = net[0].w.grad.copy()
    net.zero_grad()
    net(x)
    net.backward(g)
    net(x)
    net.backward(g)
    np.testing.assert_allclose(net[0].w.grad, 2 * once, rtol=1e-14, atol=1e-15)
