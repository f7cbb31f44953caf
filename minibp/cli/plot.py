"""``minibp plot``: draw training curves, misclassified digits, weights, a confusion matrix or learning speed."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

import numpy as np

from . import UsageError
from ._args import ParserSettings, data_set_problem, describe, input_problem, output_problem, printable, show


def add_parser(sub: argparse._SubParsersAction, common: ParserSettings) -> None:
    """Add the 'plot' sub-command's parser to ``sub``."""
    p = sub.add_parser(
        "plot",
        help="draw training curves, misclassified digits, weights, a confusion matrix or learning speed "
        "(needs matplotlib)",
        usage="minibp plot [curves] HISTORY [-o PATH] [--title TEXT]\n"
        "       minibp plot misclassified MODEL [--data NAME] [-n N] [-o PATH]\n"
        "       minibp plot weights MODEL [--layer L] [-o PATH]\n"
        "       minibp plot confusion MODEL [--data NAME] [-o PATH]\n"
        "       minibp plot speed HISTORY [-o PATH]",
        description="Draw a picture into a PNG file and print its name. A HISTORY is the JSON file of\n"
        "'minibp train --history', a MODEL the file of 'minibp train --save'; the digits come from\n"
        "the test split of --data.",
        **common,
    )
    p.add_argument(
        "kind", metavar="KIND", help="curves (a HISTORY alone draws them), misclassified, weights, confusion or speed"
    )
    p.add_argument("file", metavar="FILE", nargs="?", help="HISTORY for curves and speed, MODEL for the others")
    p.add_argument(
        "-o", "--output", metavar="PATH", help="image to write (default: HISTORY with .png, or FILE with -KIND.png)"
    )
    p.add_argument("--title", metavar="TEXT", help="curves: title over the plots")
    p.add_argument(
        "--data",
        metavar="NAME",
        help="misclassified, confusion: sample, mnist, fashion-mnist, or a directory of IDX files (default: sample)",
    )
    p.add_argument("-n", type=int, metavar="N", help="misclassified: the most digits to draw (default: 24)")
    p.add_argument("--layer", type=int, metavar="L", help="weights: which Dense layer, from 0 (default: 0)")


PLOT_KINDS = {  # what 'minibp plot KIND FILE' draws from: the kind of FILE
    "curves": "history file",
    "misclassified": "model file",
    "weights": "model file",
    "confusion": "model file",
    "speed": "history file",
}


IMAGE_FORMATS = ("png", "svg", "svgz", "pdf", "eps", "ps", "jpg", "jpeg", "tif", "tiff", "webp")  # by suffix

_PLOT_OPTIONS = {  # options that only some kinds take: (attribute, option, kinds)
    "title": ("--title", ("curves",)),
    "data": ("--data", ("misclassified", "confusion")),
    "n": ("-n", ("misclassified",)),
    "layer": ("--layer", ("weights",)),
}


def _plot_request(args: argparse.Namespace) -> tuple[str, str | None]:
    """``(kind, file)`` for ``minibp plot KIND FILE``; a file alone (``minibp plot HISTORY``) draws curves."""
    if args.kind in PLOT_KINDS and not (args.file is None and os.path.isfile(args.kind)):
        return args.kind, args.file
    return "curves", args.kind


def _plot_output(args: argparse.Namespace) -> str:
    kind, source = _plot_request(args)
    path = Path(source or "")
    default = path.with_suffix(".png") if kind == "curves" else path.with_name(f"{path.stem}-{kind}.png")
    return args.output or str(default)


def check(args: argparse.Namespace) -> list[str]:
    """What is wrong with the arguments of 'minibp plot', one sentence each, found before any work."""
    if args.kind not in PLOT_KINDS and args.file is not None:
        return [f"{args.kind!r} is not a picture; choose one of {', '.join(PLOT_KINDS)}, or give a history file alone"]
    kind, source = _plot_request(args)
    problems: list[str | None] = []  # the checks that return None found nothing; dropped at the end
    for name, (option, kinds) in _PLOT_OPTIONS.items():
        if getattr(args, name) is not None and kind not in kinds:
            problems.append(f"{option} is only for the {' and '.join(kinds)} picture, not for {kind}")
    if args.n is not None and args.n < 1:
        problems.append(f"-n must be >= 1, got {args.n}")
    if args.layer is not None and args.layer < 0:
        problems.append(f"--layer must be >= 0, got {args.layer}")
    if args.data is not None:
        problems.append(data_set_problem(args.data))
    what = PLOT_KINDS[kind]
    if source is None:
        problems.append(f"'minibp plot {kind}' needs a {what}: minibp plot {kind} {what.split()[0].upper()}")
    elif (problem := input_problem(what, source)) is not None:
        problems.append(problem)
    else:
        output = _plot_output(args)
        default = "HISTORY with .png" if kind == "curves" else f"{what.split()[0].upper()} with -{kind}.png"
        suffix = Path(output).suffix.lstrip(".").lower()
        if os.path.realpath(output) == os.path.realpath(source):
            problems.append(f"-o {show(output)} is the {what} itself; give another file for the image")
        elif suffix and suffix not in IMAGE_FORMATS:
            problems.append(
                f"-o {printable(show(output))}: {printable(suffix)!r} is not an image format minibp writes; "
                f"end the name in one of {', '.join('.' + f for f in IMAGE_FORMATS)} (none: .png)"
            )
        else:
            problems.append(output_problem("-o" if args.output else f"the image ({default})", output))
    return [p for p in problems if p]


def _history_problem(path: str) -> str | None:
    """What is wrong with the history file at ``path`` (read and checked as `minibp.plot.load_history` does)."""
    from ..errors import DataFormatError
    from ..plot import load_history

    try:
        load_history(path)
    except DataFormatError as err:
        return printable(describe(err))
    except OSError as err:
        return f"cannot read {show(path)!r}: {err.strerror or err}"
    return None


def _plot_fit_problems(args: argparse.Namespace, kind: str, net: object, X: np.ndarray | None = None) -> list[str]:
    """What in the request does not fit the model (and the data ``X``), checked once they are loaded."""
    from ..layers import Dense
    from ..module import Module
    from ..summary import input_size

    dense = [m for m in net.modules() if isinstance(m, Dense)] if isinstance(net, Module) else []
    if kind == "weights":
        layer = args.layer or 0
        if layer >= len(dense):
            count = f"{len(dense)} Dense layers, numbered 0 to {len(dense) - 1}" if dense else "no Dense layer"
            return [f"--layer {layer}: the model has {count}"]
        n_in = dense[layer].n_in
        if math.isqrt(n_in) ** 2 != n_in:
            return [f"--layer {layer}: its {n_in} inputs do not make a square image; choose a layer that sees pixels"]
        return []
    n_in = input_size(net) if isinstance(net, Module) else None
    if X is not None and n_in is not None and n_in != X.shape[0]:
        data = args.data or "sample"
        return [f"the model takes {n_in} inputs but the digits of --data {show(data)} have {X.shape[0]}"]
    return []


def run(args: argparse.Namespace) -> int:
    """Run 'minibp plot' on checked arguments; return the exit status."""
    from .. import plot

    kind, source = _plot_request(args)
    assert source is not None  # check refused a kind without its file
    output = _plot_output(args)
    if PLOT_KINDS[kind] == "history file" and (problem := _history_problem(source)) is not None:
        problems = [problem]  # a malformed history is bad input, found before anything is drawn
        raise UsageError(problems)
    if kind == "curves":
        plot.plot_history(source, output, title=args.title)
    elif kind == "speed":
        plot.plot_speed(source, path=output)
    else:
        from ..io import load

        net = load(source)
        if kind == "weights":
            problems = _plot_fit_problems(args, kind, net)
            if problems:
                raise UsageError(problems)
            plot.plot_weights(net, layer=args.layer or 0, path=output)
        else:
            from ..data import load_dataset

            X, y = load_dataset(args.data or "sample").test  # digits the network was not trained on
            problems = _plot_fit_problems(args, kind, net, X)
            if problems:
                raise UsageError(problems)
            if kind == "misclassified":
                plot.plot_misclassified(net, X, y, n=24 if args.n is None else args.n, path=output)
            else:
                plot.plot_confusion(net, X, y, path=output)
    print(output)
    return 0
