"""What the user set up is what trains, checked where the pieces meet: between epochs, in containers, at the targets.

* A callback or the schedule may move a hyper-parameter, swap the optimizer's
  parameters or replace a method on an instance between epochs: ``fused=None``
  trains exactly what ``fused=False`` trains (the fused path is planned again
  before each epoch and falls back, saying why, when it no longer fits).
* A Ctrl-C in a callback or in the schedule ends training without recording
  an epoch that did not run; the stop reason says where it came.
"""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
from test_fast import SAMPLE, assert_same_parameters, build

import minibp as bp
from minibp.gradcheck import gradcheck
from minibp.testing import check_module

# -- hyper-parameters moved between epochs: both paths train the same ----------------------------


def _frozen_backward(net):
    layer = net[0]
    layer.backward = lambda grad_output: layer.w.data.T @ grad_output  # passes the gradient on, adds nothing


def _halving_step(optimizer):
    plain_step = optimizer.step

    def step(*args, **kwargs):  # a user's wrapper: half the gradient, then the optimizer's own step
        for p in optimizer.parameters:
            p.grad *= 0.5
        return plain_step(*args, **kwargs)

    optimizer.step = step


MOVES = {  # what a callback does after epoch 0, given (net, optimizer, l2)
    "L2.lmbda": lambda net, opt, l2: setattr(l2, "lmbda", 0.5),
    "L2.n": lambda net, opt, l2: setattr(l2, "n", 20),
    "eta": lambda net, opt, l2: setattr(opt, "eta", 0.5),
    "the optimizer's parameters": lambda net, opt, l2: setattr(opt, "parameters", net.parameters()[2:]),
    "a method replaced": lambda net, opt, l2: _frozen_backward(net),
    "the optimizer's step wrapped": lambda net, opt, l2: _halving_step(opt),
}


class AfterEpoch0:
    def __init__(self, move, net, optimizer, l2):
        self.move, self.net, self.optimizer, self.l2 = move, net, optimizer, l2

    def on_epoch_end(self, epoch, history, net, optimizer):
        if epoch == 0:
            self.move(self.net, self.optimizer, self.l2)


def _train_moved(move, fused, via_schedule=False):
    X, y = SAMPLE.training[0][:, :200], SAMPLE.training[1][:200]
    net = build([784, 30, 10], bp.Sigmoid, bp.Sigmoid, np.float64)
    optimizer = bp.SGD(net.parameters(), eta=3.0)
    l2 = bp.L2(net, lmbda=5.0, n=200)
    callback = AfterEpoch0(move, net, optimizer, l2)
    schedule = None
    if via_schedule:  # the same move made by the schedule before epoch 1
        def schedule(epoch, history):
            if epoch == 1:
                callback.on_epoch_end(0, history, net, optimizer)
            return optimizer.eta

    history = bp.train(net, (X, y), optimizer=optimizer, epochs=3, mini_batch_size=10, rng=0, regularization=l2,
                       callbacks=() if via_schedule else [callback], schedule=schedule, progress=False,
                       fused=fused)  # fmt: skip
    return net, history


@pytest.mark.parametrize("via_schedule", [False, True], ids=["callback", "schedule"])
@pytest.mark.parametrize("move", list(MOVES))
def test_what_a_callback_or_schedule_moves_between_epochs_trains_alike_on_both_paths(move, via_schedule, capsys):
    fused_net, fused_history = _train_moved(MOVES[move], None, via_schedule)
    out = capsys.readouterr().out
    module_net, module_history = _train_moved(MOVES[move], False, via_schedule)
    assert out.startswith("Training with the fused epoch (minibp.fast)")  # the fused path did run epoch 0
    assert_same_parameters(fused_net, module_net, np.float64)
    np.testing.assert_allclose(fused_history.training_cost, module_history.training_cost, rtol=1e-10)
    if move in ("the optimizer's parameters", "a method replaced", "the optimizer's step wrapped"):
        assert "From epoch 1: training with the modules' forward and backward (" in out, out


def test_the_moves_change_the_result():
    """Each move matters: without it, the run ends elsewhere (so the comparison above can fail)."""
    plain, _ = _train_moved(lambda net, opt, l2: None, False)
    for move in MOVES.values():
        moved, _ = _train_moved(move, False)
        assert max(float(np.abs(p.data - q.data).max()) for p, q in zip(plain.parameters(), moved.parameters())) > 1e-3


def test_fused_true_refuses_a_run_a_callback_made_unfusable():
    with pytest.raises(ValueError, match=r"before epoch 1, the fused path no longer accepts the run: .*'backward'"):
        _train_moved(MOVES["a method replaced"], True)


# -- Ctrl-C in a callback or the schedule: no phantom epoch ----------------------------------------

X = np.linspace(0, 1, 6 * 60).reshape(6, 60)
LABELS = np.arange(60) % 3


class CtrlCAfter:
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, epoch, history, net, optimizer):
        if epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGINT)  # deferred: training goes on to the next boundary


def _ctrl_c_schedule(at):
    def schedule(epoch, history):
        if epoch == at:
            os.kill(os.getpid(), signal.SIGINT)
        return 0.5

    return schedule


@pytest.mark.parametrize("fused", [None, False])
@pytest.mark.parametrize(
    "where, reason",
    [
        ({"callbacks": [CtrlCAfter(0)]}, "interrupted (Ctrl-C) in a callback after epoch 0; epoch 1 did not start"),
        ({"callbacks": [CtrlCAfter(1)]}, "interrupted (Ctrl-C) in a callback after epoch 1; epoch 2 did not start"),
        ({"schedule": _ctrl_c_schedule(0)}, "interrupted (Ctrl-C) in the schedule before epoch 0; epoch 0 did not start"),  # noqa: E501
        ({"schedule": _ctrl_c_schedule(2)}, "interrupted (Ctrl-C) in the schedule before epoch 2; epoch 2 did not start"),  # noqa: E501
    ],
    ids=["callback-0", "callback-1", "schedule-0", "schedule-2"],
)
def test_ctrl_c_in_a_callback_or_the_schedule_records_only_epochs_that_ran(where, reason, fused):
    net = bp.mlp([6, 5, 3], rng=0)
    optimizer = bp.SGD(net.parameters(), eta=0.5)
    history = bp.train(net, (X, LABELS), optimizer=optimizer, epochs=4, mini_batch_size=5, rng=0, verbose=False,
                       progress=False, fused=fused, evaluation_data=(X, LABELS), **where)  # fmt: skip
    ran = int(reason.split("epoch ")[-1].split(" ")[0])  # epochs 0 .. ran-1 ran
    assert history.stop_reason == reason
    assert history.epoch == list(range(ran))
    assert len(history.training_cost) == len(history.evaluation_correct) == ran
    assert all(np.isfinite(c) and c > 0 for c in history.training_cost)  # no epoch recorded with a cost of 0.0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# -- the structure as it is when train, gradcheck and check_module run ------------------------------


def _chain():
    return bp.Sequential(bp.Dense(6, 6, rng=0), bp.Sigmoid(), bp.Dense(6, 6, rng=1), bp.Sigmoid(),
                         bp.Dense(6, 3, rng=2), bp.Sigmoid())  # fmt: skip


def _placed_twice_in_sequential():
    net = _chain()
    net.layers[2] = net.layers[0]  # the same Dense at two places, after construction
    return net


def _placed_twice_in_parallel():
    branch = bp.Sequential(bp.Dense(6, 2, rng=3), bp.Sigmoid())
    parallel = bp.Parallel(branch, bp.Sequential(bp.Dense(6, 1, rng=4), bp.Sigmoid()))
    net = bp.Sequential(bp.Dense(6, 6, rng=0), bp.Sigmoid(), parallel)
    parallel.branches.append(branch)  # 2 + 1 + 2 rows: 5 outputs
    return net


def _placed_twice_across_containers():
    net = _chain()
    net.layers[3] = bp.Residual(net.layers[1])  # the Sigmoid at 1 again, inside a Residual
    return net


TWICE = {
    "Sequential.layers": (_placed_twice_in_sequential, 3),
    "Parallel.branches": (_placed_twice_in_parallel, 5),
    "Residual.module": (_placed_twice_across_containers, 3),
}


@pytest.mark.parametrize("fused", [None, False])
@pytest.mark.parametrize("case", list(TWICE))
def test_a_module_placed_twice_after_construction_is_refused_by_train(case, fused):
    make, n_out = TWICE[case]
    net = make()
    before = [p.data.copy() for p in net.parameters()]
    with pytest.raises(ValueError, match=r"(?s)^train: .* is used twice, as \S+ and as \S+; give each place"):
        bp.train(net, (X, np.arange(60) % n_out), optimizer=bp.SGD(net.parameters(), eta=0.5), epochs=1,
                 mini_batch_size=5, verbose=False, progress=False, fused=fused)  # fmt: skip
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.data, b)  # refused before any step


@pytest.mark.parametrize("case", list(TWICE))
def test_a_module_placed_twice_after_construction_is_refused_by_gradcheck_and_check_module(case):
    net = TWICE[case][0]()
    with pytest.raises(ValueError, match=r"(?s)^gradcheck: .* is used twice"):
        gradcheck(net, np.ones((6, 3)))
    with pytest.raises(ValueError, match=r"(?s)^check_module: .* is used twice"):
        check_module(net, (6, 3))


def test_the_same_networks_built_right_pass_gradcheck():
    """The refusal above is of the placing twice, not of the shapes: rebuilt with distinct modules they check out."""
    assert gradcheck(_chain(), np.linspace(-1, 1, 18).reshape(6, 3))


def _parallel_end():
    ends = bp.Parallel(bp.Dense(4, 1, rng=1), bp.Sequential(bp.Dense(4, 2, rng=2), bp.Sigmoid()))
    return bp.Sequential(bp.Dense(6, 4, rng=0), bp.Sigmoid(), ends)


ACTIVATION_ENDS = {  # a network whose output is (partly) an activation's, found through the containers
    "Parallel branch": _parallel_end,
    "nested Sequential then Dropout": lambda: bp.Sequential(
        bp.Dense(6, 3, rng=0), bp.Sequential(bp.Dense(3, 3, rng=1), bp.Softmax()), bp.Dropout(0.5, rng=2)
    ),
    "Identity after Tanh": lambda: bp.Sequential(bp.Dense(6, 3, rng=0), bp.Tanh(), bp.Identity()),
    "Parallel of Sequentials": lambda: bp.Parallel(
        bp.Sequential(bp.Dense(6, 2, rng=0)), bp.Sequential(bp.Dense(6, 1, rng=1), bp.Parallel(bp.ReLU()))
    ),
}


@pytest.mark.parametrize("fused", [None, False])
@pytest.mark.parametrize("cost", [bp.SigmoidCrossEntropyCost, bp.SoftmaxLogLikelihoodCost])
@pytest.mark.parametrize("case", list(ACTIVATION_ENDS))
def test_a_cost_of_z_after_an_activation_inside_a_container_is_refused(case, cost, fused):
    net = ACTIVATION_ENDS[case]()
    with pytest.raises(ValueError, match=r"takes the weighted input z of a final Dense, but the network ends in"):
        bp.train(net, (X, np.arange(60) % 3), optimizer=bp.SGD(net.parameters(), eta=0.5), cost=cost(), epochs=1,
                 mini_batch_size=5, verbose=False, progress=False, fused=fused)  # fmt: skip


@pytest.mark.parametrize("fused", [None, False])
def test_a_residual_whose_body_ends_in_an_activation_outputs_x_plus_f_and_takes_a_cost_of_z(fused):
    net = bp.Sequential(bp.Dense(6, 3, rng=0), bp.Residual(bp.Sequential(bp.Dense(3, 3, rng=1), bp.Sigmoid())))
    history = bp.train(net, (X, LABELS), optimizer=bp.SGD(net.parameters(), eta=0.5), cost=bp.SigmoidCrossEntropyCost(),
                       epochs=2, mini_batch_size=5, rng=0, verbose=False, progress=False, fused=fused)  # fmt: skip
    assert history.epoch == [0, 1] and all(np.isfinite(history.training_cost))


# -- targets outside a cost's range: refused with the data, before the first step ------------------

RESTRICTING = {  # a cost, a network it fits, and a target it refuses
    "CrossEntropyCost": (bp.CrossEntropyCost, lambda: bp.mlp([6, 4, 3], rng=0), 1.5, r"\[0, 1\]"),
    "SigmoidCrossEntropyCost": (
        bp.SigmoidCrossEntropyCost, lambda: bp.Sequential(bp.Dense(6, 4, rng=0), bp.Sigmoid(), bp.Dense(4, 3, rng=1)),
        -0.25, r"\[0, 1\]",
    ),
    "LogLikelihoodCost": (
        bp.LogLikelihoodCost, lambda: bp.Sequential(bp.Dense(6, 3, rng=0), bp.Softmax()), -1.0, r"\[0, inf\)",
    ),
    "SoftmaxLogLikelihoodCost": (
        bp.SoftmaxLogLikelihoodCost, lambda: bp.Sequential(bp.Dense(6, 4, rng=0), bp.Sigmoid(), bp.Dense(4, 3, rng=1)),
        -1.0, r"\[0, inf\)",
    ),
}


def _targets_with_one_bad(bad, example=57):
    targets = np.eye(3)[:, LABELS]  # one-hot, (3, 60)
    targets[1, example] = bad  # in the last mini-batch of 5
    return targets


@pytest.mark.parametrize("fused", [None, False])
@pytest.mark.parametrize("evaluation", [False, True], ids=["training", "evaluation"])
@pytest.mark.parametrize("case", list(RESTRICTING))
def test_a_target_outside_the_costs_range_is_refused_before_the_first_step(case, evaluation, fused):
    cost_type, make, bad, where = RESTRICTING[case]
    net = make()
    before = [p.data.copy() for p in net.parameters()]
    good = np.eye(3)[:, LABELS]
    training, evaluation_data = ((X, good), (X, _targets_with_one_bad(bad))) if evaluation else ((X, _targets_with_one_bad(bad)), None)  # noqa: E501
    what = "train: evaluation_data" if evaluation else "train"
    with pytest.raises(ValueError, match=rf"^{what}: {case}\(\): targets y must lie in {where}, got {bad} \(output 1 of example 57\)"):  # noqa: E501
        bp.train(net, training, optimizer=bp.SGD(net.parameters(), eta=0.5), cost=cost_type(), epochs=2,
                 mini_batch_size=5, rng=0, evaluation_data=evaluation_data, verbose=False, progress=False,
                 fused=fused)  # fmt: skip
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.data, b)  # no step was taken


@pytest.mark.parametrize("case", list(RESTRICTING))
def test_the_costs_own_call_uses_the_same_check(case):
    cost_type, _, bad, where = RESTRICTING[case]
    y = np.full((2, 3), 0.5)
    y[0, 2] = bad
    with pytest.raises(ValueError, match=rf"targets y must lie in {where}, got {bad} \(output 0 of example 2\)"):
        cost_type()(np.full((2, 3), 0.5), y)


class EvenTargets(bp.QuadraticCost):
    """A user's cost that accepts only targets of 0 or 1: its check_targets is what train and forward call."""

    def __init__(self):
        super().__init__()
        self.checked = []

    def check_targets(self, y):
        self.checked.append(np.shape(y))
        if not np.isin(y, (0.0, 1.0)).all():
            raise bp.LabelError("targets must be 0 or 1")


@pytest.mark.parametrize("fused", [None, False])
def test_train_calls_a_users_check_targets_once_on_all_the_targets(fused):
    net = bp.mlp([6, 4, 3], rng=0)
    cost = EvenTargets()
    with pytest.raises(bp.LabelError, match=r"^train: targets must be 0 or 1$"):
        bp.train(net, (X, _targets_with_one_bad(0.5)), optimizer=bp.SGD(net.parameters(), eta=0.5), cost=cost,
                 epochs=1, mini_batch_size=5, verbose=False, progress=False, fused=fused)  # fmt: skip
    assert cost.checked == [(3, 60)]


def test_the_base_cost_accepts_any_target():
    bp.QuadraticCost().check_targets(np.array([[-3.0, 7.0]]))  # the quadratic cost is defined for every y
    net = bp.mlp([6, 4, 3], rng=0)
    history = bp.train(net, (X, _targets_with_one_bad(2.0)), optimizer=bp.SGD(net.parameters(), eta=0.5), epochs=1,
                       mini_batch_size=5, verbose=False, progress=False)  # fmt: skip
    assert np.isfinite(history.training_cost[0])
