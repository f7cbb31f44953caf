"""What a run tells its user: the epoch line, a changed eta, a hint at chance, the stop reason, the bar, numbers."""

import re
import sys
import types

import numpy as np
import pytest

import minibp as bp
from minibp import _session
from minibp._report import STUCK_EPOCHS
from minibp._text import as_typed, count
from minibp.callbacks import HalveOnPlateau
from minibp.cli import main
from minibp.data import load_sample

SECONDS = re.compile(r", \d+\.\d s$")  # the seconds an epoch took, the one part of a line that varies


def blobs(rng, n=300, k=3, d=4):
    labels = np.arange(n) % k  # balanced: chance is exactly 1 / k
    centres = rng.standard_normal((d, k)) * 3
    return np.asfortranarray(centres[:, labels] + rng.standard_normal((d, n))), labels


def printed(capsys, net, data, eta, **kwargs):
    args = {"epochs": 4, "mini_batch_size": 10, "rng": 0, "progress": False, "evaluation_data": data}
    bp.train(net, data, optimizer=bp.SGD(net.parameters(), eta=eta), **{**args, **kwargs})
    return capsys.readouterr().out.splitlines()


def test_each_epoch_line_is_the_books_then_the_cost_and_seconds(rng, capsys):
    data = blobs(rng)
    net = bp.mlp([4, 5, 3], init="scaled", rng=0)
    lines = printed(capsys, net, data, 1.0, epochs=2)
    history_costs = []
    for j, line in enumerate(lines[1:]):
        match = re.fullmatch(rf"Epoch {j}: (\d+) / 300, cost (\S+), (\d+\.\d) s", line)
        assert match, line
        history_costs.append(float(match.group(2)))
    assert len(history_costs) == 2 and history_costs[1] < history_costs[0]


def test_the_cost_and_seconds_are_the_historys(rng, capsys):
    data = blobs(rng)
    net = bp.mlp([4, 5, 3], init="scaled", rng=0)
    bp.train(net, data, optimizer=bp.SGD(net.parameters(), eta=1.0), epochs=1, mini_batch_size=10, rng=0,
             progress=False)
    line = capsys.readouterr().out.splitlines()[-1]
    again = bp.mlp([4, 5, 3], init="scaled", rng=0)
    h = bp.train(again, data, optimizer=bp.SGD(again.parameters(), eta=1.0), epochs=1, mini_batch_size=10, rng=0,
                 verbose=False)
    assert SECONDS.sub("", line) == f"Epoch 0 complete, cost {h.training_cost[0]:.4g}"


def test_a_changed_learning_rate_is_printed(rng, capsys):
    data = blobs(rng, n=60)
    net = bp.mlp([4, 5, 3], init="scaled", rng=0)
    lines = printed(capsys, net, data, 0.3, epochs=6, schedule=HalveOnPlateau(0.3, patience=1))
    changes = [line for line in lines if line.startswith("eta = ")]
    assert changes and all(re.fullmatch(r"eta = [\d.]+ from epoch \d+ \(was [\d.]+\)", c) for c in changes), lines
    assert changes[0].startswith("eta = 0.15 from epoch ") and changes[0].endswith("(was 0.3)")  # halved
    after = lines.index(changes[0]) + 1  # said just before the line of the first epoch with the new eta
    assert lines[after].startswith(f"Epoch {changes[0].split()[5]}: ")


def test_nothing_is_printed_without_verbose(rng, capsys):
    data = blobs(rng, n=60)
    net = bp.mlp([4, 5, 3], rng=0)
    assert printed(capsys, net, data, 0.3, epochs=4, schedule=HalveOnPlateau(0.3, patience=1), verbose=False) == []


def stuck(rng):
    """Data whose inputs are all zero: every example gets the same output, one class, 1 / 3 of the labels."""
    X, y = blobs(rng)
    return np.zeros_like(X), y


def test_a_run_stuck_at_chance_gets_one_hint(rng, capsys):
    net = bp.mlp([4, 5, 3], rng=0)
    lines = printed(capsys, net, stuck(rng), 0.5, epochs=STUCK_EPOCHS + 2)
    hints = [line for line in lines if line.startswith("The accuracy has stayed at chance")]
    assert len(hints) == 1, lines
    assert "(1 in 3) for 3 epochs" in hints[0] and "eta" in hints[0] and "init=" in hints[0] and "cost" in hints[0]
    assert lines.index(hints[0]) == lines.index(next(x for x in lines if x.startswith("Epoch 2: "))) + 1


def test_no_hint_before_three_epochs_or_for_a_run_that_learns(rng, capsys):
    net = bp.mlp([4, 5, 3], rng=0)
    lines = printed(capsys, net, stuck(rng), 0.5, epochs=STUCK_EPOCHS - 1)
    assert not any("chance" in line for line in lines)
    net = bp.mlp([4, 5, 3], init="scaled", rng=0)
    lines = printed(capsys, net, blobs(rng), 1.0, epochs=STUCK_EPOCHS + 1)
    assert not any("chance" in line for line in lines) and "Epoch 3: " in lines[-1]


# -- why a callback stopped training -------------------------------------------------------------------


class Logger:  # a user's callback: no repr of its own, no base class
    def on_epoch_end(self, epoch, history, net, optimizer):
        return epoch == 1


class Explained(Logger):
    stop_reason = "the cost fell below 0.1"


class Named(Logger):
    def __repr__(self):
        return "Named(limit=1)"


@pytest.mark.parametrize(
    ("callback", "reason"),
    [
        (Logger(), "Logger stopped training after epoch 1"),
        (Explained(), "Explained stopped training after epoch 1: the cost fell below 0.1"),
        (Named(), "Named(limit=1) stopped training after epoch 1"),
        (bp.EarlyStopping(patience=1), None),  # its own repr, as before
    ],
)
def test_the_stop_reason_names_the_callback_by_its_class_and_gives_its_reason(rng, callback, reason):
    X, y = stuck(rng)
    net = bp.mlp([4, 5, 3], rng=0)
    h = bp.train(net, (X, y), optimizer=bp.SGD(net.parameters(), eta=0.5), epochs=5, mini_batch_size=10, rng=0,
                 evaluation_data=(X, y), callbacks=[callback], verbose=False)
    assert "object at 0x" not in h.stop_reason
    assert h.stop_reason == (reason or f"EarlyStopping(patience=1) stopped training after epoch {h.epoch[-1]}")


# -- the progress bar in Jupyter -----------------------------------------------------------------------


def fake_ipython(monkeypatch, config):
    shell = types.SimpleNamespace(config=config)
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: shell))


def test_a_jupyter_kernel_is_recognised(monkeypatch):
    monkeypatch.delitem(sys.modules, "IPython", raising=False)
    assert not _session.in_jupyter()
    fake_ipython(monkeypatch, {"TerminalInteractiveShell": {}})  # IPython in a terminal: not a notebook
    assert not _session.in_jupyter()
    fake_ipython(monkeypatch, {"IPKernelApp": {"connection_file": "kernel.json"}})
    assert _session.in_jupyter()


def test_in_jupyter_the_bar_is_a_widget_only_with_ipywidgets(monkeypatch):
    fake_ipython(monkeypatch, {"IPKernelApp": {}})
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    found = {"ipywidgets": None}
    monkeypatch.setattr(_session.importlib.util, "find_spec", lambda name: found.get(name, object()))
    assert _session.progress_bar(10, "Epoch 0", None) is None  # no ipywidgets: no text bar on stderr either
    assert _session.progress_bar(10, "Epoch 0", False) is None


def test_the_bar_comes_from_tqdm_auto(monkeypatch):
    made = []
    monkeypatch.setattr("tqdm.auto.tqdm", lambda **kwargs: made.append(kwargs) or kwargs)
    assert _session.progress_bar(7, "Epoch 2", True) == made[0] and made[0]["total"] == 7


# -- numbers as a person types them, counts in the singular ---------------------------------------------


def test_as_typed_drops_float_noise_and_keeps_what_was_typed():
    assert as_typed(3.0 * (1 - 0.9)) == "0.3" and as_typed(0.9000000000000001) == "0.9"
    assert [as_typed(x) for x in (3.0, 0.5, 1e-3, 1e-8, 0.999, 2.5e6, 7, "adam")] == [
        "3.0", "0.5", "0.001", "1e-08", "0.999", "2500000.0", "7", "adam"
    ]
    assert as_typed(np.float32(0.1)) == "0.1" and as_typed(1 / 3) == "0.3333333333"
    assert count(1, "epoch") == "1 epoch" and count(2, "epoch") == "2 epochs" and count(0, "epoch") == "0 epochs"


def test_printed_hyperparameters_have_no_float_noise():
    assert repr(bp.Momentum([bp.Parameter(np.zeros(2))], eta=3.0 * (1 - 0.9), mu=0.9)) == "Momentum(eta=0.3, mu=0.9)"
    assert repr(HalveOnPlateau(0.1 + 0.2)) == "HalveOnPlateau(eta=0.3, patience=10, factor=0.5)"


NOISE = re.compile(r"\d\.\d*(\d)\1{4,}|\d{7,}")  # 0.29999999999999993, 0.15000000000000002, or any long run of digits


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
@pytest.mark.parametrize("cost", ["quadratic", "cross-entropy", "log-likelihood"])
def test_the_cli_prints_no_float_noise_and_no_1_epochs(optimizer, cost, capsys, tmp_path):
    model = tmp_path / "model.npz"
    argv = ["train", "--sizes", "784", "10", "--epochs", "1", "--seed", "4", "--no-progress", "--save", str(model)]
    assert main([*argv, "--optimizer", optimizer, "--cost", cost, "--halve-on-plateau", "--early-stopping", "1"]) == 0
    assert main(["info", str(model)]) == 0
    out = capsys.readouterr().out
    assert "eta = " in out and "Optimizer: " in out and "Trained 1 epoch;" in out
    assert not NOISE.search(out), NOISE.search(out)
    assert not re.search(r"\b1 epochs\b", out)
    for number in re.findall(r"(?<![\w.])\d+\.\d+(?:e-?\d+)?", out):
        assert len(number) <= 12, number  # what a person types, not a float's 17 digits


# -- --seed S is mlp(..., rng=S) and train(..., rng=S) --------------------------------------------------


@pytest.mark.parametrize("seed", [0, 5])
def test_the_cli_seed_is_the_readmes_rng(seed, capsys):
    assert main(["train", "--seed", str(seed), "--epochs", "2", "--no-progress"]) == 0
    cli = [SECONDS.sub("", line) for line in capsys.readouterr().out.splitlines() if line.startswith("Epoch ")]
    data = load_sample()
    net = bp.mlp([784, 30, 10], rng=seed)  # the README's ten lines, with the seed and 2 epochs
    optimizer = bp.SGD(net.parameters(), eta=3.0)
    bp.train(net, data.training, optimizer=optimizer, epochs=2, mini_batch_size=10,
             evaluation_data=data.validation, rng=seed, progress=False)
    python = [SECONDS.sub("", line) for line in capsys.readouterr().out.splitlines() if line.startswith("Epoch ")]
    assert len(cli) == 2 and cli == python
