r"""The training loop and evaluation; each epoch is recorded in a `History` (`minibp.history`).

`train` is the book's ``Network.SGD`` with the pieces pulled apart: the network (a `Module`), the
cost and the optimizer are arguments. Each epoch it shuffles the training examples with the given
generator, cuts them into mini-batches of ``mini_batch_size`` and for each mini-batch runs

```
a = net(x); cost(a, y); optimizer.zero_grad(); parameters_only(net, cost.backward()); optimizer.step()
```

(``net.backward`` without the data's gradient, which nobody needs: see `minibp.module.parameters_only`.)

Data are given as ``(X, y)`` pairs with examples as columns: ``X`` has shape ``(n_in, N)``. ``y`` is
either class labels, integers of shape ``(N,)`` (the target of a label $k$ is the unit vector $e_k$,
as in the book), or target vectors of shape ``(n_out, N)``.

Each mini-batch is taken from ``X`` example by example, so `train` wants each example contiguous in
memory: ``X`` as the transpose of a row-per-example array (``rows.T``, which is what `minibp.data`
returns) or ``np.asfortranarray(X)``. Any other ``X`` is copied into that layout once, when the run
starts (its size in memory again, for the run).

Beyond the book's chapter 1 loop, `train` takes a learning-rate ``schedule`` and ``callbacks`` (see
`minibp.callbacks`: the book's "halve $\eta$ when the validation accuracy stalls" and early stopping
are ready-made), and ``regularization`` (`minibp.regularization`: L2 or L1 as in chapter 3, or
decoupled weight decay). Its `History` holds network2's four monitors. ``optimizer`` may be a list,
one optimizer per group of parameters (one learning rate per layer).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence

import numpy as np
from numpy.typing import NDArray

from ._checks import all_finite, check_finite, check_positive
from ._chunks import CHUNK_BYTES, chunk_size, chunks
from ._groups import OptimizerGroups
from ._plan import Plan, plan_run, replan
from ._report import EpochReport
from ._session import Batches, Interrupt, blas_limit, deferred_interrupt, progress_bar
from .costs import Cost
from .data.batches import minibatch_indices
from .data.pairs import check_inputs, output_size
from .data.targets import classes, target_rows
from .errors import DivergedError, NonFiniteError
from .history import History
from .module import Module, evaluation_mode, parameters_only
from .optim import Optimizer
from .regularization import L1, L2, Regularizer

__all__ = ["History", "train", "evaluate", "accuracy", "predict", "CHUNK_BYTES"]


def _forward_eval(net: Module, X: NDArray, chunk_bytes: int | None = None) -> Iterator[tuple[slice, NDArray]]:
    """Yield the network's output for chunks of ``X`` of about ``chunk_bytes`` each (see `evaluate`).

    Raises:
        NonFiniteError: a parameter or an output is NaN or infinite.
    """
    for name, p in net.named_parameters():
        check_finite(p.data, f"the network's parameter {name}")
    size = chunk_size(net, X, chunk_bytes)
    with evaluation_mode(net):
        for s in chunks(X.shape[1], size):
            with np.errstate(all="ignore"):
                out = net.forward(X[:, s])
            if not all_finite(out):
                column = s.start + int(np.argwhere(~np.isfinite(out))[0][1])
                raise NonFiniteError(f"the network's output for example {column} is not finite (NaN or infinity)")
            yield s, out


def predict(net: Module, X: NDArray, *, chunk_bytes: int | None = None) -> NDArray[np.intp]:
    """Return the predicted class of each example: the index of the most active output.

    A network with a single output predicts 1 where its output exceeds 0.5 and 0
    elsewhere, as `evaluate` reads it (see `minibp.data.targets`).

    Args:
        net: the network.
        X: inputs, shape ``(n_in, N)``.
        chunk_bytes: about the most memory one chunk of examples may take
            while the network runs (default `CHUNK_BYTES`, 128 MiB; see `evaluate`).

    Returns:
        Class indices, shape ``(N,)``.
    """
    X = check_inputs(X, "predict")
    out = np.empty(X.shape[1], dtype=np.intp)
    for s, a in _forward_eval(net, X, chunk_bytes):
        out[s] = classes(a)
    return out


def _correct(net: Module, X: NDArray, y: NDArray, what: str, chunk_bytes: int | None) -> tuple[int, int]:
    X = check_inputs(X, what)
    n_out = output_size(net, X, what)
    n = X.shape[1]
    rows = target_rows(y, n, n_out, np.dtype(np.float64), what)  # checks labels, or targets' shape, dtype, finiteness
    labels = classes(rows.T)
    correct = 0
    for s, a in _forward_eval(net, X, chunk_bytes):
        correct += int(np.count_nonzero(classes(a) == labels[s]))
    return correct, n


def evaluate(net: Module, X: NDArray, y: NDArray, *, chunk_bytes: int | None = None) -> int:
    """Return how many examples ``net`` classifies correctly, as the book's ``evaluate`` does.

    A prediction is the index of the most active output neuron (for a single
    output, whether it exceeds 0.5).

    The network runs on chunks of examples sized so that each takes about
    ``chunk_bytes`` at most (a convolutional network's unfolded inputs would
    take 2.6 GB for 10,000 digits at once). The bytes per example are an
    upper estimate read from the network without running it: the input's
    width plus, for each module without children, its output's width (its
    ``n_out``, or the width before it, as for an activation) and its
    ``workspace()`` if it has that method (the numbers per example its
    ``forward`` allocates beside its output, such as `Conv2d`'s unfolded
    input). A chunk holds between 1 and 10,000 examples. Measured with
    tracemalloc, the peak on the chapter-6 network is about 0.93 of the
    bound. The result does not depend on the chunks.

    Args:
        net: the network.
        X: inputs, shape ``(n_in, N)``.
        y: labels ``(N,)`` or targets ``(n_out, N)`` (compared by their arg-max).
        chunk_bytes: about the most memory one chunk may take, in bytes
            (default `CHUNK_BYTES`, 128 MiB); at least one example runs at a time.

    Returns:
        The number of correct predictions, between 0 and ``N``.
    """
    return _correct(net, X, y, "evaluate", chunk_bytes)[0]


def accuracy(net: Module, X: NDArray, y: NDArray, *, chunk_bytes: int | None = None) -> float:
    """Return the fraction of examples classified correctly (see `evaluate`, also for ``chunk_bytes``)."""
    correct, n = _correct(net, X, y, "accuracy", chunk_bytes)
    return correct / n


def train(
    net: Module,
    training_data: tuple[NDArray, NDArray],
    *,
    optimizer: Optimizer | Sequence[Optimizer],
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
        optimizer: updates the parameters, e.g. ``SGD(net.parameters(), eta=3.0)``;
            or a list of optimizers, one per group of parameters, e.g.
            ``[SGD(net[0].parameters(), eta=0.5), SGD(net[2].parameters(), eta=2.0)]`` for one
            learning rate per layer. Their parameter lists must not overlap and hold only
            parameters of ``net``; a parameter in none stays frozen (named once when
            ``verbose``). Each regulariser then acts on each weight through the weight's own
            optimizer (`WeightDecay` with that optimizer's ``eta``), once per mini-batch, and
            the step is made by all of them or, if one fails, by none. Such a run uses the
            modules (the fused path takes one `SGD`). Callbacks receive the list.
        epochs: number of passes over the training data (at most: a schedule
            or a callback may stop earlier).
        mini_batch_size: examples per gradient step, the book's $m$.
        cost: the cost to minimise; default `QuadraticCost`.
        evaluation_data: optional ``(X, y)`` evaluated after each epoch
            (the validation set; needed by early stopping and `HalveOnPlateau`).
        rng: `numpy.random.Generator` or int seed for the shuffling.
        verbose: print one line per epoch, as the book does, with the mean
            cost of its mini-batches and the seconds it took
            (``Epoch 3: 9482 / 10000, cost 0.0123, 1.2 s``); a learning rate
            that changes, and a hint when the accuracy stays at chance.
        progress: show a progress bar with an ETA within each epoch;
            ``None`` (default) shows it when standard error is a terminal,
            and in Jupyter when ipywidgets is installed (a notebook widget).
        blas_threads: BLAS threads while stepping through mini-batches. The
            book's matrices are small, and waking a second thread for each
            product costs more than it saves (20 times more, measured for
            [784, 100, 10]), so the default is 1; the setting is restored
            afterwards and evaluation uses the usual number. ``None`` leaves
            BLAS alone.
        schedule: ``schedule(epoch, history) -> eta`` called before each
            epoch; the result becomes ``optimizer.eta``, ``None`` stops
            training (see `minibp.callbacks.HalveOnPlateau`). With a list of
            optimizers the result is the first one's ``eta`` and every other
            keeps the ratio to it that it had when `train` began, so all are
            scaled by the same factor (``HalveOnPlateau`` halves every one).
            `History.eta` then records a list per epoch, each optimizer's.
        callbacks: objects with any of ``on_train_begin(net, optimizer, history)``,
            ``on_epoch_end(epoch, history, net, optimizer) -> bool | None``
            (``True`` stops) and ``on_train_end(history, net, optimizer)``; see
            `minibp.callbacks`.
        regularization: one or more `minibp.regularization.Regularizer`
            (`L2`, `L1`, `WeightDecay`) applied at every step.
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
            a cost of $z$ after an output activation, a module placed twice
            in the network, or a target outside the cost's range
            (``cost.check_targets``), all before the first step; a list of
            optimizers that overlap, or hold a parameter that is not the network's.
        DivergedError: the cost or a gradient became NaN or infinite; the
            parameters are left as they were before the failing step.
    """
    several = isinstance(optimizer, (list, tuple))  # one optimizer per group of parameters
    stepper: Optimizer | OptimizerGroups = OptimizerGroups(net, optimizer) if several else optimizer  # type: ignore[arg-type, assignment]
    run = plan_run(
        net, training_data, stepper, epochs, mini_batch_size, cost, evaluation_data, rng, blas_threads, schedule,
        callbacks, regularization, fused,
    )
    if verbose:
        print(
            "Training with the fused epoch (minibp.fast)"
            if run.fused_epoch is not None
            else f"Training with the modules' forward and backward ({run.reason})",
            flush=True,
        )
        if isinstance(stepper, OptimizerGroups) and stepper.frozen:
            print(f"Frozen (in no optimizer, not trained): {', '.join(stepper.frozen)}", flush=True)
    history = History(evaluation_size=run.evaluation_size, training_size=run.n)
    report = EpochReport(run.n, run.target_rows.shape[1], verbose)
    for callback in run.callbacks:
        _hook(callback, "on_train_begin")(net, optimizer, history)
    net.train()
    with deferred_interrupt() as interrupted:
        for j in range(run.epochs):
            if (reason := _start_epoch(j, schedule, history, stepper, interrupted)) is not None:
                history.stop_reason = reason
                break
            replan(run, net, stepper, j, verbose)  # read what a callback or the schedule moved since the last epoch
            start = time.perf_counter()
            bar = progress_bar(-(-run.n // run.m), f"Epoch {j}", progress)
            batches = Batches(minibatch_indices(run.n, run.m, run.rng), interrupted, bar)
            try:
                # Overflow and NaN are detected (non-finite cost or gradient: DivergedError), not warned about.
                with blas_limit(run.blas_threads), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    if run.fused_epoch is not None:
                        eta = optimizer.eta  # type: ignore[union-attr]
                        total_cost = run.fused_epoch.run(j, run.x_rows, run.target_rows, batches, eta, run.x_bound)
                    else:
                        total_cost = _run_epoch(j, net, stepper, run, batches)
            finally:
                net.zero_grad()  # both paths leave every gradient zeroed
                stepper.zero_grad()
                if bar is not None:
                    bar.close()
            seconds = time.perf_counter() - start
            _record_epoch(history, j, seconds, total_cost / max(batches.seen, 1), net, stepper, run, monitor_training)
            report.epoch(history)
            if interrupted.hit:
                history.stop_reason = f"interrupted (Ctrl-C) in epoch {j} after {batches.seen} of {run.n} examples"
                break
            stop = [c for c in run.callbacks if _hook(c, "on_epoch_end")(j, history, net, optimizer)]
            if stop:
                history.stop_reason = _stopped_by(stop[0], j)
                break
    for callback in run.callbacks:
        _hook(callback, "on_train_end")(history, net, optimizer)
    return history


def _start_epoch(
    j: int, schedule: Callable | None, history: History, optimizer: Optimizer | OptimizerGroups, interrupted: Interrupt
) -> str | None:
    """Run the schedule before epoch ``j``; return why training ends before the epoch, or ``None``.

    A Ctrl-C in a callback or the schedule ends training here, so no epoch is
    recorded that did not run.
    """
    if interrupted.hit:
        return f"interrupted (Ctrl-C) in a callback after epoch {j - 1}; epoch {j} did not start"
    if schedule is None:
        return None
    eta = schedule(j, history)
    if interrupted.hit:
        return f"interrupted (Ctrl-C) in the schedule before epoch {j}; epoch {j} did not start"
    if eta is None:
        return f"the schedule {schedule!r} ended training before epoch {j}"
    optimizer.eta = check_positive("train: schedule", "eta", eta)
    return None


def _record_epoch(
    history: History, j: int, seconds: float, mean_cost: float, net: Module, optimizer: Optimizer | OptimizerGroups,
    run: Plan, monitor_training: bool,
) -> None:
    """Evaluate the network after epoch ``j`` and record the epoch in ``history``."""
    penalty = _penalty(run.regularizers, run.n)  # both training costs: the training set's N = n
    training = evaluation = None
    if monitor_training:
        correct_t, cost_t = _evaluate_with_cost(net, run.cost, run.X, run.target_rows)
        training = (correct_t, cost_t + penalty)
    if run.evaluation is not None:
        Xe, rows_e = run.evaluation
        correct, eval_cost = _evaluate_with_cost(net, run.cost, Xe, rows_e)
        evaluation = (correct, eval_cost + _penalty(run.regularizers, Xe.shape[1]))
    eta = getattr(optimizer, "eta", None)
    if isinstance(eta, list):  # several optimizers: each one's eta, or a float when the list holds one
        eta = eta[0] if len(eta) == 1 else eta
    history.record_epoch(
        j, seconds=seconds, eta=eta, training_cost=mean_cost + penalty, training=training, evaluation=evaluation
    )


def _stopped_by(callback: object, j: int) -> str:
    """Why ``callback`` stopped training after epoch ``j``, for ``History.stop_reason``.

    The callback is named by its class's own ``__repr__`` if the class has one, else by its class name
    (never ``<__main__.Logger object at 0x...>``); its ``stop_reason`` attribute, if it has one, follows.
    """
    kind = type(callback)
    name = repr(callback) if kind.__repr__ is not object.__repr__ else kind.__name__  # never "<... at 0x...>"
    reason = getattr(callback, "stop_reason", None)
    return f"{name} stopped training after epoch {j}" + (f": {reason}" if isinstance(reason, str) and reason else "")


def _hook(callback: object, name: str) -> Callable:
    """Return ``callback.<name>``, or a function that does nothing if it has none."""
    return getattr(callback, name, None) or (lambda *args: None)


def _penalty(regularizers: tuple[Regularizer, ...], n_evaluated: int) -> float:
    r"""The regularisers' term in a cost measured on ``n_evaluated`` examples, as network2's ``total_cost`` adds it.

    network2 scales the L2 term by the size $N$ of the set being evaluated,
    $\frac{\lambda}{2N}\sum_w w^2$, not by the training-set $n$ of the
    gradient: an `L2`'s ``penalty()``, $\frac{\lambda}{2n}\sum_w w^2$, is
    rescaled by $n/N$, and an `L1`'s, $\frac{\lambda}{n}\sum_w |w|$, likewise
    becomes $\frac{\lambda}{N}\sum_w |w|$. Other regularisers add their
    ``penalty()`` as it is.
    """
    total = 0.0
    for r in regularizers:
        # lambda/(2N) sum_w w^2 and lambda/N sum_w |w|
        total += r.penalty() * (r.n / n_evaluated) if isinstance(r, (L1, L2)) else r.penalty()
    return total


def _run_epoch(j: int, net: Module, optimizer: Optimizer | OptimizerGroups, run: Plan, batches: Batches) -> float:
    """One epoch through the modules: forward, cost, backward, step per mini-batch; returns the summed cost."""
    cost, regularizers, x_rows, target_rows = run.cost, run.regularizers, run.x_rows, run.target_rows
    total_cost = 0.0
    for k, idx in enumerate(batches):
        x = x_rows.take(idx, axis=0).T  # (n_in, m), one contiguous column per example
        y = target_rows.take(idx, axis=0).T
        a = net(x)
        c = cost(a, y)
        if not math.isfinite(c):
            raise DivergedError.at(j, k, f"the cost is {c}", getattr(optimizer, "eta", "?"))
        optimizer.zero_grad()
        parameters_only(net, cost.backward())  # net.backward without the data's gradient
        try:
            optimizer.step(regularizers=regularizers) if regularizers else optimizer.step()  # a wrapped step too
        except NonFiniteError as err:
            raise DivergedError.at(j, k, str(err), getattr(optimizer, "eta", "?")) from err
        total_cost += c * len(idx)
    return total_cost


def _evaluate_with_cost(net: Module, cost: Cost, X: NDArray, target_rows: NDArray) -> tuple[int, float]:
    """Count correct predictions and compute the mean cost on ``X`` and its target rows ``(N, n_out)`` in one pass."""
    correct = 0
    total = 0.0
    for s, a in _forward_eval(net, X):
        t = target_rows[s].T
        total += cost.forward(a, t) * a.shape[1]
        correct += int(np.count_nonzero(classes(a) == classes(t)))
    return correct, total / X.shape[1]
