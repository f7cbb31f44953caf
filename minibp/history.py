"""`History`: what happened in each epoch of `minibp.train.train`, as lists that serialise to JSON.

`train` fills one with `History.record_epoch` after every epoch; callbacks read
it and may add to it (`minibp.callbacks.LearningSpeed`). Plotting it is left
to `minibp.plot`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["History"]


@dataclass
class History:
    """What happened in each epoch of `train`; serialises to JSON.

    network2's four monitors are ``training_full_cost`` (its "training
    cost"), ``training_accuracy``, ``evaluation_cost`` and
    ``evaluation_accuracy``. The two training ones cost an extra pass over the
    training set and are recorded only with ``train(..., monitor_training=True)``;
    ``training_cost`` is always there and free (it averages the costs of the
    mini-batches as they were trained on). With a regulariser, every cost
    includes its penalty on the weights after the epoch, as network2's
    ``total_cost`` does; `L2`'s is λ/(2N)·Σw², where N is the number of
    examples the cost is measured on: the training set's for both training
    costs, the evaluation set's for ``evaluation_cost`` (the ``n`` given to
    `L2` scales only its gradient).

    Attributes:
        epoch: epoch numbers, counted from 0 as the book prints them.
        training_cost: mean of the mini-batch costs over the epoch.
        evaluation_cost: cost on the evaluation data after the epoch (``None`` without it).
        evaluation_correct: examples of the evaluation data classified correctly.
        evaluation_accuracy: ``evaluation_correct / evaluation_size``.
        evaluation_size: number of evaluation examples (0 without evaluation data).
        seconds: wall-clock time of each epoch's training (not of its evaluation).
        eta: the learning rate used in each epoch (``None`` if the optimizer has none; with several
            optimizers, a list of each one's, in the order given to `minibp.train`).
        training_full_cost: cost on the whole training set after the epoch (``None`` unless monitored).
        training_correct: training examples classified correctly after the epoch (likewise).
        training_accuracy: ``training_correct / training_size`` (likewise).
        training_size: number of training examples.
        stop_reason: why training ended before ``epochs`` epochs (``None`` if it did not).
        learning_speed: each layer's learning speed, the length of the gradient of the cost with
            respect to its biases, after each epoch: one list per epoch with one number per `Dense`
            in network order (recorded by `minibp.callbacks.LearningSpeed`; empty without it).
        saturation: the share of saturated sigmoid neurons after each epoch, one list per
            epoch with one entry per `Dense` (``None`` for a layer not followed by
            a `Sigmoid`; likewise recorded by `LearningSpeed`).
        initial_learning_speed: the speeds before the first epoch (``None`` without `LearningSpeed`).
        initial_saturation: the saturated shares before the first epoch (likewise).
    """

    epoch: list[int] = field(default_factory=list)
    training_cost: list[float] = field(default_factory=list)
    evaluation_cost: list[float | None] = field(default_factory=list)
    evaluation_correct: list[int | None] = field(default_factory=list)
    evaluation_accuracy: list[float | None] = field(default_factory=list)
    evaluation_size: int = 0
    seconds: list[float] = field(default_factory=list)
    eta: list[float | list[float | None] | None] = field(default_factory=list)
    training_full_cost: list[float | None] = field(default_factory=list)
    training_correct: list[int | None] = field(default_factory=list)
    training_accuracy: list[float | None] = field(default_factory=list)
    training_size: int = 0
    stop_reason: str | None = None
    learning_speed: list[list[float]] = field(default_factory=list)
    saturation: list[list[float | None]] = field(default_factory=list)
    initial_learning_speed: list[float] | None = None
    initial_saturation: list[float | None] | None = None

    def record_epoch(
        self,
        epoch: int,
        *,
        seconds: float,
        eta: float | Sequence[float | None] | None,
        training_cost: float,
        training: tuple[int, float] | None = None,
        evaluation: tuple[int, float] | None = None,
    ) -> None:
        """Append one epoch's fields at once.

        Args:
            epoch: the epoch's number, counted from 0.
            seconds: wall-clock time of the epoch's training.
            eta: the learning rate used (``None`` if the optimizer has none); with several optimizers,
                the list of each one's.
            training_cost: mean of the mini-batch costs, with the regularisers' penalty.
            training: ``(correct, cost)`` on the whole training set, or ``None`` if not monitored.
            evaluation: ``(correct, cost)`` on the evaluation data, or ``None`` without it.
        """
        self.epoch.append(epoch)
        self.seconds.append(seconds)
        if eta is None or isinstance(eta, (int, float, np.floating, np.integer)):
            self.eta.append(None if eta is None else float(eta))
        else:
            self.eta.append([None if e is None else float(e) for e in eta])
        self.training_cost.append(training_cost)
        correct_t, cost_t = (None, None) if training is None else training
        self.training_full_cost.append(cost_t)
        self.training_correct.append(correct_t)
        self.training_accuracy.append(None if correct_t is None else correct_t / self.training_size)
        correct_e, cost_e = (None, None) if evaluation is None else evaluation
        self.evaluation_cost.append(cost_e)
        self.evaluation_correct.append(correct_e)
        self.evaluation_accuracy.append(None if correct_e is None else correct_e / self.evaluation_size)

    def to_dict(self) -> dict:
        """Return the history as a dictionary of plain lists."""
        return asdict(self)

    def to_json(self) -> str:
        """Return the history as a JSON string."""
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        """Rebuild a history from `to_dict`'s output (fields missing from older files get their defaults)."""
        return cls(**d)

    def save(self, path: str | os.PathLike) -> None:
        """Write the history as JSON, atomically: a failure leaves any old file intact."""
        from ._files import atomic_write

        text = self.to_json().encode("utf-8")
        atomic_write(path, lambda f: f.write(text))

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        """Read a history written by `save`."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
