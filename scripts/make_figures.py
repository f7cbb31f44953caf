"""Draw the documentation's pictures from one run of the first tutorial.

Runs ``docs/examples/first_network.py`` (the book's [784, 30, 10] network on
the bundled MNIST sample), writes what it printed to
``docs/examples/output/first_network.txt`` and draws, from the same trained
network:

* ``training-curves.png``: cost and validation accuracy per epoch (`minibp.plot.plot_history`);
* ``misclassified.png``: test digits the network gets wrong, with label and guess
  (`minibp.plot.plot_misclassified`);
* ``hidden-weights.png``: what training changed in each hidden neuron's weights, as a 28 x 28 image
  (`minibp.plot.plot_weights` with ``relative_to``, the network before training).

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

import minibp as bp
from minibp._files import atomic_write
from minibp.plot import plot_history, plot_misclassified, plot_weights

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
    assert spec is not None and spec.loader is not None, EXAMPLE
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    captured = io.StringIO()
    target = _Tee(captured, sys.stdout) if echo else captured
    with contextlib.redirect_stdout(target):
        result = module.main(**settings)
    return captured.getvalue(), result


def make_figures(out: Path = FIGURES, output: Path = OUTPUT, echo: bool = False, **settings) -> dict[str, Path]:
    """Run the first tutorial, save what it printed to ``output`` and its pictures into ``out``.

    The pictures are `minibp.plot`'s, as ``minibp plot`` draws them; each is written atomically.
    """
    text, (net, history, data) = run_first_network(echo=echo, **settings)
    out.mkdir(parents=True, exist_ok=True)
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(output, lambda f: f.write(text.encode("utf-8")))  # builds may run side by side
    paths = {
        "training-curves": out / "training-curves.png",
        "misclassified": out / "misclassified.png",
        "hidden-weights": out / "hidden-weights.png",
    }
    plot_history(history, paths["training-curves"])
    plot_misclassified(net, *data.test, n=24, path=paths["misclassified"])
    seed = settings.get("seed", 0)  # the tutorial's default: rebuild its starting point from the seed
    initial = bp.mlp([784, 30, 10], rng=seed)
    plot_weights(net, layer=0, relative_to=initial, path=paths["hidden-weights"])  # what training changed
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
