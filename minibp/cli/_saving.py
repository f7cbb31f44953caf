"""Writing what a run produced: each file whole where asked, or else to a rescue file, even through Ctrl-C."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from .._session import deferred_interrupt
from ._args import describe, show

__all__ = ["write_all", "write_or_rescue"]


def write_all(writes: Sequence[tuple[str, str, Callable[[str], None]]], quiet: bool) -> bool:
    """Run each ``(what, path, write)`` with `write_or_rescue`; return whether every file went where asked.

    A first Ctrl-C while writing waits for the writes to finish; a second one
    stops them, after standard error names what was not saved (each file is
    written whole or not at all).
    """
    ok = True
    with deferred_interrupt() as interrupted:
        for i, (what, path, write) in enumerate(writes):
            try:
                ok = write_or_rescue(what, path, write, quiet) and ok
            except KeyboardInterrupt:
                lost = " and ".join(f"the {what} ({show(path)})" for what, path, _ in writes[i:])
                print(f"minibp: interrupted again while saving: {lost} not saved", file=sys.stderr)
                raise
    if interrupted.hit:
        print("minibp: Ctrl-C while saving: the saving was finished first", file=sys.stderr)
    return ok


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


def write_or_rescue(what: str, path: str, write: Callable[[str], None], quiet: bool) -> bool:
    """``write(path)``, or else a rescue file named on standard error; return whether ``path`` was written."""
    try:
        write(path)
    except Exception as err:
        failed = f"minibp: error: could not save the {what} to {path!r} ({describe(err)})"
        try:
            rescue = _rescue(path, write)
        except Exception as rescue_err:
            where = tempfile.gettempdir()
            print(f"{failed}, nor to a rescue file in {where!r} ({describe(rescue_err)}); it is lost", file=sys.stderr)
        else:
            print(f"{failed}; saved it to {rescue!r} instead", file=sys.stderr)
        return False
    if not quiet:
        print(f"Saved the network to {path}" if what == "network" else f"Wrote the history to {path}")
    return True
