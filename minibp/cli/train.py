"""``minibp train``: train the book's network on a data set, print each epoch's accuracy, save the results."""

from __future__ import annotations

import argparse
import math
import os
import secrets
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from .._text import as_typed, count
from . import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, UsageError
from ._args import ParserSettings, binary_size, data_set_problem, describe, output_problem, show
from ._saving import write_all

if TYPE_CHECKING:
    from ..history import History
    from ..module import Module


def add_parser(sub: argparse._SubParsersAction, common: ParserSettings) -> None:
    """Add the 'train' sub-command's parser to ``sub``."""
    t = sub.add_parser("train", help="train a network and print the accuracy after each epoch", **common)
    t.add_argument("--sizes", type=int, nargs="+", default=[784, 30, 10], help="neurons per layer (default: 784 30 10)")
    t.add_argument("--epochs", type=int, default=30, help="passes over the training data (default: 30)")
    t.add_argument("--mini-batch-size", type=int, default=10, help="examples per step, m (default: 10)")
    t.add_argument(
        "--eta",
        type=float,
        default=None,
        help="learning rate; an explicit value wins (default: follows --optimizer and --cost: sgd 3.0 with the "
        "quadratic cost, 0.5 with cross-entropy or log-likelihood, as the book does; momentum and nesterov that "
        "times 1 - mu, so that their step once the velocity has built up, eta/(1 - mu), is sgd's; adam 0.01)",
    )
    t.add_argument(
        "--data",
        default="sample",
        help="sample (bundled 5,000 MNIST digits), mnist, fashion-mnist, or a directory of IDX files (default: sample)",
    )
    t.add_argument("--download", action="store_true", help="download the data set if it is not in the cache")
    t.add_argument("--init", default="book", help="weight initialiser: book, scaled, glorot, he (default: book)")
    t.add_argument(
        "--cost",
        choices=["quadratic", "cross-entropy", "log-likelihood"],
        default="quadratic",
        help="the cost, which decides how the network ends: quadratic (chapter 1: a final Sigmoid and "
        "QuadraticCost); cross-entropy (a final Dense and SigmoidCrossEntropyCost, which applies the sigmoid "
        "itself and stays exact where sigma' underflows); log-likelihood (a final Dense and "
        "SoftmaxLogLikelihoodCost, which applies the softmax itself). The accuracy printed is always that of the "
        "most active output (default: quadratic)",
    )
    t.add_argument(
        "--lmbda",
        type=float,
        default=0.0,
        help="L2 regularisation as in the book: adds lambda/(2n) times the sum of the squared weights to the cost, "
        "n the number of training examples (default: 0, none)",
    )
    _add_training_options(t)


def _add_training_options(t: argparse.ArgumentParser) -> None:
    """The options of the optimizer, the schedule, the run and its outputs."""
    t.add_argument(
        "--optimizer",
        choices=["sgd", "momentum", "nesterov", "adam"],
        default="sgd",
        help="sgd (the book's rule), momentum or nesterov (see --mu), adam (see --beta1, --beta2) (default: sgd)",
    )
    t.add_argument("--mu", type=float, help="momentum coefficient of momentum and nesterov, 0 <= mu < 1 (default: 0.7)")
    t.add_argument("--beta1", type=float, help="adam's first-moment decay, 0 <= beta1 < 1 (default: 0.9)")
    t.add_argument("--beta2", type=float, help="adam's second-moment decay, 0 <= beta2 < 1 (default: 0.999)")
    t.add_argument(
        "--early-stopping",
        type=int,
        metavar="N",
        help="stop when the validation accuracy has not improved for N epochs, the book's no-improvement-in-N rule "
        "(default: off)",
    )
    t.add_argument(
        "--halve-on-plateau",
        action="store_true",
        help="the book's schedule: halve eta each time the validation accuracy has not improved for N epochs "
        "(N from --early-stopping, else 10), and stop once eta has fallen to 1/128 of its start; with it, "
        "--early-stopping only sets N",
    )
    t.add_argument(
        "--dtype",
        choices=["float64", "float32"],
        default="float64",
        help="floating-point type of the data and the network (default: float64)",
    )
    t.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed for initialisation and shuffling (default: drawn at random; the run prints the seed it used)",
    )
    t.add_argument("--save", metavar="PATH", help="save the trained network to PATH (.npz)")
    t.add_argument("--history", metavar="PATH", help="write the per-epoch history to PATH (JSON)")
    t.add_argument(
        "--test", action="store_true", help="accepted for compatibility: the test accuracy is always printed at the end"
    )
    t.add_argument("--quiet", action="store_true", help="print nothing but errors")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")


def _memory_problem(sizes: list[int], dtype: str) -> str | None:
    """Refuse ``sizes`` whose parameters alone would not fit in physical memory."""
    count = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))  # w and b of each layer
    nbytes = count * np.dtype(dtype).itemsize
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not known on this system
        return None
    if physical <= 0 or nbytes <= physical:
        return None
    return (
        f"--sizes {' '.join(map(str, sizes))}: {count:,} parameters need {nbytes:,} bytes ({binary_size(nbytes)}) "
        f"as {dtype}, more than the {physical:,} bytes ({binary_size(physical)}) of physical memory"
    )


def check(args: argparse.Namespace) -> list[str]:
    """What is wrong with the arguments of 'minibp train', one sentence each, found before any work."""
    from ..init import INITIALIZERS

    problems: list[str | None] = []  # the checks that return None found nothing; dropped at the end
    sizes_ok = len(args.sizes) >= 2 and min(args.sizes) >= 1
    if not sizes_ok:
        problems.append(f"--sizes needs at least two sizes, each >= 1, got {args.sizes}")
    if args.epochs < 0:
        problems.append(f"--epochs must be >= 0, got {args.epochs}")
    if args.mini_batch_size < 1:
        problems.append(f"--mini-batch-size must be >= 1, got {args.mini_batch_size}")
    if args.eta is not None and not (math.isfinite(args.eta) and args.eta > 0):
        problems.append(f"--eta must be a finite number > 0, got {args.eta}")
    if args.init not in INITIALIZERS:
        problems.append(f"--init {args.init}: unknown initialiser; choose one of {', '.join(sorted(INITIALIZERS))}")
    if not (math.isfinite(args.lmbda) and args.lmbda >= 0):
        problems.append(f"--lmbda must be a finite number >= 0, got {args.lmbda}")
    for option, optimizers in (("mu", ("momentum", "nesterov")), ("beta1", ("adam",)), ("beta2", ("adam",))):
        value = getattr(args, option)
        if value is None:
            continue
        if args.optimizer not in optimizers:
            problems.append(f"--{option} applies only to --optimizer {' or '.join(optimizers)}, not {args.optimizer}")
        elif not 0 <= value < 1:
            problems.append(f"--{option} must be >= 0 and < 1, got {value}")
    if args.early_stopping is not None and args.early_stopping < 1:
        problems.append(f"--early-stopping must be >= 1, got {args.early_stopping}")
    if args.seed is not None and args.seed < 0:
        problems.append(f"--seed must be >= 0, got {args.seed}")
    problems.append(data_set_problem(args.data))
    if sizes_ok:
        problems.append(_memory_problem(args.sizes, args.dtype))
    for option in ("save", "history"):
        path = getattr(args, option)
        if path is not None and not path.strip():
            problems.append(f"--{option} needs a file name, got {path!r}")
        elif path:
            problems.append(output_problem(f"--{option}", path))
    if args.save and args.history and os.path.realpath(args.save) == os.path.realpath(args.history):
        problems.append(f"--save and --history name the same file, {show(args.save)}; give two files")
    return [p for p in problems if p]


def _fit_problems(args: argparse.Namespace, X: np.ndarray, y: np.ndarray) -> list[str]:
    """What in the settings does not fit the training data ``(X, y)`` (checked once they are loaded)."""
    problems = []
    if args.sizes[0] != X.shape[0]:
        problems.append(f"--sizes starts with {args.sizes[0]} but the data have {X.shape[0]} features")
    if y.ndim == 1 and y.size and int(y.max()) >= args.sizes[-1]:
        problems.append(
            f"--sizes ends with {args.sizes[-1]} outputs but the data have labels up to {int(y.max())}; "
            f"the last size must be at least {int(y.max()) + 1}"
        )
    if args.mini_batch_size > X.shape[1]:
        problems.append(f"--mini-batch-size {args.mini_batch_size} is larger than the {X.shape[1]} training examples")
    return problems


class _Recorder:
    """A `train` callback that keeps the run's `History`, so that a run that fails part-way can still be saved."""

    history: History | None = None

    def on_train_begin(self, net: object, optimizer: object, history: History) -> None:
        self.history = history


def _interrupted(history: object) -> bool:
    """Whether `train` stopped because of Ctrl-C (it then returns normally, with a ``stop_reason`` saying so)."""
    reason = (getattr(history, "stop_reason", None) or "").lower()
    return "interrupt" in reason or "ctrl-c" in reason


def _save_results(args: argparse.Namespace, net, optimizer, history, rng, cost) -> bool:
    """Write ``--save`` and ``--history``, each independently of the other; True if both went where asked."""
    writes: list[tuple[str, str, Callable[[str], None]]] = []
    if args.save:
        from .. import io

        keys: tuple[str, ...] = ("sizes", "epochs", "mini_batch_size", "eta", "data", "init", "seed", "cost")
        keys += ("optimizer", "mu", "beta1", "beta2", "lmbda", "early_stopping", "halve_on_plateau")
        settings = {k: getattr(args, k) for k in keys}

        def save(path: str) -> None:
            io.save(net, path, optimizer=optimizer, history=history, rng=rng, metadata={"train": settings}, cost=cost)

        writes.append(("network", args.save, save))
    if args.history:
        writes.append(("history", args.history, history.save))
    return write_all(writes, args.quiet)


_SGD_ETA = {"quadratic": 3.0, "cross-entropy": 0.5, "log-likelihood": 0.5}  # the book's eta for each cost


def _fill_in_defaults(args: argparse.Namespace) -> bool:
    """Replace the settings left to their defaults by the values the run uses; return whether the seed was drawn."""
    drawn = args.seed is None
    if drawn:
        args.seed = secrets.randbits(32)  # printed, so that the run can be repeated
    if args.optimizer in ("momentum", "nesterov") and args.mu is None:
        args.mu = 0.7  # 0.9 trains the quadratic cost badly for 2 of 3 seeds (scripts/optimizer_defaults.py)
    if args.optimizer == "adam":
        args.beta1 = 0.9 if args.beta1 is None else args.beta1
        args.beta2 = 0.999 if args.beta2 is None else args.beta2
    if args.eta is None:
        if args.optimizer == "adam":
            args.eta = 0.01
        elif args.optimizer == "sgd":
            args.eta = _SGD_ETA[args.cost]
        else:  # the step once the velocity has built up, eta / (1 - mu), is sgd's; 0.9, not 0.8999999999999999
            args.eta = float(as_typed(_SGD_ETA[args.cost] * (1 - args.mu)))
    return drawn


def _network_and_cost(args: argparse.Namespace):
    """The network and cost of ``--sizes``, ``--init`` and ``--cost``; the weights are ``mlp(..., rng=seed)``'s."""
    from ..costs import QuadraticCost, SigmoidCrossEntropyCost, SoftmaxLogLikelihoodCost
    from ..sequential import mlp

    net = mlp(args.sizes, init=args.init, rng=args.seed, dtype=args.dtype)
    if args.cost == "quadratic":
        return net, QuadraticCost()
    dense_ending: Module = net[:-1]  # end in Dense: the cost applies the sigmoid (or the softmax) to z itself
    return dense_ending, SigmoidCrossEntropyCost() if args.cost == "cross-entropy" else SoftmaxLogLikelihoodCost()


def _optimizer(args: argparse.Namespace, net):
    """The optimizer of ``--optimizer``, ``--eta``, ``--mu``, ``--beta1`` and ``--beta2``."""
    from ..optim import SGD, Adam, Momentum, Nesterov

    if args.optimizer == "adam":
        return Adam(net.parameters(), eta=args.eta, beta1=args.beta1, beta2=args.beta2)
    if args.optimizer in ("momentum", "nesterov"):
        kind = Momentum if args.optimizer == "momentum" else Nesterov
        return kind(net.parameters(), eta=args.eta, mu=args.mu)
    return SGD(net.parameters(), eta=args.eta)


def _run_description(args: argparse.Namespace) -> str:
    """The settings of the run, for the line printed before training."""
    epochs, eta = count(args.epochs, "epoch"), as_typed(args.eta)  # 0.3, not 0.29999999999999993
    parts = [epochs, f"m = {args.mini_batch_size}", f"eta = {eta}", f"{args.cost} cost"]
    optimizer = args.optimizer
    if args.optimizer in ("momentum", "nesterov"):
        optimizer += f" (mu = {as_typed(args.mu)})"
    elif args.optimizer == "adam":
        optimizer += f" (beta1 = {as_typed(args.beta1)}, beta2 = {as_typed(args.beta2)})"
    parts.append(optimizer)
    if args.lmbda > 0:
        parts.append(f"L2 lmbda = {as_typed(args.lmbda)}")
    patience = count(args.early_stopping or 10, "epoch")
    if args.halve_on_plateau:
        parts.append(f"halving eta after {patience} without improvement")
    elif args.early_stopping:
        parts.append(f"stopping after {patience} without improvement")
    return ", ".join(parts)


def run(args: argparse.Namespace) -> int:
    """Run 'minibp train' on checked arguments; return the exit status."""
    from ..callbacks import EarlyStopping, HalveOnPlateau
    from ..data import load_dataset
    from ..regularization import L2
    from ..train import evaluate, train

    drawn = _fill_in_defaults(args)
    splits = load_dataset(args.data, download=args.download, dtype=np.dtype(args.dtype))
    X, y = splits.training
    problems = _fit_problems(args, X, np.asarray(y))
    if problems:
        raise UsageError(problems)
    net, cost = _network_and_cost(args)  # --seed S is mlp(..., rng=S) and train(..., rng=S), as in Python
    rng = np.random.default_rng(args.seed)  # what train(..., rng=S) shuffles with; saved with the model
    optimizer = _optimizer(args, net)
    regularization = L2(net, lmbda=args.lmbda, n=X.shape[1]) if args.lmbda > 0 else None
    patience = args.early_stopping or 10
    schedule = HalveOnPlateau(args.eta, patience=patience) if args.halve_on_plateau else None
    recorder = _Recorder()
    callbacks: list[object] = [recorder]
    if args.early_stopping and not args.halve_on_plateau:  # the schedule has a stopping rule of its own
        callbacks.append(EarlyStopping(patience=args.early_stopping))
    if not args.quiet:
        n_eval = splits.validation[0].shape[1]
        print(f"Seed: {args.seed}" + (f" (drawn at random; --seed {args.seed} repeats this run)" if drawn else ""))
        print(
            f"Training {args.sizes} on {args.data}: {X.shape[1]} examples, evaluating on {n_eval}; "
            f"{_run_description(args)}",
            flush=True,
        )
    test_line = None
    try:
        history = train(
            net,
            splits.training,
            optimizer=optimizer,
            epochs=args.epochs,
            mini_batch_size=args.mini_batch_size,
            cost=cost,
            evaluation_data=splits.validation,
            rng=rng,
            verbose=not args.quiet,
            progress=False if (args.quiet or args.no_progress) else None,
            schedule=schedule,
            callbacks=callbacks,
            regularization=regularization,
        )
        if not _interrupted(history):
            Xt, yt = splits.test
            correct = evaluate(net, Xt, yt)  # the most active output, whatever the cost
            test_line = f"Test: {correct} / {Xt.shape[1]} ({correct / Xt.shape[1]:.2%})"
    except (Exception, KeyboardInterrupt) as err:
        if recorder.history is None:
            raise  # training had not begun: there is nothing to save
        history = recorder.history
        if isinstance(err, KeyboardInterrupt) and not _interrupted(history):  # a second Ctrl-C raises
            history.stop_reason = f"interrupted (Ctrl-C) after {count(len(history.epoch), 'epoch')}"
        elif history.stop_reason is None:
            history.stop_reason = f"{type(err).__name__}: {describe(err)}"
        _save_results(args, net, optimizer, history, rng, cost)  # what was trained is saved, whatever happened
        if not isinstance(err, KeyboardInterrupt):
            raise  # main reports it: exit 1
    else:
        saved = _save_results(args, net, optimizer, history, rng, cost)
        if not _interrupted(history):
            if not args.quiet:
                if history.stop_reason:
                    print(f"Stopped early: {history.stop_reason}")
                print(test_line)  # the last line of the run
            return EXIT_OK if saved else EXIT_FAILURE
    print(f"minibp: {history.stop_reason}", file=sys.stderr)
    return EXIT_INTERRUPTED
