"""``minibp info``: describe what a saved model holds."""

from __future__ import annotations

import argparse
import math
import sys

from .._text import as_typed, count
from ._args import ParserSettings, input_problem, printable


def add_parser(sub: argparse._SubParsersAction, common: ParserSettings) -> None:
    """Add the 'info' sub-command's parser to ``sub``."""
    i = sub.add_parser("info", help="describe a model file written by 'minibp train --save'", **common)
    i.add_argument("model", metavar="MODEL", help="a model file (.npz)")


def check(args: argparse.Namespace) -> list[str]:
    """What is wrong with the arguments of 'minibp info', one sentence each, found before any work."""
    problem = input_problem("model file", args.model)
    return [problem] if problem else []


def run(args: argparse.Namespace) -> int:
    """Run 'minibp info' on checked arguments; return the exit status."""
    from ..io import load_checkpoint
    from ..summary import input_size, summary

    try:
        ckpt = load_checkpoint(args.model)
    except FileNotFoundError as err:
        print(f"minibp info: error: {printable(err)}", file=sys.stderr)
        return 1
    n_in = input_size(ckpt.net)
    version = printable(ckpt.minibp_version)  # a line break in a string from the file is escaped, not printed
    _say(f"{printable(args.model)}: minibp model, format version {ckpt.format_version}, written by minibp {version}")
    if n_in is not None:
        _say(summary(ckpt.net, n_in))
    else:  # no module fixes the number of inputs: no shapes to show
        total = sum(p.data.size for p in ckpt.net.parameters())
        _say(f"{ckpt.net!r}\nInput: any number of features; total parameters: {total:,}")
    if ckpt.cost is not None:
        _say(f"Cost: {printable(ckpt.cost)}")
    state = ckpt.optimizer_state
    states = state if isinstance(state, list) else [] if state is None else [state]  # a list: one per group
    for i, state in enumerate(states):
        settings = ", ".join(
            f"{printable(k)} = {as_typed(v) if isinstance(v, float) else printable(v)}"
            for k, v in state.items()
            if k != "type" and isinstance(v, (int, float, str))
        )
        which = f" {i}" if len(states) > 1 else ""
        _say(f"Optimizer{which}: {printable(state.get('type', '?'))} ({settings})")
    epochs, accuracies = (ckpt.history or {}).get("epoch"), (ckpt.history or {}).get("evaluation_accuracy")
    if isinstance(epochs, list) and epochs:  # the history is free JSON: describe only what has History's shape
        line = f"Trained {count(len(epochs), 'epoch')}"
        accuracy = accuracies[-1] if isinstance(accuracies, list) and accuracies else None
        if isinstance(accuracy, (int, float)) and not isinstance(accuracy, bool) and math.isfinite(accuracy):
            line += f"; last evaluation accuracy {accuracy:.2%}"
        _say(line)
    if ckpt.metadata:
        _say(f"Metadata: {ckpt.metadata}")
    return 0


def _say(text: str) -> None:
    """Print ``text`` line by line, each with its control characters escaped (a model file may hold any)."""
    print("\n".join(printable(line) for line in text.split("\n")))
