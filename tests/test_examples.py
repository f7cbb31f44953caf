"""Every script in examples/ runs, with small settings."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_xor_learns_the_four_cases(capsys):
    history = load("xor").main(epochs=3000)
    assert history.training_cost[-1] < 0.01
    out = capsys.readouterr().out
    outputs = [float(v) for v in out.split("outputs:")[1].split("\n")[0].strip(" []").split(",")]
    np.testing.assert_array_equal(np.round(outputs), [0, 1, 1, 0])


def test_book_mnist_runs_and_learns(capsys):
    history = load("book_mnist").main(epochs=2, seed=0)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Training with the fused epoch (minibp.fast)"  # the book's network takes the fast path
    assert re.fullmatch(r"Epoch 0: \d+ / 500, cost [\d.]+, [\d.]+ s", lines[1])
    assert lines[-1].startswith("Test: ") and lines[-1].endswith(" / 500")
    # Two epochs on 4,000 real digits already classify far better than chance (50 / 500).
    assert history.evaluation_correct[-1] > 250


def test_readme_example_runs(capsys):
    """The README's ten-line example, with 2 epochs instead of 30."""
    readme = (EXAMPLES.parent / "README.md").read_text(encoding="utf-8")
    code = readme.split("## Ten lines", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    assert "epochs=30" in code
    exec(compile(code.replace("epochs=30", "epochs=2"), "README.md", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Training with ")  # which of train's two paths runs
    assert [line.split(":")[0] for line in lines[1:3]] == ["Epoch 0", "Epoch 1"]
    assert lines[-1].endswith(" / 500 test digits correct")
    quoted = readme.split('# prints "', 1)[1].split('"', 1)[0]
    seconds = re.compile(r"\d+\.\d s$")  # the time an epoch takes differs from run to run
    assert seconds.sub("... s", quoted) == seconds.sub("... s", lines[1])  # the README quotes what it prints
