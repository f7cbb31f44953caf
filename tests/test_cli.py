import json
import struct
import sys
import tempfile

import numpy as np
import pytest

import minibp as bp
from minibp import io as bpio
from minibp.cli import main

TRAIN = ["train", "--sizes", "784", "8", "10", "--epochs", "2", "--quiet", "--seed", "3", "--no-progress"]


def test_train_save_writes_a_checkpoint_that_can_resume(tmp_path):
    path = tmp_path / "model.npz"
    assert main([*TRAIN, "--save", str(path), "--history", str(tmp_path / "h.json")]) == 0
    ckpt = bpio.load_checkpoint(path)
    assert [p.shape for p in ckpt.net.parameters()] == [(8, 784), (8, 1), (10, 8), (10, 1)]
    assert ckpt.optimizer_state["type"] == "SGD" and ckpt.optimizer_state["eta"] == 3.0
    assert ckpt.history["epoch"] == [0, 1]
    assert ckpt.history == json.loads((tmp_path / "h.json").read_text())
    assert ckpt.metadata["train"]["sizes"] == [784, 8, 10] and ckpt.metadata["train"]["seed"] == 3
    assert isinstance(ckpt.rng, np.random.Generator)

    # The same seed gives the same network, bit for bit, and the stored rng continues the run's stream.
    again = tmp_path / "again.npz"
    assert main([*TRAIN, "--save", str(again)]) == 0
    other = bpio.load_checkpoint(again)
    for p, q in zip(ckpt.net.parameters(), other.net.parameters()):
        assert p.data.tobytes() == q.data.tobytes()
    assert ckpt.rng.bit_generator.state == other.rng.bit_generator.state


def test_save_failure_leaves_the_previous_model(tmp_path, monkeypatch, capsys):
    path = tmp_path / "model.npz"
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a rescue file would go
    bpio.save(bp.mlp([784, 3, 10], rng=0), path)
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise bp.NonFiniteError("simulated failure while writing")

    monkeypatch.setattr(bpio, "write_npz", broken)
    assert main([*TRAIN, "--save", str(path)]) == 1
    err = capsys.readouterr().err
    assert "simulated failure" in err and "nor to a rescue file" in err and "Traceback" not in err
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]


def history_file(tmp_path, epochs=5):
    history = bp.History(
        epoch=list(range(epochs)),
        training_cost=[0.5 / (e + 1) for e in range(epochs)],
        evaluation_cost=[0.6 / (e + 1) for e in range(epochs)],
        evaluation_correct=[50 + 5 * e for e in range(epochs)],
        evaluation_accuracy=[(50 + 5 * e) / 100 for e in range(epochs)],
        evaluation_size=100,
        seconds=[0.1] * epochs,
    )
    path = tmp_path / "history.json"
    history.save(path)
    return path


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    history = history_file(tmp_path)
    out = tmp_path / "curves.png"
    assert main(["plot", str(history), "-o", str(out), "--title", "test run"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert png_size(out.read_bytes()) == (1000, 400)
    assert main(["plot", str(history)]) == 0  # default name: the history's, with .png
    assert png_size((tmp_path / "history.png").read_bytes()) == (1000, 400)


def test_plot_without_matplotlib_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    for name in [n for n in sys.modules if n.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    assert main(["plot", str(history_file(tmp_path))]) == 1
    assert "pip install minibp[plot]" in capsys.readouterr().err
    assert not (tmp_path / "history.png").exists()


def test_plot_reports_missing_and_malformed_history_files(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:  # bad input: exit 2, as argparse's errors
        main(["plot", str(tmp_path / "nope.json")])
    assert exit.value.code == 2
    assert "no such history file" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SystemExit, match="2"):  # a malformed history is bad input too
        main(["plot", str(bad)])
    assert "is not JSON" in capsys.readouterr().err
    bad.write_text(json.dumps({"epoch": [0, 1], "training_cost": [1.0]}))
    with pytest.raises(SystemExit, match="2"):
        main(["plot", str(bad)])
    assert "'training_cost' must be a list of 2 values" in capsys.readouterr().err


def test_info_describes_a_saved_model(tmp_path, capsys):
    path = tmp_path / "model.npz"
    assert main([*TRAIN, "--save", str(path)]) == 0
    capsys.readouterr()
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}: minibp model, format version 3, written by minibp {bp.__version__}" in out
    assert "Cost: QuadraticCost\n" in out  # the cost train --save records
    assert "0  Dense(784, 8)" in out and f"Total parameters: {784 * 8 + 8 + 8 * 10 + 10:,}" in out
    assert "Optimizer: SGD (eta = 3.0)" in out
    assert "Trained 2 epochs; last evaluation accuracy" in out
    assert "'seed': 3" in out


def test_info_refuses_what_is_not_a_model(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:  # bad input: exit 2, as argparse's errors
        main(["info", str(tmp_path / "missing.npz")])
    assert exit.value.code == 2
    assert "no such model file" in capsys.readouterr().err
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert main(["info", str(tmp_path / "bad.npz")]) == 1
    assert "is not an .npz archive" in capsys.readouterr().err
