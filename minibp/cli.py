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
names it; Ctrl-C during training saves what was trained so far. No failure
prints a traceback: see `EXIT_STATUS` for the exit codes.

Deliberately left out: resuming training from a saved model (the library's
`minibp.io.load_checkpoint` does it in a few lines), and options for every
layer, cost and optimizer of the library.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

import numpy as np

from ._files import atomic_write
from ._version import __version__
from .data.idx import PICKLE_HINT, is_pickle
from .errors import MinibpError

if TYPE_CHECKING:
    from .module import Module
    from .train import History

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
       does not exist, a --save/--history/-o/--dir path that cannot be written,
       --sizes beyond physical memory or not fitting the data; found before any
       training starts (and, but for the fit to the data, before any data are
       loaded), so no work is lost
  130  interrupted (Ctrl-C); 'train' first saves what was trained so far
No failure prints a traceback."""
"""The exit codes of the ``minibp`` command, as its ``--help`` prints them."""

DATA_SETS = ("sample", "mnist", "fashion-mnist")


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


class _ParserSettings(TypedDict):
    """What the command's parser and each sub-command's share: the exit codes under the help, kept as written."""

    epilog: str
    formatter_class: type[argparse.HelpFormatter]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``minibp`` command."""
    common: _ParserSettings = {"epilog": EXIT_STATUS, "formatter_class": argparse.RawDescriptionHelpFormatter}
    parser = argparse.ArgumentParser(
        prog="minibp",
        description="Train the sigmoid network of Neural Networks and Deep Learning, chapters 1-2.",
        **common,
    )
    parser.add_argument("--version", action="version", version=f"minibp {__version__}")
    sub = parser.add_subparsers(dest="command")

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
        "times 1 - mu, so that their step once the velocity has built up, eta/(1 - mu), is sgd's; adam 0.001)",
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
    t.add_argument(
        "--optimizer",
        choices=["sgd", "momentum", "nesterov", "adam"],
        default="sgd",
        help="sgd (the book's rule), momentum or nesterov (see --mu), adam (see --beta1, --beta2) (default: sgd)",
    )
    t.add_argument("--mu", type=float, help="momentum coefficient of momentum and nesterov, 0 <= mu < 1 (default: 0.9)")
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

    d = sub.add_parser("data", help="manage data sets", **common)
    dsub = d.add_subparsers(dest="data_command", required=True)
    dl = dsub.add_parser("download", help="download MNIST (or Fashion-MNIST) and verify its checksums", **common)
    dl.add_argument("name", nargs="?", default="mnist", choices=["mnist", "fashion-mnist"])
    dl.add_argument("--dir", metavar="PATH", help="target directory (default: MINIBP_DATA or the user cache)")

    i = sub.add_parser("info", help="describe a model file written by 'minibp train --save'", **common)
    i.add_argument("model", metavar="MODEL", help="a model file (.npz)")

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

    pr = sub.add_parser(
        "predict",
        help="guess the digit in each image with a saved model (needs Pillow: pip install minibp[image])",
        description="Convert each image the way MNIST's digits were made (minibp.data.image_to_column) and print\n"
        "one line per image: its name, the predicted digit and the model's largest outputs.",
        **common,
    )
    pr.add_argument("model", metavar="MODEL", help="a model file (.npz) written by 'minibp train --save'")
    pr.add_argument("images", metavar="IMAGE", nargs="+", help="a photo or scan of one handwritten digit (PNG, JPEG)")
    pr.add_argument("--top", type=int, default=3, metavar="K", help="how many largest outputs to show (default: 3)")

    return parser


# ---------------------------------------------------------------- checks before any work (exit 2)


def _show(path: str) -> str:
    """``path`` for a message, its middle elided if it is too long to read."""
    return path if len(path) <= 80 else f"{path[:38]}...{path[-38:]}"


def _pathconf(directory: str, name: str, default: int) -> int:
    try:
        return os.pathconf(directory, name)
    except (AttributeError, ValueError, OSError):  # no pathconf (Windows), or no such directory yet
        return default


def _probe(directory: str, name_length: int) -> None:
    """Write and remove a file in ``directory`` as a save will (`atomic_write`), its name as long as the target's.

    Raises:
        OSError: the directory cannot be written, or cannot hold a name that long.
    """
    stem = f".minibp-probe-{secrets.token_hex(4)}"
    probe = os.path.join(directory, stem + "x" * max(0, name_length - len(stem)))
    atomic_write(probe, lambda f: f.write(b"minibp"))
    os.remove(probe)


def _output_problem(option: str, path: str) -> str | None:
    """Why the file ``path`` cannot be written (``None`` if it can), found by writing a probe beside it."""
    where = f"{option} {_show(path)}"
    if os.path.isdir(path):
        return f"{where} is a directory; give a file name"
    if os.path.exists(path) and not os.path.isfile(path):
        return f"{where} is not a regular file (a device, FIFO or socket); give a file name"
    full = os.path.realpath(path)  # a save follows a symbolic link and writes beside the file it names
    directory, name = os.path.dirname(full), os.fsencode(os.path.basename(full))
    path_max = _pathconf(directory, "PC_PATH_MAX", 4096)
    if len(os.fsencode(path)) >= path_max:
        return f"{where}: the path is {len(os.fsencode(path))} bytes long; PATH_MAX is {path_max}"
    name_max = _pathconf(directory, "PC_NAME_MAX", 255)
    if len(name) > name_max:
        return f"{where}: the file name is {len(name)} bytes long; NAME_MAX is {name_max}"
    if not os.path.isdir(directory):
        shown = _show(os.path.dirname(path) or ".")
        if os.path.lexists(directory):
            return f"{where}: {shown!r} is not a directory"
        return f"{where}: the directory {shown!r} does not exist"
    try:
        _probe(directory, len(name))
    except OSError as err:
        return f"{where}: cannot write in {_show(directory)!r}: {err.strerror or err}"
    return None


def _directory_problem(option: str, path: str) -> str | None:
    """Why files cannot be written in the directory ``path``, created if needed (``None`` if they can)."""
    where = f"{option} {_show(path)}"
    existing = os.path.abspath(path)
    while not os.path.lexists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        return f"{where}: {_show(existing)!r} is not a directory"
    try:
        _probe(existing, 0)
    except OSError as err:
        return f"{where}: cannot write in {_show(existing)!r}: {err.strerror or err}"
    return None


def _input_problem(what: str, path: str) -> str | None:
    """Why ``path`` is not a file that can be read (``None`` if it is one); its contents are not read."""
    if os.path.isdir(path):
        return f"{_show(path)!r} is a directory, not a {what}"
    if not os.path.isfile(path):
        return f"no such {what}: {_show(path)!r}"
    return None


def _size(nbytes: int) -> str:
    """``nbytes`` for a reader, in binary units: ``5.8 TiB``."""
    units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"]
    power = 0
    while power < len(units) - 1 and nbytes >= 1024 ** (power + 1):
        power += 1
    return f"{nbytes} bytes" if power == 0 else f"{nbytes / 1024**power:,.1f} {units[power]}"


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
        f"--sizes {' '.join(map(str, sizes))}: {count:,} parameters need {nbytes:,} bytes ({_size(nbytes)}) "
        f"as {dtype}, more than the {physical:,} bytes ({_size(physical)}) of physical memory"
    )


def _check_train(args: argparse.Namespace) -> list[str]:
    from .init import INITIALIZERS

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
    problems.append(_data_set_problem(args.data))
    if sizes_ok:
        problems.append(_memory_problem(args.sizes, args.dtype))
    for option in ("save", "history"):
        path = getattr(args, option)
        if path:
            problems.append(_output_problem(f"--{option}", path))
    if args.save and args.history and os.path.realpath(args.save) == os.path.realpath(args.history):
        problems.append(f"--save and --history name the same file, {_show(args.save)}; give two files")
    return [p for p in problems if p]


def _check_data(args: argparse.Namespace) -> list[str]:
    problem = _directory_problem("--dir", args.dir) if args.dir else None
    return [problem] if problem else []


def _check_info(args: argparse.Namespace) -> list[str]:
    problem = _input_problem("model file", args.model)
    return [problem] if problem else []


PLOT_KINDS = {  # what 'minibp plot KIND FILE' draws from: the kind of FILE
    "curves": "history file",
    "misclassified": "model file",
    "weights": "model file",
    "confusion": "model file",
    "speed": "history file",
}
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


def _data_set_problem(name: str) -> str | None:
    """Why ``--data name`` is not a data set (``None`` if it may be one: its files are read only when loading)."""
    path = Path(name).expanduser()
    if name in DATA_SETS or path.is_dir():
        return None
    if path.is_file() and is_pickle(path):
        return f"--data {_show(name)} {PICKLE_HINT}"  # the book's mnist.pkl.gz
    expected = f"{', '.join(DATA_SETS)} or a directory holding the four IDX files"
    return f"--data {_show(name)}: unknown data set; expected {expected}"


def _check_plot(args: argparse.Namespace) -> list[str]:
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
        problems.append(_data_set_problem(args.data))
    what = PLOT_KINDS[kind]
    if source is None:
        problems.append(f"'minibp plot {kind}' needs a {what}: minibp plot {kind} {what.split()[0].upper()}")
    elif (problem := _input_problem(what, source)) is not None:
        problems.append(problem)
    else:
        output = _plot_output(args)
        default = "HISTORY with .png" if kind == "curves" else f"{what.split()[0].upper()} with -{kind}.png"
        if os.path.realpath(output) == os.path.realpath(source):
            problems.append(f"-o {_show(output)} is the {what} itself; give another file for the image")
        else:
            problems.append(_output_problem("-o" if args.output else f"the image ({default})", output))
    return [p for p in problems if p]


def _plot_fit_problems(args: argparse.Namespace, kind: str, net: object, X: np.ndarray | None = None) -> list[str]:
    """What in the request does not fit the model (and the data ``X``), checked once they are loaded."""
    from .layers import Dense
    from .module import Module

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
    if X is not None and dense and dense[0].n_in != X.shape[0]:
        data = args.data or "sample"
        return [f"the model takes {dense[0].n_in} inputs but the digits of --data {_show(data)} have {X.shape[0]}"]
    return []


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


# ---------------------------------------------------------------- the sub-commands


class _Recorder:
    """A `train` callback that keeps the run's `History`, so that a run that fails part-way can still be saved."""

    history: History | None = None

    def on_train_begin(self, net: object, optimizer: object, history: History) -> None:
        self.history = history


def _interrupted(history: object) -> bool:
    """Whether `train` stopped because of Ctrl-C (it then returns normally, with a ``stop_reason`` saying so)."""
    reason = (getattr(history, "stop_reason", None) or "").lower()
    return "interrupt" in reason or "ctrl-c" in reason


def _describe(err: BaseException) -> str:
    return str(err) or type(err).__name__


def _rescue(path: str, write: Callable[[str], None]) -> str:
    """``write`` a rescue file for ``path`` under a new, unique name in the temporary directory; return the name.

    Raises:
        Whatever creating the name or ``write`` raises; no empty file is left behind.
    """
    stem, suffix = Path(path).stem[:40], Path(path).suffix[:16]
    fd, rescue = tempfile.mkstemp(prefix=f"minibp-rescue-{stem}-", suffix=suffix)  # reserves the name
    os.close(fd)
    try:
        write(rescue)
    except BaseException:
        os.remove(rescue)
        raise
    return rescue


def _write_or_rescue(what: str, path: str, write: Callable[[str], None], quiet: bool) -> bool:
    """``write(path)``, or else a rescue file named on standard error; return whether ``path`` was written."""
    try:
        write(path)
    except Exception as err:
        failed = f"minibp: error: could not save the {what} to {path!r} ({_describe(err)})"
        try:
            rescue = _rescue(path, write)
        except Exception as rescue_err:
            where = tempfile.gettempdir()
            print(f"{failed}, nor to a rescue file in {where!r} ({_describe(rescue_err)}); it is lost", file=sys.stderr)
        else:
            print(f"{failed}; saved it to {rescue!r} instead", file=sys.stderr)
        return False
    if not quiet:
        print(f"Saved the network to {path}" if what == "network" else f"Wrote the history to {path}")
    return True


def _save_results(args: argparse.Namespace, net, optimizer, history, rng) -> bool:
    """Write ``--save`` and ``--history``, each independently of the other; True if both went where asked."""
    ok = True
    if args.save:
        from . import io

        keys: tuple[str, ...] = ("sizes", "epochs", "mini_batch_size", "eta", "data", "init", "seed", "cost")
        keys += ("optimizer", "mu", "beta1", "beta2", "lmbda", "early_stopping", "halve_on_plateau")
        settings = {k: getattr(args, k) for k in keys}

        def save(path: str) -> None:
            io.save(net, path, optimizer=optimizer, history=history, rng=rng, metadata={"train": settings})

        ok = _write_or_rescue("network", args.save, save, args.quiet) and ok
    if args.history:
        ok = _write_or_rescue("history", args.history, history.save, args.quiet) and ok
    return ok


_SGD_ETA = {"quadratic": 3.0, "cross-entropy": 0.5, "log-likelihood": 0.5}  # the book's eta for each cost


def _fill_in_defaults(args: argparse.Namespace) -> bool:
    """Replace the settings left to their defaults by the values the run uses; return whether the seed was drawn."""
    drawn = args.seed is None
    if drawn:
        args.seed = secrets.randbits(32)  # printed, so that the run can be repeated
    if args.optimizer in ("momentum", "nesterov") and args.mu is None:
        args.mu = 0.9
    if args.optimizer == "adam":
        args.beta1 = 0.9 if args.beta1 is None else args.beta1
        args.beta2 = 0.999 if args.beta2 is None else args.beta2
    if args.eta is None:
        if args.optimizer == "adam":
            args.eta = 1e-3
        elif args.optimizer == "sgd":
            args.eta = _SGD_ETA[args.cost]
        else:  # the step once the velocity has built up, eta / (1 - mu), is sgd's
            args.eta = _SGD_ETA[args.cost] * (1 - args.mu)
    return drawn


def _network_and_cost(args: argparse.Namespace, rng: np.random.Generator):
    """The network and cost of ``--sizes``, ``--init`` and ``--cost``."""
    from .costs import QuadraticCost, SigmoidCrossEntropyCost, SoftmaxLogLikelihoodCost
    from .sequential import mlp

    net = mlp(args.sizes, init=args.init, rng=rng, dtype=args.dtype)
    if args.cost == "quadratic":
        return net, QuadraticCost()
    dense_ending: Module = net[:-1]  # end in Dense: the cost applies the sigmoid (or the softmax) to z itself
    return dense_ending, SigmoidCrossEntropyCost() if args.cost == "cross-entropy" else SoftmaxLogLikelihoodCost()


def _optimizer(args: argparse.Namespace, net):
    """The optimizer of ``--optimizer``, ``--eta``, ``--mu``, ``--beta1`` and ``--beta2``."""
    from .optim import SGD, Adam, Momentum, Nesterov

    if args.optimizer == "adam":
        return Adam(net.parameters(), eta=args.eta, beta1=args.beta1, beta2=args.beta2)
    if args.optimizer in ("momentum", "nesterov"):
        kind = Momentum if args.optimizer == "momentum" else Nesterov
        return kind(net.parameters(), eta=args.eta, mu=args.mu)
    return SGD(net.parameters(), eta=args.eta)


def _run_description(args: argparse.Namespace) -> str:
    """The settings of the run, for the line printed before training."""
    parts = [f"{args.epochs} epochs", f"m = {args.mini_batch_size}", f"eta = {args.eta}", f"{args.cost} cost"]
    optimizer = args.optimizer
    if args.optimizer in ("momentum", "nesterov"):
        optimizer += f" (mu = {args.mu})"
    elif args.optimizer == "adam":
        optimizer += f" (beta1 = {args.beta1}, beta2 = {args.beta2})"
    parts.append(optimizer)
    if args.lmbda > 0:
        parts.append(f"L2 lmbda = {args.lmbda}")
    patience = args.early_stopping or 10
    if args.halve_on_plateau:
        parts.append(f"halving eta after {patience} epochs without improvement")
    elif args.early_stopping:
        parts.append(f"stopping after {patience} epochs without improvement")
    return ", ".join(parts)


def _train(args: argparse.Namespace) -> int:
    from .callbacks import EarlyStopping, HalveOnPlateau
    from .data import load_dataset
    from .regularization import L2
    from .train import evaluate, train

    drawn = _fill_in_defaults(args)
    splits = load_dataset(args.data, download=args.download, dtype=np.dtype(args.dtype))
    X, y = splits.training
    problems = _fit_problems(args, X, np.asarray(y))
    if problems:
        raise UsageError(problems)
    rng = np.random.default_rng(args.seed)
    net, cost = _network_and_cost(args, rng)
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
            history.stop_reason = f"interrupted (Ctrl-C) after {len(history.epoch)} epochs"
        elif history.stop_reason is None:
            history.stop_reason = f"{type(err).__name__}: {_describe(err)}"
        _save_results(args, net, optimizer, history, rng)  # what was trained is saved, whatever happened
        if not isinstance(err, KeyboardInterrupt):
            raise  # main reports it: exit 1
    else:
        saved = _save_results(args, net, optimizer, history, rng)
        if not _interrupted(history):
            if not args.quiet:
                if history.stop_reason:
                    print(f"Stopped early: {history.stop_reason}")
                print(test_line)  # the last line of the run
            return EXIT_OK if saved else EXIT_FAILURE
    print(f"minibp: {history.stop_reason}", file=sys.stderr)
    return EXIT_INTERRUPTED


def _data(args: argparse.Namespace) -> int:
    from .data import download

    paths = download(args.name, directory=args.dir)
    for path in paths:
        print(path)
    return 0


def _plot(args: argparse.Namespace) -> int:
    from . import plot

    kind, source = _plot_request(args)
    assert source is not None  # _check_plot refused a kind without its file
    output = _plot_output(args)
    if kind == "curves":
        plot.plot_history(source, output, title=args.title)
    elif kind == "speed":
        plot.plot_speed(source, path=output)
    else:
        from .io import load

        net = load(source)
        if kind == "weights":
            problems = _plot_fit_problems(args, kind, net)
            if problems:
                raise UsageError(problems)
            plot.plot_weights(net, layer=args.layer or 0, path=output)
        else:
            from .data import load_dataset

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
    epochs, accuracies = (ckpt.history or {}).get("epoch"), (ckpt.history or {}).get("evaluation_accuracy")
    if isinstance(epochs, list) and epochs:  # the history is free JSON: describe only what has History's shape
        line = f"Trained {len(epochs)} epochs"
        accuracy = accuracies[-1] if isinstance(accuracies, list) and accuracies else None
        if isinstance(accuracy, (int, float)) and not isinstance(accuracy, bool):
            line += f"; last evaluation accuracy {accuracy:.2%}"
        print(line)
    if ckpt.metadata:
        print(f"Metadata: {ckpt.metadata}")
    return 0


def _check_predict(args: argparse.Namespace) -> list[str]:
    """The model and every image must exist, and each image's header must be an image's; no pixel is read yet."""
    from .data.digit import probe_image

    problems: list[str | None] = [_input_problem("model file", args.model)]  # None: nothing found; dropped
    if args.top < 0:
        problems.append(f"--top must be >= 0, got {args.top}")
    for path in args.images:
        problem = _input_problem("file", path)
        if problem is None:
            try:
                probe_image(path)
            except MinibpError as err:  # not an image; a missing Pillow (ImportError) is a failure: exit 1
                problem = _describe(err)
            except OSError as err:
                problem = f"cannot read {_show(path)!r}: {err.strerror or err}"
        problems.append(problem)
    return [p for p in problems if p]


def _predict(args: argparse.Namespace) -> int:
    from .data.digit import image_to_column
    from .data.targets import classes
    from .errors import NonFiniteError
    from .io import load
    from .module import evaluation_mode

    net = load(args.model)
    first = next((m for m in net.modules() if hasattr(m, "n_in")), None)
    if first is not None and first.n_in != 28 * 28:
        problem = f"{_show(args.model)} takes {first.n_in} inputs, but an image becomes 784 (28 x 28 pixels)"
        problems = [f"{problem}; give a model trained on 28 x 28 digits, such as MNIST's"]
        raise UsageError(problems)
    failed = 0
    for path in args.images:
        try:
            x = image_to_column(path)
            with evaluation_mode(net), np.errstate(all="ignore"):
                a = np.asarray(net(x))[:, 0]
            if not np.isfinite(a).all():
                raise NonFiniteError(f"the model's output for {path!r} is not finite (NaN or infinity)")
        except (MinibpError, ValueError, OSError) as err:  # this image fails; the others are still predicted
            message = _describe(err)
            message = message if path in message else f"{_show(path)}: {message}"  # say which image, once
            print(f"minibp predict: error: {message}", file=sys.stderr)
            failed += 1
            continue
        top = np.argsort(-a, kind="stable")[: args.top]
        scores = ", ".join(f"{k}: {a[k]:.2f}" for k in top)
        guess = int(classes(a[:, None])[0])  # the class train and evaluate read: argmax, or > 0.5 for one output
        print(f"{path}: {guess}" + (f"  ({scores})" if scores else ""), flush=True)
    return EXIT_FAILURE if failed else EXIT_OK


_CHECKS = {
    "train": _check_train,
    "data": _check_data,
    "info": _check_info,
    "plot": _check_plot,
    "predict": _check_predict,
}
_COMMANDS = {"train": _train, "data": _data, "info": _info, "plot": _plot, "predict": _predict}


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
    try:
        problems = _CHECKS[command](args)
        if problems:
            raise UsageError(problems)
        return _COMMANDS[command](args)
    except UsageError as err:
        for problem in err.problems:
            print(f"minibp {command}: error: {problem}", file=sys.stderr)
        raise
    except KeyboardInterrupt:
        print("minibp: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (MinibpError, OSError, MemoryError, ImportError) as err:
        print(f"minibp: error: {_describe(err)}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as err:
        print(f"minibp: internal error, please report it: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_FAILURE
