"""The ``minibp`` command: train the book's network from the shell.

```
minibp train                      # [784, 30, 10], 30 epochs, m = 10, eta = 3.0, bundled MNIST sample
minibp train --data mnist --download --save model.npz --history history.json
minibp data download              # fetch the full MNIST into the cache directory
minibp plot history.json -o curves.png   # training curves (needs the plot extra: pip install minibp[plot])
minibp info model.npz             # what a saved model holds: layers, shapes, parameter counts, versions
minibp predict model.npz digit.png   # the digit in a photo (needs Pillow: pip install minibp[image])
```

``python -m minibp`` is the same command. With no sub-command, ``train`` runs.

Every argument is checked before any data are loaded or any training
starts (exit status 2, like argparse's own errors), so a bad ``--save`` path
is refused at once rather than after an hour of training. A save that still
fails after training writes a rescue file in the temporary directory and
names it; Ctrl-C during training saves what was trained so far, and one during
the save waits for it (`minibp.cli._saving`). No failure
prints a traceback: see `EXIT_STATUS` for the exit codes.

Each sub-command is a file of this package (``train``, ``data``, ``info``,
``plot``, ``predict``) with three functions: ``add_parser`` builds its
sub-parser, ``check`` returns what is wrong with its arguments, ``run`` does
the work; `main` runs them in that order and turns failures into exit codes.

Deliberately left out: resuming training from a saved model (the library's
`minibp.io.load_checkpoint` does it in a few lines), and options for every
layer, cost and optimizer of the library.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from .._version import __version__
from ..errors import MinibpError
from ._args import ParserSettings, describe

__all__ = ["main", "build_parser", "UsageError", "EXIT_STATUS"]


EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


EXIT_STATUS = """\
exit status (the same for every sub-command):
  0    success
  1    a failure while running: a data set, model or history file that cannot be
       read, a download, training that diverged, a save that failed (the network
       and the history then go to rescue files in the temporary directory, named
       in the message)
  2    bad input or usage: an unknown option, a value out of range, a file that
       does not exist, a malformed history file, a --save/--history/-o/--dir
       path that is empty or cannot be written,
       --sizes beyond physical memory or not fitting the data; found before any
       training starts (and, but for the fit to the data, before any data are
       loaded), so no work is lost
  130  interrupted (Ctrl-C); 'train' first saves what was trained so far
No failure prints a traceback."""
"""The exit codes of the ``minibp`` command, as its ``--help`` prints them."""


class UsageError(SystemExit):
    """Bad command-line input found by minibp's own checks; exits 2 as argparse's errors do.

    `main` prints each problem, one per line, before raising it.

    Attributes:
        problems: what is wrong, one sentence per argument.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(EXIT_USAGE)
        self.problems = list(problems)

    def __str__(self) -> str:
        return "\n".join(self.problems)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``minibp`` command."""
    common: ParserSettings = {"epilog": EXIT_STATUS, "formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = argparse.ArgumentParser(
        prog="minibp",
        description="Train the sigmoid network of Neural Networks and Deep Learning, chapters 1-2.",
        **common,
    )
    parser.add_argument("--version", action="version", version=f"minibp {__version__}")
    sub = parser.add_subparsers(dest="command")
    for module in _commands().values():
        module.add_parser(sub, common)
    return parser


def _commands() -> dict[str, ModuleType]:
    """The sub-commands, in the order ``--help`` lists them: each file has ``add_parser``, ``check`` and ``run``."""
    from . import data, info, plot, predict, train

    return {"train": train, "data": data, "info": info, "plot": plot, "predict": predict}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``minibp`` command; return the exit status (see `EXIT_STATUS`).

    Bad input raises ``SystemExit(2)``, as argparse does for a bad option: a
    `UsageError`, after printing what is wrong. Any other failure is printed
    on one line, without a traceback, and returned as 1 (130 for Ctrl-C).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
        argv = ["train", *argv]
    args = build_parser().parse_args(argv)
    command = args.command or "train"
    commands = _commands()
    try:
        problems = commands[command].check(args)
        if problems:
            raise UsageError(problems)
        return commands[command].run(args)
    except UsageError as err:
        for problem in err.problems:
            print(f"minibp {command}: error: {problem}", file=sys.stderr)
        raise
    except KeyboardInterrupt:
        print("minibp: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (MinibpError, OSError, MemoryError, ImportError) as err:
        print(f"minibp: error: {describe(err)}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as err:
        print(f"minibp: internal error, please report it: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_FAILURE
