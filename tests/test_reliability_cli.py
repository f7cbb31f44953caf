"""The ``minibp`` command never loses work and never prints a traceback.

Bad input exits 2 before any data are loaded or any training starts; a save
that fails after training goes to a rescue file in the temporary directory;
Ctrl-C saves what was trained and exits 130; any other failure exits 1 with
one line on standard error.
"""

import errno
import importlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import minibp as bp
from minibp import io as bpio
from minibp.cli import main
from minibp.errors import DivergedError, DownloadError

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["train", "--sizes", "784", "10", "--epochs", "1", "--quiet", "--no-progress", "--seed", "1"]
train_module = importlib.import_module("minibp.train")  # `minibp.train` is also the function
data_module = importlib.import_module("minibp.data")


def forbidden(*args, **kwargs):
    pytest.fail("data were loaded or training started before every argument was checked")


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if data are loaded, downloaded or trained on."""
    monkeypatch.setattr(data_module, "load_dataset", forbidden)
    monkeypatch.setattr(data_module, "download", forbidden)
    monkeypatch.setattr(train_module, "train", forbidden)


@pytest.fixture
def rescue_dir(tmp_path, monkeypatch):
    """The temporary directory where rescue files go."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def exits_2(argv):
    """Run ``main(argv)``, which must refuse its input, as argparse does, with ``SystemExit(2)``."""
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2
    return exit.value


# ---------------------------------------------------------------- bad input: exit 2, before any work

BAD = [
    (["--init", "nope"], r"--init nope: unknown initialiser; choose one of book, glorot, he, scaled"),
    (["--seed", "-1"], r"--seed must be >= 0, got -1"),
    (["--epochs", "-1"], r"--epochs must be >= 0, got -1"),
    (["--mini-batch-size", "0"], r"--mini-batch-size must be >= 1, got 0"),
    (["--eta", "0"], r"--eta must be a finite number > 0, got 0\.0"),
    (["--eta", "-2.5"], r"--eta must be a finite number > 0, got -2\.5"),
    (["--eta", "nan"], r"--eta must be a finite number > 0, got nan"),
    (["--eta", "inf"], r"--eta must be a finite number > 0, got inf"),
    (["--sizes", "784"], r"--sizes needs at least two sizes, each >= 1, got \[784\]"),
    (["--sizes", "784", "0", "10"], r"--sizes needs at least two sizes, each >= 1, got \[784, 0, 10\]"),
    (["--data", "{tmp}/nowhere"], r"--data .*/nowhere: unknown data set; expected sample, mnist, fashion-mnist or"),
    (["--save", "{tmp}"], r"--save .* is a directory; give a file name"),
    (["--history", "{tmp}"], r"--history .* is a directory; give a file name"),
    (["--save", "{tmp}/fifo"], r"--save .*/fifo is not a regular file"),
    (["--save", "{tmp}/file/m.npz"], r"--save .*/file/m\.npz: '.*/file' is not a directory"),
    (["--history", "{tmp}/missing/h.json"], r"--history .*/h\.json: the directory '.*/missing' does not exist"),
    (["--save", "/proc/minibp-test.npz"], r"--save /proc/minibp-test\.npz: cannot write in '/proc': "),
    (["--save", "{tmp}/" + "a" * 300 + ".npz"], r"--save .*\.npz: the file name is 304 bytes long; NAME_MAX is \d+"),
    (["--history", "{tmp}/" + "d/" * 2100 + "h.json"], r"--history .*: the path is \d+ bytes long; PATH_MAX is \d+"),
    (["--save", "{tmp}/x", "--history", "{tmp}/x"], r"--save and --history name the same file, .*/x; give two files"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[" ".join(a)[:40] for a, _ in BAD])
def test_each_bad_argument_exits_2_before_any_data_are_loaded(args, message, tmp_path, no_work, capsys):
    (tmp_path / "file").write_text("")
    os.mkfifo(tmp_path / "fifo")
    before = sorted(os.listdir(tmp_path))
    exits_2([*SMALL, *(a.format(tmp=tmp_path) for a in args)])
    out, err = capsys.readouterr()
    assert re.fullmatch(f"minibp train: error: {message}.*\n", err), err
    assert out == ""
    assert sorted(os.listdir(tmp_path)) == before  # the probes that test the paths leave nothing behind


def test_every_bad_argument_is_reported_at_once(no_work, capsys):
    exits_2([*SMALL, "--epochs", "-1", "--eta", "0", "--init", "nope"])
    err = capsys.readouterr().err
    assert [line.split(":")[2].split()[0] for line in err.splitlines()] == ["--epochs", "--eta", "--init"]


def test_usage_errors_of_argparse_also_exit_2(no_work, capsys):
    exits_2([*SMALL, "--epochs", "many"])
    exits_2(["frobnicate"])
    assert "Traceback" not in capsys.readouterr().err


def test_sizes_beyond_physical_memory_are_refused_naming_both_numbers(no_work, capsys):
    exits_2([*SMALL, "--sizes", "784", "1000000000", "10"])
    count = 784 * 10**9 + 10**9 + 10**9 * 10 + 10
    physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    err = capsys.readouterr().err
    assert f"{count:,} parameters need {8 * count:,} bytes" in err
    assert f"more than the {physical:,} bytes" in err and "of physical memory" in err


def test_the_memory_check_counts_the_bytes_of_the_dtype(monkeypatch, capsys):
    real = os.sysconf
    pages = {"SC_PHYS_PAGES": 10, "SC_PAGE_SIZE": 4096}  # 40,960 bytes
    monkeypatch.setattr(os, "sysconf", lambda name: pages.get(name) or real(name))
    count = 784 * 10 + 10
    with monkeypatch.context() as m:
        m.setattr(data_module, "load_dataset", forbidden)
        exits_2([*SMALL, "--dtype", "float64"])  # 62,800 bytes
    assert f"{8 * count:,} bytes (61.3 KiB) as float64, more than the 40,960 bytes" in capsys.readouterr().err
    assert main([*SMALL, "--dtype", "float32", "--epochs", "0"]) == 0  # 31,400 bytes fit


@pytest.mark.parametrize(
    "args, message",
    [
        (["--sizes", "700", "10"], r"--sizes starts with 700 but the data have 784 features"),
        (["--sizes", "784", "5"], r"--sizes ends with 5 outputs but the data have labels up to 9; the last size must"),
        (["--mini-batch-size", "5000"], r"--mini-batch-size 5000 is larger than the 4000 training examples"),
    ],
)
def test_settings_that_do_not_fit_the_data_exit_2_before_training(args, message, monkeypatch, capsys):
    monkeypatch.setattr(train_module, "train", forbidden)
    exits_2([*SMALL, *args])
    assert re.fullmatch(f"minibp train: error: {message}.*\n", capsys.readouterr().err)


# ---------------------------------------------------------------- a failing save: a rescue file, exit 1


def failing_save(monkeypatch, owner, name, target, error=None):
    """Make ``owner.name(first, path, ...)`` raise for ``target`` (a full disk), and work for any other path."""
    real = getattr(owner, name)

    def save(first, path, *args, **kwargs):
        if target is None or os.fspath(path) == os.fspath(target):
            raise error or OSError(errno.ENOSPC, "No space left on device", os.fspath(path))
        return real(first, path, *args, **kwargs)

    monkeypatch.setattr(owner, name, save)


def same_parameters(a, b):
    return all(p.data.tobytes() == q.data.tobytes() for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_a_model_that_cannot_be_saved_goes_to_a_rescue_file(tmp_path, rescue_dir, monkeypatch, capsys):
    target, history = tmp_path / "model.npz", tmp_path / "history.json"
    failing_save(monkeypatch, bpio, "save", target)
    assert main([*SMALL, "--save", str(target), "--history", str(history)]) == 1
    [rescue] = rescue_dir.iterdir()
    assert rescue.name.startswith("minibp-rescue-model-") and rescue.suffix == ".npz"
    assert capsys.readouterr().err == (
        f"minibp: error: could not save the network to {str(target)!r} "
        f"([Errno 28] No space left on device: {str(target)!r}); saved it to {str(rescue)!r} instead\n"
    )
    assert not target.exists()
    assert json.loads(history.read_text())["epoch"] == [0]  # the history is written all the same
    ckpt = bpio.load_checkpoint(rescue)
    assert ckpt.history["epoch"] == [0] and ckpt.metadata["train"]["seed"] == 1

    # The rescued network is the trained one: the same as a run with the same seed saves.
    assert main([*SMALL, "--save", str(tmp_path / "ok.npz")]) == 0
    assert same_parameters(ckpt.net, bpio.load(tmp_path / "ok.npz"))


def test_a_history_that_cannot_be_written_goes_to_a_rescue_file(tmp_path, rescue_dir, monkeypatch, capsys):
    target = tmp_path / "history.json"
    failing_save(monkeypatch, bp.History, "save", target)
    assert main([*SMALL, "--save", str(tmp_path / "model.npz"), "--history", str(target)]) == 1
    [rescue] = rescue_dir.iterdir()
    err = capsys.readouterr().err
    assert err.startswith(f"minibp: error: could not save the history to {str(target)!r} ([Errno 28]")
    assert err.endswith(f"saved it to {str(rescue)!r} instead\n") and rescue.suffix == ".json"
    assert bp.History.load(rescue).epoch == [0]
    assert bpio.load_checkpoint(tmp_path / "model.npz").history["epoch"] == [0]


def test_when_the_rescue_fails_too_the_message_says_so(tmp_path, rescue_dir, monkeypatch, capsys):
    failing_save(monkeypatch, bpio, "save", None, error=OSError(errno.EIO, "Input/output error"))
    assert main([*SMALL, "--save", str(tmp_path / "model.npz")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"minibp: error: could not save the network to {str(tmp_path / 'model.npz')!r}")
    assert f"nor to a rescue file in {str(rescue_dir)!r} ([Errno 5] Input/output error); it is lost" in err
    assert list(rescue_dir.iterdir()) == [] and not (tmp_path / "model.npz").exists()


# ---------------------------------------------------------------- Ctrl-C and failures while training


class At:
    """A callback that runs ``action`` at the end of epoch ``epoch``."""

    def __init__(self, epoch, action):
        self.epoch, self.action = epoch, action

    def on_epoch_end(self, epoch, *rest):
        if epoch == self.epoch:
            self.action()


def with_callback(monkeypatch, callback):
    real = train_module.train
    monkeypatch.setattr(
        train_module, "train", lambda *a, callbacks=(), **k: real(*a, callbacks=[*callbacks, callback], **k)
    )


def test_ctrl_c_while_training_saves_what_was_trained_and_exits_130(tmp_path, monkeypatch, capsys):
    with_callback(monkeypatch, At(0, lambda: signal.raise_signal(signal.SIGINT)))
    model, history = tmp_path / "model.npz", tmp_path / "history.json"
    argv = [*SMALL, "--epochs", "3", "--test", "--save", str(model), "--history", str(history)]
    assert main([a for a in argv if a != "--quiet"]) == 130
    out, err = capsys.readouterr()
    assert f"Saved the network to {model}\nWrote the history to {history}\n" in out and "Test:" not in out
    assert re.fullmatch(r"minibp: interrupted \(Ctrl-C\) .*\n", err)
    saved = bp.History.load(history)
    assert saved.epoch[0] == 0 and len(saved.epoch) < 3 and "interrupted" in saved.stop_reason
    assert bpio.load_checkpoint(model).history == saved.to_dict()


def test_a_keyboard_interrupt_raised_out_of_train_still_saves(tmp_path, monkeypatch, capsys):
    def ctrl_c():
        raise KeyboardInterrupt

    with_callback(monkeypatch, At(1, ctrl_c))
    model = tmp_path / "model.npz"
    assert main([*SMALL, "--epochs", "3", "--save", str(model)]) == 130
    assert re.fullmatch(r"minibp: interrupted \(Ctrl-C\) .*\n", capsys.readouterr().err)
    ckpt = bpio.load_checkpoint(model)
    assert ckpt.history["epoch"][:2] == [0, 1] and "interrupted" in ckpt.history["stop_reason"]


def test_training_that_fails_part_way_saves_what_was_trained_and_exits_1(tmp_path, monkeypatch, capsys):
    def diverge():
        raise DivergedError("training diverged in epoch 1, mini-batch 7: simulated", epoch=1, mini_batch=7)

    with_callback(monkeypatch, At(1, diverge))
    model = tmp_path / "model.npz"
    assert main([*SMALL, "--epochs", "3", "--save", str(model)]) == 1
    assert capsys.readouterr().err == "minibp: error: training diverged in epoch 1, mini-batch 7: simulated\n"
    history = bpio.load_checkpoint(model).history
    assert history["epoch"] == [0, 1] and history["stop_reason"].startswith("DivergedError: training diverged")


def test_ctrl_c_while_loading_the_data_exits_130(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(data_module, "load_dataset", interrupted)
    assert main([*SMALL, "--save", str(tmp_path / "model.npz")]) == 130
    assert capsys.readouterr().err == "minibp: interrupted\n"
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- one exit-code policy for every sub-command


def raising(error):
    def run(*args, **kwargs):
        raise error

    return run


@pytest.mark.parametrize(
    "error, message",
    [
        (PermissionError(errno.EACCES, "Permission denied", "/data"), "minibp: error: [Errno 13] Permission denied"),
        (bp.data.DataNotFoundError("MNIST is not in /cache; run minibp data download mnist"), "minibp: error: MNIST"),
        (MemoryError(), "minibp: error: MemoryError"),
        (RuntimeError("a bug"), "minibp: internal error, please report it: RuntimeError: a bug"),
    ],
)
def test_a_failure_while_running_exits_1_with_one_line(error, message, monkeypatch, capsys):
    monkeypatch.setattr(data_module, "load_dataset", raising(error))
    assert main(SMALL) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_info_a_missing_file_is_bad_input_a_corrupt_one_a_failure(tmp_path, capsys):
    exits_2(["info", str(tmp_path / "missing.npz")])
    assert capsys.readouterr().err == f"minibp info: error: no such model file: {str(tmp_path / 'missing.npz')!r}\n"
    exits_2(["info", str(tmp_path)])
    assert capsys.readouterr().err == f"minibp info: error: {str(tmp_path)!r} is a directory, not a model file\n"
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert main(["info", str(tmp_path / "bad.npz")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("minibp: error: model file") and err.count("\n") == 1
    bpio.save(bp.mlp([4, 3, 2], rng=0), tmp_path / "good.npz")
    assert main(["info", str(tmp_path / "good.npz")]) == 0


def test_plot_a_missing_file_an_unwritable_image_or_a_malformed_history_is_bad_input(tmp_path, capsys):
    exits_2(["plot", str(tmp_path / "missing.json")])
    assert capsys.readouterr().err == f"minibp plot: error: no such history file: {str(tmp_path / 'missing.json')!r}\n"
    history = tmp_path / "history.json"
    bp.History(epoch=[0], training_cost=[0.5]).save(history)
    exits_2(["plot", str(history), "-o", str(tmp_path)])
    assert "is a directory" in capsys.readouterr().err
    exits_2(["plot", str(history), "-o", str(history)])
    assert "is the history file itself" in capsys.readouterr().err
    history.write_text("{not json")
    exits_2(["plot", str(history)])
    assert "is not JSON" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json"]


def test_data_download_a_bad_directory_is_bad_input_a_failed_download_a_failure(tmp_path, monkeypatch, capsys):
    (tmp_path / "file").write_text("")
    with monkeypatch.context() as m:
        m.setattr(data_module, "download", forbidden)
        exits_2(["data", "download", "--dir", str(tmp_path / "file" / "mnist")])
    assert (
        capsys.readouterr().err
        == f"minibp data: error: --dir {tmp_path}/file/mnist: '{tmp_path}/file' is not a directory\n"
    )
    monkeypatch.setattr(data_module, "download", raising(DownloadError("no mirror delivered train-images")))
    assert main(["data", "download", "--dir", str(tmp_path / "new" / "mnist")]) == 1
    assert capsys.readouterr().err == "minibp: error: no mirror delivered train-images\n"


@pytest.mark.parametrize(
    "argv, code, message",
    [
        (["train", "--eta", "0"], 2, "minibp train: error: --eta must be a finite number > 0, got 0.0"),
        (["train", "--epochs", "x"], 2, "minibp train: error: argument --epochs: invalid int value: 'x'"),
        (["info", "missing.npz"], 2, "minibp info: error: no such model file: 'missing.npz'"),
        (["info", "bad.npz"], 1, "minibp: error: model file 'bad.npz' is not an .npz archive"),
    ],
)
def test_the_command_exits_with_the_codes_documented(argv, code, message, tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "minibp", *argv], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == code
    assert run.stderr.splitlines()[-1].startswith(message) and "Traceback" not in run.stderr


def test_the_exit_codes_are_documented_in_the_help_and_the_reference(capsys):
    page = (ROOT / "docs" / "reference" / "cli.md").read_text(encoding="utf-8")
    for argv in (["--help"], ["train", "--help"], ["info", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        out = capsys.readouterr().out
        for code in ("0", "1", "2", "130"):
            assert re.search(rf"^  {code} +\S", out, re.M), (argv, code)
    for code in ("0", "1", "2", "130"):
        assert re.search(rf"^\| `{code}` \|", page, re.M), code
