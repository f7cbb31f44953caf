"""The fused epoch (minibp/fast.py) computes what the modules compute.

For every combination the fused path accepts, `train(fused=True)` and
`train(fused=False)` start from the same parameters, see the same
mini-batches, and must end with the same parameters: the largest difference
relative to the largest parameter entry is at most 1e-12 in float64 and 1e-5
in float32 after at least 100 steps at eta = 3 on the bundled digits, or 16
times the difference that moving every initial parameter by one unit in the
last place makes to the module path's own result, where that is larger. Any
two correct computations that round differently (another BLAS kernel on
another CPU, or the fused path's other order of sums) differ by a few ulp per
step, so their trajectories drift apart as a one-ulp nudge does; the test
measures that drift instead of assuming it from one machine. Measured here for
[784, 100, 10] at m = 10: 2e-14 (float64) and 1e-5 (float32).

One setting is chaotic, measured rather than assumed: with m = 1 at eta = 3
the training trajectory amplifies any rounding difference. Moving every
initial parameter of the module path by one unit in the last place changes its
own parameters after 100 steps by 4e-2 (float32) and 1e-11 (float64),
relative, so two correct computations that round differently (another BLAS
kernel on another CPU, or the fused path's other order of sums) cannot be held
to 1e-12 after 100 steps. There, in both dtypes, the paths are compared step by
step: before each of the 100 steps both are given the same parameters, and
each single step must agree to the tolerance above.

The paths also fail alike: the same typed errors, divergence at the same
mini-batch, the parameters of the last good step.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import minibp as bp
from minibp import fast
from minibp.costs import SigmoidCrossEntropyCost, SoftmaxLogLikelihoodCost
from minibp.data import load_sample

SAMPLE = load_sample()
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


def build(sizes, hidden, ending, dtype, seed=3, init="book"):
    """A Sequential of Dense layers: ``hidden`` after each but the last; ``ending`` after the last (or none)."""
    rng = np.random.default_rng(seed)
    modules: list[bp.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        modules.append(bp.Dense(n_in, n_out, rng=rng, dtype=dtype, init=init))
        last = i == len(sizes) - 2
        if not last:
            modules.append(hidden())
        elif ending is not None:
            modules.append(ending())
    return bp.Sequential(*modules)


def train_both(make_net, cost_type, *, m, n, epochs, eta=3.0, lmbda=0.0, dtype=np.float64):
    """Train identical networks fused and through the modules, and the modules once more from parameters one ulp
    away; return the three (the third measures how far rounding alone moves this trajectory)."""
    X, y = SAMPLE.training[0][:, :n], SAMPLE.training[1][:n]
    nets = []
    for fused, nudge in ((True, False), (False, False), (False, True)):
        net = make_net()
        if nudge:
            for p in net.parameters():
                p.data = np.nextafter(p.data, np.inf)
        regularization = bp.L2(net, lmbda=lmbda, n=n) if lmbda else None
        bp.train(
            net,
            (X, y),
            optimizer=bp.SGD(net.parameters(), eta=eta),
            cost=cost_type(),
            epochs=epochs,
            mini_batch_size=m,
            rng=11,
            verbose=False,
            progress=False,
            regularization=regularization,
            fused=fused,
        )
        nets.append(net)
    return nets


def relative_difference(net, other):
    """max over parameters of |net - other|_inf / |other|_inf."""
    return max(
        float(np.abs(p.data - q.data).max()) / float(np.abs(q.data).max())
        for p, q in zip(net.parameters(), other.parameters())
    )


def assert_same_parameters(fused_net, module_net, dtype, nudged_net=None):
    """The paths agree to TOLERANCE, or to 16 times what one ulp of the initial parameters moves the trajectory."""
    tolerance = TOLERANCE[dtype]
    if nudged_net is not None:
        tolerance = max(tolerance, 16 * relative_difference(nudged_net, module_net))
    start = None
    for (name, p), q in zip(fused_net.named_parameters(), module_net.parameters()):
        assert np.isfinite(p.data).all(), name
        scale = float(np.abs(q.data).max())
        difference = float(np.abs(p.data - q.data).max()) / scale
        assert difference <= tolerance, f"{name}: |fused - modules|_inf / |w|_inf = {difference:.2e} > {tolerance:.2e}"
        start = start or name
    assert start is not None


# m and the number of examples: at least 100 steps each; "uneven" leaves a last mini-batch of 5.
BATCHES = {"m=1": (1, 100, 1), "m=10": (10, 1000, 1), "m=100": (100, 4000, 3), "uneven": (10, 995, 1)}
SIZES = {"[784, 30, 10]": [784, 30, 10], "[784, 100, 10]": [784, 100, 10], "[784, 30, 20, 10]": [784, 30, 20, 10]}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("batches", list(BATCHES))
@pytest.mark.parametrize("sizes", list(SIZES))
def test_the_books_networks_train_to_the_same_parameters(sizes, batches, dtype):
    m, n, epochs = BATCHES[batches]
    if m == 1:  # chaotic: see the module docstring
        return step_by_step(SIZES[sizes], dtype, steps=n)
    assert math.ceil(n / m) * epochs >= 100
    make = lambda: build(SIZES[sizes], bp.Sigmoid, bp.Sigmoid, dtype)  # noqa: E731
    nets = train_both(make, bp.QuadraticCost, m=m, n=n, epochs=epochs)
    assert_same_parameters(nets[0], nets[1], dtype, nets[2])
    assert nets[0][0].w.data.dtype == dtype


def step_by_step(sizes, dtype, steps):
    """Compare single steps of m = 1 along the module path's trajectory (see the module docstring)."""
    X, y = SAMPLE.training[0], SAMPLE.training[1]
    fused_net, module_net = (build(sizes, bp.Sigmoid, bp.Sigmoid, dtype) for _ in range(2))
    optimizers = [bp.SGD(net.parameters(), eta=3.0) for net in (fused_net, module_net)]
    for k in range(steps):
        fused_net.load_state_dict(module_net.state_dict())
        for net, optimizer, fused in ((fused_net, optimizers[0], True), (module_net, optimizers[1], False)):
            bp.train(net, (X[:, [k]], y[[k]]), optimizer=optimizer, epochs=1, mini_batch_size=1, verbose=False,
                     fused=fused)  # fmt: skip
        assert_same_parameters(fused_net, module_net, dtype)
    assert np.abs(module_net[0].w.data - build(sizes, bp.Sigmoid, bp.Sigmoid, dtype)[0].w.data).max() > 1e-3


ENDINGS = {  # the output activation, the cost, and a factor on eta
    "Sigmoid + QuadraticCost": (bp.Sigmoid, bp.QuadraticCost, 1.0),
    "Dense + SigmoidCrossEntropyCost": (None, SigmoidCrossEntropyCost, 0.1),
    "Dense + SoftmaxLogLikelihoodCost": (None, SoftmaxLogLikelihoodCost, 0.1),
}
HIDDEN = {"Sigmoid": (bp.Sigmoid, 3.0, "book"), "Tanh": (bp.Tanh, 0.1, "scaled"), "ReLU": (bp.ReLU, 0.1, "he")}
HIDDEN["Identity"] = (bp.Identity, 0.01, "scaled")


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("lmbda", [0.0, 5.0], ids=["no L2", "L2"])
@pytest.mark.parametrize("ending", list(ENDINGS))
@pytest.mark.parametrize("hidden", list(HIDDEN))
def test_every_accepted_combination_trains_to_the_same_parameters(hidden, ending, lmbda, dtype):
    activation, eta, init = HIDDEN[hidden]
    last, cost_type, factor = ENDINGS[ending]
    nets = train_both(
        lambda: build([784, 30, 20, 10], activation, last, dtype, init=init),
        cost_type,
        m=10,
        n=1000,
        epochs=1,
        eta=eta * factor,
        lmbda=lmbda,
        dtype=dtype,
    )
    assert_same_parameters(nets[0], nets[1], dtype, nets[2])
    moved = np.abs(nets[0][0].w.data - build([784, 30, 20, 10], activation, last, dtype, init=init)[0].w.data).max()
    assert moved > 1e-3  # the run really trained


def test_both_paths_leave_every_gradient_zeroed():
    for fused in (True, False):
        net = build([784, 30, 10], bp.Sigmoid, bp.Sigmoid, np.float64)
        for p in net.parameters():
            p.grad = np.ones(p.shape)  # left over from the user's own experiments
        X, y = SAMPLE.training[0][:, :50], SAMPLE.training[1][:50]
        bp.train(net, (X, y), optimizer=bp.SGD(net.parameters(), eta=3.0), epochs=1, mini_batch_size=10,
                 rng=0, verbose=False, fused=fused)  # fmt: skip
        assert not any(p.grad.any() for p in net.parameters())


class MySigmoid(bp.Sigmoid):
    """A subclass: it might compute anything, so the fused path must not assume it is a Sigmoid."""


REFUSED = {
    "Dropout": (
        lambda: bp.Sequential(bp.Dense(784, 30), bp.Sigmoid(), bp.Dropout(0.1), bp.Dense(30, 10), bp.Sigmoid()),
        "module 2 \\(Dropout",
    ),  # fmt: skip
    "a subclass": (lambda: bp.Sequential(bp.Dense(784, 10), MySigmoid()), "module 1 \\(MySigmoid"),
    "not a Sequential": (lambda: bp.Dense(784, 10), "the network is a Dense, not a Sequential"),
    "a Softmax": (lambda: bp.Sequential(bp.Dense(784, 10), bp.Softmax()), "module 1 \\(Softmax"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_fused_true_names_what_does_not_qualify_and_verbose_says_which_path_runs(case, capsys):
    make, reason = REFUSED[case]
    X, y = SAMPLE.training[0][:, :20], SAMPLE.training[1][:20]
    net = make()
    with pytest.raises(ValueError, match="fused path does not accept this run: " + reason):
        bp.train(net, (X, y), optimizer=bp.SGD(net.parameters(), eta=1.0), epochs=1, mini_batch_size=10, fused=True)
    bp.train(net, (X, y), optimizer=bp.SGD(net.parameters(), eta=1.0), epochs=1, mini_batch_size=10, rng=0)
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("Training with the modules' forward and backward (")
    assert reason.replace("\\", "").split(" (")[0] in first


def test_settings_the_fused_path_does_not_take_are_refused_by_name():
    net = build([784, 30, 10], bp.Sigmoid, bp.Sigmoid, np.float64)
    sgd = bp.SGD(net.parameters(), eta=1.0)
    cases = [
        (net, bp.CrossEntropyCost(), sgd, [], "the cost CrossEntropyCost"),
        (net, bp.QuadraticCost(), bp.Momentum(net.parameters(), eta=1.0), [], "not plain SGD"),
        (net, bp.QuadraticCost(), bp.SGD(net.parameters()[:2], eta=1.0), [], "not exactly net.parameters"),
        (net, bp.QuadraticCost(), sgd, [bp.WeightDecay(net, wd=0.1)], "not the book's L2"),
        (net, bp.QuadraticCost(), sgd, [bp.L2([net[0].w], lmbda=1.0, n=10)], "exactly the Dense"),
        (build([784, 30, 10], bp.Sigmoid, None, np.float64), bp.QuadraticCost(), sgd, [], "ends in a Dense"),
    ]
    for network, cost, optimizer, regularizers, reason in cases:
        plan, why = fast.plan(network, cost, optimizer, regularizers)
        assert plan is None and reason in why, why
    square = bp.mlp([784, 30, 30, 30], rng=0)
    square[4].w = square[2].w  # tied weights: one Parameter in two layers
    plan, why = fast.plan(square, bp.QuadraticCost(), bp.SGD(square.parameters(), eta=1.0), [])
    assert plan is None and "held twice" in why


def test_a_cost_of_z_after_an_activation_is_refused_with_the_fix():
    net = build([784, 10], bp.Sigmoid, bp.Sigmoid, np.float64)
    X, y = SAMPLE.training[0][:, :20], SAMPLE.training[1][:20]
    for fused in (None, False):
        with pytest.raises(ValueError, match="ends in Sigmoid: remove the final Sigmoid"):
            bp.train(net, (X, y), optimizer=bp.SGD(net.parameters(), eta=1.0), cost=SigmoidCrossEntropyCost(),
                     epochs=1, mini_batch_size=10, fused=fused)  # fmt: skip


def diverging_run(fused, eta, make_net, X, y, cost):
    net = make_net()
    before = [p.data.copy() for p in net.parameters()]
    with pytest.raises(bp.DivergedError) as info:
        bp.train(net, (X, y), optimizer=bp.SGD(net.parameters(), eta=eta), cost=cost, epochs=5, mini_batch_size=2,
                 rng=1, verbose=False, fused=fused)  # fmt: skip
    return net, before, info.value


def test_a_non_finite_cost_stops_both_paths_at_the_same_mini_batch_with_the_same_parameters():
    X, y = SAMPLE.training[0][:, :40], SAMPLE.training[1][:40]
    make = lambda: build([784, 30, 10], bp.Identity, None, np.float64, init="book")  # noqa: E731
    runs = [diverging_run(fused, 1e30, make, X, y, SoftmaxLogLikelihoodCost()) for fused in (True, False)]
    (fused_net, start, fused_error), (module_net, _, module_error) = runs
    assert (fused_error.epoch, fused_error.mini_batch) == (module_error.epoch, module_error.mini_batch)
    assert str(fused_error) == str(module_error) and "the cost is" in str(fused_error)
    assert (fused_error.epoch, fused_error.mini_batch) != (0, 0)  # some steps succeeded first
    for p, q in zip(fused_net.parameters(), module_net.parameters()):
        assert np.isfinite(p.data).all()
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=0)
    assert any((p.data != s).any() for p, s in zip(fused_net.parameters(), start))


def test_an_infinite_gradient_with_a_finite_cost_stops_both_paths_before_the_update():
    # z = 1e300 * (1e-300 * x) = 1e10: a finite cost, but dC/dw of the first layer = (1e300 / m) x overflows.
    X = np.full((1, 4), 1e10)
    y = np.zeros((1, 4))

    def make():
        first, second = bp.Dense(1, 1, rng=0), bp.Dense(1, 1, rng=0)
        first.w.data, first.b.data, second.w.data, second.b.data = [[1e-300]], [[0.0]], [[1e300]], [[0.0]]
        return bp.Sequential(first, bp.Identity(), second)

    runs = [diverging_run(fused, 1.0, make, X, y, SigmoidCrossEntropyCost()) for fused in (True, False)]
    (fused_net, start, fused_error), (module_net, _, module_error) = runs
    assert (fused_error.epoch, fused_error.mini_batch) == (module_error.epoch, module_error.mini_batch) == (0, 0)
    assert "gradient" in str(fused_error) and "gradient" in str(module_error)
    for p, q, s in zip(fused_net.parameters(), module_net.parameters(), start):
        np.testing.assert_array_equal(p.data, s)  # nothing was updated
        np.testing.assert_array_equal(q.data, s)


@pytest.mark.parametrize("fused", [True, False])
def test_bad_input_gets_the_same_typed_error_on_both_paths(fused):
    net = build([784, 30, 10], bp.Sigmoid, bp.Sigmoid, np.float64)
    X, y = SAMPLE.training[0][:, :20], SAMPLE.training[1][:20]
    optimizer = bp.SGD(net.parameters(), eta=1.0)
    with pytest.raises(bp.LabelError, match="label 10"):
        bp.train(net, (X, np.full(20, 10)), optimizer=optimizer, epochs=1, mini_batch_size=10, fused=fused)
    with pytest.raises(bp.ShapeError, match="784"):
        bp.train(net, (X[:700], y), optimizer=optimizer, epochs=1, mini_batch_size=10, fused=fused)
    bad = X.copy()
    bad[3, 4] = np.nan
    with pytest.raises(bp.NonFiniteError, match=r"\(3, 4\)"):
        bp.train(net, (bad, y), optimizer=optimizer, epochs=1, mini_batch_size=10, fused=fused)


def _freeze(net):
    """Replace ``net[0].backward`` on the instance: pass the gradient on, add nothing to w and b (a frozen layer)."""
    layer = net[0]
    layer.backward = lambda grad_output: layer.w.data.T @ grad_output
    return net


def _clip(optimizer):
    """Wrap ``optimizer.step`` on the instance: scale the gradients to a 2-norm of at most 0.1 first."""
    plain_step = optimizer.step

    def step(*args, **kwargs):
        for p in optimizer.parameters:
            norm = float(np.linalg.norm(p.grad))
            if norm > 0.1:
                p.grad *= 0.1 / norm
        return plain_step(*args, **kwargs)

    optimizer.step = step
    return optimizer


def _halve_cost_gradient(cost):
    plain_backward = cost.backward
    cost.backward = lambda: plain_backward() / 2
    return cost


def _double_l2_gradient(l2):
    l2.add_gradient = lambda: [p.grad.__iadd__(2 * l2.lmbda / l2.n * p.data) for p in l2.weights]
    return l2


def _leaky_sigmoid(net):
    sigmoid = net[1]
    plain_forward, plain_backward = sigmoid.forward, sigmoid.backward
    sigmoid.forward = lambda x: plain_forward(x) + 0.01 * x
    sigmoid.backward = lambda g: plain_backward(g) + 0.01 * g
    return net


OVERRIDDEN = {  # what a user replaces on an instance, and the method the fallback names
    "a frozen Dense": (lambda net, opt, cost, l2: (_freeze(net), opt, cost, l2), "'backward'"),
    "gradient clipping": (lambda net, opt, cost, l2: (net, _clip(opt), cost, l2), "'step'"),
    "a cost's backward": (lambda net, opt, cost, l2: (net, opt, _halve_cost_gradient(cost), l2), "'backward'"),
    "an L2's add_gradient": (lambda net, opt, cost, l2: (net, opt, cost, _double_l2_gradient(l2)), "'add_gradient'"),
    "an activation": (lambda net, opt, cost, l2: (_leaky_sigmoid(net), opt, cost, l2), "'forward'"),
}


@pytest.mark.parametrize("case", list(OVERRIDDEN))
def test_a_method_replaced_on_an_instance_falls_back_and_trains_as_the_modules_do(case, capsys):
    override, named = OVERRIDDEN[case]
    X, y = SAMPLE.training[0][:, :200], SAMPLE.training[1][:200]
    results = []
    for fused in (None, False):
        net = build([784, 30, 10], bp.Sigmoid, bp.Sigmoid, np.float64)
        net, optimizer, cost, l2 = override(net, bp.SGD(net.parameters(), eta=3.0), bp.QuadraticCost(),
                                            bp.L2(net, lmbda=5.0, n=200))  # fmt: skip
        bp.train(net, (X, y), optimizer=optimizer, cost=cost, epochs=2, mini_batch_size=10, rng=0, regularization=l2,
                 progress=False, fused=fused)  # fmt: skip
        first = capsys.readouterr().out.splitlines()[0]
        results.append(net)
    assert first.startswith("Training with the modules' forward and backward (fused=False)")
    for p, q in zip(*(net.parameters() for net in results)):
        np.testing.assert_array_equal(p.data, q.data)  # the same computation: bit for bit
    net = build([784, 30, 10], bp.Sigmoid, bp.Sigmoid, np.float64)
    net, optimizer, cost, l2 = override(net, bp.SGD(net.parameters(), eta=3.0), bp.QuadraticCost(),
                                        bp.L2(net, lmbda=5.0, n=200))  # fmt: skip
    plan, why = fast.plan(net, cost, optimizer, [l2])
    assert plan is None and f"its method {named} replaced on the instance" in why, why
