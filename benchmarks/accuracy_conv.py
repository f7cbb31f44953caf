"""Accuracy of chapter 6's convolutional network trained on the bundled sample, for seeds 0, 1 and 2.

The network of ``bench_conv.py`` (two Conv2d-ReLU-MaxPool2d stages, then Dense(640, 100), ReLU,
Dense(100, 10)) with `SoftmaxLogLikelihoodCost`, plain SGD, eta = 0.1, m = 10, no regularisation,
trained for ``--epochs`` (5) epochs on the sample's 4,000 training digits
(`minibp.data.load_sample`). Each seed draws the initial weights and shuffles the mini-batches.
After each epoch it prints the accuracy on the sample's validation digits; at the end, for each
seed, the accuracy on the 500 validation and 500 test digits (real MNIST digits that training
never saw) and their median over the seeds.

    python benchmarks/accuracy_conv.py [--epochs 5] [--seeds 0 1 2] [--dtype float64]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from bench_conv import network

import minibp as bp
from minibp.data import load_sample


def run(seed: int, epochs: int, dtype: np.dtype) -> tuple[float, float, float]:
    """Train one network; return its validation accuracy, test accuracy and seconds of training."""
    data = load_sample()
    net = network(dtype, seed)
    start = time.perf_counter()
    bp.train(
        net,
        data.training,
        optimizer=bp.SGD(net.parameters(), eta=0.1),
        epochs=epochs,
        mini_batch_size=10,
        cost=bp.SoftmaxLogLikelihoodCost(),
        evaluation_data=data.validation,
        rng=seed,
        progress=False,
    )
    seconds = time.perf_counter() - start
    return bp.accuracy(net, *data.validation), bp.accuracy(net, *data.test), seconds


def main(argv: list[str] | None = None) -> list[tuple[float, float, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    args = parser.parse_args(argv)
    results = []
    for seed in args.seeds:
        print(f"seed {seed}:", flush=True)
        results.append(run(seed, args.epochs, np.dtype(args.dtype)))
    print()
    print(f"{'seed':>4}  {'validation':>10}  {'test':>6}  {'both':>6}  seconds")
    for seed, (validation, test, seconds) in zip(args.seeds, results):
        print(f"{seed:>4}  {validation:10.1%}  {test:6.1%}  {(validation + test) / 2:6.1%}  {seconds:.0f}")
    medians = [statistics.median(r[i] for r in results) for i in range(2)]
    both = statistics.median((r[0] + r[1]) / 2 for r in results)
    print(f"median  {medians[0]:10.1%}  {medians[1]:6.1%}  {both:6.1%}")
    return results


if __name__ == "__main__":
    main()
