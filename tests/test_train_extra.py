"""Schedules, callbacks, early stopping, regularisation, network2's monitors, divergence with every optimizer."""

import json
import re

import numpy as np
import pytest

import minibp as bp
from minibp.callbacks import Callback, EarlyStopping, HalveOnPlateau, no_improvement_streaks
from minibp.regularization import L2, WeightDecay
from minibp.train import History


def blobs(rng, n=300, k=3, d=4):
    labels = rng.integers(0, k, n)
    centres = rng.standard_normal((d, k)) * 3
    X = centres[:, labels] + rng.standard_normal((d, n))
    return np.asfortranarray(X), labels


def run(net, data, optimizer, **kwargs):
    args = {"epochs": 3, "mini_batch_size": 10, "rng": 0, "verbose": False}
    args.update(kwargs)
    return bp.train(net, data, optimizer=optimizer, **args)


def test_history_records_network2s_four_monitors_and_round_trips(rng, tmp_path):
    X, y = blobs(rng)
    Xe, ye = blobs(rng, n=90)
    net = bp.mlp([4, 5, 3], init="scaled", rng=0)
    cost = bp.CrossEntropyCost()
    h = run(net, (X, y), bp.SGD(net.parameters(), eta=0.5), cost=cost, evaluation_data=(Xe, ye), monitor_training=True)
    assert h.training_size == 300 and h.evaluation_size == 90 and h.eta == [0.5] * 3
    assert h.training_accuracy[-1] == pytest.approx(bp.accuracy(net, X, y))
    assert h.training_correct[-1] == bp.evaluate(net, X, y)
    assert h.training_full_cost[-1] == pytest.approx(cost(net(X), np.eye(3)[:, y]), rel=1e-12)
    assert h.evaluation_cost[-1] == pytest.approx(cost(net(Xe), np.eye(3)[:, ye]), rel=1e-12)
    assert h.stop_reason is None
    path = tmp_path / "history.json"
    h.save(path)
    assert History.load(path) == h
    loaded = json.loads(path.read_text())
    assert {"training_full_cost", "training_accuracy", "evaluation_cost", "evaluation_accuracy", "seconds"} <= set(
        loaded
    )
    older = {k: v for k, v in loaded.items() if k in ("epoch", "training_cost", "seconds")}
    assert History.from_dict(older).training_accuracy == []  # files without the newer fields still load


def test_training_monitors_are_none_unless_asked(rng):
    X, y = blobs(rng)
    net = bp.mlp([4, 5, 3], rng=0)
    h = run(net, (X, y), bp.SGD(net.parameters(), eta=0.5), epochs=2)
    assert h.training_accuracy == [None, None] and h.training_full_cost == [None, None]


def test_monitor_training_prints_training_accuracy(rng, capsys):
    X, y = blobs(rng)
    net = bp.mlp([4, 5, 3], rng=0)
    run(
        net,
        (X, y),
        bp.SGD(net.parameters(), eta=0.5),
        epochs=1,
        verbose=True,
        progress=False,
        evaluation_data=(X, y),
        monitor_training=True,
    )
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("Epoch 0: ") and " (training data: " in line and re.search(r" / 300\), cost [\d.]+, ", line)


def test_schedule_sets_eta_each_epoch_and_none_stops(rng):
    X, y = blobs(rng)
    net = bp.mlp([4, 5, 3], rng=0)
    seen = []

    def schedule(epoch, history):
        seen.append((epoch, len(history.epoch)))
        return None if epoch == 3 else 1.0 / (epoch + 1)

    optimizer = bp.Momentum(net.parameters(), eta=9.0, mu=0.5)
    h = run(net, (X, y), optimizer, epochs=10, schedule=schedule)
    assert seen == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert h.eta == [1.0, 0.5, pytest.approx(1 / 3)] and optimizer.eta == pytest.approx(1 / 3)
    assert h.epoch == [0, 1, 2] and "before epoch 3" in h.stop_reason


def test_schedule_must_return_a_valid_eta(rng):
    X, y = blobs(rng)
    net = bp.mlp([4, 5, 3], rng=0)
    with pytest.raises(bp.HyperparameterError, match="eta"):
        run(net, (X, y), bp.SGD(net.parameters(), eta=1.0), schedule=lambda epoch, history: -1.0)
    with pytest.raises(TypeError, match="callable"):
        run(net, (X, y), bp.SGD(net.parameters(), eta=1.0), schedule=0.5)


def history_with(accuracies):
    return History(evaluation_accuracy=list(accuracies), evaluation_size=100)


def test_halve_on_plateau_follows_the_books_rule():
    schedule = HalveOnPlateau(0.8, patience=3)
    assert schedule(0, history_with([])) == 0.8
    rising = [0.1, 0.2, 0.3, 0.4]
    assert schedule(4, history_with(rising)) == 0.8
    stalled = rising + [0.4, 0.39, 0.35]  # three epochs without beating 0.4
    assert schedule(7, history_with(stalled)) == 0.4
    assert schedule(9, history_with(stalled + [0.38, 0.39])) == 0.4  # the count restarts after a cut
    assert schedule(10, history_with(stalled + [0.38, 0.39, 0.37])) == 0.2
    assert schedule(8, history_with(stalled + [0.5])) == 0.4  # improving does not undo a cut
    flat = [0.5] * (1 + 3 * 6)
    assert schedule(len(flat), history_with(flat)) == pytest.approx(0.8 / 64)
    assert schedule(len(flat) + 3, history_with(flat + [0.5] * 3)) is None  # eta would be 0.8/128: stop
    assert no_improvement_streaks(flat, 3) == (6, 0)


def test_halve_on_plateau_ends_a_real_run_and_needs_validation_data(rng):
    X, y = blobs(rng)
    net = bp.mlp([4, 5, 3], rng=0)
    optimizer = bp.SGD(net.parameters(), eta=1e-9)  # too small to change the accuracy: every epoch stalls
    h = run(net, (X, y), optimizer, epochs=100, evaluation_data=(X, y), schedule=HalveOnPlateau(1e-9, patience=1))
    assert len(h.epoch) == 8 and "schedule" in h.stop_reason
    assert h.eta == [1e-9] + [1e-9 / 2**k for k in range(7)]  # epoch 0 always improves
    with pytest.raises(ValueError, match="evaluation_data"):
        run(net, (X, y), optimizer, schedule=HalveOnPlateau(1.0))


@pytest.mark.parametrize("bad", [{"patience": 0}, {"factor": 1.0}, {"min_ratio": 2.0}, {"eta": 0}])
def test_halve_on_plateau_rejects_bad_settings(bad):
    with pytest.raises(bp.HyperparameterError):
        HalveOnPlateau(**{"eta": 1.0, **bad})


def test_early_stopping_waits_patience_epochs_and_restores_the_best(rng):
    X, y = blobs(rng)
    net = bp.mlp([4, 5, 3], rng=0)
    stopper = EarlyStopping(patience=2, restore_best=True)
    h = run(net, (X, y), bp.SGD(net.parameters(), eta=1e-9), epochs=50, evaluation_data=(X, y), callbacks=[stopper])
    assert stopper.best_epoch == 0 and stopper.stopped_epoch == 2 and len(h.epoch) == 3
    assert "EarlyStopping" in h.stop_reason

    net = bp.mlp([4, 5, 3], rng=0)
    stopper = EarlyStopping(patience=3, restore_best=True)
    h = run(
        net,
        (X, y),
        bp.SGD(net.parameters(), eta=3.0),
        epochs=40,
        evaluation_data=(X[:, :40], y[:40]),
        callbacks=[stopper],
    )
    best = max(h.evaluation_accuracy)
    assert stopper.best == best and h.evaluation_accuracy[stopper.best_epoch] == best
    if stopper.stopped_epoch is not None:
        assert stopper.stopped_epoch - stopper.best_epoch == 3
    assert bp.accuracy(net, X[:, :40], y[:40]) == best  # the best epoch's parameters are back
    with pytest.raises(ValueError, match="evaluation_data"):
        run(net, (X, y), bp.SGD(net.parameters(), eta=1.0), callbacks=[EarlyStopping(2)])


def test_callback_protocol_order_and_stop(rng):
    X, y = blobs(rng)
    net = bp.mlp([4, 5, 3], rng=0)
    calls = []

    class Recorder(Callback):
        def on_train_begin(self, net, optimizer, history):
            calls.append(("begin", len(history.epoch)))

        def on_epoch_end(self, epoch, history, net, optimizer):
            calls.append(("epoch", epoch, len(history.epoch)))
            return epoch == 1

        def on_train_end(self, history, net, optimizer):
            calls.append(("end", len(history.epoch)))

    class OnlyEpochEnd:  # any object with some of the hooks works
        def __init__(self):
            self.epochs = []

        def on_epoch_end(self, epoch, history, net, optimizer):
            self.epochs.append(epoch)

    other = OnlyEpochEnd()
    h = run(net, (X, y), bp.SGD(net.parameters(), eta=1.0), epochs=5, callbacks=[Recorder(), other])
    assert calls == [("begin", 0), ("epoch", 0, 1), ("epoch", 1, 2), ("end", 2)]
    assert other.epochs == [0, 1] and h.epoch == [0, 1]


def test_l2_in_the_loop_is_the_books_equation_93(rng):
    X, y = blobs(rng, n=40)
    lmbda, eta, n = 4.0, 0.5, 40
    net = bp.mlp([4, 5, 3], rng=0)
    reference = bp.mlp([4, 5, 3], rng=0)
    before = [p.data.copy() for p in net.parameters()]
    run(
        net,
        (X, y),
        bp.SGD(net.parameters(), eta=eta),
        epochs=1,
        mini_batch_size=n,
        regularization=L2(net, lmbda=lmbda, n=n),
    )
    cost = bp.QuadraticCost()
    cost(reference(X), np.eye(3)[:, y])
    reference.backward(cost.backward())  # one mini-batch = the whole set, so the order does not matter
    for name, p in net.named_parameters():
        r = dict(reference.named_parameters())[name]
        b = before[list(dict(net.named_parameters())).index(name)]
        shrink = (1 - eta * lmbda / n) if name.endswith("w") else 1.0  # biases are not regularised
        np.testing.assert_allclose(p.data, shrink * b - eta * r.grad, rtol=1e-13, atol=1e-15)


def test_weight_decay_equals_l2_for_sgd_when_wd_is_lambda_over_n(rng):
    X, y = blobs(rng)
    results = []
    for make in (lambda net: L2(net, lmbda=6.0, n=300), lambda net: WeightDecay(net, wd=6.0 / 300)):
        net = bp.mlp([4, 5, 3], rng=0)
        h = run(net, (X, y), bp.SGD(net.parameters(), eta=0.5), epochs=2, regularization=[make(net)])
        results.append((net, h))
    for a, b in zip(results[0][0].parameters(), results[1][0].parameters()):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-11, atol=1e-13)
    l2_history, wd_history = results[0][1], results[1][1]
    assert l2_history.training_cost[-1] > wd_history.training_cost[-1]  # only L2 adds its penalty to the cost


@pytest.mark.parametrize("kind", ["Momentum", "Nesterov", "Adam"])
def test_a_diverging_run_raises_before_the_failing_step_with_every_optimizer(kind, rng):
    X, y = blobs(rng)
    cls = getattr(bp, kind)

    class Recording(cls):
        def update(self):
            super().update()
            self.last_good = [p.data.copy() for p in self.parameters]

    net = bp.Sequential(bp.Dense(4, 3, rng=0))  # a linear output: nothing saturates, so a huge eta diverges
    optimizer = Recording(net.parameters(), eta=1e6 if kind != "Adam" else 1e200)
    with pytest.raises(bp.DivergedError, match="smaller learning rate than"):
        run(net, (X, y), optimizer, epochs=50)
    for p, good in zip(net.parameters(), optimizer.last_good):
        np.testing.assert_array_equal(p.data, good)
    assert all(np.isfinite(p.data).all() for p in net.parameters())


def test_dropout_is_off_during_evaluation_and_the_run_is_repeatable(rng):
    X, y = blobs(rng)
    histories = []
    for _ in range(2):
        net = bp.Sequential(
            bp.Dense(4, 20, rng=0), bp.Sigmoid(), bp.Dropout(0.5, rng=1), bp.Dense(20, 3, rng=2), bp.Sigmoid()
        )
        h = run(net, (X, y), bp.SGD(net.parameters(), eta=1.0), evaluation_data=(X, y), monitor_training=True)
        assert net.training and net[2].training
        histories.append(h)
        net.eval()
        assert bp.evaluate(net, X, y) == h.evaluation_correct[-1] == h.training_correct[-1]
    assert histories[0].evaluation_correct == histories[1].evaluation_correct


def test_cross_entropy_escapes_a_saturated_start_where_quadratic_is_stuck(rng):
    X, y = blobs(rng, n=200)
    accuracy = {}
    for cost in (bp.QuadraticCost(), bp.CrossEntropyCost()):
        net = bp.mlp([4, 3], rng=0)
        net[0].w.data[...] = 0
        net[0].b.data[...] = 30.0  # every output saturated near 1
        h = run(net, (X, y), bp.SGD(net.parameters(), eta=0.5), cost=cost, epochs=3, evaluation_data=(X, y))
        accuracy[type(cost).__name__] = h.evaluation_accuracy[-1]
    assert accuracy["CrossEntropyCost"] > 0.8 > accuracy["QuadraticCost"]


@pytest.mark.slow
def test_cross_entropy_with_scaled_init_beats_the_quadratic_book_setup_on_real_digits():
    from minibp.data import load_sample

    data = load_sample()
    accuracy = {}
    for name, cost, init, eta in [
        ("book", bp.QuadraticCost(), "book", 3.0),
        ("ch3", bp.CrossEntropyCost(), "scaled", 0.5),
    ]:
        net = bp.mlp([784, 30, 10], init=init, rng=0)
        run(net, data.training, bp.SGD(net.parameters(), eta=eta), cost=cost, epochs=3)
        accuracy[name] = bp.accuracy(net, *data.test)
    assert accuracy["ch3"] > accuracy["book"] + 0.02, accuracy


@pytest.mark.parametrize("fused", [False, None])
def test_an_x_in_any_layout_trains_alike_and_is_copied_once_into_example_columns(fused):
    """A C-ordered (n_in, N) X trains exactly as its Fortran-ordered copy; the run reads example columns."""
    from minibp._plan import plan_run

    data = np.random.default_rng(5)
    X, y = data.random((12, 60)), data.integers(0, 3, 60)
    results = []
    every_other = np.asfortranarray(np.repeat(X, 2, axis=1))[:, ::2]  # example columns 2 apart
    for layout in (np.ascontiguousarray(X), np.asfortranarray(X), every_other):
        net = bp.mlp([12, 5, 3], rng=1)
        optimizer = bp.SGD(net.parameters(), eta=0.5)
        bp.train(net, (layout, y), epochs=2, mini_batch_size=7, optimizer=optimizer, rng=2, fused=fused, verbose=False)
        results.append([p.data.copy() for p in net.parameters()])
        run = plan_run(net, (layout, y), optimizer, 1, 7, None, None, 0, None, None, (), (), fused)
        assert run.x_rows.flags.c_contiguous and np.array_equal(run.X, X)
    for other in results[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(results[0], other))
