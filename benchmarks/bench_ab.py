"""A/B: seconds per epoch of ``train`` in this tree against an earlier commit, in alternating subprocesses.

Each repeat runs one subprocess per side for each network (benchmarks/_epoch_child.py: the
same random data and network, one warm-up epoch, one timed epoch with ``train``'s defaults,
so the fused epoch where it applies; with ``--path modules``, ``fused=False``: the modules'
own forward and backward), the side that goes first alternating from one repeat to the
next. The ratio this tree / the other is taken within each repeat; the report gives its
median and range, with the load average at the start and at the end.

    python benchmarks/bench_ab.py COMMIT [--repeat 7] [--n 50000] [--sizes 784,30,10 ...] [--path modules]

The other commit is checked out with ``git worktree add --detach`` under the temporary
directory (the main working tree is left alone), or taken from ``--baseline-dir`` if that
is already a checkout of it (a ``git clone`` at that commit will do).
"""

from __future__ import annotations

import argparse
import os
import statistics

import numpy as np
from bench_epoch import DEFAULT_SIZES, ROOT, baseline_tree, run_child


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commit", help="the commit to compare with, e.g. HEAD~3")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--sizes", nargs="+", default=DEFAULT_SIZES, help="e.g. 784,30,10:float32")
    parser.add_argument("--path", choices=["fused", "modules"], default="fused", help="modules: train(fused=False)")
    parser.add_argument("--baseline-dir", default=None, help="an existing checkout of COMMIT to use")
    args = parser.parse_args(argv)
    other = baseline_tree(args.commit, args.baseline_dir)
    print(
        f"this tree ({ROOT}) against {args.commit} ({other}); {args.n} examples, m = 10, {args.repeat} repeats, "
        f"the {args.path} path"
    )
    print(f"load average (1 min) at start: {os.getloadavg()[0]:.2f}", flush=True)
    for spec in args.sizes:
        text, _, dtype = spec.partition(":")
        sizes, dtype = [int(s) for s in text.split(",")], np.dtype(dtype or "float64")
        ratios, ours, theirs = [], [], []
        for i in range(args.repeat):
            order = [(ROOT, ours), (other, theirs)]
            for tree, times in order if i % 2 == 0 else order[::-1]:
                times.append(run_child(tree, sizes, dtype, args.n, seed=i, path=args.path))
            ratios.append(ours[-1] / theirs[-1])
        print(
            f"{sizes} {dtype.name}: this / {args.commit} median {statistics.median(ratios):.3f} "
            f"(range {min(ratios):.3f}-{max(ratios):.3f}); seconds per epoch {statistics.median(ours):.3f} "
            f"against {statistics.median(theirs):.3f}",
            flush=True,
        )
    print(f"load average (1 min) at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
