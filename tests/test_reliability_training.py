"""Reliability of the core under bad settings, overflow, interruption and misuse.

Each test is a class of failures a hostile pass found, tested as a class: every built-in
optimizer, both training paths, every module and cost where the failure applies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minibp as bp
from minibp.costs import SigmoidCrossEntropyCost, SoftmaxLogLikelihoodCost

RNG = np.random.default_rng(5)
X = RNG.random((6, 60))
LABELS = RNG.integers(0, 3, 60)


def relu_softmax_net():
    return bp.Sequential(bp.Dense(6, 8, rng=0, init="he"), bp.ReLU(), bp.Dense(8, 3, rng=1))


# -- 2. a diverging run leaves nothing damaged ----------------------------------------------------


@pytest.mark.parametrize("fused", [True, False])
def test_a_huge_learning_rate_stops_with_every_parameter_as_after_the_last_good_step(fused):
    net, start = relu_softmax_net(), None
    start = [p.data.copy() for p in net.parameters()]
    with pytest.raises(bp.DivergedError) as info:
        bp.train(net, (X, LABELS), optimizer=bp.SGD(net.parameters(), eta=1e300), cost=SoftmaxLogLikelihoodCost(),
                 epochs=3, mini_batch_size=10, rng=0, verbose=False, fused=fused)  # fmt: skip
    assert all(np.isfinite(p.data).all() for p in net.parameters())  # 48 of 163 entries were +-inf before
    if info.value.mini_batch == 0 and info.value.epoch == 0:
        for p, s in zip(net.parameters(), start):
            np.testing.assert_array_equal(p.data, s)


def test_both_paths_refuse_the_same_overflowing_step():
    errors, nets = [], []
    for fused in (True, False):
        net = relu_softmax_net()
        with pytest.raises(bp.DivergedError) as info:
            bp.train(net, (X, LABELS), optimizer=bp.SGD(net.parameters(), eta=1e306), cost=SoftmaxLogLikelihoodCost(),
                     epochs=3, mini_batch_size=10, rng=0, verbose=False, fused=fused)  # fmt: skip
        errors.append((info.value.epoch, info.value.mini_batch))
        nets.append(net)
    assert errors[0] == errors[1]
    for p, q in zip(nets[0].parameters(), nets[1].parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-12, atol=0)


OPTIMIZERS = {
    "SGD": lambda ps: bp.SGD(ps, eta=1e300),
    "Momentum": lambda ps: bp.Momentum(ps, eta=1e300, mu=0.9),
    "Nesterov": lambda ps: bp.Nesterov(ps, eta=1e300, mu=0.9),
    "Adam": lambda ps: bp.Adam(ps, eta=1e300),
}


@pytest.mark.parametrize("kind", list(OPTIMIZERS))
@pytest.mark.parametrize("gradient", [1e10, 1e200])
def test_a_step_that_would_overflow_a_parameter_or_the_state_changes_nothing(kind, gradient):
    net = bp.mlp([3, 2], rng=0)
    optimizer = OPTIMIZERS[kind](net.parameters())
    before = [p.data.copy() for p in net.parameters()]
    state = optimizer.state_dict()
    for p in net.parameters():
        p.grad = np.full(p.shape, gradient)
    with pytest.raises(bp.NonFiniteError, match=rf"{kind}\.step: the update of .* would overflow"):
        optimizer.step()
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.data, b)
    after = optimizer.state_dict()
    for key, value in state.items():
        np.testing.assert_array_equal(after[key], value)


def test_an_adam_state_that_would_overflow_stops_training():
    layer = bp.Dense(1, 1, rng=0)
    layer.w.data, layer.b.data = [[1e-160]], [[0.0]]
    net = bp.Sequential(layer)  # z = 1e-160 x = 1: a small cost, but dC/dw = 1e160 and its square overflows
    start = [p.data.copy() for p in net.parameters()]
    with pytest.raises(bp.DivergedError, match="second moment of parameter 0"):
        bp.train(net, (np.full((1, 20), 1e160), np.zeros((1, 20))), optimizer=bp.Adam(net.parameters()),
                 epochs=1, mini_batch_size=10, verbose=False)  # fmt: skip
    for p, s in zip(net.parameters(), start):
        np.testing.assert_array_equal(p.data, s)


@pytest.mark.parametrize(
    "make,name,bad",
    [
        (lambda ps: bp.SGD(ps, eta=1.0), "eta", [True, -5, float("nan"), float("inf"), 0, "3", None]),
        (lambda ps: bp.Momentum(ps, eta=1.0), "mu", [True, -0.1, 1.0, float("nan")]),
        (lambda ps: bp.Nesterov(ps, eta=1.0), "eta", [False, -1e-3]),
        (lambda ps: bp.Adam(ps), "beta2", [1.0, -0.5, float("nan")]),
        (lambda ps: bp.Adam(ps), "epsilon", [0.0, float("inf"), True]),
    ],
)
def test_every_hyperparameter_is_checked_on_assignment(make, name, bad):
    optimizer = make(bp.mlp([2, 1], rng=0).parameters())
    good = getattr(optimizer, name)
    for value in bad:
        with pytest.raises(bp.HyperparameterError, match=name):
            setattr(optimizer, name, value)
        assert getattr(optimizer, name) == good


# -- 3. no numpy warning escapes -----------------------------------------------------------------


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("make", [lambda: bp.mlp([6, 4, 3], rng=0), relu_softmax_net])
def test_inputs_near_the_largest_float_end_in_a_typed_error_or_a_clean_result(make, fused):
    net = make()
    cost = bp.QuadraticCost() if isinstance(net[-1], bp.Sigmoid) else SoftmaxLogLikelihoodCost()
    huge = np.full((6, 20), 1e308)  # under warnings as errors, any numpy warning would fail this test
    try:
        history = bp.train(net, (huge, LABELS[:20]), optimizer=bp.SGD(net.parameters(), eta=3.0), cost=cost,
                           epochs=1, mini_batch_size=10, verbose=False, fused=fused)  # fmt: skip
    except bp.DivergedError:
        pass
    else:
        assert np.isfinite(history.training_cost).all()
    assert all(np.isfinite(p.data).all() for p in net.parameters())
    linear = bp.mlp([6, 3], rng=0, activation=bp.Identity)
    linear[0].w.data = np.ones((3, 6))  # z = 6e308: infinite
    for evaluate in (bp.evaluate, bp.accuracy):
        with pytest.raises(bp.NonFiniteError, match="output for example 0"):
            evaluate(linear, huge, LABELS[:20])
    with pytest.raises(bp.NonFiniteError, match="output for example 0"):
        bp.predict(linear, huge)


@pytest.mark.parametrize("z", [np.inf, -np.inf, 1e308, -1e308])
@pytest.mark.parametrize("cost_type", [SoftmaxLogLikelihoodCost, SigmoidCrossEntropyCost])
def test_costs_of_z_give_clean_results_at_infinity(cost_type, z):
    cost = cost_type()
    value = cost(np.array([[z], [0.0]]), np.array([[1.0], [0.0]]))
    assert not np.isnan(value)
    assert np.isfinite(cost.backward()).all()


def test_train_under_pythonwarnings_error_raises_typed_errors_only():
    script = textwrap.dedent(
        """
        import numpy as np, minibp as bp
        for eta, X in ((3.0, np.full((6, 20), 1e308)), (1e300, np.linspace(0, 1, 120).reshape(6, 20))):
            net = bp.Sequential(bp.Dense(6, 8, rng=0, init="he"), bp.ReLU(), bp.Dense(8, 3, rng=1))
            try:
                bp.train(net, (X, np.arange(20) % 3), optimizer=bp.SGD(net.parameters(), eta=eta),
                         cost=bp.SoftmaxLogLikelihoodCost(), epochs=2, mini_batch_size=10, verbose=False)
                print("clean")
            except bp.MinibpError as err:
                print("typed", type(err).__name__)
        """
    )
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr  # a bare RuntimeWarning would be an uncaught exception here
    assert done.stdout.split("\n")[1] == "typed DivergedError" and "Warning" not in done.stderr


# -- 4. interrupting never corrupts --------------------------------------------------------------


class InterruptingSGD(bp.SGD):
    """Sends itself Ctrl-C in the middle of its k-th update; remembers the parameters after each update."""

    def __init__(self, parameters, eta, k, twice=False):
        super().__init__(parameters, eta)
        self.k, self.twice, self.calls, self.snapshots = k, twice, 0, []

    def update(self):
        for i, p in enumerate(self.parameters):
            p.data -= self.eta * p.grad
            if self.calls == self.k and i == 0:
                os.kill(os.getpid(), signal.SIGINT)  # between the first and the second parameter's update
                if self.twice:
                    os.kill(os.getpid(), signal.SIGINT)
        self.calls += 1
        self.snapshots.append([p.data.copy() for p in self.parameters])


def test_ctrl_c_stops_at_a_mini_batch_boundary_with_every_step_whole():
    net = bp.mlp([6, 5, 3], rng=0)
    optimizer = InterruptingSGD(net.parameters(), eta=0.5, k=7)
    history = bp.train(net, (X, LABELS), optimizer=optimizer, epochs=3, mini_batch_size=5, rng=0, verbose=False)
    assert optimizer.calls == 8  # the interrupted step was finished, no further one was started
    for p, s in zip(net.parameters(), optimizer.snapshots[-1]):
        np.testing.assert_array_equal(p.data, s)
    assert history.stop_reason == "interrupted (Ctrl-C) in epoch 0 after 40 of 60 examples"
    assert history.epoch == [0] and np.isfinite(history.training_cost[0])
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_ctrl_c_at_a_fused_mini_batch_boundary(monkeypatch):
    net = bp.mlp([6, 5, 3], rng=0)
    calls = []
    train_module = sys.modules["minibp.train"]
    original = train_module.minibatch_indices

    def batches(n, m, rng):
        for k, idx in enumerate(original(n, m, rng)):
            if k == 3:
                os.kill(os.getpid(), signal.SIGINT)
            calls.append(k)
            yield idx

    monkeypatch.setattr(train_module, "minibatch_indices", batches)
    history = bp.train(net, (X, LABELS), optimizer=bp.SGD(net.parameters(), eta=0.5), epochs=2, mini_batch_size=5,
                       rng=0, verbose=False, fused=True)  # fmt: skip
    assert history.stop_reason == "interrupted (Ctrl-C) in epoch 0 after 15 of 60 examples"
    assert all(np.isfinite(p.data).all() for p in net.parameters())


def test_a_second_ctrl_c_interrupts_at_once():
    net = bp.mlp([6, 5, 3], rng=0)
    optimizer = InterruptingSGD(net.parameters(), eta=0.5, k=2, twice=True)
    with pytest.raises(KeyboardInterrupt):
        bp.train(net, (X, LABELS), optimizer=optimizer, epochs=1, mini_batch_size=5, rng=0, verbose=False)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# -- 8. no silently wrong answer -----------------------------------------------------------------


def test_one_module_instance_used_twice_anywhere_is_refused_at_construction():
    sigmoid = bp.Sigmoid()
    with pytest.raises(ValueError, match=r"Sigmoid\(\) is used twice, as 1 and as 3.*Parameter"):
        bp.Sequential(bp.Dense(3, 3, rng=0), sigmoid, bp.Dense(3, 3, rng=1), sigmoid)
    dense = bp.Dense(3, 3, rng=0)
    inner = bp.Sequential(dense, bp.Sigmoid())
    with pytest.raises(ValueError, match=r"Dense\(3, 3\) is used twice, as 0\.0 and as 1\.0"):
        bp.Sequential(inner, bp.Sequential(dense, bp.Tanh()))
    with pytest.raises(ValueError, match="used twice, as 0 and as 1"):
        bp.Sequential(inner, inner)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_evaluate_and_predict_refuse_a_network_with_non_finite_parameters(bad):
    net = bp.mlp([6, 3], rng=0)
    net[0].w.data[1, 2] = bad
    for call in (lambda: bp.evaluate(net, X, LABELS), lambda: bp.accuracy(net, X, LABELS), lambda: bp.predict(net, X)):
        with pytest.raises(
            bp.NonFiniteError, match=r"parameter 0\.w contains non-finite values \(first at index \(1, 2\)"
        ):
            call()


# -- 9. consistent validation --------------------------------------------------------------------

MODULES = [bp.Dense(3, 3, rng=0), bp.Sigmoid(), bp.Tanh(), bp.ReLU(), bp.Identity(), bp.Softmax(),
           bp.Dropout(0.5, rng=0)]  # fmt: skip


@pytest.mark.parametrize("module", MODULES, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("dtype", [complex, object, str])
def test_every_module_refuses_a_gradient_that_is_not_real_numbers(module, dtype):
    net = bp.Sequential(module)  # the container checks what it hands its module
    net(np.ones((3, 2)))
    with pytest.raises(TypeError, match=r"backward expected a real numeric grad_output"):
        net.backward(np.ones((3, 2)).astype(dtype))


@pytest.mark.parametrize("module", MODULES, ids=lambda m: type(m).__name__)
def test_an_empty_mini_batch_is_a_shape_error(module):
    with pytest.raises(bp.ShapeError, match=r"\(3, 0\)"):
        module(np.ones((3, 0)))


@pytest.mark.parametrize("cost_type", [bp.QuadraticCost, bp.CrossEntropyCost, bp.LogLikelihoodCost,
                                       SigmoidCrossEntropyCost, SoftmaxLogLikelihoodCost])  # fmt: skip
def test_every_cost_refuses_an_empty_mini_batch(cost_type):
    with pytest.raises(bp.ShapeError, match="m >= 1"):
        cost_type()(np.zeros((3, 0)), np.zeros((3, 0)))


@pytest.mark.parametrize("cost_type", [bp.CrossEntropyCost, SigmoidCrossEntropyCost])
@pytest.mark.parametrize("target", [-0.5, 2.0, np.nan])
def test_cross_entropy_targets_must_lie_in_0_1(cost_type, target):
    with pytest.raises(ValueError, match=r"targets y must lie in \[0, 1\]"):
        cost_type()(np.full((2, 1), 0.5), np.array([[target], [0.0]]))


@pytest.mark.parametrize("cost_type", [bp.LogLikelihoodCost, SoftmaxLogLikelihoodCost])
def test_log_likelihood_targets_must_not_be_negative(cost_type):
    with pytest.raises(ValueError, match=r"targets y must lie in \[0, inf\), got -1.0"):
        cost_type()(np.array([[0.3], [0.7]]), np.array([[-1.0], [2.0]]))  # a cost of -2.09 before


def test_data_passed_as_rows_gets_the_transpose_hint_before_any_other_error():
    net = bp.mlp([6, 3], rng=0)
    for m in (10, 100):  # also when the mini-batch is larger than the six "examples" the rows look like
        with pytest.raises(bp.ShapeError, match=r"did you pass rows\? use X\.T"):
            bp.train(net, (X.T, LABELS), optimizer=bp.SGD(net.parameters(), eta=1.0), epochs=1, mini_batch_size=m)


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
def test_blas_threads_must_be_a_positive_integer(threads):
    net = bp.mlp([6, 3], rng=0)
    with pytest.raises(bp.HyperparameterError, match="blas_threads"):
        bp.train(net, (X, LABELS), optimizer=bp.SGD(net.parameters(), eta=1.0), epochs=1, mini_batch_size=10,
                 blas_threads=threads)  # fmt: skip


@pytest.mark.parametrize("fused", [True, False])
def test_a_network_with_one_output_trains_on_0_1_labels(fused):
    y = (X[0] > 0.5).astype(int)
    net = bp.mlp([6, 1], rng=0)
    history = bp.train(net, (X, y), optimizer=bp.SGD(net.parameters(), eta=3.0), epochs=20, mini_batch_size=5, rng=0,
                       evaluation_data=(X, y), verbose=False, fused=fused)  # fmt: skip
    assert history.evaluation_correct[-1] == bp.evaluate(net, X, y) >= 50
    with pytest.raises(bp.LabelError, match="one output takes labels 0 and 1"):
        bp.train(net, (X, np.full(60, 2)), optimizer=bp.SGD(net.parameters(), eta=3.0), epochs=1, mini_batch_size=5)


@pytest.mark.parametrize("fused", [None, False])
def test_a_dropout_sharing_the_shuffling_generator_resumes_bit_for_bit(tmp_path, fused):
    def run(epochs, net=None, rng=None, optimizer=None):
        if net is None:
            rng = np.random.default_rng(4)
            net = bp.Sequential(bp.Dense(6, 8, rng=0), bp.Sigmoid(), bp.Dropout(0.3, rng=rng), bp.Dense(8, 3, rng=1))
            optimizer = bp.SGD(net.parameters(), eta=0.5)
        bp.train(net, (X, LABELS), optimizer=optimizer, epochs=epochs, mini_batch_size=8, rng=rng, verbose=False,
                 fused=fused)  # fmt: skip
        return net, rng, optimizer

    straight, _, _ = run(3)
    first, rng, optimizer = run(2)
    assert first[2].rng is rng  # one generator: the masks and the shuffles interleave
    bp.save(first, tmp_path / "m.npz", optimizer=optimizer, rng=rng)
    ckpt = bp.load_checkpoint(tmp_path / "m.npz")
    assert ckpt.net[2].rng is ckpt.rng  # the file says so, and the generator is shared again
    optimizer = bp.SGD(ckpt.net.parameters(), eta=0.5)
    optimizer.load_state_dict(ckpt.optimizer_state)
    resumed, _, _ = run(1, ckpt.net, ckpt.rng, optimizer)
    for p, q in zip(straight.parameters(), resumed.parameters()):
        assert p.data.tobytes() == q.data.tobytes()
