"""Measure chapter 6's ladder: each rung's accuracy on held-out images, one network per rung.

The rungs are those of ``docs/examples/howto_ladder.py`` (the how-to "Chapter 6's ladder" shows
them): the fully connected [784, 100, 10] sigmoid network, one and then two convolution-pooling
stages (sigmoid), the same with ReLU, trained on the expanded data (each image and its four
one-pixel shifts), and with dropout in the fully connected part. Each is trained with plain SGD,
eta = 0.1, m = 10, the log-likelihood cost after a softmax, for ``--epochs`` epochs on the first
``--train-size`` training images (all by default), then evaluated once on the validation and test
images, which training never sees. One seed draws the weights and the mini-batches.

    python scripts/chapter6_ladder.py --data fashion-mnist --epochs 10       # Debian: dataset-fashion-mnist
    python scripts/chapter6_ladder.py --data sample --epochs 5               # the bundled 4,000 digits
    minibp data download && python scripts/chapter6_ladder.py --data mnist   # the book's data set

It prints one line per rung as it finishes, then a Markdown table with the settings, the load
average before and after, and each rung's seconds of training.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

import minibp as bp
from minibp.data import load_fashion_mnist, load_mnist, load_sample

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "howto_ladder.py"
LOADERS = {"fashion-mnist": load_fashion_mnist, "mnist": load_mnist, "sample": load_sample}


def ladder():
    """The how-to's module: ``RUNGS`` (name -> (network, expanded?)) and ``expand``."""
    spec = importlib.util.spec_from_file_location("howto_ladder", EXAMPLE)
    assert spec is not None and spec.loader is not None, EXAMPLE
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_average() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:  # not available on this system
        return "unknown"


def main(argv: list[str] | None = None) -> dict[str, tuple[float, float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=sorted(LOADERS), default="fashion-mnist")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--train-size", type=int, default=None, help="train on the first N training images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rungs", nargs="+", default=None, help="only these rungs (by number, 1-6)")
    args = parser.parse_args(argv)
    if args.epochs < 1 or (args.train_size is not None and args.train_size < 1):
        parser.error("--epochs and --train-size must be positive")

    steps = ladder()
    data = LOADERS[args.data]()
    X, y = data.training
    if args.train_size is not None:
        X, y = X[:, : args.train_size], y[: args.train_size]
    chosen = list(steps.RUNGS.items())
    if args.rungs is not None:
        chosen = [chosen[int(r) - 1] for r in args.rungs]
    print(
        f"{args.data}: training on {X.shape[1]:,} images ({5 * X.shape[1]:,} expanded), "
        f"{args.epochs} epochs a rung, seed {args.seed}; "
        f"validation {data.validation[0].shape[1]:,}, test {data.test[0].shape[1]:,} images",
        flush=True,
    )
    before = load_average()
    expanded = steps.expand(X, y) if any(more for _, (_, more) in chosen) else None
    results = {}
    for name, (network, more_data) in chosen:
        net = network(np.random.default_rng(args.seed))
        start = time.perf_counter()
        bp.train(
            net,
            expanded if more_data else (X, y),
            optimizer=bp.SGD(net.parameters(), eta=0.1),
            cost=bp.SoftmaxLogLikelihoodCost(),
            epochs=args.epochs,
            mini_batch_size=10,
            rng=args.seed,
            verbose=False,
            progress=False,
        )
        seconds = time.perf_counter() - start
        results[name] = (bp.accuracy(net, *data.validation), bp.accuracy(net, *data.test), seconds)
        validation, test, _ = results[name]
        print(f"{name:<24} validation {validation:6.2%}  test {test:6.2%}  ({seconds:.0f} s)", flush=True)

    print()
    print(
        f"`python scripts/chapter6_ladder.py {' '.join(sys.argv[1:] if argv is None else argv)}` — "
        f"minibp {bp.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
        f"load average {before} before, {load_average()} after"
    )
    print()
    print("| rung | validation | test | seconds of training |")
    print("|---|---|---|---|")
    for name, (validation, test, seconds) in results.items():
        print(f"| {name} | {validation:.2%} | {test:.2%} | {seconds:.0f} |")
    return results


if __name__ == "__main__":
    main()
