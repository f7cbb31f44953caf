"""``minibp info``: describe what a saved model holds."""

from __future__ import annotations

import argparse
import sys

from .._text import as_typed, count
from ._args import ParserSettings, input_problem


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
    from ..summary import summary

    try:
        ckpt = load_checkpoint(args.model)
    except FileNotFoundError as err:
        print(f"minibp info: error: {err}", file=sys.stderr)
        return 1
    first = next((m for m in ckpt.net.modules() if hasattr(m, "n_in")), None)
    print(f"{args.model}: minibp model, format version {ckpt.format_version}, written by minibp {ckpt.minibp_version}")
    if first is not None:
        print(summary(ckpt.net, first.n_in))
    if ckpt.cost is not None:
        print(f"Cost: {ckpt.cost}")
    state = ckpt.optimizer_state
    states = state if isinstance(state, list) else [] if state is None else [state]  # a list: one per group
    for i, state in enumerate(states):
        settings = ", ".join(
            f"{k} = {as_typed(v) if isinstance(v, float) else v}"
            for k, v in state.items()
            if k != "type" and isinstance(v, (int, float, str))
        )
        which = f" {i}" if len(states) > 1 else ""
        print(f"Optimizer{which}: {state.get('type', '?')} ({settings})")
    epochs, accuracies = (ckpt.history or {}).get("epoch"), (ckpt.history or {}).get("evaluation_accuracy")
    if isinstance(epochs, list) and epochs:  # the history is free JSON: describe only what has History's shape
        line = f"Trained {count(len(epochs), 'epoch')}"
        accuracy = accuracies[-1] if isinstance(accuracies, list) and accuracies else None
        if isinstance(accuracy, (int, float)) and not isinstance(accuracy, bool):
            line += f"; last evaluation accuracy {accuracy:.2%}"
        print(line)
    if ckpt.metadata:
        print(f"Metadata: {ckpt.metadata}")
    return 0
