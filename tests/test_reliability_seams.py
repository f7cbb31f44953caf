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

# -- hyper-parameters moved between epochs: both paths train the same ----------------------------


def _frozen_backward(net):
    layer = net[0]
    layer.backward = lambda grad_output: layer.w.data.T @ grad_output  # passes the gradient on, adds nothing


MOVES = {  # what a callback does after epoch 0, given (net, optimizer, l2)
    "L2.lmbda": lambda net, opt, l2: setattr(l2, "lmbda", 0.5),
    "L2.n": lambda net, opt, l2: setattr(l2, "n", 20),
    "eta": lambda net, opt, l2: setattr(opt, "eta", 0.5),
    "the optimizer's parameters": lambda net, opt, l2: setattr(opt, "parameters", net.parameters()[2:]),
    "a method replaced": lambda net, opt, l2: _frozen_backward(net),
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
    if move in ("the optimizer's parameters", "a method replaced"):
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
