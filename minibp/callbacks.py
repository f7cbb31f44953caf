r"""Learning-rate schedules and callbacks for `minibp.train`.

**Schedules.** A schedule is any callable ``schedule(epoch, history) -> eta``.
`train` calls it before each epoch with the number of the epoch about to run
(from 0) and the `History` of the epochs run so far, and sets
``optimizer.eta`` to the result. Returning ``None`` ends training before
that epoch. `HalveOnPlateau` is the rule the book suggests in chapter 3.

**Callbacks.** A callback is any object with some of these methods (all
optional; `Callback` provides empty ones):

* ``on_train_begin(net, optimizer, history)``: before the first epoch;
* ``on_epoch_end(epoch, history, net, optimizer) -> bool | None``: after each
  epoch's evaluation, with ``history`` already holding it; return ``True``
  to stop training;
* ``on_train_end(history, net, optimizer)``: once at the end, also after a
  stop (not after an exception).

`EarlyStopping` is the ready-made one.

Deliberately left out: callbacks per mini-batch (the inner loop stays tight)
and schedules that depend on anything but the epoch and the history.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ._checks import check_positive
from .errors import HyperparameterError
from .module import Module

if TYPE_CHECKING:
    from .optim import Optimizer
    from .train import History

__all__ = ["Callback", "EarlyStopping", "HalveOnPlateau", "no_improvement_streaks"]


def _evaluation_accuracies(history: History, who: str) -> list[float]:
    accuracies = history.evaluation_accuracy
    if any(a is None for a in accuracies):
        raise ValueError(f"{who} needs the validation accuracy: pass evaluation_data to train")
    return accuracies  # type: ignore[return-value]


def _check_patience(who: str, patience: object) -> int:
    if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 1:
        raise HyperparameterError(f"{who}: patience must be an integer >= 1, got {patience!r}")
    return int(patience)


def no_improvement_streaks(accuracies: list[float], patience: int) -> tuple[int, int]:
    """Count the plateaus of ``patience`` epochs in a list of accuracies.

    An epoch improves if its accuracy beats every earlier one. Each time
    ``patience`` epochs in a row have not improved, a plateau is counted and
    the count of epochs without improvement starts again from 0.

    Args:
        accuracies: validation accuracies, one per epoch.
        patience: epochs without improvement that make a plateau.

    Returns:
        ``(plateaus, epochs since the last improvement or plateau)``.
    """
    best = -math.inf
    since = plateaus = 0
    for accuracy in accuracies:
        if accuracy > best:
            best, since = accuracy, 0
        else:
            since += 1
            if since >= patience:
                plateaus, since = plateaus + 1, 0
    return plateaus, since


class HalveOnPlateau:
    r"""The book's schedule: halve $\eta$ when the validation accuracy stalls, stop when it is $\eta_0/128$.

    Chapter 3 suggests holding $\eta$ constant until the validation accuracy
    has not improved for ``patience`` epochs (its "no-improvement-in-ten"
    rule), then halving it, and ending training once $\eta$ has fallen to
    $1/128$ of its initial value:

    $$\eta_j = \eta_0 \cdot \text{factor}^{k_j},$$

    where $k_j$ is the number of plateaus in the accuracies of epochs
    $0 \ldots j-1$ (see `no_improvement_streaks`). Training stops (the
    schedule returns ``None``) when $\eta_j \le \eta_0 \cdot$ ``min_ratio``.

    The schedule keeps no state of its own: it recomputes $\eta$ from the
    history, so a resumed run continues with the same $\eta$.

    Args:
        eta: the initial learning rate $\eta_0 > 0$.
        patience: epochs without improvement before $\eta$ is cut.
        factor: the cut, $0 <$ factor $< 1$ (default one half).
        min_ratio: stop when $\eta/\eta_0$ reaches this ($1/128$, as in the book).

    Example:
        >>> schedule = HalveOnPlateau(0.5, patience=10)
        >>> from minibp.train import History
        >>> schedule(0, History())
        0.5
    """

    def __init__(self, eta: float, patience: int = 10, factor: float = 0.5, min_ratio: float = 1 / 128) -> None:
        self.eta = check_positive("HalveOnPlateau", "eta", eta)
        self.patience = _check_patience("HalveOnPlateau", patience)
        self.factor = check_positive("HalveOnPlateau", "factor", factor)
        self.min_ratio = check_positive("HalveOnPlateau", "min_ratio", min_ratio)
        if self.factor >= 1:
            raise HyperparameterError(f"HalveOnPlateau: factor must be < 1, got {factor!r}")
        if self.min_ratio >= 1:
            raise HyperparameterError(f"HalveOnPlateau: min_ratio must be < 1, got {min_ratio!r}")

    def __call__(self, epoch: int, history: History) -> float | None:
        """Return $\\eta$ for ``epoch``, or ``None`` to stop."""
        plateaus, _ = no_improvement_streaks(_evaluation_accuracies(history, "HalveOnPlateau"), self.patience)
        ratio = self.factor**plateaus
        if ratio <= self.min_ratio * (1 + 1e-12):
            return None
        return self.eta * ratio

    def __repr__(self) -> str:
        return f"HalveOnPlateau(eta={self.eta}, patience={self.patience}, factor={self.factor})"


class Callback:
    """Base class with empty hooks; override the ones you need (see the module docstring)."""

    def on_train_begin(self, net: Module, optimizer: Optimizer, history: History) -> None:
        """Called once before the first epoch."""

    def on_epoch_end(self, epoch: int, history: History, net: Module, optimizer: Optimizer) -> bool | None:
        """Called after each epoch; return ``True`` to stop training."""
        return None

    def on_train_end(self, history: History, net: Module, optimizer: Optimizer) -> None:
        """Called once after the last epoch."""


class EarlyStopping(Callback):
    """Stop when the validation accuracy has not improved for ``patience`` epochs.

    The book's "no-improvement-in-n epochs" rule. An epoch improves if its
    accuracy beats the best so far by more than ``min_delta``.

    Args:
        patience: epochs without improvement to wait, $\\ge 1$.
        min_delta: the smallest gain that counts as an improvement.
        restore_best: at the end of training, put back the parameters of the
            best epoch (kept as a copy each time the accuracy improves).

    Attributes:
        best: the best validation accuracy so far.
        best_epoch: its epoch (``None`` before the first).
        stopped_epoch: the epoch after which it stopped training, or ``None``.
    """

    def __init__(self, patience: int = 10, *, min_delta: float = 0.0, restore_best: bool = False) -> None:
        self.patience = _check_patience("EarlyStopping", patience)
        try:
            self.min_delta = float(min_delta)
        except (TypeError, ValueError):
            raise HyperparameterError(f"EarlyStopping: min_delta must be a number, got {min_delta!r}") from None
        if not (math.isfinite(self.min_delta) and self.min_delta >= 0):
            raise HyperparameterError(f"EarlyStopping: min_delta must be a finite number >= 0, got {min_delta!r}")
        self.restore_best = bool(restore_best)
        self.best = -math.inf
        self.best_epoch: int | None = None
        self.stopped_epoch: int | None = None
        self._best_parameters: list[np.ndarray] | None = None

    def on_train_begin(self, net: Module, optimizer: Optimizer, history: History) -> None:
        if history.evaluation_size == 0:
            raise ValueError("EarlyStopping needs the validation accuracy: pass evaluation_data to train")
        self.best, self.best_epoch, self.stopped_epoch, self._best_parameters = -math.inf, None, None, None

    def on_epoch_end(self, epoch: int, history: History, net: Module, optimizer: Optimizer) -> bool | None:
        accuracy = _evaluation_accuracies(history, "EarlyStopping")[-1]
        if accuracy > self.best + self.min_delta:
            self.best, self.best_epoch = accuracy, epoch
            if self.restore_best:
                self._best_parameters = [p.data.copy() for p in net.parameters()]
            return None
        if self.best_epoch is not None and epoch - self.best_epoch >= self.patience:
            self.stopped_epoch = epoch
            return True
        return None

    def on_train_end(self, history: History, net: Module, optimizer: Optimizer) -> None:
        if self.restore_best and self._best_parameters is not None:
            for p, best in zip(net.parameters(), self._best_parameters):
                p.data[...] = best

    def __repr__(self) -> str:
        return f"EarlyStopping(patience={self.patience})"
