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


OPTIMIZERS = [
    lambda ps: bp.SGD(ps, eta=0.5),
    lambda ps: bp.optim.Momentum(ps, eta=0.5, mu=0.9),
    lambda ps: bp.optim.Adam(ps, eta=0.01),
]


def assert_factored_matches_formed(monkeypatch, train):
    """Run ``train()`` (which returns the trained network) with factored gradients and with formed ones."""
    runs = []
    for min_size in (0, 10**9):  # factors for every large-enough gradient / never
        monkeypatch.setattr(Parameter, "FACTOR_MIN_SIZE", min_size)
        runs.append([p.data.copy() for p in train().parameters()])
    for a, b in zip(*runs):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)


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


@pytest.mark.parametrize("order", ["F", "C"])  # a C-ordered input is kept Fortran-ordered: SGD's general path
@pytest.mark.parametrize("make_optimizer", OPTIMIZERS)
def test_factored_steps_match_formed_gradients(monkeypatch, make_optimizer, order):
    def train():
        net, x, y = make_net_and_batch(np.random.default_rng(5))
        x = np.asarray(x, order=order)
        optimizer = make_optimizer(net.parameters())
        for _ in range(3):
            one_step(net, optimizer, x, y)
        return net

    assert_factored_matches_formed(monkeypatch, train)


def test_factors_are_copies_so_changing_the_input_later_changes_nothing(rng, factoring):
    net, x, y = make_net_and_batch(rng)
    cost = bp.QuadraticCost()
    cost(net(x), y)
    net.zero_grad()
    net.backward(cost.backward())
    expected = net[0].w.grad_factors[0] @ net[0].w.grad_factors[1]
    x[...] = 7.0  # the caller reuses its buffer before the step
    np.testing.assert_allclose(net[0].w.grad, expected, rtol=0, atol=0)


def spoil_factor(net):
    net[0].w.grad_factors[1][0, 3] = np.nan  # parameter 0, held as factors


def spoil_formed(net):
    net[2].b.grad[1, 0] = np.inf  # parameter 3, the last bias, formed


@pytest.mark.parametrize(("spoil", "index"), [(spoil_factor, 0), (spoil_formed, 3)])
def test_a_non_finite_gradient_is_named_and_changes_nothing(rng, factoring, spoil, index):
    net, x, y = make_net_and_batch(rng)
    optimizer = bp.SGD(net.parameters(), eta=1.0)
    cost = bp.QuadraticCost()
    cost(net(x), y)
    optimizer.zero_grad()
    net.backward_parameters(cost.backward())
    assert net[0].w.grad_factors is not None
    spoil(net)
    before = [p.data.copy() for p in net.parameters()]
    with pytest.raises(bp.NonFiniteError, match=f"parameter {index}"):
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


def test_the_book_network_holds_its_first_weight_gradient_as_factors(rng):
    net = bp.mlp([784, 30, 10], rng=0)
    cost = bp.QuadraticCost()
    cost(net(rng.random((784, 10))), np.eye(10))
    net.zero_grad()
    net.backward_parameters(cost.backward())
    assert net[0].w.grad_factors is not None  # 30 x 784 = 23,520 weights, factors 30 x 10 and 10 x 784
    assert all(p.grad_factors is None for p in net.parameters()[1:])


def test_a_factored_layer_between_formed_ones_matches_formed_gradients(monkeypatch):
    """The formed gradients before and after a factored one are updated as two runs of the flat buffer."""

    def train():
        net = bp.mlp([5, 40, 40, 3], rng=2)
        data = np.random.default_rng(3)
        x, y = data.random((5, 4)), np.eye(3)[:, data.integers(0, 3, 4)]
        optimizer = bp.SGD(net.parameters(), eta=0.5)
        for _ in range(3):
            one_step(net, optimizer, x, y)
        if Parameter.FACTOR_MIN_SIZE == 0:
            assert [p.grad_factors is not None for p in net.parameters()] == [False, False, True, False, False, False]
            assert len(optimizer._runs[(2,)]) == 2  # (w1, b1) and (b2, w3, b3)
        return net

    assert_factored_matches_formed(monkeypatch, train)


def test_a_read_only_input_is_kept_and_a_writeable_one_copied(rng, factoring):
    for writeable in (True, False):
        net, x, y = make_net_and_batch(rng)
        rows = np.array(x.T)  # owns its memory
        rows.flags.writeable = writeable
        cost = bp.QuadraticCost()
        cost(net(rows.T), y)
        net.zero_grad()
        net.backward_parameters(cost.backward())
        kept = net[0].w.grad_factors[1]
        assert (kept.base is rows or kept is rows) != writeable


def test_a_read_only_view_of_a_writeable_array_is_copied(rng, factoring):
    net, x, y = make_net_and_batch(rng)
    rows = np.array(x.T)
    view = rows[:]
    view.flags.writeable = False  # the owner can still change the values
    cost = bp.QuadraticCost()
    cost(net(view.T), y)
    net.zero_grad()
    net.backward_parameters(cost.backward())
    expected = net[0].w.grad.copy()
    rows[...] = 5.0
    np.testing.assert_array_equal(net[0].w.grad, expected)


@pytest.mark.parametrize("make_optimizer", OPTIMIZERS)
def test_update_without_a_check_still_sees_lazy_gradients(rng, factoring, make_optimizer):
    """update() on its own (as after check_gradients and a weight-decay hook) writes out what it needs."""
    results = []
    for method in ("step", "update"):
        net, x, y = make_net_and_batch(np.random.default_rng(4))
        optimizer = make_optimizer(net.parameters())
        cost = bp.QuadraticCost()
        for full in (True, False):
            cost(net(x), y)
            optimizer.zero_grad()
            if full:  # layer 0's weight gradient is held as factors
                net.backward_parameters(cost.backward())
            else:  # layer 0's gradients stay marked zero, their arrays hold the last step's values
                net[2].backward_parameters(net[3].backward(cost.backward()))
            getattr(optimizer, method)()
        results.append([p.data.copy() for p in net.parameters()])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
