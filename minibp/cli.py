"""The ``minibp`` command: train the book's network from the shell.

```
minibp train                      # [784, 30, 10], 30 epochs, m = 10, eta = 3.0, bundled MNIST sample
minibp train --data mnist --download --save model.npz --history history.json
minibp data download              # fetch the full MNIST into the cache directory
minibp plot history.json -o curves.png   # training curves (needs the plot extra: pip install minibp[plot])
minibp info model.npz             # what a saved model holds: layers, shapes, parameter counts, versions
```

``python -m minibp`` is the same command. With no sub-command, ``train`` runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import numpy as np

from ._version import __version__
from .errors import MinibpError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``minibp`` command."""
    parser = argparse.ArgumentParser(
        prog="minibp",
        description="Train the sigmoid network of Neural Networks and Deep Learning, chapters 1-2.",
    )
    parser.add_argument("--version", action="version", version=f"minibp {__version__}")
    sub = parser.add_subparsers(dest="command")

    t = sub.add_parser("train", help="train a network and print the accuracy after each epoch")
    t.add_argument("--sizes", type=int, nargs="+", default=[784, 30, 10], help="neurons per layer (default: 784 30 10)")
    t.add_argument("--epochs", type=int, default=30, help="passes over the training data (default: 30)")
    t.add_argument("--mini-batch-size", type=int, default=10, help="examples per step, m (default: 10)")
    t.add_argument("--eta", type=float, default=3.0, help="learning rate (default: 3.0)")
    t.add_argument(
        "--data",
        default="sample",
        help="sample (bundled 5,000 MNIST digits), mnist, fashion-mnist, or a directory of IDX files (default: sample)",
    )
    t.add_argument("--download", action="store_true", help="download the data set if it is not in the cache")
    t.add_argument("--init", default="book", help="weight initialiser: book, scaled, glorot, he (default: book)")
    t.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    t.add_argument("--seed", type=int, default=None, help="seed for initialisation and shuffling (default: random)")
    t.add_argument("--save", metavar="PATH", help="save the trained network to PATH (.npz)")
    t.add_argument("--history", metavar="PATH", help="write the per-epoch history to PATH (JSON)")
    t.add_argument("--test", action="store_true", help="also report accuracy on the test split at the end")
    t.add_argument("--quiet", action="store_true", help="print nothing but errors")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")

    d = sub.add_parser("data", help="manage data sets")
    dsub = d.add_subparsers(dest="data_command", required=True)
    dl = dsub.add_parser("download", help="download MNIST (or Fashion-MNIST) and verify its checksums")
    dl.add_argument("name", nargs="?", default="mnist", choices=["mnist", "fashion-mnist"])
    dl.add_argument("--dir", metavar="PATH", help="target directory (default: MINIBP_DATA or the user cache)")

    i = sub.add_parser("info", help="describe a model file written by 'minibp train --save'")
    i.add_argument("model", metavar="MODEL", help="a model file (.npz)")

    p = sub.add_parser("plot", help="plot cost and accuracy per epoch from a history file (needs matplotlib)")
    p.add_argument("history", metavar="HISTORY", help="a history JSON file written by 'minibp train --history'")
    p.add_argument("-o", "--output", metavar="PATH", help="image to write (default: HISTORY with .png)")
    p.add_argument("--title", help="title over the plots")
    return parser


def _train(args: argparse.Namespace) -> int:
    from .data import load_dataset
    from .optim import SGD
    from .sequential import mlp
    from .train import evaluate, train

    if len(args.sizes) < 2 or min(args.sizes) < 1:
        raise SystemExit(f"minibp train: --sizes needs at least two sizes, each >= 1, got {args.sizes}")
    for option, path in (("--save", args.save), ("--history", args.history)):
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise SystemExit(f"minibp train: {option} {path}: the directory {os.path.dirname(path)!r} does not exist")
    splits = load_dataset(args.data, download=args.download, dtype=np.dtype(args.dtype))
    X, y = splits.training
    if args.sizes[0] != X.shape[0]:
        raise SystemExit(f"minibp train: --sizes starts with {args.sizes[0]} but the data have {X.shape[0]} features")
    rng = np.random.default_rng(args.seed)
    net = mlp(args.sizes, init=args.init, rng=rng, dtype=args.dtype)
    optimizer = SGD(net.parameters(), eta=args.eta)
    if not args.quiet:
        n_eval = splits.validation[0].shape[1]
        print(
            f"Training {args.sizes} on {args.data}: {X.shape[1]} examples, evaluating on {n_eval}; "
            f"{args.epochs} epochs, m = {args.mini_batch_size}, eta = {args.eta}",
            flush=True,
        )
    history = train(
        net,
        splits.training,
        optimizer=optimizer,
        epochs=args.epochs,
        mini_batch_size=args.mini_batch_size,
        evaluation_data=splits.validation,
        rng=rng,
        verbose=not args.quiet,
        progress=False if (args.quiet or args.no_progress) else None,
    )
    if args.test:
        Xt, yt = splits.test
        correct = evaluate(net, Xt, yt)
        if not args.quiet:
            print(f"Test: {correct} / {Xt.shape[1]}")
    if args.save:
        from .io import save

        settings = {k: getattr(args, k) for k in ("sizes", "epochs", "mini_batch_size", "eta", "data", "init", "seed")}
        save(net, args.save, optimizer=optimizer, history=history, rng=rng, metadata={"train": settings})
        if not args.quiet:
            print(f"Saved the network to {args.save}")
    if args.history:
        history.save(args.history)
        if not args.quiet:
            print(f"Wrote the history to {args.history}")
    return 0


def _data(args: argparse.Namespace) -> int:
    from .data import download

    paths = download(args.name, directory=args.dir)
    for path in paths:
        print(path)
    return 0


def _plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .plot import plot_history

    if not Path(args.history).is_file():
        print(f"minibp plot: error: no such history file: {args.history}", file=sys.stderr)
        return 1
    output = args.output or str(Path(args.history).with_suffix(".png"))
    plot_history(args.history, output, title=args.title)
    print(output)
    return 0


def _info(args: argparse.Namespace) -> int:
    from .io import load_checkpoint
    from .summary import summary

    try:
        ckpt = load_checkpoint(args.model)
    except FileNotFoundError as err:
        print(f"minibp info: error: {err}", file=sys.stderr)
        return 1
    first = next((m for m in ckpt.net.modules() if hasattr(m, "n_in")), None)
    print(f"{args.model}: minibp model, format version {ckpt.format_version}, written by minibp {ckpt.minibp_version}")
    if first is not None:
        print(summary(ckpt.net, first.n_in))
    if ckpt.optimizer_state is not None:
        settings = ", ".join(
            f"{k} = {v}" for k, v in ckpt.optimizer_state.items() if k != "type" and isinstance(v, (int, float, str))
        )
        print(f"Optimizer: {ckpt.optimizer_state.get('type', '?')} ({settings})")
    if ckpt.history and ckpt.history.get("epoch"):
        h = ckpt.history
        line = f"Trained {len(h['epoch'])} epochs"
        accuracy = (h.get("evaluation_accuracy") or [None])[-1]
        if accuracy is not None:
            line += f"; last evaluation accuracy {accuracy:.2%}"
        print(line)
    if ckpt.metadata:
        print(f"Metadata: {ckpt.metadata}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``minibp`` command; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["train", *argv]
    args = build_parser().parse_args(argv)
    try:
        if args.command == "data":
            return _data(args)
        if args.command == "plot":
            return _plot(args)
        if args.command == "info":
            return _info(args)
        return _train(args)
    except MinibpError as err:
        print(f"minibp: error: {err}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as err:
        if err.name != "matplotlib":
            raise
        print(f"minibp: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("minibp: interrupted", file=sys.stderr)
        return 130
