"""``minibp predict``: guess the digit in each photo with a saved model."""

from __future__ import annotations

import argparse
import sys

import numpy as np

from ..errors import MinibpError
from . import EXIT_FAILURE, EXIT_OK, UsageError
from ._args import ParserSettings, describe, input_problem, show


def add_parser(sub: argparse._SubParsersAction, common: ParserSettings) -> None:
    """Add the 'predict' sub-command's parser to ``sub``."""
    pr = sub.add_parser(
        "predict",
        help="guess the digit in each image with a saved model (needs Pillow: pip install minibp[image])",
        description="Convert each image the way MNIST's digits were made (minibp.data.image_to_column) and print\n"
        "one line per image: its name, the predicted digit and the model's largest outputs, as probabilities\n"
        "(minibp.predict_proba, with the cost the model file records); a first line says what they are.",
        **common,
    )
    pr.add_argument("model", metavar="MODEL", help="a model file (.npz) written by 'minibp train --save'")
    pr.add_argument("images", metavar="IMAGE", nargs="+", help="a photo or scan of one handwritten digit (PNG, JPEG)")
    pr.add_argument("--top", type=int, default=3, metavar="K", help="how many largest outputs to show (default: 3)")


def check(args: argparse.Namespace) -> list[str]:
    """The model and every image must exist, and each image's header must be an image's; no pixel is read yet."""
    from ..data.digit import probe_image

    problems: list[str | None] = [input_problem("model file", args.model)]  # None: nothing found; dropped
    if args.top < 0:
        problems.append(f"--top must be >= 0, got {args.top}")
    for path in args.images:
        problem = input_problem("file", path)
        if problem is None:
            try:
                probe_image(path)
            except MinibpError as err:  # not an image; a missing Pillow (ImportError) is a failure: exit 1
                problem = describe(err)
            except OSError as err:
                problem = f"cannot read {show(path)!r}: {err.strerror or err}"
        problems.append(problem)
    return [p for p in problems if p]


def run(args: argparse.Namespace) -> int:
    """Run 'minibp predict' on checked arguments; return the exit status."""
    from ..data.digit import image_to_column
    from ..data.targets import classes
    from ..errors import NonFiniteError
    from ..io import load_checkpoint
    from ..summary import input_size

    ckpt = load_checkpoint(args.model)
    net = ckpt.net
    n_in = input_size(net)  # None: no module fixes it; the images are tried
    if n_in is not None and n_in != 28 * 28:
        problem = f"{show(args.model)} takes {n_in} inputs, but an image becomes 784 (28 x 28 pixels)"
        problems = [f"{problem}; give a model trained on 28 x 28 digits, such as MNIST's"]
        raise UsageError(problems)
    outputs, meaning = _outputs(net, ckpt.cost)
    if args.top:
        print(f"{args.model}: the numbers are {meaning}", flush=True)
    failed = 0
    for path in args.images:
        try:
            x = image_to_column(path)
            try:
                a = outputs(x)[:, 0]
            except NonFiniteError:
                raise NonFiniteError(f"the model's output for {path!r} is not finite (NaN or infinity)") from None
        except (MinibpError, ValueError, OSError) as err:  # this image fails; the others are still predicted
            message = describe(err)
            message = message if path in message else f"{show(path)}: {message}"  # say which image, once
            print(f"minibp predict: error: {message}", file=sys.stderr)
            failed += 1
            continue
        top = np.argsort(-a, kind="stable")[: args.top]
        scores = ", ".join(f"{k}: {a[k]:.2f}" for k in top)
        guess = int(classes(a[:, None])[0])  # the class train and evaluate read: argmax, or > 0.5 for one output
        print(f"{path}: {guess}" + (f"  ({scores})" if scores else ""), flush=True)
    return EXIT_FAILURE if failed else EXIT_OK


def _outputs(net, cost: str | None):
    """The function giving the numbers to print for a batch ``x``, and what they are, in a few words."""
    from ..outputs import output_meaning, predict_proba

    try:
        meaning = output_meaning(net, cost)
    except ValueError:  # a file older than format 3, or saved without its cost, of a network ending in Dense
        meaning = (
            "the output layer's weighted inputs z, not probabilities: the model file does not say which cost it "
            "was trained with ('minibp train --save' records it)"
        )
        return (lambda x: predict_proba(net, x, cost="QuadraticCost")), meaning  # a cost of a: the output as it is
    return (lambda x: predict_proba(net, x, cost=cost)), meaning
