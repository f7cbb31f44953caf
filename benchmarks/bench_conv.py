"""Seconds per epoch of chapter 6's convolutional network: minibp's modules against PyTorch CPU.

The network (the book's chapter 6, with ReLU):

    Conv2d((1, 28, 28), 20, 5) -> ReLU -> MaxPool2d((20, 24, 24))
    -> Conv2d((20, 12, 12), 40, 5) -> ReLU -> MaxPool2d((40, 8, 8))
    -> Dense(640, 100, init="scaled") -> ReLU -> Dense(100, 10, init="scaled")

with `SoftmaxLogLikelihoodCost`, plain SGD, eta = 0.1, m = 10, trained for one
epoch on the first ``--n`` (2,000) digits of the bundled sample
(`minibp.data.load_sample`).

Implementations timed (seconds of one epoch each):

* minibp   ``minibp.train(..., fused=False)``, the modules' own forward and
           backward (the fused path declines convolutions); its time is
           ``History.seconds[0]``, the epoch alone, on one BLAS thread
           (``train``'s default)
* torch/1, torch/2
           the same network in ``torch.nn`` (``Conv2d``, ``ReLU``, ``MaxPool2d``,
           ``Linear``, ``cross_entropy``, ``torch.optim.SGD``) started from the
           same weights, on the same mini-batches, with ``torch.set_num_threads``
           1 and 2

Each of ``--repeat`` (5) repeats runs every implementation once per dtype, in
turn (the order reversed on odd repeats), so a change in the machine's load
hits them alike. The ratio minibp / min(torch/1, torch/2) is computed within a
repeat ("PyTorch at its better thread count"); the table gives its median,
min and max over the repeats, beside the targets (float64 <= 1.25, float32
<= 1.0). The 1-minute load average is printed at the start and at the end:
the machine may be shared, and a ratio near its target within the spread of
the repeats is not a result either way.

    python benchmarks/bench_conv.py [--n 2000] [--repeat 5] [--dtypes float64 float32]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

import minibp as bp
from minibp.data import load_sample

TARGETS = {"float64": 1.25, "float32": 1.0}


def network(dtype: np.dtype, seed: int = 0) -> bp.Sequential:
    """The chapter-6 network in ``dtype``."""
    rng = np.random.default_rng(seed)
    return bp.Sequential(
        bp.Conv2d((1, 28, 28), 20, 5, rng=rng, dtype=dtype),
        bp.ReLU(),
        bp.MaxPool2d((20, 24, 24)),
        bp.Conv2d((20, 12, 12), 40, 5, rng=rng, dtype=dtype),
        bp.ReLU(),
        bp.MaxPool2d((40, 8, 8)),
        bp.Dense(640, 100, init="scaled", rng=rng, dtype=dtype),
        bp.ReLU(),
        bp.Dense(100, 10, init="scaled", rng=rng, dtype=dtype),
    )


def torch_network(torch, net: bp.Sequential):
    """The same network in ``torch.nn``, holding copies of ``net``'s weights."""
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 20, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(20, 40, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),  # (N, 40, 4, 4) -> (N, 640), channel-major as minibp's columns
        nn.Linear(640, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
    )
    dtype = {np.float64: torch.float64, np.float32: torch.float32}[net[0].w.data.dtype.type]
    model = model.to(dtype)
    with torch.no_grad():
        for ours, theirs in zip([net[0], net[3], net[6], net[8]], [model[0], model[3], model[7], model[9]]):
            theirs.weight.copy_(torch.from_numpy(ours.w.data))
            theirs.bias.copy_(torch.from_numpy(ours.b.data.reshape(-1)))
    return model


def minibp_epoch(X: np.ndarray, y: np.ndarray, dtype: np.dtype, seed: int) -> float:
    """Seconds of one module-path epoch of a fresh network."""
    net = network(dtype)
    optimizer = bp.SGD(net.parameters(), eta=0.1)
    history = bp.train(
        net,
        (X, y),
        optimizer=optimizer,
        epochs=1,
        mini_batch_size=10,
        cost=bp.SoftmaxLogLikelihoodCost(),
        rng=seed,
        verbose=False,
        progress=False,
        fused=False,
    )
    return history.seconds[0]


def torch_epoch(torch, X: np.ndarray, y: np.ndarray, dtype: np.dtype, seed: int, threads: int) -> float:
    """Seconds of one epoch of the same network in PyTorch on ``threads`` threads (same mini-batches as minibp)."""
    from minibp.data.batches import minibatch_indices

    model = torch_network(torch, network(dtype))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    images = torch.from_numpy(np.ascontiguousarray(X.T)).reshape(-1, 1, 28, 28)
    labels = torch.from_numpy(y.astype(np.int64))
    shuffled = minibatch_indices(X.shape[1], 10, np.random.default_rng(seed))  # train's mini-batches for this seed
    batches = [torch.from_numpy(idx.astype(np.int64)) for idx in shuffled]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        start = time.perf_counter()
        for idx in batches:
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(images[idx]), labels[idx])
            loss.backward()
            optimizer.step()
        return time.perf_counter() - start
    finally:
        torch.set_num_threads(previous)


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="training examples per epoch (default 2000)")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved repeats (default 5)")
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"], choices=["float64", "float32"])
    args = parser.parse_args(argv)
    import torch

    data = load_sample()
    X, y = data.training
    X, y = X[:, : args.n], y[: args.n]
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs; load average at start {os.getloadavg()[0]:.2f}"
    )
    print(f"chapter-6 network, one epoch of {X.shape[1]} examples, m = 10, eta = 0.1; {args.repeat} repeats")
    inputs = {name: np.asfortranarray(X, dtype=name) for name in args.dtypes}
    warm = min(200, X.shape[1])
    for name in args.dtypes:  # warm-up: a few mini-batches of each
        minibp_epoch(inputs[name][:, :warm], y[:warm], np.dtype(name), 0)
        for threads in (1, 2):
            torch_epoch(torch, inputs[name][:, :warm], y[:warm], np.dtype(name), 0, threads)
    seconds: dict[str, list[float]] = {}
    for r in range(args.repeat):
        runs = [(name, impl) for name in args.dtypes for impl in ("minibp", "torch/1", "torch/2")]
        if r % 2:
            runs.reverse()
        for name, impl in runs:
            dtype = np.dtype(name)
            if impl == "minibp":
                t = minibp_epoch(inputs[name], y, dtype, r)
            else:
                t = torch_epoch(torch, inputs[name], y, dtype, r, int(impl[-1]))
            seconds.setdefault(f"{name} {impl}", []).append(t)
        print(f"repeat {r}: " + ", ".join(f"{k} {v[-1]:.3f} s" for k, v in seconds.items()), flush=True)
    print()
    print(f"{'ratio':<36}{'median':>8}{'min':>8}{'max':>8}{'target':>8}  met?")
    for name in args.dtypes:
        ours = seconds[f"{name} minibp"]
        best = [min(a, b) for a, b in zip(seconds[f"{name} torch/1"], seconds[f"{name} torch/2"])]
        ratios = [a / b for a, b in zip(ours, best)]
        target = TARGETS[name]
        median = statistics.median(ratios)
        met = sum(q <= target for q in ratios)
        print(
            f"{name + ' minibp / best torch':<36}{median:8.3f}{min(ratios):8.3f}{max(ratios):8.3f}{target:8.2f}  "
            f"{'yes' if median <= target else 'no'} ({met}/{len(ratios)} repeats)"
        )
    print()
    for key, values in seconds.items():
        print(f"median seconds per epoch, {key:<18} {statistics.median(values):.3f}")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    return seconds


if __name__ == "__main__":
    main()
