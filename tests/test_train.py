import json
import re

import numpy as np
import pytest

import minibp as bp

XOR_X = np.array([[0, 0, 1, 1], [0, 1, 0, 1]], dtype=float)
XOR_Y = np.array([[0, 1, 1, 0]], dtype=float)


def blobs(rng, n=300, k=3, d=4):
    labels = rng.integers(0, k, n)
    centres = rng.standard_normal((d, k)) * 3
    X = centres[:, labels] + rng.standard_normal((d, n))
    return np.asfortranarray(X), labels


def test_train_learns_xor():
    net = bp.mlp([2, 2, 1], rng=1)
    history = bp.train(
        net,
        (XOR_X, XOR_Y),
        optimizer=bp.SGD(net.parameters(), eta=3.0),
        epochs=3000,
        mini_batch_size=4,
        rng=0,
        verbose=False,
        evaluation_data=(XOR_X, XOR_Y),
    )
    assert history.evaluation_correct[-1] == 4
    assert history.training_cost[-1] < history.training_cost[0]


def test_train_prints_the_books_lines(rng, capsys):
    X, y = blobs(rng)
    net = bp.mlp([4, 5, 3], rng=0)
    bp.train(
        net,
        (X, y),
        optimizer=bp.SGD(net.parameters(), eta=1.0),
        epochs=2,
        mini_batch_size=10,
        evaluation_data=(X[:, :100], y[:100]),
        rng=0,
        progress=False,
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0] == "Training with the fused epoch (minibp.fast)"  # first: which path runs
    assert re.fullmatch(r"Epoch 0: \d+ / 100, cost \d\.\d+, \d+\.\d s", lines[1])  # the book's line, then more
    assert lines[2].startswith("Epoch 1: ")


def test_history_serialises_to_json(rng, tmp_path):
    X, y = blobs(rng)
    net = bp.mlp([4, 5, 3], rng=0)
    h = bp.train(
        net,
        (X, y),
        optimizer=bp.SGD(net.parameters(), eta=1.0),
        epochs=3,
        mini_batch_size=7,
        evaluation_data=(X, y),
        rng=0,
        verbose=False,
    )
    assert h.epoch == [0, 1, 2] and len(h.seconds) == 3 and h.evaluation_size == 300
    assert h.evaluation_correct[-1] == bp.evaluate(net, X, y)
    assert h.evaluation_accuracy[-1] == pytest.approx(bp.accuracy(net, X, y))
    path = tmp_path / "h.json"
    h.save(path)
    assert json.loads(path.read_text())["evaluation_correct"] == h.evaluation_correct
    assert bp.History.load(path) == h


def test_same_seed_same_run(rng):
    X, y = blobs(rng)
    runs = []
    for _ in range(2):
        net = bp.mlp([4, 5, 3], rng=3)
        bp.train(
            net,
            (X, y),
            optimizer=bp.SGD(net.parameters(), eta=1.0),
            epochs=2,
            mini_batch_size=10,
            rng=42,
            verbose=False,
        )
        runs.append([p.data.copy() for p in net.parameters()])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_predict_and_evaluate(rng):
    net = bp.mlp([4, 3], rng=0)
    X = rng.standard_normal((4, 25))
    guesses = bp.predict(net, X)
    assert guesses.shape == (25,)
    np.testing.assert_array_equal(guesses, net(X).argmax(axis=0))
    assert bp.evaluate(net, X, guesses) == 25


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"mini_batch_size": 0}, bp.HyperparameterError, "mini_batch_size"),
        ({"mini_batch_size": 301}, bp.HyperparameterError, r"between 1 and the number of training examples \(300\)"),
        ({"epochs": -1}, bp.HyperparameterError, "epochs"),
    ],
)
def test_bad_settings_fail_before_any_change(rng, kwargs, error, match):
    X, y = blobs(rng)
    net = bp.mlp([4, 5, 3], rng=0)
    before = [p.data.copy() for p in net.parameters()]
    args = {"optimizer": bp.SGD(net.parameters(), eta=1.0), "epochs": 1, "mini_batch_size": 10, "verbose": False}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        bp.train(net, (X, y), **args)
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.data, b)


@pytest.mark.parametrize(
    "mutate, error, match",
    [
        (lambda X, y: (X[:, :0], y[:0]), ValueError, "no examples"),
        (lambda X, y: (np.where(np.arange(300) == 5, np.nan, X), y), bp.NonFiniteError, "non-finite"),
        (lambda X, y: (np.where(np.arange(300) == 5, np.inf, X), y), bp.NonFiniteError, "non-finite"),
        (lambda X, y: (X, np.where(np.arange(300) == 9, -1, y)), bp.LabelError, "label -1 is out of range"),
        (lambda X, y: (X, np.where(np.arange(300) == 9, 3, y)), bp.LabelError, "label 3 is out of range"),
        (lambda X, y: (X, y[:-1]), bp.ShapeError, "300 examples but y has 299"),
        (lambda X, y: (X[:3], y), bp.ShapeError, r"Dense\(4, 5\)"),
        (lambda X, y: (X[0], y), bp.ShapeError, "single example must be a column"),
        (lambda X, y: (X, y + 0.5), bp.LabelError, "integers"),
    ],
)
def test_bad_data_fail_before_any_change(rng, mutate, error, match):
    X, y = blobs(rng)
    X, y = mutate(X, y)
    net = bp.mlp([4, 5, 3], rng=0)
    before = [p.data.copy() for p in net.parameters()]
    with pytest.raises(error, match=match):
        bp.train(net, (X, y), optimizer=bp.SGD(net.parameters(), eta=1.0), epochs=1, mini_batch_size=1, verbose=False)
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.data, b)


def test_diverging_run_stops_with_advice_and_keeps_last_good_parameters(rng):
    # A linear output (no sigmoid) with a huge learning rate blows up quickly.
    net = bp.Sequential(bp.Dense(4, 3, rng=0))
    X, y = blobs(rng)
    with pytest.raises(bp.DivergedError, match="smaller learning rate than 1000000.0"):
        bp.train(
            net,
            (X, y),
            optimizer=bp.SGD(net.parameters(), eta=1e6),
            epochs=50,
            mini_batch_size=10,
            rng=0,
            verbose=False,
        )
    # The failing step was not applied: no non-finite value reached the parameters.
    assert all(np.isfinite(p.data).all() for p in net.parameters())
