"""What a long training run needs from the process: Ctrl-C deferral, BLAS threads, a progress bar.

None of this is the book's algorithm; `minibp.train.train` enters these around
its epochs. A first Ctrl-C ends the run at the next mini-batch boundary
(`deferred_interrupt`, `Batches`), BLAS runs on the requested number of threads
(`blas_limit`), and a tqdm bar shows the epoch's progress (`progress_bar`), on a
terminal or as a Jupyter widget.
"""

from __future__ import annotations

import contextlib
import importlib.util
import signal
import sys
import threading
from collections.abc import Iterator

from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

__all__ = ["Batches", "Interrupt", "blas_limit", "deferred_interrupt", "in_jupyter", "progress_bar"]


def in_jupyter() -> bool:
    """Whether this Python is a Jupyter kernel (IPython's kernel app), where tqdm.auto draws a widget."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def progress_bar(total: int, desc: str, enabled: bool | None):
    """A tqdm bar over ``total`` mini-batches, or ``None`` when disabled.

    ``enabled=None`` shows it on a terminal, and in a Jupyter kernel when ipywidgets is installed: tqdm.auto
    then draws a notebook widget (without ipywidgets it would fall back to text on standard error, which a
    notebook shows as an error, so there is no bar).
    """
    if enabled is None:
        enabled = sys.stderr.isatty() or (in_jupyter() and importlib.util.find_spec("ipywidgets") is not None)
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="batch", leave=False, mininterval=0.5, file=sys.stderr)


_controller: ThreadpoolController | None = None


def blas_limit(threads: int | None):
    """A context that runs BLAS on ``threads`` threads (``None``: unchanged).

    Finding the BLAS libraries takes milliseconds, so it is done once; entering
    the limit afterwards costs tens of microseconds, little even for an epoch
    of one mini-batch.
    """
    global _controller
    if threads is None:
        return contextlib.nullcontext()
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.limit(limits=threads, user_api="blas")


class Interrupt:
    """Whether Ctrl-C was pressed while training (see `deferred_interrupt`)."""

    hit = False


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[Interrupt]:
    """Within the block, a first Ctrl-C only sets ``hit``: training stops at the next mini-batch boundary.

    A second Ctrl-C raises `KeyboardInterrupt` at once (then a step may be half applied). Only the main
    thread receives signals; elsewhere, or when SIGINT has a handler of its own, nothing changes.
    """
    interrupted = Interrupt()
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield interrupted
        return

    def handler(signum: int, frame: object) -> None:
        if interrupted.hit:
            raise KeyboardInterrupt
        interrupted.hit = True

    signal.signal(signal.SIGINT, handler)
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)


class Batches:
    """The mini-batches of one epoch, cut short after Ctrl-C; counts the examples handed out."""

    def __init__(self, batches: Iterator[NDArray], interrupted: Interrupt, bar: object) -> None:
        self.batches, self.interrupted, self.bar, self.seen = batches, interrupted, bar, 0

    def __iter__(self) -> Iterator[NDArray]:
        for idx in self.batches:
            if self.interrupted.hit:
                return
            self.seen += len(idx)
            yield idx
            if self.bar is not None:
                self.bar.update(1)  # type: ignore[attr-defined]
