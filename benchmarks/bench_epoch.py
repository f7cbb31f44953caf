"""Seconds per epoch of the book's workload: minibp against its baselines.

One epoch of mini-batch SGD over 50,000 examples of 784 pixels with the
quadratic cost and m = 10, for [784, 30, 10] and [784, 100, 10] in float64
and [784, 30, 10] in float32. Every baseline is timed in this same run and
reported as a ratio (how many times slower than minibp):

* book       the book's algorithm, one example at a time (benchmarks/_reference.py)
* numpy      the same algorithm vectorised over the mini-batch by hand with bare numpy
* pytorch    torch.nn.Linear/Sigmoid/MSE-style cost/torch.optim.SGD, if torch is installed,
             at the better of one thread and its default thread count

The book and numpy baselines run with one BLAS thread, as minibp.train does by
default (waking a second thread for each small product costs more than it saves).

The pixel values are random: the speed of these operations does not depend
on the values. minibp's time is the epoch as `History.seconds` records it;
the checks `train` makes once per call on the whole data set (finite values,
labels, shapes) are printed apart. Each timing is the best of ``--repeat`` epochs
(the slow per-example baseline included), the implementations taking turns so
that a change in the machine's load affects them alike.

    python benchmarks/bench_epoch.py [--n 50000] [--repeat 5] [--no-book]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
from _reference import BookNetwork, numpy_epoch
from threadpoolctl import threadpool_limits

import minibp as bp

try:
    import torch
except ImportError:  # pragma: no cover - optional
    torch = None


def bench(sizes, dtype, n, repeat, with_book):
    """Time one epoch of each implementation; the runs are interleaved so that load drifts hit all alike."""
    rng = np.random.default_rng(0)
    rows = rng.random((n, sizes[0])).astype(dtype)
    labels = rng.integers(0, sizes[-1], n)
    targets = np.eye(sizes[-1], dtype=dtype)[labels]
    X = rows.T
    m, eta = 10, 3.0
    net = bp.mlp(sizes, rng=1, dtype=dtype)
    weights = [net[i].w.data.copy() for i in range(0, len(net), 2)]
    biases = [net[i].b.data.copy() for i in range(0, len(net), 2)]
    orders = [np.random.default_rng(100 + i).permutation(n) for i in range(repeat)]
    runners = {}

    optimizer = bp.SGD(net.parameters(), eta=eta)
    setup = []

    def minibp_run(i):
        start = time.perf_counter()
        history = bp.train(
            net,
            (X, labels),
            optimizer=optimizer,
            epochs=1,
            mini_batch_size=m,
            rng=100 + i,
            verbose=False,
            progress=False,
        )
        setup.append(time.perf_counter() - start - history.seconds[0])
        return history.seconds[0]  # the epoch itself; checking the data once per call is reported apart

    runners["minibp"] = minibp_run
    w_np, b_np = [w.copy() for w in weights], [b.copy() for b in biases]

    def numpy_run(i):
        with threadpool_limits(limits=1, user_api="blas"):  # as minibp.train does by default
            numpy_epoch(w_np, b_np, rows, targets, orders[i], m, eta)

    runners["numpy"] = numpy_run
    if torch is not None:
        tdtype = torch.float64 if dtype == np.float64 else torch.float32
        layers = []
        for w, b in zip(weights, biases):
            lin = torch.nn.Linear(w.shape[1], w.shape[0]).to(tdtype)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(w))
                lin.bias.copy_(torch.from_numpy(b.ravel()))
            layers += [lin, torch.nn.Sigmoid()]
        tnet = torch.nn.Sequential(*layers)
        topt = torch.optim.SGD(tnet.parameters(), lr=eta)
        trows, ttargets = torch.from_numpy(rows), torch.from_numpy(targets)
        default_threads = torch.get_num_threads()

        def torch_run(i, threads):
            torch.set_num_threads(threads)
            order = torch.from_numpy(orders[i])
            for k in range(0, n, m):
                idx = order[k : k + m]
                x, y = trows[idx], ttargets[idx]
                topt.zero_grad()
                loss = 0.5 * ((tnet(x) - y) ** 2).sum() / len(idx)
                loss.backward()
                topt.step()
            torch.set_num_threads(default_threads)

        # PyTorch at its better setting: one thread or its default.
        for threads in sorted({1, default_threads}):
            runners[f"pytorch/{threads}"] = lambda i, threads=threads: torch_run(i, threads)

    if with_book:
        data = [(rows[i].reshape(-1, 1), targets[i].reshape(-1, 1)) for i in range(n)]
        book = BookNetwork(weights, biases)

        def book_run(i):
            with threadpool_limits(limits=1, user_api="blas"):
                book.epoch(data, orders[i], m, eta)

        runners["book"] = book_run

    times = {name: [] for name in runners}
    for i in range(repeat):
        for name, run in runners.items():
            start = time.perf_counter()
            own = run(i)
            times[name].append(time.perf_counter() - start if own is None else own)
    results = {name: min(t) for name, t in times.items()}
    results["setup"] = min(setup)
    torch_times = [v for k, v in results.items() if k.startswith("pytorch/")]
    for k in [k for k in results if k.startswith("pytorch/")]:
        del results[k]
    if torch_times:
        results["pytorch"] = min(torch_times)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-book", action="store_true", help="skip the slow per-example baseline")
    args = parser.parse_args(argv)
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, "
        f"torch {torch.__version__ if torch else 'not installed'}, {args.n} examples, m = 10"
    )
    print(f"{'network':<22}{'minibp s/epoch':>16}  ratios (baseline time / minibp time)")
    for sizes, dtype, book in (
        ([784, 30, 10], np.float64, True),
        ([784, 100, 10], np.float64, True),
        ([784, 30, 10], np.float32, False),
    ):
        r = bench(sizes, dtype, args.n, args.repeat, book and not args.no_book)
        label = f"{sizes} {np.dtype(dtype).name}"
        setup = r.pop("setup")
        ratios = "  ".join(f"{k} {v / r['minibp']:.2f}x" for k, v in r.items() if k != "minibp")
        print(f"{label:<22}{r['minibp']:>16.3f}  {ratios}   (+{setup:.3f} s per train call: data checks)", flush=True)


if __name__ == "__main__":
    main()
