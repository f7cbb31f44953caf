"""What `minibp.train.train` prints with ``verbose=True``, besides the path it takes.

One line per epoch, the book's ``Epoch 3: 9482 / 10000`` followed by what was
measured anyway: the mean cost of the epoch's mini-batches and the seconds its
training took (``Epoch 3: 9482 / 10000, cost 0.0123, 1.2 s``). Before an
epoch's line, a line says when its learning rate differs from the previous
epoch's (a schedule such as `minibp.callbacks.HalveOnPlateau`, or a callback,
changed it). Once per run, a line of hints follows an accuracy that has stayed
at chance, about one in ``n_out``, for `STUCK_EPOCHS` epochs.

Only printing lives here; every number comes from the `History`.
"""

from __future__ import annotations

import math

from ._text import as_typed, count
from .history import History

__all__ = ["STUCK_EPOCHS", "EpochReport", "epoch_line"]

STUCK_EPOCHS = 3
"""Epochs in a row at chance accuracy before the hint is printed."""


def epoch_line(history: History, n: int) -> str:
    """The line for the last epoch of ``history``: ``Epoch 3: 9482 / 10000, cost 0.0123, 1.2 s``.

    Args:
        history: the run so far; its last epoch is described.
        n: the number of training examples.
    """
    j = history.epoch[-1]
    if history.evaluation_size == 0:
        line = f"Epoch {j} complete"
    else:
        line = f"Epoch {j}: {history.evaluation_correct[-1]} / {history.evaluation_size}"
    if history.training_correct[-1] is not None:
        line += f" (training data: {history.training_correct[-1]} / {n})"
    return line + f", cost {history.training_cost[-1]:.4g}, {history.seconds[-1]:.1f} s"


class EpochReport:
    """Prints, after each epoch, a changed learning rate, the epoch's line and (once) a hint at chance.

    Args:
        n: the number of training examples.
        n_out: the number of outputs; a single output separates two classes.
        verbose: print at all.
    """

    def __init__(self, n: int, n_out: int, verbose: bool) -> None:
        self.n, self.classes, self.verbose = n, max(n_out, 2), verbose
        self.hinted = False

    def epoch(self, history: History) -> None:
        """Print what the last epoch of ``history`` adds."""
        if not self.verbose:
            return
        etas = history.eta
        if len(etas) >= 2 and etas[-1] is not None and etas[-2] is not None and etas[-1] != etas[-2]:
            print(f"eta = {_rates(etas[-1])} from epoch {history.epoch[-1]} (was {_rates(etas[-2])})")
        print(epoch_line(history, self.n), flush=True)
        if not self.hinted and self.at_chance(history):
            self.hinted = True
            print(
                f"The accuracy has stayed at chance (1 in {self.classes}) for {count(STUCK_EPOCHS, 'epoch')}: "
                "try another learning rate eta (smaller if the cost grows, larger if it barely moves), "
                "a smaller initial weight (init='scaled'), or a cost that does not saturate (cross-entropy)",
                flush=True,
            )

    def at_chance(self, history: History) -> bool:
        """Whether the last `STUCK_EPOCHS` accuracies are all within a small margin of ``1 / classes``.

        The accuracy read is the evaluation data's, else the training data's when monitored. The margin
        is 0.05 (0.5 / classes for more than 10 classes), or twice the standard deviation of the accuracy
        of guessing at random on that many examples, whichever is larger.
        """
        accuracies, size = history.evaluation_accuracy, history.evaluation_size
        if size == 0:
            accuracies, size = history.training_accuracy, history.training_size
        last = accuracies[-STUCK_EPOCHS:]
        if len(last) < STUCK_EPOCHS or any(a is None for a in last) or size == 0:
            return False
        chance = 1 / self.classes
        margin = max(min(0.05, 0.5 / self.classes), 2 * math.sqrt(chance * (1 - chance) / size))
        return all(abs(a - chance) <= margin for a in last)  # type: ignore[operator]


def _rates(eta: object) -> str:
    """An epoch's learning rate as typed; with several optimizers, the list of each one's (``[1.0, 0.25]``)."""
    return f"[{', '.join(as_typed(e) for e in eta)}]" if isinstance(eta, list) else as_typed(eta)
