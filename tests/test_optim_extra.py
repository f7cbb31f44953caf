"""Momentum, Nesterov, Adam and the state_dict / load_state_dict of every optimizer."""

import io

import numpy as np
import pytest

import minibp as bp
from minibp.optim import SGD, Adam, Momentum, Nesterov

OPTIMIZERS = {
    "SGD": lambda ps: SGD(ps, eta=0.3),
    "Momentum": lambda ps: Momentum(ps, eta=0.3, mu=0.8),
    "Nesterov": lambda ps: Nesterov(ps, eta=0.3, mu=0.8),
    "Adam": lambda ps: Adam(ps, eta=0.01, beta1=0.8, beta2=0.9, epsilon=1e-6),
}


def reference_steps(kind, w, grads, eta, mu=0.0, beta1=0.0, beta2=0.0, epsilon=0.0):
    """The update formulas written out one parameter array at a time, from their docstrings' equations."""
    w = w.copy()
    v = np.zeros_like(w)
    m1 = np.zeros_like(w)
    m2 = np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        if kind == "SGD":
            w = w - eta * g
        elif kind == "Momentum":
            v = mu * v - eta * g
            w = w + v
        elif kind == "Nesterov":
            v = mu * v - eta * g
            w = w + mu * v - eta * g
        else:
            m1 = beta1 * m1 + (1 - beta1) * g
            m2 = beta2 * m2 + (1 - beta2) * g * g
            w = w - eta * (m1 / (1 - beta1**t)) / (np.sqrt(m2 / (1 - beta2**t)) + epsilon)
    return w


def fill_gradients(params, rng):
    grads = [rng.standard_normal(p.shape) for p in params]
    for p, g in zip(params, grads):
        p.grad = g
    return grads


@pytest.mark.parametrize("kind", list(OPTIMIZERS))
def test_updates_follow_the_documented_formulas(kind, rng):
    net = bp.mlp([60, 50, 3], rng=rng)
    params = net.parameters()
    start = [p.data.copy() for p in params]
    optimizer = OPTIMIZERS[kind](params)
    history = [[] for _ in params]
    for _ in range(4):
        for h, g in zip(history, fill_gradients(params, rng)):
            h.append(g)
        optimizer.step()
    hyper = {k: v for k, v in optimizer.state_dict().items() if k not in ("type", "t") and np.ndim(v) == 0}
    for p, w0, grads in zip(params, start, history):
        np.testing.assert_allclose(p.data, reference_steps(kind, w0, grads, **hyper), rtol=1e-12, atol=1e-13)


def test_momentum_with_mu_zero_is_sgd(rng):
    nets = [bp.mlp([5, 4, 2], rng=1) for _ in range(2)]
    optimizers = [SGD(nets[0].parameters(), eta=0.5), Momentum(nets[1].parameters(), eta=0.5, mu=0.0)]
    for _ in range(3):
        grads = [rng.standard_normal(p.shape) for p in nets[0].parameters()]
        for net, optimizer in zip(nets, optimizers):
            for p, g in zip(net.parameters(), grads):
                p.grad = g
            optimizer.step()
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda ps: Momentum(ps, eta=0.1, mu=1.0), "mu"),
        (lambda ps: Momentum(ps, eta=0.1, mu=-0.1), "mu"),
        (lambda ps: Nesterov(ps, eta=0.0), "eta"),
        (lambda ps: Momentum(ps, eta=0.1, mu="high"), "mu"),
        (lambda ps: Adam(ps, eta=-1e-3), "eta"),
        (lambda ps: Adam(ps, beta1=1.0), "beta1"),
        (lambda ps: Adam(ps, beta2=float("nan")), "beta2"),
        (lambda ps: Adam(ps, epsilon=0.0), "epsilon"),
    ],
)
def test_bad_hyperparameters_are_refused(make, match):
    with pytest.raises(bp.HyperparameterError, match=match):
        make(bp.mlp([2, 1], rng=0).parameters())


@pytest.mark.parametrize("kind", list(OPTIMIZERS))
def test_nan_gradient_changes_neither_parameters_nor_state(kind, rng):
    net = bp.mlp([4, 3, 2], rng=rng)
    optimizer = OPTIMIZERS[kind](net.parameters())
    fill_gradients(net.parameters(), rng)
    optimizer.step()
    before = [p.data.copy() for p in net.parameters()]
    state = optimizer.state_dict()
    fill_gradients(net.parameters(), rng)
    net[0].b.grad[1, 0] = np.inf
    with pytest.raises(bp.NonFiniteError, match="no parameter was changed"):
        optimizer.step()
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.data, b)
    after = optimizer.state_dict()
    assert after.keys() == state.keys()
    for k in state:
        np.testing.assert_array_equal(after[k], state[k])


def npz_round_trip(state):
    buffer = io.BytesIO()
    np.savez(buffer, **state)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("kind", list(OPTIMIZERS))
def test_state_dict_is_plain_and_resumes_bit_identically(kind, rng):
    grads = [[rng.standard_normal(p.shape) for p in bp.mlp([6, 5, 3], rng=0).parameters()] for _ in range(6)]

    def run(net, optimizer, steps):
        for g in steps:
            for p, gi in zip(net.parameters(), g):
                p.grad = gi
            optimizer.step()

    net = bp.mlp([6, 5, 3], rng=0)
    optimizer = OPTIMIZERS[kind](net.parameters())
    run(net, optimizer, grads)

    net2 = bp.mlp([6, 5, 3], rng=0)
    optimizer2 = OPTIMIZERS[kind](net2.parameters())
    run(net2, optimizer2, grads[:3])
    state = optimizer2.state_dict()
    assert state["type"] == kind
    for value in state.values():
        assert type(value) in (str, float, np.ndarray)
    saved = [p.data.copy() for p in net2.parameters()]

    net3 = bp.mlp([6, 5, 3], rng=7)
    for p, s in zip(net3.parameters(), saved):
        p.data[...] = s
    optimizer3 = OPTIMIZERS[kind](net3.parameters())
    if kind != "SGD":
        optimizer3.eta = 0.123  # restored from the state
    optimizer3.load_state_dict(npz_round_trip(state))
    assert optimizer3.state_dict().keys() == state.keys()
    run(net3, optimizer3, grads[3:])
    for a, b in zip(net.parameters(), net3.parameters()):
        np.testing.assert_array_equal(a.data, b.data)


def test_state_dict_restores_a_changed_eta():
    optimizer = SGD(bp.mlp([2, 1], rng=0).parameters(), eta=3.0)
    optimizer.eta = 0.75  # as a schedule would
    other = SGD(bp.mlp([2, 1], rng=0).parameters(), eta=3.0)
    other.load_state_dict(optimizer.state_dict())
    assert other.eta == 0.75


def test_load_state_dict_validates_everything_before_changing_anything():
    net = bp.mlp([3, 2], rng=0)
    optimizer = Momentum(net.parameters(), eta=0.1, mu=0.5)
    good = optimizer.state_dict()
    good["velocity.0"] = np.ones((2, 3))

    def bad(**changes):
        d = dict(good)
        for k, v in changes.items():
            if v is None:
                del d[k]
            else:
                d[k] = v
        return d

    cases = [
        (bad(type="Adam"), bp.ModelFormatError, "belongs to optimizer 'Adam'"),
        (bad(mu=None), bp.ModelFormatError, r"missing keys \['mu'\]"),
        (bad(extra=1.0), bp.ModelFormatError, r"unexpected keys \['extra'\]"),
        ({**good, "velocity.2": np.zeros(1)}, bp.ModelFormatError, "velocity.2"),
        (bad(mu=1.5), bp.HyperparameterError, "mu"),
        (bad(eta=np.array([0.1, 0.2])), bp.HyperparameterError, "eta must be a number"),
        (bad(**{"velocity.1": np.zeros((3, 1))}), bp.ShapeError, r"velocity.1 has shape \(3, 1\).*\(2, 1\)"),
        (bad(**{"velocity.1": np.full((2, 1), np.nan)}), bp.NonFiniteError, "velocity.1"),
        (bad(**{"velocity.1": np.array([["a"], ["b"]])}), bp.ModelFormatError, "numeric"),
        ([("type", "Momentum")], bp.ModelFormatError, "mapping"),
    ]
    for state, error, match in cases:
        with pytest.raises(error, match=match):
            optimizer.load_state_dict(state)
        assert optimizer.mu == 0.5 and not any(v.any() for v in optimizer.velocity)
    adam = Adam(net.parameters())
    state = adam.state_dict()
    state["t"] = 2.5
    with pytest.raises(bp.HyperparameterError, match="t must be a count"):
        adam.load_state_dict(state)
    optimizer.load_state_dict(npz_round_trip(good))  # strings and floats come back as 0-d arrays
    np.testing.assert_array_equal(net[0].w.data.shape, (2, 3))
    np.testing.assert_array_equal(optimizer.velocity[0], 1.0)


def test_float32_state_stays_float32(rng):
    net = bp.mlp([4, 3], rng=0, dtype=np.float32)
    optimizer = Adam(net.parameters())
    fill_gradients(net.parameters(), rng)
    optimizer.step()
    assert all(m.dtype == np.float32 for m in optimizer.first_moment + optimizer.second_moment)
    assert net[0].w.data.dtype == np.float32


@pytest.mark.parametrize("kind", ["SGD", "Momentum", "Nesterov", "Adam"])
def test_same_steps_as_torch(kind, rng):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; the comparison needs it")
    net = bp.mlp([7, 5, 3], rng=rng)
    optimizer = OPTIMIZERS[kind](net.parameters())
    tparams = [torch.tensor(p.data.copy(), requires_grad=True) for p in net.parameters()]
    s = optimizer.state_dict()
    if kind == "SGD":
        topt = torch.optim.SGD(tparams, lr=s["eta"])
    elif kind in ("Momentum", "Nesterov"):
        topt = torch.optim.SGD(tparams, lr=s["eta"], momentum=s["mu"], nesterov=kind == "Nesterov")
    else:
        topt = torch.optim.Adam(tparams, lr=s["eta"], betas=(s["beta1"], s["beta2"]), eps=s["epsilon"])
    for _ in range(5):
        grads = fill_gradients(net.parameters(), rng)
        optimizer.step()
        for tp, g in zip(tparams, grads):
            tp.grad = torch.tensor(g)
        topt.step()
    for p, tp in zip(net.parameters(), tparams):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-12, atol=1e-14)
