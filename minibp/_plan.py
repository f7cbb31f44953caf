"""What `minibp.train.train` checks and prepares before its first epoch.

`plan_run` checks every argument in the order its errors are reported (the
cost against the network, the counts, the data and its labels or targets, the
evaluation data, regularisers, schedule, callbacks, the fused epoch) and
returns a `Plan`; nothing is changed before all of them pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from . import fast
from ._checks import as_generator, check_count, check_network
from ._groups import OptimizerGroups
from .containers import Parallel
from .costs import Cost, QuadraticCost
from .data.batches import check_mini_batch_size
from .data.pairs import check_inputs, output_size, unpack
from .data.targets import target_rows
from .layers import Dropout, Identity, ReLU, Sigmoid, Softmax, Tanh
from .module import Module
from .optim import Optimizer
from .regularization import Regularizer
from .sequential import Sequential

__all__ = ["Plan", "check_cost_fits", "check_targets", "output_activation", "plan_run", "regularizers_of", "replan"]


@dataclass
class Plan:
    """What `train` checked and prepared before its first epoch."""

    cost: Cost
    epochs: int
    X: NDArray  # (n_in, N)
    target_rows: NDArray  # (N, n_out): the targets as rows, as the mini-batches take them
    m: int
    evaluation: tuple[NDArray, NDArray] | None  # the evaluation data's X (n_in, N_e) and target rows (N_e, n_out)
    regularizers: tuple[Regularizer, ...]
    callbacks: list
    rng: np.random.Generator
    fused_epoch: fast.FusedEpoch | None
    reason: str  # why the fused epoch is not used ("" if it is)
    x_bound: float  # max |x| over the training inputs (0 without the fused epoch)
    blas_threads: int | None
    fused: bool | None = None  # train's fused argument, for `replan`

    @property
    def n(self) -> int:
        return self.X.shape[1]

    @property
    def x_rows(self) -> NDArray:
        return self.X.T  # the examples as rows (N, n_in), without copying

    @property
    def evaluation_size(self) -> int:
        return 0 if self.evaluation is None else self.evaluation[0].shape[1]


def plan_run(
    net, training_data, optimizer, epochs, mini_batch_size, cost, evaluation_data, rng, blas_threads, schedule,
    callbacks, regularization, fused,
) -> Plan:
    """Check every argument of `train`, in the order the errors are reported, before any parameter changes."""
    cost = QuadraticCost() if cost is None else cost
    check_network(net, "train")  # as it is now: layers edited after construction included
    check_cost_fits(net, cost)
    epochs = check_count("train", "epochs", epochs, 0)
    X, y = unpack(training_data, "train: training_data")
    X = check_inputs(X, "train")
    n = X.shape[1]
    n_out = output_size(net, X, "train")  # before the mini-batch size: data passed as rows get the X.T hint
    m = check_mini_batch_size(mini_batch_size, n)
    if blas_threads is not None:
        blas_threads = check_count("train", "blas_threads", blas_threads, 1)
    dtype = optimizer.parameters[0].data.dtype
    rows = target_rows(y, n, n_out, dtype, "train")
    check_targets(cost, rows, "train")  # all of them now, not in the mini-batch that holds a bad one
    evaluation = None
    if evaluation_data is not None:
        Xe, ye = unpack(evaluation_data, "train: evaluation_data")
        Xe = check_inputs(Xe, "train: evaluation_data")
        output_size(net, Xe, "train: evaluation_data")  # checks the feature count now, not after the first epoch
        evaluation = (Xe, target_rows(ye, Xe.shape[1], n_out, dtype, "train: evaluation_data"))
        check_targets(cost, evaluation[1], "train: evaluation_data")
    regularizers = regularizers_of(regularization)
    if schedule is not None and not callable(schedule):
        raise TypeError(f"train: schedule must be callable as schedule(epoch, history), got {schedule!r}")
    groups = isinstance(optimizer, OptimizerGroups)
    if groups:
        optimizer.check_regularizers(regularizers)
        if schedule is not None and None in optimizer.eta:
            k = optimizer.eta.index(None)
            raise TypeError(f"train: a schedule sets every optimizer's eta, but optimizer[{k}] has no attribute eta")
    elif schedule is not None and not hasattr(optimizer, "eta"):
        raise TypeError(f"train: a schedule sets optimizer.eta, but {optimizer!r} has no attribute eta")
    callbacks = list(callbacks)
    rng = as_generator(rng)
    if fused is False:
        fused_epoch, reason = None, "fused=False"
    elif groups:  # the fused epoch steps one SGD over all of net.parameters()
        n_optimizers = len(optimizer.optimizers)
        fused_epoch, reason = None, f"a list of {n_optimizers} optimizers (the fused epoch steps one SGD)"
    else:
        fused_epoch, reason = fast.plan(net, cost, optimizer, regularizers)
    if fused and fused_epoch is None:
        raise ValueError(f"train(fused=True): the fused path does not accept this run: {reason}")
    x_bound = max(float(X.max()), -float(X.min())) if fused_epoch is not None else 0.0  # max |x|, no temporary
    if not X.T.flags.c_contiguous:  # taking a mini-batch's columns from another layout copies all of X every time
        X = np.ascontiguousarray(X.T).T  # so copy it once, after every check: each example one contiguous column
    return Plan(
        cost, epochs, X, rows, m, evaluation, regularizers, callbacks, rng, fused_epoch, reason, x_bound, blas_threads,
        fused,
    )


def replan(run: Plan, net: Module, optimizer: Optimizer | OptimizerGroups, epoch: int, verbose: bool) -> None:
    """Plan the fused epoch again before ``epoch``, from the network, cost, optimizer and regularisers as they are.

    A callback or the schedule may have moved a hyper-parameter (an `L2`'s
    ``lmbda`` or ``n``, the optimizer's ``eta``), given the optimizer other
    parameters or replaced a method on an instance since the last epoch: the
    fused epoch reads them all again here, and when it no longer accepts the
    run, the modules train from this epoch on (``verbose`` says why). With
    ``fused=True`` that raises ``ValueError`` instead.
    """
    if run.fused is False or isinstance(optimizer, OptimizerGroups):  # a list of optimizers: the modules, always
        return
    fused_epoch, reason = fast.plan(net, run.cost, optimizer, run.regularizers)
    if fused_epoch is None and run.fused:
        raise ValueError(f"train(fused=True): before epoch {epoch}, the fused path no longer accepts the run: {reason}")
    if verbose and (fused_epoch is None) != (run.fused_epoch is None):
        print(
            f"From epoch {epoch}: training with the modules' forward and backward ({reason})"
            if fused_epoch is None
            else f"From epoch {epoch}: training with the fused epoch (minibp.fast)",
            flush=True,
        )
    if fused_epoch is not None and run.fused_epoch is None:
        run.x_bound = max(float(run.X.max()), -float(run.X.min()))  # max |x|, no temporary
    run.fused_epoch, run.reason = fused_epoch, reason


def check_targets(cost: Cost, rows: NDArray, what: str) -> None:
    """Run ``cost.check_targets`` on target rows ``(N, n_out)``; its error names ``what`` and the example."""
    try:
        cost.check_targets(rows.T)
    except ValueError as err:
        err.args = (f"{what}: {err}",)  # the same error, its message saying which data
        raise


def regularizers_of(regularization: object) -> tuple[Regularizer, ...]:
    """Return ``regularization`` (``None``, one `Regularizer` or several) as a tuple of regularisers."""
    if regularization is None:
        return ()
    items = (regularization,) if isinstance(regularization, Regularizer) else tuple(regularization)  # type: ignore[arg-type]
    for item in items:
        if not isinstance(item, Regularizer):
            raise TypeError(f"train: regularization must hold Regularizer objects (L2, L1, WeightDecay), got {item!r}")
    return items


def output_activation(net: Module) -> Module | None:
    """The activation whose output is the network's output, or part of it; ``None`` if there is none.

    Through the containers, as each one forms its output:

    * `Sequential`: its last module's (an `Identity` or `Dropout` at the end
      passes on what it is given, so the module before it is looked at);
    * `Parallel`: any branch's, since its rows are stacked into the output
      unchanged (a cost of z would apply its activation to them again);
    * `Residual`: never: $x + f(x)$ is not an activation's output, even when
      $f$ ends in one.
    """
    if isinstance(net, (Sigmoid, Softmax, Tanh, ReLU)):
        return net
    if isinstance(net, Sequential):
        for module in reversed(net.layers):
            if not isinstance(module, (Identity, Dropout)):
                return output_activation(module)
    if isinstance(net, Parallel):
        for branch in net.branches:
            found = output_activation(branch)
            if found is not None:
                return found
    return None


def check_cost_fits(net: Module, cost: Cost) -> None:
    """Refuse a cost of z after an output activation (see `output_activation`): it would be applied twice."""
    if getattr(cost, "takes", "a") != "z":
        return
    last = output_activation(net)
    if last is not None:
        name = type(last).__name__
        raise ValueError(
            f"train: {cost!r} takes the weighted input z of a final Dense, but the network ends in {name}: "
            f"remove the final {name} (the cost applies its own activation), or use a cost of a "
            "such as CrossEntropyCost or LogLikelihoodCost"
        )
