r"""Optimizers: `SGD` (the book's rule), `Momentum`, `Nesterov` and `Adam`.

An optimizer holds a list of `Parameter` objects. After a backward pass has
filled their ``grad``, ``step()`` makes the whole step: the regularisers'
gradients, a check that every gradient is finite, ``update()`` (the one
method a subclass writes: its rule, changing ``data`` in place), and a
guard that refuses a step leaving any parameter or state buffer non-finite
or near overflow, restoring everything as it was. ``zero_grad()`` clears
``grad`` for the next mini-batch. An optimizer never moves, replaces or
reshapes a parameter's arrays: anything holding ``p.data`` or ``p.grad``
keeps seeing the live values.

Because the costs average over the mini-batch, plain SGD with learning rate
$\eta$ reproduces the book's eq. 13–14 exactly:

$$w \to w - \eta \frac{\partial C}{\partial w}
  = w - \frac{\eta}{m}\sum_x \frac{\partial C_x}{\partial w}$$

**Hyper-parameters** are checked when the optimizer is built and again on
every assignment (``optimizer.eta = 0.5``), so a bad value is refused before
it reaches a parameter.

**Saving and restoring.** ``state_dict()`` returns a flat dictionary of
strings, floats and numpy arrays (no objects, so it can be written to an
``.npz`` file and read back with ``allow_pickle=False``); ``load_state_dict(d)``
validates and restores it: the type (``"type"``), the hyper-parameters, the
scalar counters and one array per parameter and per state buffer, named
``"<buffer>.<i>"`` with the shape of parameter ``i``.

**Several optimizers** (one per group of parameters, as `minibp.train` takes a list of them) are
stepped together by `step_together`: every one or, if one fails, none.

Weight decay and L2 regularisation are not optimizer options here: see
`minibp.regularization`.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from numpy.typing import NDArray

from ._checks import check_positive, check_unit_interval, limit, within_limit
from ._text import as_typed
from .errors import HyperparameterError, ModelFormatError, NonFiniteError, ShapeError
from .module import Parameter

if TYPE_CHECKING:
    from .regularization import Regularizer

F = TypeVar("F", bound=Callable[..., None])

__all__ = ["Optimizer", "SGD", "Momentum", "Nesterov", "Adam", "step_together"]


class Optimizer:
    """Base class: holds the parameters, clears their gradients, and makes each step around a subclass's `update`.

    A subclass implements `update` (its rule and nothing else) and declares ``hyperparameters``
    (name → check, run on every assignment), scalar ``counters`` and ``buffers`` (attributes holding
    one array per parameter), from which the base class makes `state_dict`, `load_state_dict` and `step`'s guard.

    Args:
        parameters: the `Parameter` objects to update, e.g. ``net.parameters()``; kept as ``parameters``.
    """

    hyperparameters: dict[str, Callable[[str, str, object], float]] = {}
    counters: tuple[str, ...] = ()
    buffers: tuple[str, ...] = ()

    def __init__(self, parameters: Iterable[Parameter]) -> None:
        self.parameters: list[Parameter] = _checked_list(type(self).__name__, parameters)

    def __setattr__(self, name: str, value: object) -> None:
        check = type(self).hyperparameters.get(name)
        if check is not None:
            value = check(type(self).__name__, name, value)
        object.__setattr__(self, name, value)

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to zero, in place."""
        for p in self.parameters:
            p.zero_grad()

    def step(self, regularizers: Iterable[Regularizer] = ()) -> None:
        """Make one step, or raise `NonFiniteError` with every parameter, buffer and counter as it was.

        Regularisers' ``add_gradient()``, finite gradients, their ``before_update(eta)``, `update`; a parameter or
        buffer left non-finite or beyond `minibp._checks.limit` (or an exception) undoes the step. No numpy warning.
        """
        _guarded_step(self, tuple(regularizers))

    def update(self) -> None:
        """Change every parameter's ``data`` using its ``grad`` (no checks)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement update")

    def state_dict(self) -> dict:
        """Return type, hyper-parameters, counters (floats) and buffers (array copies named ``"<buffer>.<i>"``)."""
        d: dict = {"type": type(self).__name__}
        d.update({name: float(getattr(self, name)) for name in (*self.hyperparameters, *self.counters)})
        d.update({f"{b}.{i}": a.copy() for b in self.buffers for i, a in enumerate(getattr(self, b))})
        return d

    def load_state_dict(self, state: Mapping) -> None:
        """Restore a `state_dict` after checking all of it (see `_check_state`); nothing changes otherwise."""
        scalars = _check_state(self, state)
        for key, value in scalars.items():
            setattr(self, key, int(value) if key in self.counters else value)
        for b in self.buffers:
            for i, array in enumerate(getattr(self, b)):
                array[...] = state[f"{b}.{i}"]

    def __repr__(self) -> str:
        settings = ", ".join(f"{h}={as_typed(getattr(self, h))}" for h in self.hyperparameters)  # eta=0.3
        return f"{type(self).__name__}({settings})"


def _spreads_non_finite(update: F) -> F:
    """Mark an ``update`` that leaves a parameter or buffer NaN or infinite wherever a gradient is.

    The step then looks at the gradients only if the check after the update fails, one pass fewer.
    The mark is on the function: a subclass that overrides ``update`` has its gradients checked first.
    """
    update.spreads_non_finite = True  # type: ignore[attr-defined]
    return update


def _guarded_step(optimizer: Optimizer, regularizers: tuple[Regularizer, ...]) -> None:
    """`Optimizer.step`: the regularisers, the gradient check, `update` and the guard that can undo it.

    Before the update, `_keep` copies every parameter's ``data`` and every buffer into scratch arrays that
    live on the optimizer from one step to the next (nothing is allocated while the arrays stay the same),
    with the buffer lists and the counters. The gradients are checked first, or, for an ``update`` marked
    by `_spreads_non_finite`, only when the check after the update fails. The check after it reads the
    arrays as the update left them, one BLAS pass per array, $\\sum x \\cdot x$ (NaN or infinite if any
    entry is, and $\\ge \\max |x|^2$), looking closer only if the sum is not below the limit squared.
    """
    params = optimizer.parameters
    with np.errstate(all="ignore"):
        for r in regularizers:
            r.add_gradient()  # L2: dC/dw += (lambda/n) w
        spreads = getattr(optimizer.update, "spreads_non_finite", False)  # see _spreads_non_finite
        if not (spreads or math.isfinite(sum([float(np.vdot(p.grad, p.grad)) for p in params]))):
            _refuse_gradient(optimizer)
        kept = _keep(optimizer)
        try:
            for r in regularizers:
                r.before_update(getattr(optimizer, "eta", 0.0))  # weight decay: w -> (1 - eta wd) w
            optimizer.update()
            arrays = _arrays(optimizer)  # as the update left them: it may have put new arrays in a buffer list
            bound = min(map(limit, {a.dtype for a in arrays}))  # Python floats: bound * bound is inf for float64
            if not sum([float(np.vdot(x, x)) for x in arrays]) < bound * bound:  # a sum past 1e308 is inf
                _refuse_gradient(optimizer)  # a non-finite gradient is named first
                _check_each(optimizer, arrays)
        except BaseException:
            _restore(optimizer, kept)
            raise


def _arrays(optimizer: Optimizer) -> list[NDArray]:
    """The arrays `Optimizer.update` may change: each parameter's ``data``, then each buffer's arrays."""
    return [p.data for p in optimizer.parameters] + [a for b in optimizer.buffers for a in getattr(optimizer, b)]


def _keep(optimizer: Optimizer) -> tuple:
    """Copy what `_restore` puts back: the `_arrays` (into the scratch copies), the buffer lists, the counters.

    The scratch copies are made again whenever `_arrays` holds other objects than at the last step.
    """
    arrays = _arrays(optimizer)
    cached = optimizer.__dict__.get("_step_copies")
    if cached is None or len(cached[0]) != len(arrays) or not all(map(operator.is_, cached[0], arrays)):
        cached = (arrays, [np.empty_like(a) for a in arrays])
        object.__setattr__(optimizer, "_step_copies", cached)  # held with their sources: ids stay unique
    for copy, array in zip(cached[1], arrays):
        copy[...] = array
    buffers, counters = optimizer.buffers, optimizer.counters
    lists = [(b, getattr(optimizer, b), list(getattr(optimizer, b))) for b in buffers] if buffers else []
    return arrays, cached[1], lists, {c: getattr(optimizer, c) for c in counters} if counters else {}


def _restore(optimizer: Optimizer, kept: tuple) -> None:
    """Put back everything `_keep` kept: values, the arrays in the parameters and the buffer lists, counters."""
    arrays, copies, lists, counters = kept
    for copy, array in zip(copies, arrays):
        array[...] = copy
    for p, array in zip(optimizer.parameters, arrays):
        if p.data is not array:  # only a Parameter subclass moves its array
            p.data = array
    for name, items, held in lists:
        object.__setattr__(optimizer, name, items)
        items[:] = held
    for name, value in counters.items():
        object.__setattr__(optimizer, name, value)


def _refuse_gradient(optimizer: Optimizer) -> None:
    """Raise `NonFiniteError` naming the first parameter whose gradient holds NaN or infinity."""
    for i, p in enumerate(optimizer.parameters):
        if not np.isfinite(p.grad).all():
            bad = int(np.count_nonzero(~np.isfinite(p.grad)))
            raise NonFiniteError(
                f"{type(optimizer).__name__}.step: gradient of parameter {i} {p.shape} has {bad} non-finite entries; "
                "no parameter was changed"
            )


def _check_each(optimizer: Optimizer, arrays: list[NDArray]) -> None:
    """Raise `NonFiniteError` naming the first parameter or buffer left non-finite or not below its `limit`."""
    n = len(optimizer.parameters)
    for k, x in enumerate(arrays):
        if not within_limit(x):
            what = f"parameter {k}" if k < n else f"the {optimizer.buffers[k // n - 1]} of parameter {k % n}"
            raise NonFiniteError(
                f"{type(optimizer).__name__}.step: the update of {what.replace('_', ' ')} {x.shape} would overflow "
                f"(to non-finite values or beyond {limit(x.dtype):.3g}); no parameter was changed"
            )


def _checked_list(owner: str, parameters: Iterable[Parameter]) -> list[Parameter]:
    """Return ``parameters`` as a list after checking it is non-empty, of `Parameter` objects, each once."""
    params = list(parameters)
    if not params:
        raise ValueError(f"{owner}: got an empty parameter list")
    for i, p in enumerate(params):
        if not isinstance(p, Parameter):
            raise TypeError(f"{owner}: item {i} is {type(p).__name__}, not a Parameter")
    if len({id(p) for p in params}) != len(params):
        raise ValueError(f"{owner}: a parameter appears twice in the list (net.parameters() lists tied ones once)")
    return params


def _check_state(optimizer: Optimizer, state: Mapping) -> dict[str, float]:
    """Check a state for `Optimizer.load_state_dict` (`ModelFormatError`, `HyperparameterError`, `ShapeError`,
    `NonFiniteError` name what is wrong); return its scalars."""
    name = type(optimizer).__name__
    if not isinstance(state, Mapping):
        raise ModelFormatError(f"{name}.load_state_dict: expected a mapping, got {type(state).__name__}")
    kind = state.get("type")
    kind = str(kind.item()) if isinstance(kind, np.ndarray) and kind.ndim == 0 else kind
    if kind != name:
        raise ModelFormatError(f"{name}.load_state_dict: the state belongs to optimizer {kind!r}, not {name!r}")
    params, buffers, counters = optimizer.parameters, optimizer.buffers, optimizer.counters
    expected = {"type", *optimizer.hyperparameters, *counters}
    expected |= {f"{b}.{i}" for b in buffers for i in range(len(params))}
    missing, unexpected = expected - set(state), set(state) - expected
    if missing or unexpected:
        raise ModelFormatError(
            f"{name}.load_state_dict: missing keys {sorted(missing)}, unexpected keys {sorted(unexpected)} "
            f"(for {len(params)} parameters)"
        )
    scalars = {}
    for key in (*optimizer.hyperparameters, *counters):
        value = np.asarray(state[key])
        if value.ndim != 0 or value.dtype.kind not in "fiu":
            raise HyperparameterError(f"{name}.load_state_dict: {key} must be a number, got {state[key]!r}")
        scalars[key] = float(value)
        if key in optimizer.hyperparameters:
            optimizer.hyperparameters[key](name, key, scalars[key])
        elif not (scalars[key] >= 0 and scalars[key] == math.floor(scalars[key])):
            raise HyperparameterError(f"{name}.load_state_dict: {key} must be a count >= 0, got {state[key]!r}")
    for b in buffers:
        for i, p in enumerate(params):
            value = np.asarray(state[f"{b}.{i}"])
            if value.shape != p.shape:
                raise ShapeError(f"{name}.load_state_dict: {b}.{i} has shape {value.shape}, parameter {i} {p.shape}")
            if value.dtype.kind not in "fiu":
                raise ModelFormatError(f"{name}.load_state_dict: {b}.{i} must be numeric, got dtype {value.dtype}")
            if not np.isfinite(value).all():
                raise NonFiniteError(f"{name}.load_state_dict: {b}.{i} contains NaN or infinity")
    return scalars


class SGD(Optimizer):
    r"""Plain (stochastic) gradient descent, the book's rule: $w \to w - \eta\,\partial C/\partial w$.

    Args:
        parameters: the `Parameter` objects to update, e.g. ``net.parameters()``.
        eta: the learning rate $\eta > 0$.
    """

    hyperparameters = {"eta": check_positive}

    def __init__(self, parameters: Iterable[Parameter], eta: float) -> None:
        super().__init__(parameters)
        self.eta = eta

    @_spreads_non_finite  # w - eta g is NaN or infinite where g is
    def update(self) -> None:
        r"""Apply eq. 13–14 to every parameter."""
        for p in self.parameters:
            p.data -= self.eta * p.grad  # eq. 13-14: w -> w - eta dC/dw


class Momentum(Optimizer):
    r"""Gradient descent with momentum, in the velocity form of the book's chapter 3.

    Each parameter $w$ has a velocity $v$ (zero at the start), updated by

    $$v \to v' = \mu v - \eta \nabla C, \qquad w \to w' = w + v'.$$

    $\mu$ is the momentum coefficient ("friction" $1 - \mu$); $\mu = 0$ is
    plain `SGD`. With a constant $\eta$ this is exactly
    ``torch.optim.SGD(params, lr=eta, momentum=mu)``, whose buffer is $-v/\eta$.

    Args:
        parameters: the `Parameter` objects to update.
        eta: the learning rate $\eta > 0$.
        mu: the momentum coefficient, $0 \le \mu < 1$.

    Attributes:
        velocity: one array per parameter, shaped like it.
    """

    hyperparameters = {"eta": check_positive, "mu": check_unit_interval}
    buffers = ("velocity",)

    def __init__(self, parameters: Iterable[Parameter], eta: float, mu: float = 0.9) -> None:
        super().__init__(parameters)
        self.eta, self.mu = eta, mu
        self.velocity: list[NDArray] = [np.zeros_like(p.data) for p in self.parameters]

    @_spreads_non_finite  # mu v - eta g is NaN or infinite where g is
    def update(self) -> None:
        r"""Apply $v \to \mu v - \eta\nabla C$, $w \to w + v$ to every parameter."""
        for p, v in zip(self.parameters, self.velocity):
            v *= self.mu
            v -= self.eta * p.grad  # v -> mu v - eta dC/dw
            p.data += v  # w -> w + v


class Nesterov(Momentum):
    r"""Nesterov's accelerated gradient, in the form that needs only $\nabla C$ at the stored $w$.

    Nesterov's method evaluates the gradient at the look-ahead point
    $w + \mu v$. Storing that look-ahead point instead of $w$ turns the update
    into one that uses the gradient where the network is (Sutskever et al.,
    2013; Bengio et al., 2012):

    $$v \to v' = \mu v - \eta \nabla C, \qquad w \to w' = w + \mu v' - \eta \nabla C.$$

    With a constant $\eta$ this is exactly
    ``torch.optim.SGD(params, lr=eta, momentum=mu, nesterov=True)``.

    Args:
        parameters: the `Parameter` objects to update.
        eta: the learning rate $\eta > 0$.
        mu: the momentum coefficient, $0 \le \mu < 1$.
    """

    @_spreads_non_finite  # mu v - eta g is NaN or infinite where g is
    def update(self) -> None:
        r"""Apply $v \to \mu v - \eta\nabla C$, $w \to w + \mu v - \eta\nabla C$ to every parameter."""
        for p, v in zip(self.parameters, self.velocity):
            v *= self.mu
            v -= self.eta * p.grad  # v -> mu v - eta dC/dw
            p.data += self.mu * v - self.eta * p.grad  # w -> w + mu v' - eta dC/dw


class Adam(Optimizer):
    r"""Adam (Kingma and Ba, 2015): steps scaled by running moment estimates of the gradient.

    With $g = \nabla C$ and step counter $t$ (1 at the first step), each
    parameter $w$ keeps a first moment $m_1$ and a second moment $m_2$ (zero at
    the start):

    $$m_1 \to \beta_1 m_1 + (1-\beta_1)\, g, \qquad
      m_2 \to \beta_2 m_2 + (1-\beta_2)\, g \odot g,$$

    $$w \to w - \frac{\eta}{1-\beta_1^t}\,
      \frac{m_1}{\sqrt{m_2 / (1-\beta_2^t)} + \epsilon}.$$

    This is ``torch.optim.Adam(params, lr=eta, betas=(beta1, beta2), eps=epsilon)``.
    Adam's $\eta$ is a step size in parameter units: start near $10^{-3}$,
    not the book's $\eta = 3$.

    Args:
        parameters: the `Parameter` objects to update.
        eta: the step size $\eta > 0$.
        beta1: decay of the first moment, $0 \le \beta_1 < 1$.
        beta2: decay of the second moment, $0 \le \beta_2 < 1$.
        epsilon: added to the denominator, $> 0$.

    Attributes:
        t: the number of steps taken.
        first_moment, second_moment: one array per parameter, shaped like it.
    """

    hyperparameters = {
        "eta": check_positive,
        "beta1": check_unit_interval,
        "beta2": check_unit_interval,
        "epsilon": check_positive,
    }
    counters = ("t",)
    buffers = ("first_moment", "second_moment")

    def __init__(
        self,
        parameters: Iterable[Parameter],
        eta: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        super().__init__(parameters)
        self.eta, self.beta1, self.beta2, self.epsilon = eta, beta1, beta2, epsilon
        self.t = 0
        self.first_moment: list[NDArray] = [np.zeros_like(p.data) for p in self.parameters]
        self.second_moment: list[NDArray] = [np.zeros_like(p.data) for p in self.parameters]

    @_spreads_non_finite  # (1 - beta1) g, beta1 < 1: the first moment is NaN or infinite where g is
    def update(self) -> None:
        """Apply one Adam step to every parameter."""
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        step = self.eta / (1 - b1**self.t)
        root_correction = math.sqrt(1 - b2**self.t)
        for p, m1, m2 in zip(self.parameters, self.first_moment, self.second_moment):
            g = p.grad
            m1 *= b1
            m1 += (1 - b1) * g  # m1 -> b1 m1 + (1 - b1) g
            m2 *= b2
            m2 += (1 - b2) * g * g  # m2 -> b2 m2 + (1 - b2) g*g
            p.data -= step * m1 / (np.sqrt(m2) / root_correction + self.epsilon)


def step_together(groups: Sequence[tuple[Optimizer, Sequence[Regularizer]]]) -> None:
    """Make one step of several optimizers as one: all of it, or (raising `NonFiniteError`) none of it.

    Each ``(optimizer, regularizers)`` pair is stepped as `Optimizer.step` steps one optimizer, with
    regularisers that act on that optimizer's parameters only: their ``add_gradient()`` first, then
    every optimizer's gradients are checked, then each one's ``before_update(eta)`` with that
    optimizer's own ``eta`` and its `update`. If any update raises or leaves a parameter or buffer
    non-finite or near overflow, every optimizer is put back as it was.
    """
    with np.errstate(all="ignore"):
        for _, regularizers in groups:
            for r in regularizers:
                r.add_gradient()
        for optimizer, _ in groups:  # every gradient is checked before anything changes
            _refuse_gradient(optimizer)
        kept = [(optimizer, _keep(optimizer)) for optimizer, _ in groups]
        try:
            for optimizer, regularizers in groups:
                for r in regularizers:
                    r.before_update(getattr(optimizer, "eta", 0.0))
                optimizer.update()
            for optimizer, _ in groups:
                _check_each(optimizer, _arrays(optimizer))
        except BaseException:
            for optimizer, state in kept:
                _restore(optimizer, state)
            raise
