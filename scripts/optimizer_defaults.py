"""Measure the CLI's optimizer settings: test digits correct after `minibp train` for several seeds.

python scripts/optimizer_defaults.py [--epochs 30] [--seeds 0 1 2] [--cost quadratic ...] [--only momentum ...]

Each run is exactly ``minibp train --data sample --seed S --cost C --optimizer O ...`` (the command
itself is run, in this process), and its last line, ``Test: c / 500``, is what is reported. The
settings measured are the CLI's defaults for each optimizer and the ones they were chosen against.
The machine's load changes how long this takes, never what it prints.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import time

from minibp.cli import main

# name, extra arguments of 'minibp train' (eta given as a multiple of sgd's eta for the cost where it scales)
CANDIDATES = {
    "sgd": ["--optimizer", "sgd"],
    "momentum mu=0.7 (default)": ["--optimizer", "momentum", "--mu", "0.7"],
    "momentum mu=0.9": ["--optimizer", "momentum", "--mu", "0.9"],
    "nesterov mu=0.7 (default)": ["--optimizer", "nesterov", "--mu", "0.7"],
    "nesterov mu=0.9": ["--optimizer", "nesterov", "--mu", "0.9"],
    "adam eta=0.01 (default)": ["--optimizer", "adam", "--eta", "0.01"],
    "adam eta=0.001": ["--optimizer", "adam", "--eta", "0.001"],
}
COSTS = ("quadratic", "cross-entropy", "log-likelihood")


def test_correct(arguments: list[str]) -> int:
    """Run 'minibp train' with ``arguments`` and return the number of test digits it got right."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["train", "--data", "sample", "--no-progress", *arguments])
    if status != 0:
        raise RuntimeError(f"minibp train {' '.join(arguments)} exited {status}")
    match = re.search(r"^Test: (\d+) / \d+", out.getvalue(), re.M)
    if match is None:
        raise RuntimeError(f"no Test line in:\n{out.getvalue()}")
    return int(match.group(1))


def main_(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cost", nargs="+", choices=COSTS, default=list(COSTS))
    parser.add_argument("--only", nargs="+", default=None, help="candidates whose name starts with one of these")
    args = parser.parse_args(argv)
    for cost in args.cost:
        for name, extra in CANDIDATES.items():
            if args.only and not any(name.startswith(o) for o in args.only):
                continue
            start = time.perf_counter()
            common = ["--cost", cost, "--epochs", str(args.epochs)]
            scores = [test_correct([*common, "--seed", str(s), *extra]) for s in args.seeds]
            seconds = time.perf_counter() - start
            shown = ", ".join(map(str, scores))
            print(f"{cost:15} {name:27} seeds {args.seeds}: {shown} / 500  ({seconds:.0f} s)", flush=True)


if __name__ == "__main__":
    main_()
