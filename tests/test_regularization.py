"""L2 (the book's, coupled) and WeightDecay (decoupled): weights only, equations, PyTorch equivalents."""

import numpy as np
import pytest

import minibp as bp
from minibp.regularization import L2, WeightDecay, weight_parameters


def test_only_weights_are_selected(rng):
    net = bp.mlp([4, 3, 2], rng=0)
    assert weight_parameters(net) == [net[0].w, net[2].w]
    l2 = L2(net, lmbda=2.0, n=10)
    for p in net.parameters():
        p.grad = np.zeros(p.shape)
    l2.add_gradient()
    np.testing.assert_array_equal(net[0].w.grad, 0.2 * net[0].w.data)
    assert not net[0].b.grad.any() and not net[2].b.grad.any()
    expected = 0.5 * 2.0 / 10 * (np.sum(net[0].w.data ** 2) + np.sum(net[2].w.data ** 2))
    assert l2.penalty() == pytest.approx(expected, rel=1e-14)


def test_weight_decay_shrinks_weights_only_and_adds_no_penalty():
    net = bp.mlp([4, 3], rng=0)
    w, b = net[0].w.data.copy(), net[0].b.data.copy()
    decay = WeightDecay(net, wd=0.1)
    decay.before_update(eta=2.0)
    np.testing.assert_array_equal(net[0].w.data, w * (1 - 0.2))
    np.testing.assert_array_equal(net[0].b.data, b)
    assert decay.penalty() == 0.0
    with pytest.raises(bp.HyperparameterError, match="eta \\* wd must be < 1"):
        decay.before_update(eta=10.0)


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda net: L2(net, lmbda=-1.0, n=10), bp.HyperparameterError),
        (lambda net: L2(net, lmbda=1.0, n=0), bp.HyperparameterError),
        (lambda net: L2(net, lmbda=float("inf"), n=10), bp.HyperparameterError),
        (lambda net: WeightDecay(net, wd="a lot"), bp.HyperparameterError),
        (lambda net: L2(bp.Sequential(bp.Sigmoid()), lmbda=1.0, n=10), ValueError),
        (lambda net: WeightDecay([np.zeros(3)], wd=0.1), TypeError),
    ],
)
def test_bad_settings_are_refused(make, error):
    with pytest.raises(error):
        make(bp.mlp([2, 2], rng=0))


def test_explicit_parameter_lists_are_accepted():
    net = bp.mlp([3, 2], rng=0)
    decay = WeightDecay([net[0].b], wd=0.5)
    b = net[0].b.data.copy()
    decay.before_update(eta=1.0)
    np.testing.assert_array_equal(net[0].b.data, 0.5 * b)


TORCH_ROWS = {
    # name: (minibp optimizer, minibp regulariser, torch optimizer for the weights group, for the biases group)
    "SGD + L2 = SGD(weight_decay=lmbda/n)": (
        lambda ps: bp.SGD(ps, eta=0.3),
        lambda net: L2(net, lmbda=5.0, n=50),
        lambda t, w, b: t.optim.SGD([{"params": w, "weight_decay": 0.1}, {"params": b}], lr=0.3),
    ),
    "SGD + WeightDecay = SGD(weight_decay=wd)": (
        lambda ps: bp.SGD(ps, eta=0.3),
        lambda net: WeightDecay(net, wd=0.1),
        lambda t, w, b: t.optim.SGD([{"params": w, "weight_decay": 0.1}, {"params": b}], lr=0.3),
    ),
    "Momentum + L2 = SGD(momentum, weight_decay=lmbda/n)": (
        lambda ps: bp.Momentum(ps, eta=0.3, mu=0.9),
        lambda net: L2(net, lmbda=5.0, n=50),
        lambda t, w, b: t.optim.SGD([{"params": w, "weight_decay": 0.1}, {"params": b}], lr=0.3, momentum=0.9),
    ),
    "Adam + L2 = Adam(weight_decay=lmbda/n)": (
        lambda ps: bp.Adam(ps, eta=0.01),
        lambda net: L2(net, lmbda=5.0, n=50),
        lambda t, w, b: t.optim.Adam([{"params": w, "weight_decay": 0.1}, {"params": b}], lr=0.01),
    ),
    "Adam + WeightDecay = AdamW(weight_decay=wd)": (
        lambda ps: bp.Adam(ps, eta=0.01),
        lambda net: WeightDecay(net, wd=0.1),
        lambda t, w, b: t.optim.AdamW(
            [{"params": w, "weight_decay": 0.1}, {"params": b, "weight_decay": 0.0}], lr=0.01
        ),
    ),
}


@pytest.mark.parametrize("row", list(TORCH_ROWS))
def test_same_steps_as_torch(row, rng):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the equivalences cannot be checked")
    make_optimizer, make_regularizer, make_torch = TORCH_ROWS[row]
    net = bp.mlp([5, 4, 3], rng=rng)
    optimizer, regularizer = make_optimizer(net.parameters()), make_regularizer(net)
    w = [torch.tensor(net[i].w.data.copy(), requires_grad=True) for i in (0, 2)]
    b = [torch.tensor(net[i].b.data.copy(), requires_grad=True) for i in (0, 2)]
    topt = make_torch(torch, w, b)
    for _ in range(4):
        grads = [rng.standard_normal(p.shape) for p in net.parameters()]
        for p, g in zip(net.parameters(), grads):
            p.grad = g
        optimizer.step(regularizers=[regularizer])
        for t, g in zip([w[0], b[0], w[1], b[1]], grads):
            t.grad = torch.tensor(g)
        topt.step()
    for p, t in zip(net.parameters(), [w[0], b[0], w[1], b[1]]):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)
