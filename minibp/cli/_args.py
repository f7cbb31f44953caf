"""What the sub-commands of ``minibp`` share: the parser settings and the checks of paths and data set names.

Each check returns a sentence saying what is wrong, or ``None``; the
sub-commands collect them and `minibp.cli.main` prints them all at once.
"""

from __future__ import annotations

import argparse
import os
import secrets
from pathlib import Path
from typing import TypedDict

from .._files import atomic_write
from ..data.idx import PICKLE_HINT, is_pickle

DATA_SETS = ("sample", "mnist", "fashion-mnist")


class ParserSettings(TypedDict):
    """What the command's parser and each sub-command's share: the exit codes under the help, kept as written."""

    epilog: str
    formatter_class: type[argparse.HelpFormatter]


def show(path: str) -> str:
    """``path`` for a message, its middle elided if it is too long to read."""
    return path if len(path) <= 80 else f"{path[:38]}...{path[-38:]}"


def printable(text: object) -> str:
    r"""``str(text)`` with every control or format character escaped (``\x1b``, ``\u202e``), safe for a terminal.

    A file can hold escape sequences (ESC, BEL, CR) and bidirectional controls
    that would change what the terminal shows; whatever is printed from a file
    goes through here. Line breaks are escaped too: split lines before.
    """
    return "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")  # all of C* and Z* but the space
        for ch in str(text)
    )


def binary_size(nbytes: int) -> str:
    """``nbytes`` for a reader, in binary units: ``5.8 TiB``."""
    units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"]
    power = 0
    while power < len(units) - 1 and nbytes >= 1024 ** (power + 1):
        power += 1
    return f"{nbytes} bytes" if power == 0 else f"{nbytes / 1024**power:,.1f} {units[power]}"


def describe(err: BaseException) -> str:
    return str(err) or type(err).__name__


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


def output_problem(option: str, path: str) -> str | None:
    """Why the file ``path`` cannot be written (``None`` if it can), found by writing a probe beside it."""
    where = f"{option} {show(path)}"
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
        shown = show(os.path.dirname(path) or ".")
        if os.path.lexists(directory):
            return f"{where}: {shown!r} is not a directory"
        return f"{where}: the directory {shown!r} does not exist"
    try:
        _probe(directory, len(name))
    except OSError as err:
        return f"{where}: cannot write in {show(directory)!r}: {err.strerror or err}"
    return None


def directory_problem(option: str, path: str) -> str | None:
    """Why files cannot be written in the directory ``path``, created if needed (``None`` if they can)."""
    where = f"{option} {show(path)}"
    existing = os.path.abspath(path)
    while not os.path.lexists(existing) and os.path.dirname(existing) != existing:
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        return f"{where}: {show(existing)!r} is not a directory"
    try:
        _probe(existing, 0)
    except OSError as err:
        return f"{where}: cannot write in {show(existing)!r}: {err.strerror or err}"
    return None


def input_problem(what: str, path: str) -> str | None:
    """Why ``path`` is not a file that can be read (``None`` if it is one); its contents are not read."""
    if os.path.isdir(path):
        return f"{show(path)!r} is a directory, not a {what}"
    if not os.path.isfile(path):
        return f"no such {what}: {show(path)!r}"
    return None


def data_set_problem(name: str) -> str | None:
    """Why ``--data name`` is not a data set (``None`` if it may be one: its files are read only when loading)."""
    path = Path(name).expanduser()
    if name in DATA_SETS or path.is_dir():
        return None
    if path.is_file() and is_pickle(path):
        return f"--data {show(name)} {PICKLE_HINT}"  # the book's mnist.pkl.gz
    expected = f"{', '.join(DATA_SETS)} or a directory holding the four IDX files"
    return f"--data {show(name)}: unknown data set; expected {expected}"
