"""`Optimizer.step` owns the whole step, for the built-in optimizers and for one that writes only `update()`:
the regularisers, the gradient check, the update without numpy warnings, and a refused step that changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
from _moving import MovingParameter

import minibp as bp
from minibp import _checks
from minibp.optim import Optimizer, _keep


class Sign(Optimizer):
    """A user's optimizer: sign descent with a running step count and a buffer; only its rule."""

    hyperparameters = {"eta": _checks.check_positive}
    counters = ("t",)
    buffers = ("last",)

    def __init__(self, parameters, eta):
        super().__init__(parameters)
        self.eta, self.t = eta, 0
        self.last = [np.zeros_like(p.data) for p in self.parameters]

    def update(self):
        self.t += 1
        for p, last in zip(self.parameters, self.last):
            last[...] = self.eta * p.grad  # overflows for a large eta
            p.data -= np.sign(p.grad) * self.eta


OPTIMIZERS = {
    "SGD": lambda ps, eta: bp.SGD(ps, eta=eta),
    "Momentum": lambda ps, eta: bp.Momentum(ps, eta=eta, mu=0.9),
    "Nesterov": lambda ps, eta: bp.Nesterov(ps, eta=eta, mu=0.9),
    "Adam": lambda ps, eta: bp.Adam(ps, eta=eta),
    "Sign": lambda ps, eta: Sign(ps, eta=eta),
}


def snapshot(net, optimizer):
    return [p.data.copy() for p in net.parameters()], optimizer.state_dict()


def assert_unchanged(net, optimizer, before):
    params, state = before
    for p, b in zip(net.parameters(), params):
        np.testing.assert_array_equal(p.data, b)
    after = optimizer.state_dict()
    assert after.keys() == state.keys()
    for key, value in state.items():
        np.testing.assert_array_equal(after[key], value)


@pytest.mark.parametrize("kind", list(OPTIMIZERS))
def test_a_step_that_overflows_changes_nothing(kind):
    net = bp.mlp([3, 4, 2], rng=0)
    optimizer = OPTIMIZERS[kind](net.parameters(), 1.0)
    for _ in range(2):  # some state first
        for p in net.parameters():
            p.grad = np.full(p.shape, 0.5)
        optimizer.step()
    optimizer.eta = 1e308
    for p in net.parameters():
        p.grad = np.full(p.shape, 1e10)
    before = snapshot(net, optimizer)
    message = rf"{kind}\.step: the update of .* would overflow.*no parameter was changed"
    with pytest.raises(bp.NonFiniteError, match=message):
        optimizer.step()  # no numpy warning either: warnings are errors in the tests
    assert_unchanged(net, optimizer, before)


def test_a_user_optimizer_is_refused_a_non_finite_gradient_by_name():
    net = bp.mlp([3, 4, 2], rng=0)
    optimizer = Sign(net.parameters(), eta=0.1)
    net[2].w.grad[1, 0] = np.inf
    before = snapshot(net, optimizer)
    with pytest.raises(bp.NonFiniteError, match=r"Sign\.step: gradient of parameter 2 \(2, 4\) has 1 non-finite"):
        optimizer.step()
    assert_unchanged(net, optimizer, before)


class SignOfSGD(bp.SGD):
    """A subclass of a built-in whose own update hides an infinite gradient: w - eta sign(g)."""

    def update(self):
        for p in self.parameters:
            p.data -= self.eta * np.sign(p.grad)


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_a_subclass_that_overrides_update_has_its_gradients_checked_first(value):
    net = bp.mlp([3, 4, 2], rng=0)
    optimizer = SignOfSGD(net.parameters(), eta=0.1)
    net[0].b.grad[2, 0] = value
    before = snapshot(net, optimizer)
    with pytest.raises(bp.NonFiniteError, match=r"SignOfSGD\.step: gradient of parameter 1 \(4, 1\) has 1 non-finite"):
        optimizer.step()
    assert_unchanged(net, optimizer, before)


@pytest.mark.parametrize("kind", list(OPTIMIZERS))
@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_a_built_in_update_names_a_non_finite_gradient_though_it_checks_after(kind, value):
    net = bp.mlp([3, 4, 2], rng=0)
    optimizer = OPTIMIZERS[kind](net.parameters(), 1e-300)  # the smallest steps still carry inf and NaN
    for p in net.parameters():
        p.grad = np.full(p.shape, 1e-300)
    net[2].w.grad[1, 3] = value
    before = snapshot(net, optimizer)
    with pytest.raises(bp.NonFiniteError, match=rf"{kind}\.step: gradient of parameter 2 \(2, 4\) has 1 non-finite"):
        optimizer.step()
    assert_unchanged(net, optimizer, before)


def test_a_buffer_left_non_finite_is_named_and_restored():
    class Doubling(Sign):
        def update(self):
            super().update()
            self.last[1] *= np.inf  # the parameters are fine, the state is not

    net = bp.mlp([3, 4, 2], rng=0)
    optimizer = Doubling(net.parameters(), eta=0.1)
    for p in net.parameters():
        p.grad = np.ones(p.shape)
    before = snapshot(net, optimizer)
    with pytest.raises(bp.NonFiniteError, match=r"the update of the last of parameter 1 \(4, 1\) would overflow"):
        optimizer.step()
    assert_unchanged(net, optimizer, before)
    assert optimizer.t == 0


def test_an_update_that_raises_half_way_is_undone():
    class Failing(Sign):
        def update(self):
            self.parameters[0].data[...] = 7.0
            self.t += 1
            raise ValueError("Failing: a plain failure")

    net = bp.mlp([3, 4, 2], rng=0)
    optimizer = Failing(net.parameters(), eta=0.1)
    before = snapshot(net, optimizer)
    with pytest.raises(ValueError, match="a plain failure"):
        optimizer.step()
    assert_unchanged(net, optimizer, before)


def test_a_value_beyond_the_limit_is_refused_though_finite():
    net = bp.mlp([2, 1], rng=0)
    optimizer = bp.SGD(net.parameters(), eta=1.0)
    limit = _checks.limit(np.float64)
    net[0].w.grad[...] = -1.5 * limit  # finite after the step (|w| ~ 1.5 * limit), but beyond the limit
    before = snapshot(net, optimizer)
    with pytest.raises(bp.NonFiniteError, match=r"parameter 0 \(1, 2\) would overflow .*beyond 8\.99e\+307"):
        optimizer.step()
    assert_unchanged(net, optimizer, before)
    net[0].w.grad[...] = -0.75 * limit
    optimizer.step()  # below the limit: taken
    assert np.all(net[0].w.data > 0.7 * limit)


def test_the_regularisers_are_applied_once_per_step_with_the_optimizers_eta():
    net = bp.mlp([3, 2], rng=0)
    w = net[0].w.data.copy()
    l2, decay = bp.L2(net, lmbda=2.0, n=4), bp.WeightDecay(net, wd=0.1)
    optimizer = bp.SGD(net.parameters(), eta=0.5)
    optimizer.zero_grad()
    optimizer.step(regularizers=[l2, decay])  # grad = (lambda/n) w; w -> (1 - eta wd) w - eta grad
    np.testing.assert_allclose(net[0].w.data, (1 - 0.5 * 0.1) * w - 0.5 * (2.0 / 4) * w, rtol=1e-15)
    step = optimizer.step
    optimizer.step(regularizers=(r for r in [l2]))  # any iterable, read once
    assert step.__func__ is Optimizer.step


def test_a_refused_step_undoes_weight_decay_too():
    net = bp.mlp([3, 2], rng=0)
    optimizer = Sign(net.parameters(), eta=1e308)
    for p in net.parameters():
        p.grad = np.full(p.shape, 10.0)
    before = snapshot(net, optimizer)
    with pytest.raises(bp.NonFiniteError):
        optimizer.step(regularizers=[bp.WeightDecay(net, wd=1e-309)])
    assert_unchanged(net, optimizer, before)


def test_the_guard_allocates_its_copies_once():
    net = bp.mlp([3, 4, 2], rng=0)
    optimizer = bp.Adam(net.parameters())
    optimizer.step()
    copies = [id(a) for a in _keep(optimizer)[1]]
    optimizer.step()
    assert [id(a) for a in _keep(optimizer)[1]] == copies
    optimizer.parameters.append(bp.Parameter(np.zeros(2)))  # a list changed in place: copies for it too
    optimizer.first_moment.append(np.zeros(2)), optimizer.second_moment.append(np.zeros(2))
    arrays, grown, _, _ = _keep(optimizer)
    assert len(grown) == len(arrays) == 3 * 5 and arrays[4] is optimizer.parameters[4].data


def test_a_parameter_whose_array_moves_is_checked_and_put_back():
    p = MovingParameter(np.ones((2, 2)))
    optimizer = bp.SGD([p], eta=1.0)
    p.grad[...] = 0.5
    optimizer.step()  # a good step first: the scratch copies are made for the array p held then
    before = p.data.copy()
    p.grad[...] = 1e308
    with pytest.raises(bp.NonFiniteError, match="parameter 0"):
        optimizer.step()
    np.testing.assert_array_equal(p.data, before)


class Rebinding(Optimizer):
    """Momentum written the other way: ``update`` puts new arrays in its buffer list, or a new list."""

    hyperparameters = {"eta": _checks.check_positive}
    buffers = ("velocity",)

    def __init__(self, parameters, eta, new_list=False):
        super().__init__(parameters)
        self.eta, self.new_list = eta, new_list
        self.velocity = [np.zeros_like(p.data) for p in self.parameters]

    def update(self):
        velocity = [0.9 * v - self.eta * p.grad for p, v in zip(self.parameters, self.velocity)]
        if self.new_list:
            self.velocity = velocity
        else:
            self.velocity[:] = velocity
        for p, v in zip(self.parameters, self.velocity):
            p.data += v


@pytest.mark.parametrize("new_list", [False, True])
def test_buffers_an_update_replaces_are_checked_and_put_back(new_list):
    net = bp.mlp([3, 2], rng=0)
    optimizer = Rebinding(net.parameters(), eta=0.1, new_list=new_list)
    for p in net.parameters():
        p.grad[...] = 1.0
    optimizer.step()
    velocity, arrays = optimizer.velocity, list(optimizer.velocity)
    values, data = [v.copy() for v in velocity], [p.data.copy() for p in net.parameters()]
    net[0].b.grad[...] = 1e308  # finite: the update itself takes one buffer and one parameter past the range
    optimizer.eta = 10.0
    with pytest.raises(bp.NonFiniteError, match="would overflow"):
        optimizer.step()
    assert optimizer.velocity is velocity and all(map(lambda a, b: a is b, optimizer.velocity, arrays))
    for v, kept in zip(optimizer.velocity, values):
        np.testing.assert_array_equal(v, kept)
    for p, kept in zip(net.parameters(), data):
        np.testing.assert_array_equal(p.data, kept)


# -- float32 and a learning rate beyond its range: both training paths -------------------------------


def data32(n=20):
    rng = np.random.default_rng(0)
    return rng.random((4, n)).astype(np.float32), np.eye(3, dtype=np.float32)[:, rng.integers(0, 3, n)]


@pytest.mark.parametrize("kind", list(OPTIMIZERS))
@pytest.mark.parametrize("fused", [False, None])
def test_float32_with_an_eta_beyond_its_range_diverges_and_changes_nothing(kind, fused):
    net = bp.mlp([4, 5, 3], rng=0, dtype=np.float32)
    optimizer = OPTIMIZERS[kind](net.parameters(), 1e39)  # a float64 number, infinite in float32
    before = snapshot(net, optimizer)
    if NUMPY_1 and (fused is False or kind != "SGD"):  # the module path (only plain SGD is fused)
        # numpy 1.x computes eta * grad in float64 (a Python float too large for float32 promotes the
        # product), so a step is finite until a parameter itself would leave float32's range: either the
        # run diverges at that mini-batch with the last good parameters, or every parameter stays finite.
        try:
            bp.train(net, data32(), optimizer=optimizer, epochs=1, mini_batch_size=5, rng=0, verbose=False,
                     fused=fused)  # fmt: skip
        except bp.DivergedError as err:
            assert "overflow" in str(err)
        assert all(np.isfinite(p.data).all() for p in net.parameters())
        return
    with pytest.raises(bp.DivergedError, match=r"epoch 0, mini-batch 0\b.*overflow"):
        bp.train(net, data32(), optimizer=optimizer, epochs=1, mini_batch_size=5, rng=0, verbose=False, fused=fused)
    assert_unchanged(net, optimizer, before)


NUMPY_1 = np.lib.NumpyVersion(np.__version__) < "2.0.0"  # value-based casting of Python scalars (before NEP 50)


def test_float32_sgd_just_inside_its_range_trains_the_same_on_both_paths():
    results = []
    for fused in (False, True):
        net = bp.mlp([4, 5, 3], rng=0, dtype=np.float32)
        bp.train(net, data32(), optimizer=bp.SGD(net.parameters(), eta=3.0), epochs=2, mini_batch_size=5, rng=0,
                 verbose=False, fused=fused)  # fmt: skip
        results.append([p.data.copy() for p in net.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_both_paths_refuse_the_same_step_at_the_shared_limit(monkeypatch):
    """With the limit moved down to 4, the step that first takes a weight to 4 or beyond is refused by both."""
    X, Y = data32(40)
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    monkeypatch.setattr(_checks, "HEADROOM", 4.0 / float(np.finfo(np.float64).max))
    outcomes = []
    for fused in (False, True):
        net = bp.mlp([4, 5, 3], rng=0)
        with pytest.raises(bp.DivergedError) as err:
            bp.train(net, (X, Y), optimizer=bp.SGD(net.parameters(), eta=12.0), epochs=30, mini_batch_size=4, rng=0,
                     verbose=False, fused=fused)  # fmt: skip
        assert "overflow" in str(err.value)
        outcomes.append((err.value.epoch, err.value.mini_batch, [p.data.copy() for p in net.parameters()]))
        assert all(np.abs(p.data).max() < 4 for p in net.parameters())
    (e1, k1, p1), (e2, k2, p2) = outcomes
    assert (e1, k1) == (e2, k2) and e1 > 0  # a step many steps in, not the first one
    for a, b in zip(p1, p2):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_large_finite_parameters_whose_squares_sum_past_the_float_range_still_step():
    """Two parameters of 1e154 are far inside the limit, though their squares add up to 2e308 (inf)."""
    a, b = bp.Parameter(np.full((1, 1), 1e154)), bp.Parameter(np.full((1, 1), -1e154))
    optimizer = bp.SGD([a, b], eta=1.0)
    a.grad[...] = 1e140
    optimizer.step()
    assert a.data[0, 0] == 1e154 - 1e140 and b.data[0, 0] == -1e154
