"""The options of chapters 5 and 6 of ``minibp train``: ``--learning-speed`` and ``--conv``.

``--learning-speed`` adds `minibp.callbacks.LearningSpeed` to the run.
``--conv`` trains chapter 6's convolutional network instead of the
``--sizes`` network: its layers, initialisers and cost are fixed, so
``--sizes``, ``--init`` and another ``--cost`` are refused with it; every
other option applies as to any network.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ..costs import Cost
    from ..module import Module

CONV_ETA = 0.1
"""Chapter 6's learning rate for its convolutional network, the default ``--eta`` of ``--conv`` with sgd."""


def add_options(t: argparse.ArgumentParser) -> None:
    """The options of chapters 5 and 6: the learning speeds, the convolutional network."""
    t.add_argument(
        "--conv",
        action="store_true",
        help="train chapter 6's convolutional network instead of --sizes: Conv2d((1,28,28), 20, 5), ReLU, "
        "MaxPool2d, Conv2d((20,12,12), 40, 5), ReLU, MaxPool2d, Dense(640, 100), ReLU, Dense(100, 10), He "
        "initialisation for the convolutions and scaled for the dense layers, the log-likelihood cost, sgd eta 0.1; "
        "for 28 x 28 images and 10 classes. Not with --sizes, --init or another --cost",
    )
    t.add_argument(
        "--learning-speed",
        action="store_true",
        help="record chapter 5's learning speed of each Dense layer after each epoch, on the first 1,000 training "
        "examples, into the history (see 'minibp plot speed HISTORY')",
    )


def network_problems(args: argparse.Namespace) -> list[str]:
    """Refuse what does not apply with ``--conv``; fill in the defaults of ``--sizes``, ``--init`` and ``--cost``.

    Their parsers default to ``None``, so that an option given with ``--conv`` is seen even when it names
    the value another network takes by default.
    """
    problems = []
    if args.conv:
        fixed = "the chapter-6 network is fixed (He initialisation for its convolutions, scaled for its dense layers)"
        given = [option for option in ("sizes", "init") if getattr(args, option) is not None]
        problems += [f"--{option} does not apply with --conv: {fixed}" for option in given]
        if args.cost not in (None, "log-likelihood"):
            problems.append(
                f"--cost {args.cost} does not apply with --conv: its network ends in Dense(100, 10) and "
                "the log-likelihood cost, which applies the softmax itself"
            )
        args.sizes, args.cost = [784, 10], "log-likelihood"  # what it takes and gives: 28 x 28 pixels, 10 classes
    if args.sizes is None:
        args.sizes = [784, 30, 10]
    if args.init is None and not args.conv:
        args.init = "book"
    if args.cost is None:
        args.cost = "quadratic"
    return problems


def fit_problems(args: argparse.Namespace, X: np.ndarray, y: np.ndarray) -> list[str]:
    """What in the training data ``(X, y)`` does not fit ``--conv``'s network: 784 features, labels below 10."""
    problems = []
    if args.conv and X.shape[0] != 784:
        problems.append(f"--conv trains a network for 28 x 28 images, 784 features, but the data have {X.shape[0]}")
    if args.conv and y.ndim == 1 and y.size and int(y.max()) >= 10:
        problems.append(f"--conv trains a network for 10 classes, but the data have labels up to {int(y.max())}")
    return problems


def settings(args: argparse.Namespace) -> dict[str, object]:
    """``--conv`` and ``--learning-speed`` for the model's metadata (a --conv run has no ``sizes``)."""
    settings: dict[str, object] = {"conv": args.conv, "learning_speed": args.learning_speed}
    return settings | {"sizes": None} if args.conv else settings


def chapter6_network(rng: np.random.Generator | int | None, dtype: str = "float64") -> Module:
    """Chapter 6's convolutional network, as ``minibp train --conv`` trains it: ``(784, m)`` to ``(10, m)``.

    Args:
        rng: a generator or a seed, drawn from layer by layer, as `minibp.mlp` does.
        dtype: ``"float64"`` or ``"float32"``.
    """
    from ..conv import Conv2d, MaxPool2d
    from ..layers import Dense, ReLU
    from ..sequential import Sequential

    rng = np.random.default_rng(rng)  # one generator for every layer (a Generator passes through as it is)
    return Sequential(
        Conv2d((1, 28, 28), 20, 5, rng=rng, dtype=dtype),
        ReLU(),
        MaxPool2d((20, 24, 24)),
        Conv2d((20, 12, 12), 40, 5, rng=rng, dtype=dtype),
        ReLU(),
        MaxPool2d((40, 8, 8)),
        Dense(640, 100, init="scaled", rng=rng, dtype=dtype),
        ReLU(),
        Dense(100, 10, init="scaled", rng=rng, dtype=dtype),
    )


def network_name(args: argparse.Namespace) -> str:
    """``[784, 30, 10]``, or the chapter-6 network of ``--conv``, for the line printed before training."""
    return "chapter 6's convolutional network" if args.conv else str(args.sizes)


def described(args: argparse.Namespace) -> list[str]:
    """What ``--learning-speed`` adds to the settings printed before training."""
    return ["recording the learning speeds"] if args.learning_speed else []


def callbacks(args: argparse.Namespace, training: tuple[np.ndarray, np.ndarray], cost: Cost) -> list[object]:
    """``[LearningSpeed(training, cost)]`` with ``--learning-speed`` (its probe: the first 1,000 examples)."""
    from ..callbacks import LearningSpeed

    return [LearningSpeed(training, cost)] if args.learning_speed else []
