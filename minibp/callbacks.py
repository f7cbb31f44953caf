r"""Learning-rate schedules and callbacks for `minibp.train`.

**Schedules.** A schedule is any callable ``schedule(epoch, history) -> eta``.
`train` calls it before each epoch with the number of the epoch about to run
(from 0) and the `History` of the epochs run so far, and sets
``optimizer.eta`` to the result (with a list of optimizers, the first one's
``eta``; the others keep their ratio to it). Returning ``None`` ends training before
that epoch. `HalveOnPlateau` is the rule the book suggests in chapter 3.

**Callbacks.** A callback is any object with some of these methods (all
optional; `Callback` provides empty ones):

* ``on_train_begin(net, optimizer, history)``: before the first epoch;
* ``on_epoch_end(epoch, history, net, optimizer) -> bool | None``: after each
  epoch's evaluation, with ``history`` already holding it; return ``True``
  to stop training (`History.stop_reason` then names the callback by its
  class, followed by its ``stop_reason`` attribute if it has one: set it
  to say why);
* ``on_train_end(history, net, optimizer)``: once at the end, also after a
  stop (not after an exception).

`EarlyStopping` is the ready-made one. `LearningSpeed` is an instrument: it
stops nothing and changes nothing, it records in the `History` how fast each
layer learns (the book's chapter 5 measure of the vanishing gradient).

Deliberately left out: callbacks per mini-batch (the inner loop stays tight)
and schedules that depend on anything but the epoch and the history.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from ._checks import check_count, check_positive, is_integer
from ._chunks import check_chunk_bytes, chunk_size, chunks
from ._session import blas_limit
from ._text import as_typed
from .costs import Cost, QuadraticCost
from .errors import HyperparameterError, LabelError, ShapeError
from .layers import Dense, Sigmoid
from .module import Module, evaluation_mode, parameters_only

if TYPE_CHECKING:
    from .history import History
    from .optim import Optimizer

__all__ = ["Callback", "EarlyStopping", "HalveOnPlateau", "LearningSpeed", "no_improvement_streaks"]


def _evaluation_accuracies(history: History, who: str) -> list[float]:
    accuracies = history.evaluation_accuracy
    if any(a is None for a in accuracies):
        raise ValueError(f"{who} needs the validation accuracy: pass evaluation_data to train")
    return accuracies  # type: ignore[return-value]


def _check_patience(who: str, patience: object) -> int:
    return check_count(who, "patience", patience, 1)


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
        return f"HalveOnPlateau(eta={as_typed(self.eta)}, patience={self.patience}, factor={as_typed(self.factor)})"


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


_PROBE_CHUNK = 10_000  # the most examples per forward and backward pass over the probe


def _dense_layers(net: Module) -> list[tuple[Dense, Sigmoid | None]]:
    """Each `Dense` of ``net`` in network order, with the `Sigmoid` that follows it (or ``None``)."""
    leaves = [m for m in net.modules() if next(m.children(), None) is None]
    layers = []
    for i, module in enumerate(leaves):
        if isinstance(module, Dense):
            after = leaves[i + 1] if i + 1 < len(leaves) else None
            layers.append((module, after if isinstance(after, Sigmoid) else None))
    return layers


class LearningSpeed(Callback):
    r"""Record how fast each layer learns, and how many of its sigmoid neurons are saturated.

    Chapter 5 of the book measures the speed at which layer $l$ learns by the
    length of the gradient of the cost with respect to its biases,

    $$\text{speed}^l = \left\lVert \frac{\partial C}{\partial b^l} \right\rVert
      = \left\lVert \frac{1}{n} \sum_x \delta^{l}_x \right\rVert \quad \text{(BP3)},$$

    with $C$ the mean cost over a fixed probe of $n$ examples (by default the
    first 1,000 it is given). When earlier layers show smaller speeds than
    later ones, the gradient is vanishing on its way back through the network.

    For a `Dense` layer followed by a `Sigmoid`, it also records the share of
    (neuron, example) pairs of the probe where $\sigma'(z)$ is below ``threshold``
    (0.01: $|z| \gtrsim 4.6$): a saturated neuron passes almost no gradient
    back (BP2) and learns almost nothing itself.

    After every epoch it appends one list per kind to the `History`:
    ``history.learning_speed[j][k]`` is the speed of the ``k``-th `Dense` of
    the network (in the order of ``net.modules()``) after epoch ``j``, and
    ``history.saturation[j][k]`` its saturated share (``None`` for a layer not
    followed by a `Sigmoid`). The values before the first epoch go into
    ``history.initial_learning_speed`` and ``history.initial_saturation``.
    If training ends after an epoch that ``on_epoch_end`` did not see (Ctrl-C),
    ``on_train_end`` measures it, so the lists always have one entry per epoch.

    Measuring changes nothing: it runs the modules' own ``forward`` and
    ``backward`` in evaluation mode (dropout passes everything and draws no
    random numbers), restores each module's training mode and every
    parameter's ``grad`` afterwards, and draws from no generator. A run with
    it takes bit for bit the same steps as a run without it.

    Args:
        probe: ``(X, y)`` with ``X`` of shape ``(n_in, N)`` and ``y`` labels
            ``(N,)`` or targets ``(n_out, N)``, as `minibp.train.train` takes
            them; usually the training data.
        cost: the cost the network is trained with (default `QuadraticCost`,
            as in `minibp.train.train`). Like minibp's costs, it must be the
            mean over the examples.
        size: use the first ``size`` examples of ``probe`` (default 1,000, as
            the book); ``None`` uses all of them.
        threshold: $\sigma'(z)$ below which a neuron counts as saturated;
            $\sigma'$ is at most $1/4$.
        blas_threads: BLAS threads while measuring, as `minibp.train.train`'s
            ``blas_threads`` while stepping (default 1: the probe's products
            are as small as a mini-batch's, and on a busy machine a second
            thread made the book's chapter 5 measurements eight times slower); ``None``
            leaves BLAS alone.
        chunk_bytes: about the most memory one chunk of the probe may take
            in its forward and backward pass (default
            `minibp.train.CHUNK_BYTES`, 128 MiB; see `minibp.train.evaluate`).
            The speeds do not depend on it beyond rounding.

    Attributes:
        initial_speed: the speeds measured before training, one per `Dense`
            (``None`` until ``on_train_begin``).
        initial_saturation: the saturated shares measured then.

    Example:
        >>> import minibp as bp
        >>> from minibp.data import load_sample
        >>> X, y = load_sample().training
        >>> net = bp.mlp([784, 30, 30, 10], rng=0)
        >>> speed, saturation = LearningSpeed((X, y)).measure(net)
        >>> len(speed), saturation[0] is not None
        (3, True)
    """

    def __init__(
        self,
        probe: tuple[NDArray, NDArray],
        cost: Cost | None = None,
        *,
        size: int | None = 1000,
        threshold: float = 0.01,
        blas_threads: int | None = 1,
        chunk_bytes: int | None = None,
    ) -> None:
        X, y = np.asarray(probe[0]), np.asarray(probe[1])
        if X.ndim != 2 or X.shape[1] == 0:
            raise ShapeError(f"LearningSpeed: probe X must have shape (n_in, N) with N >= 1, got {X.shape}")
        if y.ndim not in (1, 2) or y.shape[-1] != X.shape[1]:
            raise ShapeError(
                f"LearningSpeed: probe X has {X.shape[1]} examples, so y must be labels ({X.shape[1]},) "
                f"or targets (n_out, {X.shape[1]}); got {y.shape}"
            )
        if size is not None:
            if not is_integer(size) or size < 1:
                raise HyperparameterError(f"LearningSpeed: size must be an integer >= 1 or None, got {size!r}")
            X, y = X[:, : int(size)], y[..., : int(size)]
        self.X, self.y = X, y
        self.cost = QuadraticCost() if cost is None else cost
        self.threshold = check_positive("LearningSpeed", "threshold", threshold)
        self.blas_threads = None if blas_threads is None else check_count("LearningSpeed", "blas_threads", blas_threads)
        self.chunk_bytes = check_chunk_bytes(chunk_bytes)
        self.initial_speed: list[float] | None = None
        self.initial_saturation: list[float | None] | None = None

    def measure(self, net: Module) -> tuple[list[float], list[float | None]]:
        r"""Return the speed $\lVert\partial C/\partial b^l\rVert$ and the saturated share of each `Dense` now.

        Args:
            net: the network; its parameters, gradients and modes are left as
                they were.

        Returns:
            ``(speeds, saturation)``, two lists with one entry per `Dense` in
            network order; ``saturation`` holds ``None`` for a layer not
            followed by a `Sigmoid`.

        Raises:
            ValueError: the network has no `Dense` layer.
            ShapeError, LabelError: the probe does not fit the network.
        """
        layers = _dense_layers(net)
        if not layers:
            raise ValueError(f"LearningSpeed: the network {net!r} has no Dense layer")
        params = net.parameters()
        saved = [p.grad.copy() for p in params]
        n = self.X.shape[1]
        saturated = [0] * len(layers)
        neurons = [0] * len(layers)
        try:
            with blas_limit(self.blas_threads), evaluation_mode(net), np.errstate(all="ignore"):
                for p in params:
                    p.zero_grad()
                size = chunk_size(net, self.X, self.chunk_bytes, passes=2, cap=_PROBE_CHUNK)
                for part in chunks(n, size):
                    start, x = part.start, self.X[:, part]
                    a = net(x)
                    self.cost(a, self._targets(start, x.shape[1], a))
                    for k, (_, sigmoid) in enumerate(layers):
                        if sigmoid is not None and sigmoid.a is not None:
                            s = sigmoid.a
                            saturated[k] += int(np.count_nonzero(s * (1 - s) < self.threshold))  # sigma'(z)
                            neurons[k] += s.size
                    # C is the mean over the probe: each chunk's mean cost weighs by its share of examples
                    parameters_only(net, self.cost.backward() * (x.shape[1] / n))
                speeds = [float(np.linalg.norm(dense.b.grad)) for dense, _ in layers]  # BP3: dC/db = mean delta
        finally:
            for p, grad in zip(params, saved):
                p.grad = grad
        shares = [
            saturated[k] / neurons[k] if sigmoid is not None and neurons[k] else None
            for k, (_, sigmoid) in enumerate(layers)
        ]
        return speeds, shares

    def _targets(self, start: int, m: int, a: NDArray) -> NDArray:
        """The targets ``(n_out, m)`` of the probe's examples ``start .. start + m``."""
        n_out = a.shape[0]
        if self.y.ndim == 2:
            if self.y.shape[0] != n_out:
                raise ShapeError(
                    f"LearningSpeed: probe targets have {self.y.shape[0]} rows, the network {n_out} outputs"
                )
            return np.asarray(self.y[:, start : start + m], dtype=a.dtype)
        labels = self.y[start : start + m]
        if n_out == 1:  # one output neuron: the labels 0 and 1 are its targets
            return np.asarray(labels, dtype=a.dtype).reshape(1, m)
        if labels.dtype.kind == "f" and np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)  # labels stored as floats, such as 3.0
        if labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() >= n_out:
            raise LabelError(
                f"LearningSpeed: probe labels must be integers 0..{n_out - 1}, as the network has {n_out} outputs"
            )
        t = np.zeros((n_out, m), dtype=a.dtype)
        t[labels, np.arange(m)] = 1  # e_k for label k
        return t

    def on_train_begin(self, net: Module, optimizer: Optimizer, history: History) -> None:
        self.initial_speed, self.initial_saturation = self.measure(net)
        history.initial_learning_speed = list(self.initial_speed)
        history.initial_saturation = list(self.initial_saturation)

    def on_epoch_end(self, epoch: int, history: History, net: Module, optimizer: Optimizer) -> bool | None:
        self._record(history, net)
        return None

    def on_train_end(self, history: History, net: Module, optimizer: Optimizer) -> None:
        if len(history.learning_speed) < len(history.epoch):  # the last epoch ended by Ctrl-C
            self._record(history, net)

    def _record(self, history: History, net: Module) -> None:
        speeds, shares = self.measure(net)
        history.learning_speed.append(speeds)
        history.saturation.append(shares)

    def __repr__(self) -> str:
        return f"LearningSpeed(probe of {self.X.shape[1]} examples, cost={self.cost!r})"
