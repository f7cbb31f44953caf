"""One timed epoch of ``minibp.train`` in a fresh process; a helper of bench_epoch.py.

bench_epoch.py runs this file with ``PYTHONPATH`` (and the working directory)
set to the source tree to measure, the current one or a ``git worktree`` of
an older commit, so that both are timed by the same code in alike
processes. It builds the same random data and network as bench_epoch.py,
trains one warm-up epoch, then one more epoch, and prints one JSON line::

    {"seconds": <History.seconds[0] of the timed epoch>, "warmup": ..., "minibp": <minibp/__init__.py used>, ...}

It calls ``train`` with the arguments every version accepts; when this
version's ``train`` has ``fused``, the warm-up passes ``fused=True`` so that a
network the fused path does not accept fails loudly instead of being timed on
the slower path, and the timed epoch uses the default (``fused=None``).
With ``--path modules`` both epochs pass ``fused=False`` instead: the modules'
own forward and backward (a version without ``fused`` has only that path).

    PYTHONPATH=<tree> python benchmarks/_epoch_child.py --sizes 784,30,10 --dtype float64 --n 50000 --seed 0
"""

from __future__ import annotations

import argparse
import inspect
import json

import numpy as np

import minibp as bp


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", required=True, help="layer sizes, e.g. 784,30,10")
    parser.add_argument("--dtype", default="float64")
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffling of the timed epoch")
    parser.add_argument("--path", choices=["fused", "modules"], default="fused", help="the training path to time")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    dtype = np.dtype(args.dtype)

    rng = np.random.default_rng(0)  # the same data and network as bench_epoch.py builds
    rows = rng.random((args.n, sizes[0])).astype(dtype)
    labels = rng.integers(0, sizes[-1], args.n)
    net = bp.mlp(sizes, rng=1, dtype=dtype)
    optimizer = bp.SGD(net.parameters(), eta=3.0)
    has_fused = "fused" in inspect.signature(bp.train).parameters

    def epoch(seed, **extra):
        history = bp.train(
            net,
            (rows.T, labels),
            optimizer=optimizer,
            epochs=1,
            mini_batch_size=10,
            rng=seed,
            verbose=False,
            progress=False,
            **extra,
        )
        return history.seconds[0]

    if args.path == "modules":
        extra = {"fused": False} if has_fused else {}
        warmup, seconds = epoch(10_000 + args.seed, **extra), epoch(args.seed, **extra)
    else:
        warmup = epoch(10_000 + args.seed, **({"fused": True} if has_fused else {}))
        seconds = epoch(args.seed)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "warmup": warmup,
                "minibp": bp.__file__,
                "version": bp.__version__,
                "has_fused": has_fused,
                "path": args.path,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
