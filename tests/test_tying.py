"""Tied weights: one `Parameter` held by two modules is one parameter, trained by the sum of both gradients."""

from __future__ import annotations

import numpy as np
import pytest

import minibp as bp
from minibp.gradcheck import gradcheck
from minibp.testing import check_module


def tied_net(seed: int = 0) -> bp.Sequential:
    rng = np.random.default_rng(seed)
    net = bp.Sequential(
        bp.Dense(4, 6, rng=rng), bp.Tanh(), bp.Dense(6, 6, rng=rng), bp.Tanh(), bp.Dense(6, 6, rng=rng), bp.Sigmoid()
    )
    net[4].w = net[2].w  # the two 6 x 6 layers share their weights (each keeps its own bias)
    return net


def test_a_shared_parameter_is_listed_once_under_its_first_name():
    net = tied_net()
    names = [name for name, _ in net.named_parameters()]
    assert names == ["0.w", "0.b", "2.w", "2.b", "4.b"]
    every = [name for name, _ in net.named_parameters(remove_duplicate=False)]
    assert every == ["0.w", "0.b", "2.w", "2.b", "4.w", "4.b"]
    assert len(net.parameters()) == 5 and list(net.state_dict()) == names
    bp.SGD(net.parameters(), eta=0.1)  # no "a parameter appears twice"


def test_the_gradient_of_a_shared_parameter_is_the_sum_over_its_uses(rng):
    net = tied_net()
    x = rng.standard_normal((4, 5))
    result = gradcheck(net, x)
    assert result.ok, str(result)
    assert set(result.errors) == {"input", "0.w", "0.b", "2.w", "2.b", "4.b"}
    # The sum, explicitly: the same network untied gives the two parts.
    untied = tied_net()
    untied[4].w = bp.Parameter(untied[2].w.data)
    for network in (net, untied):
        network.zero_grad()
        network.backward(network(x) * 0 + 1)
    np.testing.assert_allclose(net[2].w.grad, untied[2].w.grad + untied[4].w.grad, rtol=1e-13)


def test_tied_networks_pass_the_module_contract():
    check_module(tied_net(), (4, 5))


def test_a_tied_network_trains_and_stays_tied():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 200))
    y = (X[:1] > 0).astype(int).ravel()
    net = tied_net()
    history = bp.train(net, (X, y), optimizer=bp.SGD(net.parameters(), eta=0.5), epochs=5, mini_batch_size=10,
                       rng=0, verbose=False)  # fmt: skip
    assert net[4].w is net[2].w
    assert history.training_cost[-1] < history.training_cost[0]


@pytest.mark.parametrize("fused", [None, True])
def test_the_fused_path_does_not_take_tied_weights(fused):
    net = bp.Sequential(bp.Dense(4, 4, rng=0), bp.Sigmoid(), bp.Dense(4, 4, rng=1), bp.Sigmoid())
    net[2].w = net[0].w
    X, y = np.ones((4, 20)), np.zeros(20, dtype=int)
    run = lambda: bp.train(net, (X, y), optimizer=bp.SGD(net.parameters(), eta=0.5), epochs=1,  # noqa: E731
                           mini_batch_size=10, rng=0, fused=fused)  # fmt: skip
    if fused:
        with pytest.raises(ValueError, match="held twice"):
            run()
    else:
        run()
