r"""The training loop, evaluation and the per-epoch `History`.

`train` is the book's ``Network.SGD`` with the pieces pulled apart: the
network (a `Module`), the cost and the optimizer are arguments. Each epoch it
shuffles the training examples with the given generator, cuts them into
mini-batches of ``mini_batch_size`` and for each mini-batch runs

```
a = net(x); cost(a, y); optimizer.zero_grad(); net.backward(cost.backward()); optimizer.step()
```

Data are given as ``(X, y)`` pairs with examples as columns: ``X`` has shape
``(n_in, N)``. ``y`` is either class labels, integers of shape ``(N,)``
(the target of a label $k$ is the unit vector $e_k$, as in the book), or
target vectors of shape ``(n_out, N)``.

For speed, keep each example contiguous in memory: pass ``X`` as the
transpose of a row-per-example array (``rows.T``, which is what
`minibp.data` returns) or as ``np.asfortranarray(X)``.

Beyond the book's chapter 1 loop, `train` takes a learning-rate ``schedule``
and ``callbacks`` (see `minibp.callbacks`: the book's "halve $\eta$ when the
validation accuracy stalls" and early stopping are ready-made), and
``regularization`` (`minibp.regularization`: L2 as in chapter 3, or decoupled
weight decay). Its `History` holds network2's four monitors.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

from . import fast
from ._checks import all_finite, as_generator, check_finite, check_positive
from .costs import Cost, QuadraticCost
from .data.batches import check_mini_batch_size, minibatch_indices
from .errors import DivergedError, HyperparameterError, LabelError, NonFiniteError, ShapeError
from .layers import ReLU, Sigmoid, Softmax, Tanh
from .module import Module, evaluation_mode
from .optim import Optimizer
from .regularization import L2, Regularizer
from .sequential import Sequential

__all__ = ["History", "train", "evaluate", "accuracy", "predict"]

_CHUNK = 10_000  # examples per forward pass when evaluating


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
        eta: the learning rate used in each epoch (``None`` if the optimizer has none).
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
    eta: list[float | None] = field(default_factory=list)
    training_full_cost: list[float | None] = field(default_factory=list)
    training_correct: list[int | None] = field(default_factory=list)
    training_accuracy: list[float | None] = field(default_factory=list)
    training_size: int = 0
    stop_reason: str | None = None
    learning_speed: list[list[float]] = field(default_factory=list)
    saturation: list[list[float | None]] = field(default_factory=list)
    initial_learning_speed: list[float] | None = None
    initial_saturation: list[float | None] | None = None

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


def _output_size(net: Module, X: NDArray, what: str) -> int:
    """Run one example through ``net`` to learn (and check) the output size."""
    with evaluation_mode(net), np.errstate(all="ignore"):
        try:
            out = net(X[:, :1])
        except ShapeError as err:  # the module saw one probe column: say what the caller passed
            hint = " (examples are columns: did you pass rows? use X.T)" if _fits(net, X.T) else ""
            raise ShapeError(f"{what}: X of shape {X.shape} does not fit the network{hint}: {err}") from err
    return out.shape[0]


def _fits(net: Module, X: NDArray) -> bool:
    """Whether the first column of ``X`` goes through ``net`` (to suggest ``X.T`` for data passed as rows)."""
    try:
        net(X[:, :1])
    except (ShapeError, ValueError, TypeError):
        return False
    return True


_FROM_BOOK = "looks like the book's list of (x, y) tuples; convert it with minibp.data.from_book(data)"


def _is_book_list(data: object) -> bool:
    """Whether ``data`` looks like the book's examples: an iterator, or a list or tuple of ``(x, y)`` tuples."""
    return isinstance(data, Iterator) or (isinstance(data, (list, tuple)) and bool(data) and isinstance(data[0], tuple))


def _unpack(data: Any, what: str) -> tuple[Any, Any]:
    """Return ``X, y`` from ``data``, naming `minibp.data.from_book` when it is the book's list of pairs."""
    if isinstance(data, tuple) and hasattr(data, "training"):
        raise TypeError(f"{what} must be a pair (X, y), got a Splits: pass data.training (or data.validation)")
    if _is_book_list(data):
        raise TypeError(f"{what} {_FROM_BOOK}")
    if isinstance(data, (list, tuple)) and len(data) != 2:
        raise TypeError(
            f"{what} must be a pair (X, y), got {len(data)} items; if it is the book's list of (x, y) "
            "tuples, convert it with minibp.data.from_book(data)"
        )
    X, y = data
    return X, y


def _check_inputs(X: object, what: str) -> NDArray:
    if _is_book_list(X):
        raise TypeError(f"{what}: X {_FROM_BOOK}")
    X = np.asarray(X)
    if X.ndim != 2:
        hint = " (a single example must be a column: X.reshape(-1, 1))" if X.ndim == 1 else ""
        raise ShapeError(f"{what}: X must have shape (n_in, N) with one column per example, got {X.shape}{hint}")
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{what}: X must be a real numeric array, got dtype {X.dtype}")
    if X.shape[1] == 0:
        raise ValueError(f"{what}: X holds no examples (shape {X.shape})")
    check_finite(X, f"{what}: X")
    return X


def _targets(y: object, n: int, n_out: int, dtype: np.dtype, what: str) -> NDArray:
    """Return the target rows ``(N, n_out)`` after checking ``y`` (labels or targets)."""
    y = np.asarray(y)
    if y.ndim == 1:
        if y.shape[0] != n:
            raise ShapeError(f"{what}: X has {n} examples but y has {y.shape[0]} labels")
        if n_out == 1:  # one output neuron: the labels 0 and 1 are its targets, as `evaluate` reads them
            if y.dtype.kind not in "iufb" or not np.isin(y, (0, 1)).all():
                raise LabelError(f"{what}: a network with one output takes labels 0 and 1, got {np.unique(y)[:5]}")
            return np.asarray(y, dtype=dtype).reshape(n, 1)
        if y.dtype.kind not in "iu":
            if y.dtype.kind == "f" and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
                y = y.astype(np.int64)
            else:
                raise LabelError(f"{what}: labels must be integers, got dtype {y.dtype}")
        if n and (y.min() < 0 or y.max() >= n_out):
            bad = y[(y < 0) | (y >= n_out)][0]
            raise LabelError(
                f"{what}: label {int(bad)} is out of range for a network with {n_out} outputs (0..{n_out - 1})"
            )
        rows = np.zeros((n, n_out), dtype=dtype)
        rows[np.arange(n), y] = 1  # the book's vectorized_result: e_k for label k
        return rows
    if y.ndim == 2:
        if y.shape != (n_out, n):
            raise ShapeError(
                f"{what}: targets y must have shape ({n_out}, {n}) to match X and the network's output, got {y.shape}"
            )
        if y.dtype.kind not in "fiub":
            raise TypeError(f"{what}: targets must be real numbers, got dtype {y.dtype}")
        check_finite(y, f"{what}: y")
        return np.ascontiguousarray(y.T, dtype=dtype)
    raise ShapeError(f"{what}: y must be labels of shape ({n},) or targets of shape ({n_out}, {n}), got {y.shape}")


def _batches(X: NDArray, size: int = _CHUNK) -> Iterator[tuple[slice, NDArray]]:
    for k in range(0, X.shape[1], size):
        yield slice(k, k + size), X[:, k : k + size]


def _forward_eval(net: Module, X: NDArray) -> Iterator[tuple[slice, NDArray]]:
    """Yield the network's output for chunks of ``X``; raise `NonFiniteError` for a NaN or infinite one."""
    for name, p in net.named_parameters():
        check_finite(p.data, f"the network's parameter {name}")
    with evaluation_mode(net):
        for s, x in _batches(X):
            with np.errstate(all="ignore"):
                out = net.forward(x)
            if not all_finite(out):
                column = s.start + int(np.argwhere(~np.isfinite(out))[0][1])
                raise NonFiniteError(f"the network's output for example {column} is not finite (NaN or infinity)")
            yield s, out


def predict(net: Module, X: NDArray) -> NDArray[np.intp]:
    """Return the predicted class of each example: the index of the most active output.

    Args:
        net: the network.
        X: inputs, shape ``(n_in, N)``.

    Returns:
        Class indices, shape ``(N,)``.
    """
    X = _check_inputs(X, "predict")
    out = np.empty(X.shape[1], dtype=np.intp)
    for s, a in _forward_eval(net, X):
        out[s] = a.argmax(axis=0)
    return out


def _correct(net: Module, X: NDArray, y: NDArray, what: str) -> tuple[int, int]:
    X = _check_inputs(X, what)
    n_out = _output_size(net, X, what)
    y = np.asarray(y)
    n = X.shape[1]
    _targets(y, n, n_out, np.dtype(np.float64), what)  # validates labels, or targets' shape, dtype and finiteness
    if y.ndim == 1:
        labels = y.astype(np.intp, copy=False)
    else:
        labels = (y.ravel() > 0.5).astype(np.intp) if n_out == 1 else y.argmax(axis=0)
    correct = 0
    for s, a in _forward_eval(net, X):
        guess = (a.ravel() > 0.5).astype(np.intp) if n_out == 1 else a.argmax(axis=0)
        correct += int(np.count_nonzero(guess == labels[s]))
    return correct, n


def evaluate(net: Module, X: NDArray, y: NDArray) -> int:
    """Return how many examples ``net`` classifies correctly, as the book's ``evaluate`` does.

    A prediction is the index of the most active output neuron (for a single
    output, whether it exceeds 0.5).

    Args:
        net: the network.
        X: inputs, shape ``(n_in, N)``.
        y: labels ``(N,)`` or targets ``(n_out, N)`` (compared by their arg-max).

    Returns:
        The number of correct predictions, between 0 and ``N``.
    """
    return _correct(net, X, y, "evaluate")[0]


def accuracy(net: Module, X: NDArray, y: NDArray) -> float:
    """Return the fraction of examples classified correctly (see `evaluate`)."""
    correct, n = _correct(net, X, y, "accuracy")
    return correct / n


def _check_count(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise HyperparameterError(f"train: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _progress(total: int, desc: str, enabled: bool | None):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="batch", leave=False, mininterval=0.5, file=sys.stderr)


def train(
    net: Module,
    training_data: tuple[NDArray, NDArray],
    *,
    optimizer: Optimizer,
    epochs: int,
    mini_batch_size: int,
    cost: Cost | None = None,
    evaluation_data: tuple[NDArray, NDArray] | None = None,
    rng: np.random.Generator | int | None = None,
    verbose: bool = True,
    progress: bool | None = None,
    blas_threads: int | None = 1,
    schedule: Callable[[int, History], float | None] | None = None,
    callbacks: Sequence[object] = (),
    regularization: Regularizer | Sequence[Regularizer] | None = None,
    monitor_training: bool = False,
    fused: bool | None = None,
) -> History:
    """Train ``net`` with mini-batch stochastic gradient descent.

    Args:
        net: the network, e.g. ``mlp([784, 30, 10])``.
        training_data: ``(X, y)`` with ``X`` of shape ``(n_in, N)`` and ``y``
            labels ``(N,)`` or targets ``(n_out, N)``.
        optimizer: updates the parameters, e.g. ``SGD(net.parameters(), eta=3.0)``.
        epochs: number of passes over the training data (at most: a schedule
            or a callback may stop earlier).
        mini_batch_size: examples per gradient step, the book's $m$.
        cost: the cost to minimise; default `QuadraticCost`.
        evaluation_data: optional ``(X, y)`` evaluated after each epoch
            (the validation set; needed by early stopping and `HalveOnPlateau`).
        rng: `numpy.random.Generator` or int seed for the shuffling.
        verbose: print one line per epoch, as the book does
            (``Epoch 3: 9482 / 10000``).
        progress: show a progress bar with an ETA within each epoch;
            ``None`` (default) shows it only when standard error is a terminal.
        blas_threads: BLAS threads while stepping through mini-batches. The
            book's matrices are small, and waking a second thread for each
            product costs more than it saves (20 times more, measured for
            [784, 100, 10]), so the default is 1; the setting is restored
            afterwards and evaluation uses the usual number. ``None`` leaves
            BLAS alone.
        schedule: ``schedule(epoch, history) -> eta`` called before each
            epoch; the result becomes ``optimizer.eta``, ``None`` stops
            training (see `minibp.callbacks.HalveOnPlateau`).
        callbacks: objects with any of ``on_train_begin(net, optimizer, history)``,
            ``on_epoch_end(epoch, history, net, optimizer) -> bool | None``
            (``True`` stops) and ``on_train_end(history, net, optimizer)``; see
            `minibp.callbacks`.
        regularization: one or more `minibp.regularization.Regularizer`
            (`L2`, `WeightDecay`) applied at every step.
        monitor_training: also record the cost and accuracy on the whole
            training set after each epoch (network2's training monitors; one
            more pass over the data).
        fused: ``None`` (default) runs each epoch with `minibp.fast` when it
            accepts the network, cost, optimizer and regularisers, and with the
            modules' own ``forward``/``backward`` otherwise; ``False`` always
            uses the modules; ``True`` raises ``ValueError`` naming what the
            fused path does not accept. Both compute the same steps (tested).

    Returns:
        The `History` of the run.

    Raises:
        ShapeError, LabelError, NonFiniteError, HyperparameterError: bad data
            or settings, detected before any parameter changes.
        ValueError: ``fused=True`` for a run the fused path does not accept,
            or a cost of $z$ after an output activation.
        DivergedError: the cost or a gradient became NaN or infinite; the
            parameters are left as they were before the failing step.
    """
    cost = QuadraticCost() if cost is None else cost
    _check_cost_fits(net, cost)
    epochs = _check_count("epochs", epochs, 0)
    X, y = _unpack(training_data, "train: training_data")
    X = _check_inputs(X, "train")
    n = X.shape[1]
    n_out = _output_size(net, X, "train")  # before the mini-batch size: data passed as rows get the X.T hint
    m = check_mini_batch_size(mini_batch_size, n)
    if blas_threads is not None:
        _check_count("blas_threads", blas_threads, 1)
    params = optimizer.parameters
    dtype = params[0].data.dtype
    target_rows = _targets(y, n, n_out, dtype, "train")
    if evaluation_data is not None:
        Xe, ye = _unpack(evaluation_data, "train: evaluation_data")
        Xe = _check_inputs(Xe, "train: evaluation_data")
        _output_size(net, Xe, "train: evaluation_data")  # checks the feature count now, not after the first epoch
        target_rows_e = _targets(ye, Xe.shape[1], n_out, dtype, "train: evaluation_data")
    regularizers = _regularizers(regularization)
    if schedule is not None and not callable(schedule):
        raise TypeError(f"train: schedule must be callable as schedule(epoch, history), got {schedule!r}")
    if schedule is not None and not hasattr(optimizer, "eta"):
        raise TypeError(f"train: a schedule sets optimizer.eta, but {optimizer!r} has no attribute eta")
    callbacks = list(callbacks)
    rng = as_generator(rng)
    x_rows = X.T  # the examples as rows (N, n_in), without copying
    fused_epoch, reason = fast.plan(net, cost, optimizer, regularizers) if fused is not False else (None, "fused=False")
    if fused and fused_epoch is None:
        raise ValueError(f"train(fused=True): the fused path does not accept this run: {reason}")
    x_bound = max(float(X.max()), -float(X.min())) if fused_epoch is not None else 0.0  # max |x|, no temporary
    if verbose:
        print(
            "Training with the fused epoch (minibp.fast)"
            if fused_epoch is not None
            else f"Training with the modules' forward and backward ({reason})",
            flush=True,
        )

    history = History(evaluation_size=0 if evaluation_data is None else Xe.shape[1], training_size=n)
    for callback in callbacks:
        _hook(callback, "on_train_begin")(net, optimizer, history)
    net.train()
    with _deferred_interrupt() as interrupted:
        for j in range(epochs):
            if schedule is not None:
                eta = schedule(j, history)
                if eta is None:
                    history.stop_reason = f"the schedule {schedule!r} ended training before epoch {j}"
                    break
                optimizer.eta = check_positive("train: schedule", "eta", eta)
            start = time.perf_counter()
            bar = _progress(-(-n // m), f"Epoch {j}", progress)
            batches = _Batches(minibatch_indices(n, m, rng), interrupted, bar)
            try:
                # Overflow and NaN are detected (non-finite cost or gradient: DivergedError), not warned about.
                with _blas_limit(blas_threads), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    if fused_epoch is not None:
                        total_cost = fused_epoch.run(j, x_rows, target_rows, batches, optimizer.eta, x_bound)  # type: ignore[attr-defined]
                    else:
                        total_cost = _run_epoch(j, net, cost, optimizer, regularizers, x_rows, target_rows, batches)
            finally:
                net.zero_grad()  # both paths leave every gradient zeroed
                optimizer.zero_grad()
                if bar is not None:
                    bar.close()
            history.epoch.append(j)
            history.seconds.append(time.perf_counter() - start)
            eta_used = getattr(optimizer, "eta", None)
            history.eta.append(None if eta_used is None else float(eta_used))
            penalty = _penalty(regularizers, n)  # both training costs: the training set's N = n
            history.training_cost.append(total_cost / max(batches.seen, 1) + penalty)
            line = f"Epoch {j}"
            if monitor_training:
                correct_t, cost_t = _evaluate_with_cost(net, cost, X, target_rows, np.asarray(y))
                history.training_full_cost.append(cost_t + penalty)
                history.training_correct.append(correct_t)
                history.training_accuracy.append(correct_t / n)
            else:
                history.training_full_cost.append(None)
                history.training_correct.append(None)
                history.training_accuracy.append(None)
            if evaluation_data is None:
                history.evaluation_cost.append(None)
                history.evaluation_correct.append(None)
                history.evaluation_accuracy.append(None)
                line += " complete"
            else:
                correct, eval_cost = _evaluate_with_cost(net, cost, Xe, target_rows_e, ye)
                history.evaluation_cost.append(eval_cost + _penalty(regularizers, Xe.shape[1]))
                history.evaluation_correct.append(correct)
                history.evaluation_accuracy.append(correct / Xe.shape[1])
                line += f": {correct} / {Xe.shape[1]}"
            if verbose:
                if monitor_training:
                    line += f" (training data: {history.training_correct[-1]} / {n})"
                print(line, flush=True)
            if interrupted.hit:
                history.stop_reason = f"interrupted (Ctrl-C) in epoch {j} after {batches.seen} of {n} examples"
                break
            stop = [c for c in callbacks if _hook(c, "on_epoch_end")(j, history, net, optimizer)]
            if stop:
                history.stop_reason = f"{stop[0]!r} stopped training after epoch {j}"
                break
    for callback in callbacks:
        _hook(callback, "on_train_end")(history, net, optimizer)
    return history


def _hook(callback: object, name: str) -> Callable:
    """Return ``callback.<name>``, or a function that does nothing if it has none."""
    return getattr(callback, name, None) or (lambda *args: None)


def _regularizers(regularization: object) -> tuple[Regularizer, ...]:
    if regularization is None:
        return ()
    items = (regularization,) if isinstance(regularization, Regularizer) else tuple(regularization)  # type: ignore[arg-type]
    for item in items:
        if not isinstance(item, Regularizer):
            raise TypeError(f"train: regularization must hold Regularizer objects (L2, WeightDecay), got {item!r}")
    return items


def _penalty(regularizers: tuple[Regularizer, ...], n_evaluated: int) -> float:
    r"""The regularisers' term in a cost measured on ``n_evaluated`` examples, as network2's ``total_cost`` adds it.

    network2 scales the L2 term by the size $N$ of the set being evaluated,
    $\frac{\lambda}{2N}\sum_w w^2$, not by the training-set $n$ of the
    gradient: an `L2`'s ``penalty()``, $\frac{\lambda}{2n}\sum_w w^2$, is
    rescaled by $n/N$. Other regularisers add their ``penalty()`` as it is.
    """
    total = 0.0
    for r in regularizers:
        total += r.penalty() * (r.n / n_evaluated) if isinstance(r, L2) else r.penalty()  # lambda/(2N) sum_w w^2
    return total


_controller: ThreadpoolController | None = None


def _blas_limit(threads: int | None):
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


class _Interrupt:
    """Whether Ctrl-C was pressed while training (see `_deferred_interrupt`)."""

    hit = False


@contextlib.contextmanager
def _deferred_interrupt() -> Iterator[_Interrupt]:
    """Within the block, a first Ctrl-C only sets ``hit``: training stops at the next mini-batch boundary.

    A second Ctrl-C raises `KeyboardInterrupt` at once (then a step may be half applied). Only the main
    thread receives signals; elsewhere, or when SIGINT has a handler of its own, nothing changes.
    """
    interrupted = _Interrupt()
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


class _Batches:
    """The mini-batches of one epoch, cut short after Ctrl-C; counts the examples handed out."""

    def __init__(self, batches: Iterator[NDArray], interrupted: _Interrupt, bar: object) -> None:
        self.batches, self.interrupted, self.bar, self.seen = batches, interrupted, bar, 0

    def __iter__(self) -> Iterator[NDArray]:
        for idx in self.batches:
            if self.interrupted.hit:
                return
            self.seen += len(idx)
            yield idx
            if self.bar is not None:
                self.bar.update(1)  # type: ignore[attr-defined]


def _run_epoch(j, net, cost, optimizer, regularizers, x_rows, target_rows, batches) -> float:
    """One epoch through the modules: forward, cost, backward, step per mini-batch; returns the summed cost."""
    total_cost = 0.0
    for k, idx in enumerate(batches):
        x = x_rows.take(idx, axis=0).T  # (n_in, m), one contiguous column per example
        y = target_rows.take(idx, axis=0).T
        a = net(x)
        c = cost(a, y)
        if not math.isfinite(c):
            raise DivergedError.at(j, k, f"the cost is {c}", getattr(optimizer, "eta", "?"))
        optimizer.zero_grad()
        net.backward(cost.backward())
        try:
            optimizer.step(regularizers=regularizers) if regularizers else optimizer.step()  # a wrapped step too
        except NonFiniteError as err:
            raise DivergedError.at(j, k, str(err), getattr(optimizer, "eta", "?")) from err
        total_cost += c * len(idx)
    return total_cost


def _check_cost_fits(net: Module, cost: Cost) -> None:
    """Refuse a cost of z after an output activation: the activation would be applied twice."""
    if getattr(cost, "takes", "a") != "z":
        return
    last = net
    while isinstance(last, Sequential):  # the last module of nested chains
        last = last.layers[-1]
    if isinstance(last, (Sigmoid, Softmax, Tanh, ReLU)):
        name = type(last).__name__
        raise ValueError(
            f"train: {cost!r} takes the weighted input z of a final Dense, but the network ends in {name}: "
            f"remove the final {name} (the cost applies its own activation), or use a cost of a "
            "such as CrossEntropyCost or LogLikelihoodCost"
        )


def _evaluate_with_cost(net: Module, cost: Cost, X: NDArray, target_rows: NDArray, y: NDArray) -> tuple[int, float]:
    """Count correct predictions and compute the mean cost on ``(X, y)`` in one pass."""
    y = np.asarray(y)
    correct = 0
    total = 0.0
    for s, a in _forward_eval(net, X):
        t = target_rows[s].T
        total += cost.forward(a, t) * a.shape[1]
        guess = (a.ravel() > 0.5) if a.shape[0] == 1 else a.argmax(axis=0)
        want = (t.ravel() > 0.5) if a.shape[0] == 1 else (y[s] if y.ndim == 1 else t.argmax(axis=0))
        correct += int(np.count_nonzero(guess == want))
    return correct, total / X.shape[1]
