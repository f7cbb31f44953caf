"""``minibp train`` with the book's chapter 3 options: the cost, L2, optimizers, early stopping, the schedule.

Each option is checked for what it builds (the network, cost, optimizer,
regulariser, callbacks handed to `minibp.train`) and for what it does to a
tiny run on the bundled sample. Bad values exit 2 before any data are loaded.
"""

from __future__ import annotations

import argparse
import importlib
import math
import re
import secrets
import shlex
from pathlib import Path

import numpy as np
import pytest

import minibp as bp
from minibp import cli
from minibp import io as bpio
from minibp.callbacks import EarlyStopping, HalveOnPlateau
from minibp.cli import main
from minibp.data import load_sample
from minibp.regularization import L2

ROOT = Path(__file__).resolve().parents[1]
TINY = ["train", "--sizes", "784", "10", "--epochs", "1", "--no-progress", "--seed", "4"]
train_module = importlib.import_module("minibp.train")  # `minibp.train` is also the function
data_module = importlib.import_module("minibp.data")
N_TRAIN = 4000  # training examples of the bundled sample


@pytest.fixture
def seen(monkeypatch):
    """What ``minibp train`` passes to `minibp.train`: the network and every keyword argument."""
    real = train_module.train
    calls = []

    def spy(net, training_data, **kwargs):
        calls.append({"net": net, **kwargs})
        return real(net, training_data, **kwargs)

    monkeypatch.setattr(train_module, "train", spy)

    def last():
        assert len(calls) == 1
        return calls[0]

    return last


def forbidden(*args, **kwargs):
    pytest.fail("data were loaded or training started before every argument was checked")


@pytest.fixture
def no_work(monkeypatch):
    monkeypatch.setattr(data_module, "load_dataset", forbidden)
    monkeypatch.setattr(train_module, "train", forbidden)


def run(argv, capsys):
    """Run ``main(argv)``, which must succeed; return its standard output."""
    assert main(argv) == 0
    return capsys.readouterr().out


# ---------------------------------------------------------------- --cost


@pytest.mark.parametrize(
    ("cost", "last", "cost_type", "eta"),
    [
        ("quadratic", bp.Sigmoid, bp.QuadraticCost, 3.0),
        ("cross-entropy", bp.Dense, bp.SigmoidCrossEntropyCost, 0.5),
        ("log-likelihood", bp.Dense, bp.SoftmaxLogLikelihoodCost, 0.5),
    ],
)
def test_the_cost_decides_how_the_network_ends_and_sgd_eta(cost, last, cost_type, eta, seen, capsys, tmp_path):
    model = tmp_path / "model.npz"
    run([*TINY, "--sizes", "784", "12", "10", "--cost", cost, "--save", str(model)], capsys)
    call = seen()
    assert type(call["cost"]) is cost_type
    assert [type(m) for m in call["net"]] == [bp.Dense, bp.Sigmoid, bp.Dense] + ([last] if last is bp.Sigmoid else [])
    assert type(call["optimizer"]) is bp.SGD and call["optimizer"].eta == eta
    saved = bpio.load_checkpoint(model)
    assert type(saved.net[-1]) is last and len(saved.net) == len(call["net"])
    assert saved.metadata["train"]["cost"] == cost and saved.metadata["train"]["eta"] == eta


def test_a_dense_ending_network_is_scored_by_its_most_active_output(capsys, tmp_path):
    model = tmp_path / "model.npz"
    out = run([*TINY, "--cost", "cross-entropy", "--save", str(model)], capsys)
    Xt, yt = load_sample().test
    z = bpio.load(model)(Xt)  # the weighted inputs: no sigmoid at the end
    assert z.min() < 0 or z.max() > 1
    correct = int(np.count_nonzero(z.argmax(axis=0) == yt))
    assert out.splitlines()[-1] == f"Test: {correct} / 500 ({correct / 500:.2%})"


# ---------------------------------------------------------------- --optimizer, --eta, --mu, --beta1, --beta2


@pytest.mark.parametrize(
    ("argv", "kind", "settings"),
    [
        ([], bp.SGD, {"eta": 3.0}),
        (["--optimizer", "momentum"], bp.Momentum, {"eta": 0.9, "mu": 0.7}),  # 3.0 (1 - 0.7), as typed
        (["--optimizer", "nesterov", "--mu", "0.5"], bp.Nesterov, {"eta": 1.5, "mu": 0.5}),
        (["--optimizer", "momentum", "--cost", "cross-entropy"], bp.Momentum, {"eta": 0.15}),
        (["--optimizer", "nesterov", "--cost", "log-likelihood"], bp.Nesterov, {"eta": 0.15, "mu": 0.7}),
        (["--optimizer", "adam"], bp.Adam, {"eta": 0.01, "beta1": 0.9, "beta2": 0.999}),
        (["--optimizer", "adam", "--cost", "log-likelihood"], bp.Adam, {"eta": 0.01}),
        (["--optimizer", "adam", "--beta1", "0.8", "--beta2", "0.99"], bp.Adam, {"beta1": 0.8, "beta2": 0.99}),
        (["--optimizer", "adam", "--eta", "0.02"], bp.Adam, {"eta": 0.02}),  # an explicit --eta wins
        (["--optimizer", "nesterov", "--eta", "0.7"], bp.Nesterov, {"eta": 0.7, "mu": 0.7}),
        (["--cost", "cross-entropy", "--eta", "2.5"], bp.SGD, {"eta": 2.5}),
    ],
)
def test_the_optimizer_and_its_default_eta(argv, kind, settings, seen, capsys, tmp_path):
    model = tmp_path / "model.npz"
    run([*TINY, *argv, "--save", str(model)], capsys)
    optimizer = seen()["optimizer"]
    assert type(optimizer) is kind
    state = bpio.load_checkpoint(model).optimizer_state
    recorded = bpio.load_checkpoint(model).metadata["train"]
    assert state["type"] == kind.__name__
    for name, value in settings.items():
        assert getattr(optimizer, name) == value  # exactly the number a person types: 0.9, not 0.8999999999999999
        assert recorded[name] == value


def test_adam_takes_adam_steps(capsys, tmp_path):
    """Adam's first step moves every weight with a gradient by eta g / (|g| + epsilon): eta = 0.01 at most."""
    before, after = tmp_path / "before.npz", tmp_path / "after.npz"
    run([*TINY, "--epochs", "0", "--save", str(before)], capsys)
    run([*TINY, "--optimizer", "adam", "--mini-batch-size", str(N_TRAIN), "--save", str(after)], capsys)  # one step
    moved = np.abs(bpio.load(after)[0].w.data - bpio.load(before)[0].w.data)
    assert moved.max() == pytest.approx(0.01, rel=1e-4) and moved.max() <= 0.01


# ---------------------------------------------------------------- --lmbda


def test_lmbda_adds_the_books_l2_with_the_training_set_size(seen, capsys, tmp_path):
    run([*TINY, "--lmbda", "5"], capsys)
    l2 = seen()["regularization"]
    assert type(l2) is L2 and l2.lmbda == 5.0 and l2.n == N_TRAIN


def test_no_lmbda_no_regularisation(seen, capsys):
    run(TINY, capsys)
    assert seen()["regularization"] is None


def test_lmbda_shrinks_the_weights_and_is_recorded(capsys, tmp_path):
    plain, shrunk = tmp_path / "plain.npz", tmp_path / "shrunk.npz"
    run([*TINY, "--save", str(plain)], capsys)
    run([*TINY, "--lmbda", "2000", "--save", str(shrunk)], capsys)

    def squares(path):
        return sum(float(np.sum(d.w.data**2)) for d in bpio.load(path) if isinstance(d, bp.Dense))

    assert squares(shrunk) < 0.5 * squares(plain)
    assert bpio.load_checkpoint(shrunk).metadata["train"]["lmbda"] == 2000.0
    assert bpio.load_checkpoint(plain).metadata["train"]["lmbda"] == 0.0


# ---------------------------------------------------------------- --early-stopping, --halve-on-plateau


def test_early_stopping_stops_when_the_validation_accuracy_stalls(seen, capsys, tmp_path):
    history = tmp_path / "history.json"
    out = run([*TINY, "--epochs", "30", "--early-stopping", "1", "--history", str(history)], capsys)
    call = seen()
    stoppers = [c for c in call["callbacks"] if isinstance(c, EarlyStopping)]
    assert len(stoppers) == 1 and stoppers[0].patience == 1 and call["schedule"] is None
    saved = bp.History.load(history)
    assert (
        len(saved.epoch) < 30
        and saved.stop_reason == f"EarlyStopping(patience=1) stopped training after epoch {saved.epoch[-1]}"
    )
    assert saved.evaluation_accuracy[-1] <= max(saved.evaluation_accuracy[:-1])  # the last epoch did not improve
    assert f"Stopped early: {saved.stop_reason}\n" in out


def test_halve_on_plateau_is_the_books_schedule(seen, capsys, tmp_path):
    history = tmp_path / "history.json"
    run([*TINY, "--epochs", "60", "--early-stopping", "1", "--halve-on-plateau", "--history", str(history)], capsys)
    call = seen()
    schedule = call["schedule"]
    assert type(schedule) is HalveOnPlateau and schedule.patience == 1 and schedule.eta == 3.0
    assert not any(isinstance(c, EarlyStopping) for c in call["callbacks"])  # the schedule decides when to stop
    saved = bp.History.load(history)
    halvings = [round(math.log2(3.0 / eta)) for eta in saved.eta]
    assert saved.eta == [3.0 / 2**k for k in halvings]
    assert halvings == sorted(halvings) and halvings[-1] == 6  # down to eta_0 / 64; eta_0 / 128 ends the run
    assert saved.stop_reason.startswith("the schedule HalveOnPlateau(eta=3.0, patience=1")


def test_halve_on_plateau_waits_ten_epochs_by_default(seen, capsys):
    run([*TINY, "--halve-on-plateau", "--optimizer", "adam"], capsys)
    schedule = seen()["schedule"]
    assert schedule.patience == 10 and schedule.eta == 0.01


# ---------------------------------------------------------------- bad values: exit 2, before any work

BAD = [
    (["--mu", "1"], "--mu must be >= 0 and < 1, got 1.0", ["--optimizer", "momentum"]),
    (["--mu", "-0.1"], "--mu must be >= 0 and < 1, got -0.1", ["--optimizer", "nesterov"]),
    (["--mu", "nan"], "--mu must be >= 0 and < 1, got nan", ["--optimizer", "momentum"]),
    (["--mu", "0.5"], "--mu applies only to --optimizer momentum or nesterov, not sgd", []),
    (["--mu", "0.5"], "--mu applies only to --optimizer momentum or nesterov, not adam", ["--optimizer", "adam"]),
    (["--beta1", "0.5"], "--beta1 applies only to --optimizer adam, not sgd", []),
    (["--beta2", "0.5"], "--beta2 applies only to --optimizer adam, not momentum", ["--optimizer", "momentum"]),
    (["--beta1", "1"], "--beta1 must be >= 0 and < 1, got 1.0", ["--optimizer", "adam"]),
    (["--beta2=-1e-9"], "--beta2 must be >= 0 and < 1, got -1e-09", ["--optimizer", "adam"]),
    (["--beta2", "inf"], "--beta2 must be >= 0 and < 1, got inf", ["--optimizer", "adam"]),
    (["--lmbda", "-1"], "--lmbda must be a finite number >= 0, got -1.0", []),
    (["--lmbda", "nan"], "--lmbda must be a finite number >= 0, got nan", []),
    (["--lmbda", "inf"], "--lmbda must be a finite number >= 0, got inf", []),
    (["--early-stopping", "0"], "--early-stopping must be >= 1, got 0", []),
    (["--early-stopping", "-2"], "--early-stopping must be >= 1, got -2", ["--halve-on-plateau"]),
    (["--eta", "0"], "--eta must be a finite number > 0, got 0.0", ["--optimizer", "adam"]),
]


@pytest.mark.parametrize(("argv", "message", "context"), BAD)
def test_a_bad_value_exits_2_with_one_line_before_any_work(argv, message, context, no_work, capsys):
    with pytest.raises(SystemExit) as exit:
        main([*TINY, *context, *argv])
    assert exit.value.code == 2
    out, err = capsys.readouterr()
    assert err == f"minibp train: error: {message}\n" and out == ""


@pytest.mark.parametrize("argv", [["--cost", "hinge"], ["--optimizer", "rmsprop"], ["--early-stopping", "2.5"]])
def test_argparse_refuses_unknown_choices(argv, no_work, capsys):
    with pytest.raises(SystemExit) as exit:
        main([*TINY, *argv])
    assert exit.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_every_problem_is_reported_at_once(no_work, capsys):
    with pytest.raises(SystemExit):
        main(
            [*TINY, "--lmbda", "-1", "--mu", "2", "--beta1", "0.5", "--early-stopping", "0", "--optimizer", "momentum"]
        )
    options = [line.split(": error: ")[1].split()[0] for line in capsys.readouterr().err.splitlines()]
    assert options == ["--lmbda", "--mu", "--beta1", "--early-stopping"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--optimizer", "momentum", "--mu", "0"],
        ["--optimizer", "nesterov", "--mu", "0.999"],
        ["--optimizer", "adam", "--beta1", "0", "--beta2", "0"],
        ["--lmbda", "0", "--early-stopping", "1"],
    ],
)
def test_the_ends_of_each_range_are_accepted(argv, capsys):
    run([*TINY, "--epochs", "0", *argv], capsys)


def test_every_train_option_has_help():
    commands = next(a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for action in commands.choices["train"]._actions:
        assert action.help, action.option_strings


# ---------------------------------------------------------------- the seed, the test accuracy, the metadata


def test_the_printed_seed_repeats_the_run(capsys, tmp_path):
    first, second = tmp_path / "first.npz", tmp_path / "second.npz"
    argv = [a for a in TINY if a not in ("--seed", "4")]
    out = run([*argv, "--cost", "cross-entropy", "--lmbda", "1", "--save", str(first)], capsys)
    seed = int(re.search(r"^Seed: (\d+) \(drawn at random; --seed \1 repeats this run\)$", out, re.M)[1])
    assert 0 <= seed < 2**32
    out = run([*argv, "--cost", "cross-entropy", "--lmbda", "1", "--seed", str(seed), "--save", str(second)], capsys)
    assert f"Seed: {seed}\n" in out

    a, b = bpio.load_checkpoint(first), bpio.load_checkpoint(second)
    assert a.metadata == b.metadata and a.metadata["train"]["seed"] == seed
    assert [p.data.tobytes() for p in a.net.parameters()] == [p.data.tobytes() for p in b.net.parameters()]
    assert a.rng.bit_generator.state == b.rng.bit_generator.state
    assert a.history["evaluation_correct"] == b.history["evaluation_correct"]


def test_the_seed_is_drawn_with_secrets(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(secrets, "randbits", lambda k: 2024 if k == 32 else pytest.fail(f"randbits({k})"))
    model = tmp_path / "model.npz"
    out = run([a for a in TINY if a not in ("--seed", "4")] + ["--save", str(model)], capsys)
    assert out.startswith("Seed: 2024 (drawn at random; --seed 2024 repeats this run)\n")
    assert bpio.load_checkpoint(model).metadata["train"]["seed"] == 2024


@pytest.mark.parametrize("test_flag", [[], ["--test"]])
def test_the_test_accuracy_is_the_last_line(test_flag, capsys, tmp_path):
    model = tmp_path / "model.npz"
    out = run([*TINY, *test_flag, "--save", str(model), "--history", str(tmp_path / "h.json")], capsys)
    Xt, yt = load_sample().test
    correct = bp.evaluate(bpio.load(model), Xt, yt)
    lines = out.splitlines()
    assert lines[-1] == f"Test: {correct} / 500 ({correct / 500:.2%})"
    assert lines[-3:-1] == [f"Saved the network to {model}", f"Wrote the history to {tmp_path / 'h.json'}"]
    assert sum(line.startswith("Test:") for line in lines) == 1


def test_quiet_prints_nothing(capsys):
    assert main([*TINY, "--quiet", "--optimizer", "adam", "--early-stopping", "2"]) == 0
    assert capsys.readouterr() == ("", "")


def test_the_run_says_what_it_trains(capsys):
    argv = ["--optimizer", "momentum", "--mu", "0.5", "--cost", "log-likelihood", "--lmbda", "3", "--early-stopping"]
    out = run([*TINY, *argv, "4"], capsys)
    assert (
        "; 1 epoch, m = 10, eta = 0.25, log-likelihood cost, momentum (mu = 0.5), L2 lmbda = 3.0, "
        "stopping after 4 epochs without improvement\n" in out
    )


def test_the_saved_metadata_records_every_setting(capsys, tmp_path):
    model = tmp_path / "model.npz"
    argv = ["--cost", "cross-entropy", "--optimizer", "nesterov", "--mu", "0.5", "--lmbda", "2"]
    run([*TINY, *argv, "--early-stopping", "3", "--halve-on-plateau", "--init", "scaled", "--save", str(model)], capsys)
    assert bpio.load_checkpoint(model).metadata["train"] == {
        "sizes": [784, 10],
        "epochs": 1,
        "mini_batch_size": 10,
        "eta": 0.25,
        "data": "sample",
        "init": "scaled",
        "seed": 4,
        "cost": "cross-entropy",
        "optimizer": "nesterov",
        "mu": 0.5,
        "beta1": None,
        "beta2": None,
        "lmbda": 2.0,
        "early_stopping": 3,
        "halve_on_plateau": True,
    }


# ---------------------------------------------------------------- the commands shown in the documentation


def documented_commands():
    fence = re.compile(r"^```bash\n(.*?)^```", re.M | re.S)
    commands = []
    for page in ("docs/how-to/chapter3.md", "docs/reference/cli.md"):
        for block in fence.findall((ROOT / page).read_text(encoding="utf-8")):
            for line in block.splitlines():
                if line.startswith("minibp train"):
                    commands.append(pytest.param(shlex.split(line, comments=True)[1:], id=f"{page}: {line}"))
    assert commands
    return commands


@pytest.mark.parametrize("argv", documented_commands())
def test_the_documented_commands_run(argv, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)  # where their --save and --history files go
    argv = [a for a in argv if a != "--download"]
    shrunk = ["--data", "sample", "--sizes", "784", "10", "--epochs", "1", "--no-progress"]  # the last one wins
    assert main([*argv, *shrunk]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("Test: ")
