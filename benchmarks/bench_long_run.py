"""Long run: the book's whole workload on full-size Fashion-MNIST, with memory watched every epoch.

30 epochs of ``mlp([784, 30, 10])`` (the book's N(0, 1) initialisation),
``SGD(eta=3.0)``, ``mini_batch_size=10`` and the quadratic cost on the
50,000 training images of Fashion-MNIST, evaluated on the 10,000 validation
images after each epoch and on the 10,000 test images at the end. Each epoch
prints its validation accuracy, its seconds (training, and training plus
evaluation) and the process's resident memory now and at its peak
(``VmRSS``/``VmHWM`` from ``/proc/self/status``). A steady run keeps both
memory columns flat after the first epoch; the script ends by printing the
largest growth of the current resident size between epoch 1 and the end.

Fashion-MNIST comes from Debian's ``dataset-fashion-mnist`` package
(``apt-get install dataset-fashion-mnist``) or from ``$MINIBP_DATA``; see
`minibp.data.load_fashion_mnist`.

    python benchmarks/bench_long_run.py [--epochs 30] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from _memory import rss_mb

import minibp as bp
from minibp.data import load_fashion_mnist


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0, help="seed of the initialisation and of the shuffling")
    parser.add_argument("--n", type=int, default=None, help="use only the first N training images (smoke test)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    data = load_fashion_mnist()
    X, y = data.training
    if args.n is not None:
        X, y = X[:, : args.n], y[: args.n]
    Xv, yv = data.validation
    Xt, yt = data.test
    loaded, peak = rss_mb()
    print(
        f"Fashion-MNIST: training {X.shape}, validation {Xv.shape}, test {Xt.shape}, "
        f"loaded in {time.perf_counter() - start:.1f} s; RSS {loaded:.0f} MB (peak {peak:.0f} MB)",
        flush=True,
    )

    net = bp.mlp([784, 30, 10], rng=args.seed)  # the book's N(0, 1) weights and biases
    optimizer = bp.SGD(net.parameters(), eta=3.0)
    shuffle = np.random.default_rng(args.seed)  # one generator for the whole run: each epoch draws from it
    print(f"{'epoch':>5} {'validation':>16} {'train s':>8} {'epoch s':>8} {'RSS MB':>8} {'peak MB':>8}", flush=True)
    rss_per_epoch = []
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        history = bp.train(
            net,
            (X, y),
            optimizer=optimizer,
            epochs=1,
            mini_batch_size=10,
            evaluation_data=(Xv, yv),
            rng=shuffle,
            verbose=False,
            progress=False,
        )
        seconds = time.perf_counter() - t0
        rss, peak = rss_mb()
        rss_per_epoch.append(rss)
        correct = history.evaluation_correct[-1]
        print(
            f"{epoch:>5} {correct:>6} / {Xv.shape[1]:<5} ({correct / Xv.shape[1]:6.2%}) "
            f"{history.seconds[-1]:>8.1f} {seconds:>8.1f} {rss:>8.1f} {peak:>8.1f}",
            flush=True,
        )
    test_correct = bp.evaluate(net, Xt, yt)
    print(f"test accuracy: {test_correct} / {Xt.shape[1]} ({test_correct / Xt.shape[1]:.2%})")
    if len(rss_per_epoch) > 1:
        growth = max(rss_per_epoch[1:]) - rss_per_epoch[1]
        print(
            f"resident memory: {loaded:.0f} MB after loading, {rss_per_epoch[0]:.0f} MB after epoch 0, "
            f"largest growth after epoch 1: {growth:.1f} MB; peak {rss_mb()[1]:.0f} MB"
        )


if __name__ == "__main__":
    main()
