"""The ``minibp`` command at its seams: a Ctrl-C during the final save, empty output paths, odd models, crafted
histories, and terminal control characters in a model file."""

from __future__ import annotations

import os
import re
import signal

import pytest

import minibp as bp
from minibp import io as bpio
from minibp.cli import main

SMALL = ["train", "--sizes", "784", "10", "--epochs", "2", "--no-progress", "--seed", "1"]


# -- a Ctrl-C during the final save: the files are written whole, or the message says what was lost ----------


def ctrl_c_during(monkeypatch, owner, name, times):
    """Make ``owner.name`` send itself ``times`` Ctrl-C (SIGINT) before it writes; return the calls made."""
    real, calls = getattr(owner, name), []

    def save(*args, **kwargs):
        calls.append(args[1] if len(args) > 1 else args[0])
        for _ in range(times):
            signal.raise_signal(signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, save)
    return calls


@pytest.mark.parametrize("during", ["network", "history"])
def test_one_ctrl_c_during_the_final_save_waits_for_both_files(during, tmp_path, monkeypatch, capsys):
    owner, name = (bpio, "save") if during == "network" else (bp.History, "save")
    calls = ctrl_c_during(monkeypatch, owner, name, 1)
    model, history = tmp_path / "model.npz", tmp_path / "history.json"
    assert main([*SMALL, "--save", str(model), "--history", str(history)]) == 0
    out, err = capsys.readouterr()
    assert calls and f"Saved the network to {model}\nWrote the history to {history}\n" in out
    assert err == "minibp: Ctrl-C while saving: the saving was finished first\n"
    assert bp.History.load(history).epoch == [0, 1]
    assert bpio.load_checkpoint(model).history["epoch"] == [0, 1]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_during_the_save_stops_it_and_says_what_was_lost(tmp_path, monkeypatch, capsys):
    ctrl_c_during(monkeypatch, bpio, "save", 2)
    model, history = tmp_path / "model.npz", tmp_path / "history.json"
    assert main([*SMALL, "--save", str(model), "--history", str(history)]) == 130
    err = capsys.readouterr().err
    assert err == (
        f"minibp: interrupted again while saving: the network ({model}) and the history ({history}) not saved\n"
        "minibp: interrupted\n"
    )
    assert sorted(os.listdir(tmp_path)) == []  # nothing half-written, no temporary file left


def test_one_ctrl_c_during_the_save_after_an_interrupted_run_still_saves(tmp_path, monkeypatch, capsys):
    """Ctrl-C in training, then another during the save: the first is the run's, the second waits for the save."""
    import importlib

    train_module = importlib.import_module("minibp.train")
    real_train = train_module.train

    class CtrlC:
        def on_epoch_end(self, epoch, *rest):
            signal.raise_signal(signal.SIGINT)

    def train(*args, callbacks=(), **kwargs):
        return real_train(*args, callbacks=[*callbacks, CtrlC()], **kwargs)

    monkeypatch.setattr(train_module, "train", train)
    ctrl_c_during(monkeypatch, bp.History, "save", 1)
    model, history = tmp_path / "model.npz", tmp_path / "history.json"
    assert main([*SMALL, "--epochs", "3", "--save", str(model), "--history", str(history)]) == 130
    err = capsys.readouterr().err
    assert err.startswith("minibp: Ctrl-C while saving: the saving was finished first\nminibp: interrupted (Ctrl-C)")
    assert bp.History.load(history).epoch == [0] and bpio.load_checkpoint(model).history["epoch"] == [0]


@pytest.mark.parametrize("option", ["--save", "--history"])
@pytest.mark.parametrize("path", ["", " ", "\t\n"])
def test_an_empty_output_path_is_a_usage_error_before_training(option, path, monkeypatch, capsys):
    import importlib

    monkeypatch.setattr(importlib.import_module("minibp.train"), "train", lambda *a, **k: pytest.fail("trained"))
    with pytest.raises(SystemExit) as exit:
        main([*SMALL, option, path])
    assert exit.value.code == 2
    assert re.fullmatch(rf"minibp train: error: {option} needs a file name, got {re.escape(repr(path))}\n",
                        capsys.readouterr().err)  # fmt: skip
