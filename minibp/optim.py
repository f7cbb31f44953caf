r"""Optimizers: `SGD` (the book's rule), `Momentum`, `Nesterov` and `Adam`.

An optimizer holds a list of `Parameter` objects. After a backward pass has
filled their ``grad``, ``step()`` updates ``data`` in place;
``zero_grad()`` clears ``grad`` for the next mini-batch.

Because the costs average over the mini-batch, plain SGD with learning rate
$\eta$ reproduces the book's eq. 13–14 exactly:

$$w \to w - \eta \frac{\partial C}{\partial w}
  = w - \frac{\eta}{m}\sum_x \frac{\partial C_x}{\partial w}$$

**Contiguous storage.** When all its parameters share one dtype, an optimizer
moves their ``data`` into one contiguous array and their ``grad`` into
another (each `Parameter` then holds views of them; values are unchanged).
A step then checks every gradient for NaN in one pass and updates every
parameter with a few vectorised calls on the whole buffer, instead of a few
small calls per parameter. The optimizers' own state (velocities, moment
estimates) lives in buffers of the same layout. Keep using ``param.data``
rather than an array object taken from it before the optimizer was created.

**Saving and restoring.** ``state_dict()`` returns a flat dictionary of
strings, floats and numpy arrays (no objects, so it can be written to an
``.npz`` file and read back with ``allow_pickle=False``);
``load_state_dict(d)`` validates and restores it. The dictionary holds the
optimizer's type (``"type"``), its hyper-parameters (including the current
``eta``, which a schedule may have changed), its scalar counters and one
array per parameter and per state buffer, named ``"<buffer>.<i>"`` with the
shape of parameter ``i``.

Weight decay and L2 regularisation are not optimizer options here: see
`minibp.regularization`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
from numpy.typing import NDArray

from ._blas import _ASUM, _AXPY, _GEMM, SMALL, abs_sum, add_matmul, add_scaled, all_finite
from .errors import HyperparameterError, ModelFormatError, NonFiniteError, ShapeError
from .module import Parameter

__all__ = ["Optimizer", "SGD", "Momentum", "Nesterov", "Adam"]

#: What `Optimizer._split` returns: the parameters whose gradients stay held as
#: factors, and ``(data, grad)`` runs of the others in the flat buffers (or ``None``).
_Split = tuple[list[Parameter], "list[tuple[NDArray, NDArray]] | None"]


def check_positive(owner: str, name: str, value: float) -> float:
    """Return ``value`` as a float, or raise `HyperparameterError` unless it is finite and > 0."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise HyperparameterError(f"{owner}: {name} must be a number, got {value!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise HyperparameterError(f"{owner}: {name} must be a finite number > 0, got {value!r}")
    return value


def check_unit_interval(owner: str, name: str, value: float) -> float:
    """Return ``value`` as a float, or raise `HyperparameterError` unless $0 \\le$ value $< 1$."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise HyperparameterError(f"{owner}: {name} must be a number, got {value!r}") from None
    if not (0.0 <= value < 1.0):
        raise HyperparameterError(f"{owner}: {name} must be in [0, 1), got {value!r}")
    return value


class Optimizer:
    """Base class: holds the parameters, clears their gradients, checks them before a step.

    Subclasses implement `update`; `step` checks the gradients first. A
    subclass declares its hyper-parameters in ``_hyperparameters`` (each
    validated by ``_check_hyperparameter``), its scalar counters in
    ``_counters`` and its per-parameter state buffers in ``_buffers``; the
    base class then provides `state_dict` and `load_state_dict`.

    Args:
        parameters: the `Parameter` objects to update, e.g. ``net.parameters()``.

    Attributes:
        parameters: the list of parameters.
        flat_data: all parameters' ``data`` in one 1-D array (``None`` if
            their dtypes differ or another optimizer has since taken them over).
        flat_grad: all parameters' ``grad`` in one 1-D array, likewise.
    """

    _hyperparameters: tuple[str, ...] = ()
    _counters: tuple[str, ...] = ()
    _buffers: tuple[str, ...] = ()

    def __init__(self, parameters: Iterable[Parameter]) -> None:
        params = list(parameters)
        name = type(self).__name__
        if not params:
            raise ValueError(f"{name}: got an empty parameter list")
        for i, p in enumerate(params):
            if not isinstance(p, Parameter):
                raise TypeError(f"{name}: item {i} is {type(p).__name__}, not a Parameter")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter appears twice in the list")
        self.parameters: list[Parameter] = params
        self._flat_data: NDArray | None = None
        self._flat_grad: NDArray | None = None
        dtypes = {p.data.dtype for p in params}
        self._size = sum(p.data.size for p in params)
        self._state_dtype = np.dtype(next(iter(dtypes))) if len(dtypes) == 1 else np.dtype(np.float64)
        if len(dtypes) == 1:
            self._flat_data = np.empty(self._size, dtype=self._state_dtype)
            self._flat_grad = np.empty_like(self._flat_data)
            for p, data, grad in zip(params, self._views(self._flat_data), self._views(self._flat_grad)):
                p._rehome(data, grad)
        self._runs: dict[tuple[int, ...], list[tuple[NDArray, NDArray]]] = {}

    def _views(self, flat: NDArray) -> list[NDArray]:
        """Cut a flat buffer of all parameters' size into one view per parameter, shaped like it."""
        views, offset = [], 0
        for p in self.parameters:
            k = p.data.size
            views.append(flat[offset : offset + k].reshape(p.data.shape))
            offset += k
        return views

    def _new_buffer(self) -> tuple[NDArray, list[NDArray]]:
        """Return a zeroed flat state buffer of all parameters' size and its per-parameter views."""
        flat = np.zeros(self._size, dtype=self._state_dtype)
        return flat, self._views(flat)

    @property
    def flat_data(self) -> NDArray | None:
        return self._flat_data if self._owns_storage() else None

    @property
    def flat_grad(self) -> NDArray | None:
        if not self._owns_storage():
            return None
        for p in self.parameters:
            p.grad  # noqa: B018  (writes out gradients held lazily, so the buffer is complete)
        return self._flat_grad

    def _owns_storage(self) -> bool:
        flat = self._flat_data
        if flat is None:
            return False
        grad = self._flat_grad
        for p in self.parameters:
            if p.data.base is not flat or p._grad.base is not grad:
                return False
        return True

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to zero (lazily, see `minibp.module.Parameter`)."""
        for p in self.parameters:
            p._grad_is_zero, p._factors = True, None  # what Parameter.zero_grad does, without a call per parameter

    #: Whether `update` applies gradients held as factors (`Parameter.grad_factors`) itself.
    #: Other optimizers get every gradient written out by `check_gradients`.
    uses_grad_factors: bool = False

    def _split(self) -> _Split:
        """Sort the gradients for this step: those `update` takes as factors, and the rest.

        Writes out every gradient held lazily that `update` cannot take as it
        is. Returns ``(factored, runs)``: the parameters whose gradients stay
        held as factors (only for an optimizer with ``uses_grad_factors``), and
        the other parameters' ``(data, grad)`` as views of the flat buffers,
        adjacent parameters merged into one run (``None`` when the optimizer
        does not own the buffers).
        """
        factored: list[Parameter] = []
        skip: tuple[int, ...] = ()
        use_factors = self.uses_grad_factors
        flat_data, flat_grad = self._flat_data, self._flat_grad
        owns = flat_data is not None
        for i, p in enumerate(self.parameters):
            if p._factors is not None and use_factors:
                factored.append(p)
                skip += (i,)
            elif p._grad_is_zero or p._factors is not None:
                p._materialize()
            if owns and (p.data.base is not flat_data or p._grad.base is not flat_grad):
                owns = False  # see _owns_storage
        if not owns:
            return factored, None
        runs = self._runs.get(skip)
        if runs is None:
            runs, offset, start = [], 0, 0
            for i, p in enumerate(self.parameters):
                if i in skip:
                    if offset > start:
                        runs.append((self._flat_data[start:offset], self._flat_grad[start:offset]))
                    start = offset + p.data.size
                offset += p.data.size
            if offset > start:
                runs.append((self._flat_data[start:offset], self._flat_grad[start:offset]))
            self._runs[skip] = runs
        return factored, runs

    def check_gradients(self) -> None:
        """Raise `NonFiniteError` if any gradient holds NaN or infinity.

        A gradient held as factors ``a @ b`` is checked through them: every
        entry of the product is at most ``sum|a| * sum|b|`` in size, so when
        that bound is finite so is the product (otherwise the product is written
        out and checked entry by entry).
        """
        self._check(self._split())

    def _check(self, split: _Split) -> _Split:
        """`check_gradients` on the result of `_split`; returns the split the update should use."""
        factored, runs = split
        written = False
        for p in factored:
            a, b = p._factors  # type: ignore[misc]
            if not math.isfinite(abs_sum(a) * abs_sum(b)):
                p._materialize()  # the bound overflowed: write the product out and check it entry by entry
                written = True
        if written:
            split = self._split()
            factored, runs = split
        asum = _ASUM.get(self._state_dtype)
        if runs is not None and asum is not None:
            for _, g in runs:
                if not math.isfinite(asum(g)):  # NaN and infinity always reach the sum of |g|
                    break
            else:
                return split
        for i, p in enumerate(self.parameters):
            if p._factors is not None:
                continue
            g = p.grad
            if not all_finite(g):
                bad = int(np.count_nonzero(~np.isfinite(g)))
                raise NonFiniteError(
                    f"{type(self).__name__}.step: gradient of parameter {i} {g.shape} is not finite "
                    f"({bad} non-finite entries); no parameter was changed"
                )
        return split

    def step(self) -> None:
        """Check every gradient, then update every parameter.

        Raises:
            NonFiniteError: a gradient holds NaN or infinity; nothing is changed.
        """
        self._apply(self._check(self._split()))

    def _apply(self, split: _Split) -> None:
        """`update`, given the gradients as `_check` left them; optimizers that use the split override it."""
        self.update()

    def update(self) -> None:
        """Apply the update rule to every parameter (gradients already checked)."""
        raise NotImplementedError

    # -- state ------------------------------------------------------------------------------------

    def _check_hyperparameter(self, name: str, value: object) -> float:
        """Validate one hyper-parameter; subclasses with other ranges than ``> 0`` override this."""
        return check_positive(type(self).__name__, name, value)

    def _buffer_views(self, name: str) -> list[NDArray]:
        return getattr(self, f"_{name}_views")

    def state_dict(self) -> dict:
        """Return the optimizer's state as plain values: ``str``, ``float`` and numpy arrays.

        Returns:
            ``{"type": class name, <hyper-parameter>: float, ..., <counter>: float, ...,
            "<buffer>.<i>": array shaped like parameter i, ...}``. Arrays are copies.

        Example:
            >>> from minibp import mlp
            >>> net = mlp([2, 3, 1], rng=0)
            >>> sorted(Momentum(net.parameters(), eta=0.1, mu=0.9).state_dict())[:3]
            ['eta', 'mu', 'type']
        """
        d: dict = {"type": type(self).__name__}
        for name in self._hyperparameters + self._counters:
            d[name] = float(getattr(self, name))
        for name in self._buffers:
            for i, view in enumerate(self._buffer_views(name)):
                d[f"{name}.{i}"] = view.copy()
        return d

    def load_state_dict(self, state: Mapping) -> None:
        """Restore a state returned by `state_dict`, after checking all of it.

        Values may also be 0-d numpy arrays (as read back from an ``.npz``
        file). Nothing is changed unless the whole state is valid.

        Args:
            state: the dictionary.

        Raises:
            ModelFormatError: wrong optimizer type, or missing or unexpected keys.
            HyperparameterError: a hyper-parameter or counter is out of range.
            ShapeError: a buffer's shape differs from its parameter's.
            NonFiniteError: a buffer holds NaN or infinity.
        """
        name = type(self).__name__
        if not isinstance(state, Mapping):
            raise ModelFormatError(f"{name}.load_state_dict: expected a mapping, got {type(state).__name__}")
        kind = state.get("type")
        kind = str(kind.item()) if isinstance(kind, np.ndarray) and kind.ndim == 0 else kind
        if kind != name:
            raise ModelFormatError(f"{name}.load_state_dict: the state belongs to optimizer {kind!r}, not {name!r}")
        expected = {"type", *self._hyperparameters, *self._counters}
        expected |= {f"{b}.{i}" for b in self._buffers for i in range(len(self.parameters))}
        missing, unexpected = expected - set(state), set(state) - expected
        if missing or unexpected:
            raise ModelFormatError(
                f"{name}.load_state_dict: missing keys {sorted(missing)}, unexpected keys {sorted(unexpected)} "
                f"(for {len(self.parameters)} parameters)"
            )
        scalars = {}
        for key in self._hyperparameters + self._counters:
            value = np.asarray(state[key])
            if value.ndim != 0 or value.dtype.kind not in "fiu":
                raise HyperparameterError(f"{name}.load_state_dict: {key} must be a number, got {state[key]!r}")
            scalars[key] = float(value)
            if key in self._hyperparameters:
                scalars[key] = self._check_hyperparameter(key, scalars[key])
            elif not (scalars[key] >= 0 and scalars[key] == math.floor(scalars[key])):
                raise HyperparameterError(f"{name}.load_state_dict: {key} must be a count >= 0, got {state[key]!r}")
        arrays = {}
        for b in self._buffers:
            for i, p in enumerate(self.parameters):
                key = f"{b}.{i}"
                value = np.asarray(state[key])
                if value.shape != p.data.shape:
                    raise ShapeError(
                        f"{name}.load_state_dict: {key} has shape {value.shape}, but parameter {i} has {p.data.shape}"
                    )
                if value.dtype.kind not in "fiu":
                    raise ModelFormatError(f"{name}.load_state_dict: {key} must be numeric, got dtype {value.dtype}")
                if not np.isfinite(value).all():
                    raise NonFiniteError(f"{name}.load_state_dict: {key} contains NaN or infinity")
                arrays[key] = value
        for key, value in scalars.items():
            setattr(self, key, value)
        for b in self._buffers:
            for i, view in enumerate(self._buffer_views(b)):
                view[...] = arrays[f"{b}.{i}"]

    def _hyper_repr(self) -> str:
        return ", ".join(f"{h}={getattr(self, h)}" for h in self._hyperparameters)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._hyper_repr()})"


class SGD(Optimizer):
    r"""Plain (stochastic) gradient descent: $\theta \to \theta - \eta\,\nabla_\theta C$.

    Args:
        parameters: the `Parameter` objects to update.
        eta: the learning rate $\eta > 0$.

    Example:
        >>> from minibp import mlp
        >>> net = mlp([2, 3, 1], rng=0)
        >>> optimizer = SGD(net.parameters(), eta=3.0)
    """

    _hyperparameters = ("eta",)

    uses_grad_factors = True

    def __init__(self, parameters: Iterable[Parameter], eta: float) -> None:
        super().__init__(parameters)
        self.eta = check_positive("SGD", "eta", eta)

    def step(self) -> None:
        """Check every gradient, then apply eq. 13–14 (see `Optimizer.step`).

        The usual case runs in this one function: after the large products of a
        mini-batch have been through the cache, every further Python call can cost
        up to a microsecond, so the check and the update call BLAS directly.
        Anything unusual (gradients outside the flat buffers, a dtype BLAS does
        not cover, a non-finite value) takes the general path, which names the
        offending parameter.
        """
        split = self._split()
        factored, runs = split
        asum = _ASUM.get(self._state_dtype)
        if runs is None or asum is None:
            return self._apply(self._check(split))
        for p in factored:  # bound every entry of the product delta a^T by sum|delta| sum|a|
            a, b = p._factors  # type: ignore[misc]
            if not (a.flags.c_contiguous and b.flags.c_contiguous):
                return self._apply(self._check(split))
            if not math.isfinite(asum(a.ravel()) * asum(b.ravel())):
                return self._apply(self._check(split))
        for _, grad in runs:
            if not math.isfinite(asum(grad)):  # NaN and infinity always reach the sum of |g|
                return self._apply(self._check(split))
        minus_eta = -self.eta
        gemm, axpy = _GEMM[self._state_dtype], _AXPY[self._state_dtype]
        for p in factored:  # dC/dw = delta a^T, held as its two factors
            delta, a_t = p._factors  # type: ignore[misc]
            w = p.data  # a view of the flat buffer: C-ordered, so w^T is Fortran-ordered
            if w.size >= SMALL and w.flags.c_contiguous:  # w^T += -eta (a_t)^T delta^T: one gemm into w, no copies
                gemm(minus_eta, a_t.T, delta.T, 1.0, w.T, overwrite_c=True)
            else:
                add_matmul(w, delta, a_t, alpha=minus_eta)
        for data, grad in runs:  # the other parameters, side by side: one axpy per run
            axpy(grad, data, a=minus_eta)  # eq. 13-14: w -> w - eta dC/dw

    def update(self) -> None:
        """Apply eq. 13–14, $w \\to w - \\eta\\,\\partial C/\\partial w$, to every parameter."""
        self._apply(self._split())

    def _apply(self, split: _Split) -> None:
        minus_eta = -self.eta
        factored, runs = split
        for p in factored:  # dC/dw = delta a^T, held as its two factors
            delta, a_t = p._factors  # type: ignore[misc]
            add_matmul(p.data, delta, a_t, alpha=minus_eta)  # w -> w - eta delta a^T, one gemm into w
        if runs is not None:  # the other parameters lie side by side in one buffer: one call per run
            for data, grad in runs:
                add_scaled(data, minus_eta, grad)  # eq. 13-14: w -> w - eta dC/dw
            return
        for p in self.parameters:  # parameters that do not share a buffer
            if p._factors is None:
                add_scaled(p.data, minus_eta, p.grad)


class Momentum(Optimizer):
    r"""Gradient descent with momentum, in the velocity form of the book's chapter 3.

    Each parameter $w$ has a velocity $v$ (zero at the start), updated by

    $$v \to v' = \mu v - \eta \nabla C, \qquad w \to w' = w + v'.$$

    $\mu$ is the momentum coefficient ("friction" $1 - \mu$); $\mu = 0$ is
    plain `SGD`. With a constant $\eta$ this is exactly
    ``torch.optim.SGD(params, lr=eta, momentum=mu)``, whose buffer is
    $-v/\eta$.

    Args:
        parameters: the `Parameter` objects to update.
        eta: the learning rate $\eta > 0$.
        mu: the momentum coefficient, $0 \le \mu < 1$.

    Attributes:
        velocity: the velocities, one flat array in parameter order
            (``state_dict`` splits it by parameter).
    """

    _hyperparameters = ("eta", "mu")
    _buffers = ("velocity",)

    def __init__(self, parameters: Iterable[Parameter], eta: float, mu: float = 0.9) -> None:
        super().__init__(parameters)
        name = type(self).__name__
        self.eta = check_positive(name, "eta", eta)
        self.mu = check_unit_interval(name, "mu", mu)
        self.velocity, self._velocity_views = self._new_buffer()

    def _check_hyperparameter(self, name: str, value: object) -> float:
        if name == "mu":
            return check_unit_interval(type(self).__name__, name, value)
        return super()._check_hyperparameter(name, value)

    def update(self) -> None:
        r"""Apply $v \to \mu v - \eta\nabla C$, $w \to w + v$ to every parameter."""
        _, runs = self._split()  # writes out gradients held lazily; runs is None unless the flat buffers are ours
        if runs is not None:
            self._update(self._flat_data, self._flat_grad, self.velocity)  # all parameters at once
            return
        for p, v in zip(self.parameters, self._velocity_views):
            self._update(p.data, p.grad, v)

    def _update(self, w: NDArray, g: NDArray, v: NDArray) -> None:
        v *= self.mu
        add_scaled(v, -self.eta, g)  # v -> mu v - eta dC/dw
        w += v  # w -> w + v


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

    def _update(self, w: NDArray, g: NDArray, v: NDArray) -> None:
        v *= self.mu
        add_scaled(v, -self.eta, g)  # v -> mu v - eta dC/dw
        add_scaled(w, self.mu, v)  # w -> w + mu v' ...
        add_scaled(w, -self.eta, g)  # ... - eta dC/dw


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
        first_moment, second_moment: flat arrays in parameter order.
    """

    _hyperparameters = ("eta", "beta1", "beta2", "epsilon")
    _counters = ("t",)
    _buffers = ("first_moment", "second_moment")

    def __init__(
        self,
        parameters: Iterable[Parameter],
        eta: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        super().__init__(parameters)
        self.eta = check_positive("Adam", "eta", eta)
        self.beta1 = check_unit_interval("Adam", "beta1", beta1)
        self.beta2 = check_unit_interval("Adam", "beta2", beta2)
        self.epsilon = check_positive("Adam", "epsilon", epsilon)
        self.t = 0
        self.first_moment, self._first_moment_views = self._new_buffer()
        self.second_moment, self._second_moment_views = self._new_buffer()
        self._scratch, self._scratch_views = self._new_buffer()

    def _check_hyperparameter(self, name: str, value: object) -> float:
        if name in ("beta1", "beta2"):
            return check_unit_interval("Adam", name, value)
        return super()._check_hyperparameter(name, value)

    def load_state_dict(self, state: Mapping) -> None:
        super().load_state_dict(state)
        self.t = int(self.t)

    def update(self) -> None:
        """Apply one Adam step to every parameter."""
        _, runs = self._split()  # writes out gradients held lazily; runs is None unless the flat buffers are ours
        self.t += 1
        if runs is not None:
            self._update(self._flat_data, self._flat_grad, self.first_moment, self.second_moment, self._scratch)
            return
        views = zip(self._first_moment_views, self._second_moment_views, self._scratch_views)
        for p, (m1, m2, s) in zip(self.parameters, views):
            self._update(p.data, p.grad, m1, m2, s)

    def _update(self, w: NDArray, g: NDArray, m1: NDArray, m2: NDArray, s: NDArray) -> None:
        b1, b2 = self.beta1, self.beta2
        m1 *= b1
        add_scaled(m1, 1.0 - b1, g)  # m1 -> b1 m1 + (1 - b1) g
        np.multiply(g, g, out=s)
        m2 *= b2
        add_scaled(m2, 1.0 - b2, s)  # m2 -> b2 m2 + (1 - b2) g*g
        np.sqrt(m2, out=s)
        s /= math.sqrt(1.0 - b2**self.t)  # sqrt of the bias-corrected second moment
        s += self.epsilon
        np.divide(m1, s, out=s)
        add_scaled(w, -self.eta / (1.0 - b1**self.t), s)  # w -> w - eta m1_hat / (sqrt(m2_hat) + eps)
