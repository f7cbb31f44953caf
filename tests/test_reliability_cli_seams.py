"""The ``minibp`` command at its seams: a Ctrl-C during the final save, empty output paths, odd models, crafted
histories, and terminal control characters in a model file."""

from __future__ import annotations

import json
import os
import re
import signal

import numpy as np
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


# -- odd but valid models: info describes them, predict says what does not fit ------------------------------


ODD_MODELS = {  # name: (network, the input size info shows, what predict does with a 28 x 28 image)
    "six inputs": (lambda: bp.mlp([6, 4, 3], rng=0), 6, "refused"),
    "a Residual first, six inputs": (
        lambda: bp.Sequential(bp.Residual(bp.Dense(6, 6, rng=0)), bp.Dense(6, 3, rng=1)), 6, "refused"),
    "an activation first, six inputs": (lambda: bp.Sequential(bp.Sigmoid(), bp.Dense(6, 3, rng=1)), 6, "refused"),
    "a Parallel first, 784 inputs": (
        lambda: bp.Sequential(bp.Parallel(bp.Dense(784, 5, rng=0), bp.Dense(784, 5, rng=1)), bp.Sigmoid()), 784,
        "works"),
    "Dropout first, 784 inputs": (
        lambda: bp.Sequential(bp.Dropout(0.5, rng=0), bp.Dense(784, 10, rng=1), bp.Sigmoid()), 784, "works"),
    "stacked copies, 784 inputs": (  # the first Dense sees 1568 features: the model itself takes any number
        lambda: bp.Sequential(bp.Parallel(bp.Identity(), bp.Identity()), bp.Dense(1568, 10, rng=0), bp.Sigmoid()),
        None, "works"),
    "no Dense at all": (lambda: bp.Sequential(bp.Sigmoid()), None, "works"),
}


@pytest.fixture
def digit(tmp_path):
    image = pytest.importorskip("PIL.Image")
    path = tmp_path / "digit.png"
    image.fromarray(((np.arange(28 * 28).reshape(28, 28) * 7) % 256).astype(np.uint8)).save(path)
    return path


@pytest.mark.parametrize("case", list(ODD_MODELS))
def test_info_describes_any_valid_model(case, tmp_path, capsys):
    make, n_in, _ = ODD_MODELS[case]
    net = make()
    bpio.save(net, tmp_path / "model.npz")
    assert main(["info", str(tmp_path / "model.npz")]) == 0
    out = capsys.readouterr().out
    total = sum(p.data.size for p in net.parameters())
    if n_in is None:
        assert "Input: any number of features" in out and f"total parameters: {total:,}" in out
    else:
        assert f"Input: ({n_in}, m)" in out and f"Total parameters: {total:,}" in out


@pytest.mark.parametrize("case", list(ODD_MODELS))
def test_predict_works_or_says_the_model_takes_n_inputs(case, tmp_path, digit, capsys):
    make, n_in, outcome = ODD_MODELS[case]
    net = make()
    bpio.save(net, tmp_path / "model.npz")
    argv = ["predict", str(tmp_path / "model.npz"), str(digit)]
    if outcome == "refused":
        with pytest.raises(SystemExit) as exit:
            main(argv)
        assert exit.value.code == 2
        assert f"takes {n_in} inputs, but an image becomes 784 (28 x 28 pixels)" in capsys.readouterr().err
    else:
        assert main(argv) == 0
        last = capsys.readouterr().out.splitlines()[-1]  # after the line that says what the numbers are
        assert re.fullmatch(rf"{re.escape(str(digit))}: \d+  \(.*\)", last), last


# -- control characters from a model file are escaped ---------------------------------------------------

NASTY = ["\x1b[2J\x1b]0;owned\x07", "bell\x07", "carriage\rreturn", "\u202eevil\u202c", "\u2066isolate\u2069",
         "new\nline", "\x9b31m"]  # fmt: skip


def _no_controls(text):
    return all(ch == "\n" or ch.isprintable() for ch in text)


@pytest.mark.parametrize("nasty", NASTY, ids=lambda s: s.encode("unicode_escape").decode()[:12])
def test_info_escapes_control_characters_from_a_model_file(nasty, tmp_path, capsys):
    net = bp.mlp([6, 3], rng=0)
    optimizer = bp.SGD(net.parameters(), eta=0.5)
    path = tmp_path / "model.npz"
    bpio.save(net, path, optimizer=optimizer, metadata={"note": nasty, nasty: [nasty, {"deep": nasty}]})
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert _no_controls(out), repr(out)
    visible = nasty.encode("unicode_escape").decode("ascii")
    assert visible in out or repr(nasty)[1:-1] in out


@pytest.mark.parametrize("nasty", NASTY, ids=lambda s: s.encode("unicode_escape").decode()[:12])
def test_info_escapes_control_characters_in_fields_the_library_writes(nasty, tmp_path, capsys):
    """The version, the optimizer's type and settings, changed in the file's own JSON document."""
    import io
    import zipfile

    net = bp.mlp([6, 3], rng=0)
    path = tmp_path / "model.npz"
    bpio.save(net, path, optimizer=bp.SGD(net.parameters(), eta=0.5))
    with zipfile.ZipFile(path) as z:
        members = {name: z.read(name) for name in z.namelist()}
    doc = json.loads(np.load(io.BytesIO(members["minibp.json.npy"])).tobytes())
    doc["minibp_version"] += nasty
    doc["optimizer"]["scalars"]["type"] += nasty
    doc["optimizer"]["scalars"]["note"] = nasty
    buffer = io.BytesIO()
    np.save(buffer, np.frombuffer(json.dumps(doc).encode("utf-8"), dtype=np.uint8))
    members["minibp.json.npy"] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert _no_controls(out), repr(out)
    assert out.count(nasty.encode("unicode_escape").decode("ascii")) == 3  # shown, escaped: version, type, note
