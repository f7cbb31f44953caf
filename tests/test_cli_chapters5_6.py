"""``minibp train --learning-speed`` (chapter 5) and ``minibp train --conv`` (chapter 6), end to end.

The convolutional runs train one epoch on a slice of the bundled sample (the
CLI's data loader is replaced by one returning 300 training digits), so each
takes a second or two; everything else is the command as a user runs it:
arguments, training, ``--save``, ``--history``, then ``info``, ``predict`` and
``plot speed`` on what it wrote.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest

import minibp as bp
from minibp import io as bpio
from minibp.cli import main
from minibp.data import Splits, load_sample
from minibp.history import History
from minibp.module import evaluation_mode

ROOT = Path(__file__).resolve().parents[1]
train_module = importlib.import_module("minibp.train")  # `minibp.train` is also the function
data_module = importlib.import_module("minibp.data")
TINY = ["train", "--epochs", "1", "--no-progress", "--seed", "7"]
CHAPTER6 = [
    (bp.Conv2d, (1, 28, 28), (20, 24, 24)),
    (bp.ReLU, None, None),
    (bp.MaxPool2d, (20, 24, 24), (20, 12, 12)),
    (bp.Conv2d, (20, 12, 12), (40, 8, 8)),
    (bp.ReLU, None, None),
    (bp.MaxPool2d, (40, 8, 8), (40, 4, 4)),
    (bp.Dense, 640, 100),
    (bp.ReLU, None, None),
    (bp.Dense, 100, 10),
]


@pytest.fixture
def seen(monkeypatch):
    """What ``minibp train`` passes to `minibp.train`: the network and every keyword argument."""
    real = train_module.train
    calls = []

    def spy(net, training_data, **kwargs):
        calls.append({"net": net, **kwargs})
        return real(net, training_data, **kwargs)

    monkeypatch.setattr(train_module, "train", spy)
    return calls


@pytest.fixture
def few_digits(monkeypatch):
    """``--data sample`` loads 300 training, 100 validation and 100 test digits of the bundled sample."""
    real = data_module.load_dataset

    def load(name, **kwargs):
        full = real(name, **kwargs)
        cut = [(X[:, :n], y[:n]) for (X, y), n in zip(full, (300, 100, 100))]
        return Splits(*cut)

    monkeypatch.setattr(data_module, "load_dataset", load)


def forbidden(*args, **kwargs):
    pytest.fail("data were loaded or training started before every argument was checked")


# ---------------------------------------------------------------- --learning-speed


def test_learning_speed_goes_into_the_history_and_plot_speed_draws_it(tmp_path, capsys, seen):
    history = tmp_path / "history.json"
    argv = [*TINY, "--sizes", "784", "12", "12", "10", "--epochs", "2", "--learning-speed", "--history", str(history)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "recording the learning speeds" in out
    speed = [c for c in seen[0]["callbacks"] if isinstance(c, bp.LearningSpeed)]
    assert len(speed) == 1 and speed[0].X.shape == (784, 1000)  # the book's probe: the first 1,000 examples
    saved = History.load(history)
    assert len(saved.learning_speed) == len(saved.epoch) == 2
    assert len(saved.initial_learning_speed) == 3 and all(s > 0 for s in saved.initial_learning_speed)
    assert all(len(row) == 3 and all(0 <= share <= 1 for share in row) for row in saved.saturation)
    # The recorded speeds are those of the network the run trained, measured again on the same probe.
    X, y = load_sample().training
    net = seen[0]["net"]
    again = bp.LearningSpeed((X, y), seen[0]["cost"]).measure(net)[0]
    np.testing.assert_allclose(saved.learning_speed[-1], again, rtol=1e-12)

    pytest.importorskip("matplotlib")
    png = tmp_path / "speed.png"
    assert main(["plot", "speed", str(history), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_learning_speed_nothing_is_recorded(tmp_path, capsys):
    history = tmp_path / "history.json"
    assert main([*TINY, "--sizes", "784", "10", "--history", str(history)]) == 0
    assert History.load(history).learning_speed == []
    assert "learning speed" not in capsys.readouterr().out


# ---------------------------------------------------------------- --conv: what is refused


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--sizes", "784", "30", "10"], "--sizes does not apply with --conv"),
        (["--sizes", "784", "10"], "--sizes does not apply with --conv"),
        (["--init", "he"], "--init does not apply with --conv"),
        (["--cost", "quadratic"], "--cost quadratic does not apply with --conv"),
        (["--cost", "cross-entropy"], "--cost cross-entropy does not apply with --conv"),
    ],
)
def test_conv_refuses_the_options_of_another_network_before_any_work(extra, words, monkeypatch, capsys):
    monkeypatch.setattr(data_module, "load_dataset", forbidden)
    monkeypatch.setattr(train_module, "train", forbidden)
    with pytest.raises(SystemExit) as exit_info:
        main([*TINY, "--conv", *extra])
    assert exit_info.value.code == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize(
    ("n_in", "classes", "words"),
    [
        (100, 10, "--conv trains a network for 28 x 28 images, 784 features, but the data have 100"),
        (784, 12, "--conv trains a network for 10 classes, but the data have labels up to 11"),
    ],
)
def test_conv_refuses_data_that_are_not_28_by_28_digits_of_10_classes(n_in, classes, words, capsys, monkeypatch):
    def load(name, **kwargs):
        pair = (np.zeros((n_in, 20), order="F"), np.arange(20) % classes)
        return Splits(pair, pair, pair)

    monkeypatch.setattr(data_module, "load_dataset", load)
    monkeypatch.setattr(train_module, "train", forbidden)
    with pytest.raises(SystemExit) as exit_info:
        main([*TINY, "--conv"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert words in err and "--sizes" not in err


def test_the_options_of_other_networks_keep_their_defaults(seen, capsys, few_digits):
    assert main([*TINY, "--cost", "log-likelihood"]) == 0  # no --conv: --sizes 784 30 10, --init book
    net = seen[0]["net"]
    assert [type(m) for m in net] == [bp.Dense, bp.Sigmoid, bp.Dense]
    assert (net[0].n_in, net[0].n_out, net[2].n_out) == (784, 30, 10)
    assert seen[0]["optimizer"].eta == 0.5


# ---------------------------------------------------------------- --conv: a run


def test_conv_trains_chapter_6s_network_and_its_save_loads_back(tmp_path, capsys, seen, few_digits):
    model, history = tmp_path / "model.npz", tmp_path / "history.json"
    argv = [*TINY, "--conv", "--learning-speed", "--save", str(model), "--history", str(history)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Training chapter 6's convolutional network on sample: 300 examples, evaluating on 100" in out
    assert "eta = 0.1, log-likelihood cost, sgd" in out
    call = seen[0]
    net = call["net"]
    assert [type(m) for m in net] == [kind for kind, _, _ in CHAPTER6]
    for module, (kind, n_in, n_out) in zip(net, CHAPTER6):
        if kind is bp.Dense:
            assert (module.n_in, module.n_out) == (n_in, n_out)
        elif n_in is not None:
            assert (module.in_shape, module.out_shape) == (n_in, n_out)
    assert type(call["cost"]) is bp.SoftmaxLogLikelihoodCost
    assert type(call["optimizer"]) is bp.SGD and call["optimizer"].eta == 0.1
    assert call["mini_batch_size"] == 10 and call["regularization"] is None
    test_line = out.strip().splitlines()[-1]
    correct = int(test_line.split()[1])
    assert test_line.startswith("Test: ") and " / 100 " in test_line

    # --save: the same network comes back, and the metadata say how it was made.
    checkpoint = bpio.load_checkpoint(model)
    X, y = load_sample().test
    with evaluation_mode(net):
        np.testing.assert_array_equal(checkpoint.net(X[:, :100]), net(X[:, :100]))
    assert int(np.count_nonzero(bp.predict(checkpoint.net, X[:, :100]) == y[:100])) == correct
    settings = checkpoint.metadata["train"]
    assert settings["conv"] is True and settings["sizes"] is None and settings["init"] is None
    assert settings["cost"] == "log-likelihood" and settings["eta"] == 0.1 and settings["learning_speed"] is True
    speeds = History.load(history).learning_speed
    assert len(speeds) == 1 and len(speeds[0]) == 2  # its two Dense layers

    assert main(["info", str(model)]) == 0
    info = capsys.readouterr().out
    assert "Conv2d((1, 28, 28), 20, 5)" in info and "MaxPool2d((40, 8, 8))" in info and "85,670" in info

    pytest.importorskip("PIL")
    four = ROOT / "minibp" / "data" / "digits" / "four.png"
    assert main(["predict", str(model), str(four)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "softmax" in lines[0]  # the saved cost tells predict that the outputs are z: it prints probabilities
    assert lines[1].startswith(f"{four}: ")


def test_conv_applies_the_other_options(capsys, seen, few_digits):
    argv = [*TINY, "--conv", "--dtype", "float32", "--optimizer", "momentum", "--lmbda", "0.5"]
    argv += ["--cost", "log-likelihood"]  # the cost it uses anyway: accepted
    assert main(argv) == 0
    call = seen[0]
    assert all(p.data.dtype == np.float32 for p in call["net"].parameters())
    assert type(call["optimizer"]) is bp.Momentum
    optimizer = call["optimizer"]
    assert optimizer.eta == pytest.approx(0.1 * (1 - optimizer.mu), rel=1e-15)  # sgd's step once the velocity builds
    assert isinstance(call["regularization"], bp.L2) and call["regularization"].lmbda == 0.5


def test_conv_history_is_json(tmp_path, capsys, few_digits):
    history = tmp_path / "history.json"
    assert main([*TINY, "--conv", "--quiet", "--history", str(history)]) == 0
    assert capsys.readouterr().out == ""
    assert len(json.loads(history.read_text())["epoch"]) == 1
