"""Draw the documentation's pictures from one run of the first tutorial.

Runs ``docs/examples/first_network.py`` (the book's [784, 30, 10] network on
the bundled MNIST sample), writes what it printed to
``docs/examples/output/first_network.txt`` and draws, from the same trained
network:

* ``training-curves.png``: validation accuracy and training cost per epoch;
* ``misclassified.png``: test digits the network gets wrong, with label and guess;
* ``hidden-weights.png``: what training changed in each hidden neuron's weights, as a 28 x 28 image.

The mkdocs hook (``docs/hooks.py``) runs this before a build when the
tutorial or minibp changed. By hand:

    python scripts/make_figures.py [--out docs/assets/figures] [--output docs/examples/output/first_network.txt]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minibp as bp  # noqa: E402
from minibp._files import atomic_write  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "first_network.py"
FIGURES = ROOT / "docs" / "assets" / "figures"
OUTPUT = ROOT / "docs" / "examples" / "output" / "first_network.txt"


class _Tee(io.TextIOBase):
    """Write to several text streams at once."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()


def run_first_network(echo: bool = True, **settings):
    """Run the tutorial's ``main`` and return ``(printed text, (net, history, data))``."""
    spec = importlib.util.spec_from_file_location("first_network", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    captured = io.StringIO()
    target = _Tee(captured, sys.stdout) if echo else captured
    with contextlib.redirect_stdout(target):
        result = module.main(**settings)
    return captured.getvalue(), result


def _save(fig, path: Path) -> None:
    """Write the figure atomically (`minibp._files.atomic_write`), so a reader never sees half a file."""
    try:
        atomic_write(path, lambda f: fig.savefig(f, dpi=110, format="png"))
    finally:
        plt.close(fig)


def training_curves(history: bp.History, path: Path) -> None:
    epochs = np.asarray(history.epoch)
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3), layout="constrained")
    left.plot(epochs, 100 * np.asarray(history.evaluation_accuracy, dtype=float), marker="o", markersize=3)
    left.set(xlabel="epoch", ylabel="validation accuracy (%)", title="Digits recognised")
    right.plot(epochs, history.training_cost, marker="o", markersize=3, color="tab:orange")
    right.set(xlabel="epoch", ylabel="mean quadratic cost", title="Training cost")
    for ax in (left, right):
        ax.grid(alpha=0.3)
    _save(fig, path)


def misclassified(net: bp.Module, X: np.ndarray, y: np.ndarray, path: Path, count: int = 24) -> int:
    """Draw up to ``count`` wrongly classified examples; return how many there are in all."""
    guesses = bp.predict(net, X)
    wrong = np.flatnonzero(guesses != y)
    shown = wrong[:count]
    cols = 8
    rows = max(1, -(-len(shown) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.05, rows * 1.25), layout="constrained")
    for ax in np.ravel(axes):
        ax.axis("off")
    for ax, k in zip(np.ravel(axes), shown):
        ax.imshow(X[:, k].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"{y[k]} → {guesses[k]}", fontsize=9)
    fig.suptitle("Test digits the network gets wrong (label → guess)", fontsize=10)
    _save(fig, path)
    return len(wrong)


def hidden_weights(dense: bp.Dense, initial: np.ndarray, path: Path) -> None:
    """Draw what training added to each hidden neuron's weights, ``w - w_initial``, as an image."""
    w = dense.w.data - initial  # (n_hidden, 784): row j holds the change of the weights into neuron j
    n = w.shape[0]
    cols = 10
    rows = -(-n // cols)
    limit = np.abs(w).max()
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 0.9, rows * 0.95), layout="constrained")
    for ax in np.ravel(axes):
        ax.axis("off")
    for j, ax in zip(range(n), np.ravel(axes)):
        image = ax.imshow(w[j].reshape(28, 28), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(str(j), fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.8, label="change of weight")
    title = "What training changed in the weights into each hidden neuron (28 × 28, red up, blue down)"
    fig.suptitle(title, fontsize=10)
    _save(fig, path)


def make_figures(out: Path = FIGURES, output: Path = OUTPUT, echo: bool = False, **settings) -> dict[str, Path]:
    """Run the first tutorial, save what it printed to ``output`` and its pictures into ``out``."""
    text, (net, history, data) = run_first_network(echo=echo, **settings)
    out.mkdir(parents=True, exist_ok=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(output, lambda f: f.write(text.encode("utf-8")))  # builds may run side by side
    paths = {
        "training-curves": out / "training-curves.png",
        "misclassified": out / "misclassified.png",
        "hidden-weights": out / "hidden-weights.png",
    }
    training_curves(history, paths["training-curves"])
    misclassified(net, *data.test, paths["misclassified"])
    seed = settings.get("seed", 0)  # the tutorial's default: rebuild its starting point from the seed
    initial = bp.mlp([784, 30, 10], rng=seed)[0].w.data
    hidden_weights(net[0], initial, paths["hidden-weights"])
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=FIGURES, help="folder for the PNG files")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="file for the tutorial's printed output")
    args = parser.parse_args(argv)
    for path in make_figures(args.out, args.output, echo=True).values():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
