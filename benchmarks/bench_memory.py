"""Memory used by training beyond the dataset itself.

Builds a float64 training set of 50,000 examples x 784 pixels (313 MB, rows in
memory as minibp.data returns them), then trains the book's [784, 30, 10]
network for one epoch with evaluation on 10,000 more examples and reports the
peak resident memory above what the process held once the data were loaded.
Runs in a fresh process so earlier allocations do not hide the peak.

    python benchmarks/bench_memory.py [--n 50000] [--epochs 1]
"""

from __future__ import annotations

import argparse

import numpy as np
from _memory import reset_peak, rss_mb

import minibp as bp


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    import minibp.train  # noqa: F401  (import everything before the baseline reading)

    rows = rng.random((args.n, 784))
    labels = rng.integers(0, 10, args.n)
    val_rows = rng.random((10_000, 784))
    val_labels = rng.integers(0, 10, 10_000)
    data_mb = (rows.nbytes + labels.nbytes + val_rows.nbytes + val_labels.nbytes) / 2**20
    reset_peak()
    before, _ = rss_mb()
    net = bp.mlp([784, 30, 10], rng=1)
    bp.train(
        net,
        (rows.T, labels),
        optimizer=bp.SGD(net.parameters(), eta=3.0),
        epochs=args.epochs,
        mini_batch_size=10,
        evaluation_data=(val_rows.T, val_labels),
        rng=0,
        verbose=False,
        progress=False,
    )
    after, peak = rss_mb()
    print(f"dataset {data_mb:.0f} MB; resident after loading {before:.0f} MB; peak during training {peak:.0f} MB")
    print(f"training used at most {peak - before:.1f} MB beyond the loaded data (budget: 150 MB)")


if __name__ == "__main__":
    main()
