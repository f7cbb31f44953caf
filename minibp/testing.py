r"""A test kit for modules: check your own layer against the `Module` contract in one call.

```python
from minibp.testing import check_module

check_module(MyLayer(4, 3), (4, 5))     # raises AssertionError naming what failed, and by how much
```

`check_module` runs every property a module must have for the rest of
minibp (containers, optimizers, the training loop) to work with it, in
float64, in this order:

| check | what it asserts |
|---|---|
| parameters registered | each `Parameter` held, even in a dict, list or sub-module, is in ``parameters()`` |
| forward output | a 2-D float64 array with one column per input column, finite |
| backward output | ``backward`` returns ``(n_in, m)``; each ``grad`` keeps its parameter's shape |
| inputs not mutated | ``x``, ``grad_output`` and the parameters are unchanged by forward and backward |
| backward adds into grad | a second backward without ``zero_grad`` doubles every ``grad`` (``+=``, not ``=``) |
| backward_parameters | `parameters_only` (what `train` calls) adds the same ``grad`` as ``backward``, and adds up |
| backward repeatable | after ``zero_grad``, the same forward and backward give the same results |
| backward linear | $b(\alpha g_1 + \beta g_2) = \alpha b(g_1) + \beta b(g_2)$ for input and parameter gradients |
| zero upstream gradient | ``backward(0)`` gives zero gradients everywhere |
| memory layouts | Fortran-ordered, strided and read-only ``x`` and ``grad_output`` work and agree |
| batching and column order | permuting or splitting the columns permutes or splits the results |
| gradient check | `minibp.gradcheck` of the input and every parameter, norm-relative error $\le$ ``tolerance`` |
| optimizer step | an `SGD` step updates the parameters in place and moves the output as the gradient predicts |

The registration check also asks ``parameters()`` and ``named_parameters()``
for the same objects on every call. The next two checks produce the reference
output and gradients the others compare with: if either fails, the rest are
not run. The "adds into grad", "backward_parameters" and "optimizer step"
checks need parameters and are skipped for a module without any.

Agreement is measured as the norm-relative difference
$\|a - b\| / \max(\|a\|, \|b\|)$ and must stay within ``roundoff``
(default $10^{-10}$: float64 reassociation differs by about $10^{-16}$).

**The optimizer step.** With a random upstream gradient $u$, the test cost
$C(\theta) = \sum_{ij} u_{ij} f(x; \theta)_{ij}$ and $g = \nabla_\theta C$
from ``backward(u)``, an `SGD` step $\theta \to \theta - \eta g$ changes the
cost by $-\eta \|g\|^2$ to first order. The check takes one step of all the
parameters (each must change, in place), then, for each parameter alone,
compares half the difference between a step down and a step up its gradient,
$\tfrac12[C(\theta - \eta g) - C(\theta + \eta g)] = -\eta\|g\|^2 + O(\eta^3)$,
with the prediction: they must agree within a relative $10^{-3}$. The first
$\eta$ tried moves the parameter by at most $10^{-3}$ of its size and changes
$C$ by at most $10^{-4}$ of $\sum_{ij}|u_{ij} f_{ij}|$; should curvature still
spoil the prediction, $\eta$ is divided by ten, down to a change of $10^{-8}$
of that sum (float64 resolves it to $10^{-4}$). A gradient too small for any
such $\eta$ (a saturated network) is noted, not failed. This fails a layer
whose forward reads a copy of its weights (``self.W = self.w.data.copy()``)
rather than the parameter, naming the parameter. Holding the array itself
(``self.W = self.w.data``) is fine: a parameter's arrays never move. The
parameters get their values back afterwards.

**Random modules.** Every `numpy.random.Generator` found in the module's
attributes (a `Dropout`'s ``rng``, say) is put back into the same state
before each forward call, so that a training-mode forward draws the same
mask every time and can be checked like any other function. The
generators are left as they were found, and so are the parameters, the
gradients (zeroed) and the training mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ._checks import T, as_generator, check_network
from .gradcheck import gradcheck
from .module import Module, Parameter, parameters_only
from .optim import SGD

__all__ = ["ContractReport", "check_module"]

_STEP_TOLERANCE = 1e-3  # accepted relative error of the first-order prediction of an SGD step
_LONGEST_STEP = 1e-3  # largest SGD step tried, relative to the parameters' size
_LARGEST_CHANGE = 1e-4  # largest predicted change of the test cost tried, relative to the size of its terms
_SMALLEST_CHANGE = 1e-8  # smallest one: float64 round-off in the test cost stays below 1e-4 of it


@dataclass
class ContractReport:
    """The outcome of `check_module`.

    Attributes:
        module: ``repr`` of the module checked.
        input_shape: shape of the input batch used, ``(n_in, m)``.
        results: each check's name → ``"ok"`` or what went wrong.
        gradcheck_errors: the norm-relative errors of the gradient check,
            for ``"input"`` and each named parameter.
        notes: how the module was checked (for example, replayed random draws).
    """

    module: str
    input_shape: tuple[int, int]
    results: dict[str, str] = field(default_factory=dict)
    gradcheck_errors: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> dict[str, str]:
        """The checks that failed, with their messages."""
        return {k: v for k, v in self.results.items() if v != "ok"}

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return not self.failures

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        failures = self.failures
        head = (
            f"{self.module} passes all {len(self.results)} contract checks"
            if not failures
            else f"{self.module} fails {len(failures)} of {len(self.results)} contract checks"
        )
        lines = [f"{head} (input {self.input_shape}, float64):"]
        lines += [f"  - {name}: {message}" for name, message in self.results.items()]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


class _Failure(Exception):
    """A contract check failed; the message says how."""


# -- helpers ----------------------------------------------------------------------------------------


def _relative(a: NDArray, b: NDArray) -> float:
    """Norm-relative difference of two arrays (0 when both are zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)))
    if scale == 0.0:
        return 0.0
    return float(np.linalg.norm(a - b)) / scale


def _walk(value: object, path: str = "", seen: set[int] | None = None) -> Iterator[tuple[str, object]]:
    """Yield ``(path, leaf)`` for every object reachable from ``value`` through modules, dicts, lists and tuples.

    Paths read like Python: ``w``, ``params['w']``, ``layers[0].w``. Each
    module or container is entered once, so cycles end.
    """
    seen = set() if seen is None else seen
    if isinstance(value, Module):
        items: Iterator[tuple[str, object]] = ((f"{path}.{k}" if path else k, v) for k, v in vars(value).items())
    elif isinstance(value, dict):
        items = ((f"{path}[{k!r}]", v) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        yield path, value
        return
    if id(value) in seen:
        return
    seen.add(id(value))
    for item_path, item in items:
        yield from _walk(item, item_path, seen)


def _held(module: Module, kind: type[T]) -> list[tuple[str, T]]:
    """Every object of type ``kind`` that ``module`` holds, each once, with the first path it was found at."""
    found: dict[int, tuple[str, T]] = {}
    for path, value in _walk(module):
        if isinstance(value, kind) and id(value) not in found:
            found[id(value)] = (path, value)
    return list(found.values())


class _Replaying(Module):
    """Wraps a module so that each forward starts its generators from the same state."""

    def __init__(self, module: Module) -> None:
        self.inner = module
        self.generators = [(path, gen, gen.bit_generator.state) for path, gen in _held(module, np.random.Generator)]

    def rewind(self) -> None:
        """Put every generator back into the state it had when the wrapper was built."""
        for _, gen, state in self.generators:
            gen.bit_generator.state = state

    def forward(self, x: NDArray) -> NDArray:
        self.rewind()
        return self.inner.forward(x)

    def backward(self, grad_output: NDArray) -> NDArray:
        return self.inner.backward(grad_output)

    def named_parameters(self, prefix: str = "", remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        return self.inner.named_parameters(prefix, remove_duplicate)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        return self.inner.named_children()  # transparent, as named_parameters: the module's own names and depth

    def zero_grad(self) -> None:
        self.inner.zero_grad()


def _layouts(a: NDArray) -> dict[str, NDArray]:
    """``a`` as a Fortran-ordered, a strided (non-contiguous) and a read-only array."""
    fortran = np.asfortranarray(a)
    wide = np.zeros((a.shape[0], 2 * a.shape[1] + 1), dtype=a.dtype)
    strided = wide[:, 1::2]
    strided[...] = a
    read_only = a.copy()
    read_only.flags.writeable = False
    return {"Fortran-ordered": fortran, "non-contiguous": strided, "read-only": read_only}


@dataclass
class _Context:
    """What every check reads: the module, its input, the tolerances and the reference results.

    The reference results (``out``, ``g1``, ``g2``, ``grad_input``,
    ``grads``) are filled in by the first two checks, which every later check
    relies on.
    """

    module: Module
    replay: _Replaying
    x: NDArray  # the input batch, (n_in, m)
    gen: np.random.Generator
    report: ContractReport
    tolerance: float
    roundoff: float
    eps: float
    named: list[tuple[str, Parameter]]
    out: NDArray = field(default_factory=lambda: np.empty((0, 0)))  # forward(x), (n_out, m)
    g1: NDArray = field(default_factory=lambda: np.empty((0, 0)))  # random upstream gradients, (n_out, m)
    g2: NDArray = field(default_factory=lambda: np.empty((0, 0)))
    grad_input: NDArray = field(default_factory=lambda: np.empty((0, 0)))  # backward(g1), (n_in, m)
    grads: dict[str, NDArray] = field(default_factory=dict)  # each parameter's grad after backward(g1)

    def run(self, x: NDArray, g: NDArray) -> tuple[NDArray, NDArray, dict[str, NDArray]]:
        """Zero the grads, forward ``x``, backward ``g``: return the output, ``grad_input`` and copies of the grads."""
        self.module.zero_grad()
        out = self.replay.forward(x)
        grad_input = self.module.backward(g)
        return out, grad_input, {name: p.grad.copy() for name, p in self.named}

    def agree(self, what: str, a: NDArray, b: NDArray) -> None:
        """Raise `_Failure` unless ``a`` and ``b`` have one shape and agree within ``roundoff``."""
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            raise _Failure(f"{what}: shapes differ, {a.shape} vs {b.shape}")
        err = _relative(a, b)
        if not err <= self.roundoff:
            raise _Failure(f"{what}: relative difference {err:.2e} > {self.roundoff:.0e}")


# -- the checks, in the order they run --------------------------------------------------------------


def _check_registered(ctx: _Context) -> None:
    """Every `Parameter` the module holds is listed by ``parameters()``, which is stable and agrees with its names."""
    listed = ctx.module.parameters()
    named = [p for _, p in ctx.module.named_parameters()]
    if [id(p) for p in named] != [id(p) for _, p in ctx.module.named_parameters()]:
        raise _Failure(
            "named_parameters() yields different Parameter objects on each call; it must yield the ones the "
            "module keeps (an optimizer updates those it was given)"
        )
    if [id(p) for p in listed] != [id(p) for p in named]:
        raise _Failure(
            "parameters() and named_parameters() list different Parameter objects: override neither (Module finds "
            "the parameters by itself) or both alike"
        )
    registered = {id(p) for p in listed}
    stray = [(path, p) for path, p in _held(ctx.module, Parameter) if id(p) not in registered]
    if stray:
        where = ", ".join(f"{path} {getattr(p, 'shape', '')}" for path, p in stray)
        raise _Failure(
            f"Parameter not in module.parameters(): {where}. No optimizer updates such a parameter and save() does "
            "not write it: a Parameter is found only as an attribute of the module or of a sub-module "
            "(self.w = Parameter(...)), and a sub-module only as an attribute or in a list or tuple attribute"
        )


def _check_forward_output(ctx: _Context) -> None:
    """Forward gives a finite float64 ``(n_out, m)`` array, the same twice; sets ``out``, ``g1``, ``g2``."""
    m = ctx.x.shape[1]
    out1 = ctx.replay.forward(ctx.x.copy())
    out2 = ctx.replay.forward(ctx.x.copy())
    if not isinstance(out1, np.ndarray):
        raise _Failure(f"forward returned {type(out1).__name__}, not a numpy array")
    if out1.ndim != 2 or out1.shape[1] != m:
        raise _Failure(f"forward returned shape {out1.shape} for input {ctx.x.shape}; expected (n_out, {m})")
    if out1.dtype != np.float64:
        raise _Failure(f"forward returned dtype {out1.dtype} for a float64 input")
    if not np.isfinite(out1).all():
        raise _Failure("forward returned NaN or infinity for a finite input")
    if not np.array_equal(out1, out2):
        raise _Failure(
            f"forward is not repeatable: two calls on the same input differ by {_relative(out1, out2):.2e} "
            "(relative) even with the module's random generators replayed"
        )
    ctx.out = out1
    ctx.g1, ctx.g2 = ctx.gen.standard_normal(out1.shape), ctx.gen.standard_normal(out1.shape)


def _check_backward_output(ctx: _Context) -> None:
    """Backward returns a finite ``(n_in, m)`` array and grads shaped like their parameters; sets the references."""
    _, grad_input, grads = ctx.run(ctx.x.copy(), ctx.g1.copy())
    if not isinstance(grad_input, np.ndarray) or grad_input.shape != ctx.x.shape:
        shape = getattr(grad_input, "shape", type(grad_input).__name__)
        raise _Failure(f"backward returned {shape}; expected the input's shape {ctx.x.shape}")
    if grad_input.dtype.kind != "f" or not np.isfinite(grad_input).all():
        raise _Failure(f"backward returned dtype {grad_input.dtype} or non-finite values")
    for name, p in ctx.named:
        if grads[name].shape != p.data.shape:
            raise _Failure(f"grad of parameter {name!r} has shape {grads[name].shape}, expected {p.data.shape}")
    ctx.grad_input, ctx.grads = grad_input, grads


def _check_not_mutated(ctx: _Context) -> None:
    """Forward and backward leave ``x``, ``grad_output`` and the parameters' values alone."""
    xin, g = ctx.x.copy(), ctx.g1.copy()
    before = {name: p.data.copy() for name, p in ctx.named}
    ctx.run(xin, g)
    if not np.array_equal(xin, ctx.x):
        raise _Failure(f"forward or backward mutated its input x ({np.count_nonzero(xin != ctx.x)} entries changed)")
    if not np.array_equal(g, ctx.g1):
        raise _Failure(f"backward mutated grad_output ({np.count_nonzero(g != ctx.g1)} entries changed)")
    for name, p in ctx.named:
        if not np.array_equal(p.data, before[name]):
            raise _Failure(f"forward or backward changed parameter {name!r} (only an optimizer may)")


def _check_accumulates(ctx: _Context) -> None:
    """Two backward calls without ``zero_grad`` leave twice one call's grad: backward adds (``+=``)."""
    ctx.module.zero_grad()
    for _ in range(2):
        ctx.replay.forward(ctx.x.copy())
        ctx.module.backward(ctx.g1.copy())
    for name, p in ctx.named:
        err = _relative(p.grad, 2 * ctx.grads[name])
        if not err <= ctx.roundoff:
            raise _Failure(
                f"parameter {name!r}: after two backward calls without zero_grad, grad differs from twice "
                f"one call's by {err:.2e} (relative); backward must add into grad (+=), not assign it"
            )


def _check_parameters_only(ctx: _Context) -> None:
    """Two `parameters_only` calls (what `train` calls: ``backward_parameters`` or ``backward``) without
    ``zero_grad`` add twice what one ``backward`` adds, and leave ``grad_output`` alone."""
    ctx.module.zero_grad()
    g = ctx.g1.copy()
    for _ in range(2):
        ctx.replay.forward(ctx.x.copy())
        parameters_only(ctx.module, g)
    if not np.array_equal(g, ctx.g1):
        raise _Failure("backward_parameters changed its grad_output")
    for name, p in ctx.named:
        err = _relative(p.grad, 2 * ctx.grads[name])
        if not err <= ctx.roundoff:
            raise _Failure(
                f"parameter {name!r}: two backward_parameters calls leave a grad {err:.2e} (relative) away from "
                "twice one backward's; it must add (+=) the same gradients, without the input's"
            )


def _check_repeatable(ctx: _Context) -> None:
    """After ``zero_grad``, the same forward and backward give the reference results again."""
    _, gi, gr = ctx.run(ctx.x.copy(), ctx.g1.copy())
    ctx.agree("grad_input of a second identical backward", gi, ctx.grad_input)
    for name in gr:
        ctx.agree(
            f"grad of parameter {name!r} in a second identical backward (after zero_grad)", gr[name], ctx.grads[name]
        )


def _check_linear(ctx: _Context) -> None:
    r"""Backward is linear in its upstream gradient: $b(\alpha g_1 + \beta g_2) = \alpha b(g_1) + \beta b(g_2)$."""
    alpha, beta = 0.75, -1.25
    _, gi2, gr2 = ctx.run(ctx.x.copy(), ctx.g2.copy())
    _, gi3, gr3 = ctx.run(ctx.x.copy(), alpha * ctx.g1 + beta * ctx.g2)
    ctx.agree("grad_input: b(αg1+βg2) vs αb(g1)+βb(g2)", gi3, alpha * ctx.grad_input + beta * gi2)
    for name in gr3:
        ctx.agree(
            f"parameter {name!r}: grad for αg1+βg2 vs α·grad(g1)+β·grad(g2)",
            gr3[name],
            alpha * ctx.grads[name] + beta * gr2[name],
        )


def _check_zero_upstream(ctx: _Context) -> None:
    """``backward(0)`` gives exactly zero gradients, for the input and every parameter."""
    _, gi, gr = ctx.run(ctx.x.copy(), np.zeros_like(ctx.g1))
    worst = float(np.abs(gi).max())
    if worst != 0.0:
        raise _Failure(f"backward(0) returned a grad_input with entries up to {worst:.2e}")
    for name, value in gr.items():
        worst = float(np.abs(value).max()) if value.size else 0.0
        if worst != 0.0:
            raise _Failure(f"backward(0) left parameter {name!r} with grad entries up to {worst:.2e}")


def _check_layouts(ctx: _Context) -> None:
    """Fortran-ordered, strided and read-only ``x`` and ``grad_output`` give the reference results."""
    xs, gs = _layouts(ctx.x), _layouts(ctx.g1)
    for kind in xs:
        o, gi, gr = ctx.run(xs[kind], gs[kind])
        ctx.agree(f"{kind} input: forward output", o, ctx.out)
        ctx.agree(f"{kind} input: grad_input", gi, ctx.grad_input)
        for name in gr:
            ctx.agree(f"{kind} input: grad of parameter {name!r}", gr[name], ctx.grads[name])


def _check_batching(ctx: _Context) -> None:
    """Permuting the columns permutes the results; two half batches give what one batch gives."""
    module, m = ctx.module, ctx.x.shape[1]
    was_training = module.training
    if ctx.replay.generators and was_training:
        # Which random draw meets which entry depends on the batch layout: compare in evaluation mode.
        module.eval()
        ctx.report.notes.append("batching and column order checked in evaluation mode (random draws follow layout)")
    try:
        ref_out, ref_gi, ref_grads = ctx.run(ctx.x.copy(), ctx.g1.copy())
        perm = ctx.gen.permutation(m)
        o, gi, gr = ctx.run(np.ascontiguousarray(ctx.x[:, perm]), np.ascontiguousarray(ctx.g1[:, perm]))
        ctx.agree("forward on permuted columns vs permuted forward", o, ref_out[:, perm])
        ctx.agree("grad_input for permuted columns", gi, ref_gi[:, perm])
        for name in gr:
            ctx.agree(f"grad of parameter {name!r} for permuted columns", gr[name], ref_grads[name])
        if m < 2:
            return
        k = m // 2
        module.zero_grad()
        pieces, grad_pieces = [], []
        for part in (slice(0, k), slice(k, m)):
            pieces.append(ctx.replay.forward(np.ascontiguousarray(ctx.x[:, part])))
            grad_pieces.append(module.backward(np.ascontiguousarray(ctx.g1[:, part])))
        ctx.agree(f"forward in two batches ({k} + {m - k} columns) vs one", np.hstack(pieces), ref_out)
        ctx.agree("grad_input in two batches vs one", np.hstack(grad_pieces), ref_gi)
        for name, p in ctx.named:
            ctx.agree(f"grad of parameter {name!r} accumulated over two batches vs one", p.grad, ref_grads[name])
    finally:
        module.train(was_training)


def _check_gradients(ctx: _Context) -> None:
    """`minibp.gradcheck` of the input and every parameter is within ``tolerance``."""
    result = gradcheck(ctx.replay, ctx.x.copy(), eps=ctx.eps, tolerance=ctx.tolerance, rng=ctx.gen)
    ctx.report.gradcheck_errors.update(result.errors)
    bad = {k: v for k, v in result.errors.items() if not v <= ctx.tolerance}
    if bad:
        listed = ", ".join(f"{'input' if k == 'input' else f'parameter {k!r}'} {v:.2e}" for k, v in bad.items())
        raise _Failure(f"analytic and numerical gradients disagree: {listed} > {ctx.tolerance:.0e} (norm-relative)")


def _check_optimizer_step(ctx: _Context) -> None:
    r"""`SGD` steps update the parameters in place and change $C = \langle u, f(x)\rangle$ by $-\eta\|g\|^2$.

    See "The optimizer step" in the module docstring. The parameters get
    their values and gradients back at the end.
    """
    module, u = ctx.module, ctx.g1
    params = module.parameters()
    names = {id(p): name for name, p in module.named_parameters()}
    name_of = [names.get(id(p), f"#{i}") for i, p in enumerate(params)]
    module.zero_grad()
    out = ctx.replay.forward(ctx.x.copy())
    module.backward(u.copy())
    before = [p.data.copy() for p in params]
    grads = [p.grad.copy() for p in params]
    squared = [float(np.sum(g * g)) for g in grads]  # |grad|^2 of each parameter
    if not sum(squared) > 0.0:
        ctx.report.notes.append("optimizer step: every gradient was zero for the upstream gradient used")
        return
    cost, size = float(np.sum(u * out)), float(np.sum(np.abs(u * out)))
    problems, unresolved = [], []
    try:
        eta = _LONGEST_STEP * _size(before) / sum(squared) ** 0.5
        held = [p.data for p in params]
        SGD(params, eta=eta).step()
        _check_moved_in_place(module, params, held, before, grads, eta, name_of)
        _restore(params, before, grads)
        for name, p, values, g, sq in zip(name_of, params, before, grads, squared):
            etas = _learning_rates(values, sq, size)
            if sq > 0.0 and not etas:
                unresolved.append(repr(name))
            elif etas and (miss := _first_order_miss(ctx, p, values, g, sq, etas, cost)):
                problems.append(f"parameter {name!r}: {miss}")
    finally:
        _restore(params, before, grads)
    if unresolved:
        ctx.report.notes.append(
            f"optimizer step: the gradient of {', '.join(unresolved)} is too small next to the output for float64 "
            "to resolve a small step's effect; that parameter's step was not checked"
        )
    if problems:
        raise _Failure(
            "; ".join(problems) + ". Forward must read the parameters that backward differentiates: does it use a "
            "copy of a parameter's values (self.W = self.w.data.copy())? Read self.w.data, or keep that array itself"
        )


def _check_moved_in_place(
    module: Module,
    params: list[Parameter],
    held: list[NDArray],
    before: list[NDArray],
    grads: list[NDArray],
    eta: float,
    name_of: list[str],
) -> None:
    """After a step: the module lists the same parameters, their arrays did not move, their values changed."""
    if [id(p) for p in module.parameters()] != [id(p) for p in params]:
        raise _Failure("after SGD.step, module.parameters() lists different Parameter objects")
    for name, p, array, values, g in zip(name_of, params, held, before, grads):
        if p.data is not array:
            raise _Failure(f"after SGD.step, parameter {name!r} holds a new data array; it must stay the same object")
        expected = values - eta * g
        if not np.array_equal(expected, values) and np.array_equal(p.data, values):
            raise _Failure(f"SGD.step did not change parameter {name!r} although its grad is non-zero")


def _first_order_miss(
    ctx: _Context, p: Parameter, values: NDArray, grad: NDArray, squared: float, etas: list[float], cost: float
) -> str | None:
    r"""Step ``p`` alone down and up its gradient: ``None`` once the change is $-\eta\|g\|^2$, else how it missed.

    Args:
        p: the parameter, currently holding ``values``.
        values: its values $\theta$, any shape.
        grad: its gradient $g$, shape of ``values``.
        squared: $\|g\|^2$.
        etas: the learning rates to try, largest first (see `_learning_rates`).
        cost: the test cost at $\theta$.
    """
    attempts = []
    try:
        for eta in etas:
            down = _cost_after_step(ctx, p, values, grad, eta)
            up = _cost_after_step(ctx, p, values, -grad, eta)
            predicted = -eta * squared
            error = abs((down - up) / 2 - predicted) / abs(predicted)  # central: the eta^2 term cancels
            if error <= _STEP_TOLERANCE:
                return None
            attempts.append((error, eta, down - cost, up - cost, predicted))
    finally:
        p.data, p.grad = values, grad  # the next parameter is stepped from the same point
    error, eta, down, up, predicted = min(attempts, key=lambda attempt: attempt[0])  # the first of equals
    what = (
        "did not change the output at all"
        if down == up == 0.0
        else f"changed <u, forward(x)> by {down:.3e} and {up:.3e}"
    )
    return (
        f"SGD steps of it alone down and up its gradient (eta={eta:.1e}) {what}, but its gradient predicts "
        f"{predicted:.3e} and {-predicted:.3e} to first order (relative error {error:.1e} > {_STEP_TOLERANCE:.0e})"
    )


def _learning_rates(values: NDArray, squared: float, size: float) -> list[float]:
    r"""The learning rates tried for one parameter, largest first, each ten times smaller than the last.

    The largest moves the parameter by at most ``_LONGEST_STEP`` of its size
    and predicts a change of at most ``_LARGEST_CHANGE`` of the test cost's
    size; the smallest still predicts ``_SMALLEST_CHANGE`` of it, which
    float64 resolves. Empty when no learning rate satisfies both (a tiny gradient).

    Args:
        values: the parameter's values $\theta$, any shape.
        squared: $\|g\|^2$ for its gradient $g$.
        size: $\sum_{ij} |u_{ij} f_{ij}|$, the size of the test cost's terms.
    """
    if not squared > 0.0:
        return []
    scale = _size([values])
    size = max(size, scale * squared**0.5)  # a zero output still changes by this much to first order
    eta = min(_LARGEST_CHANGE * size / squared, _LONGEST_STEP * scale / squared**0.5)
    etas = []
    while eta >= _SMALLEST_CHANGE * size / squared:
        etas.append(eta)
        eta /= 10
    return etas


def _size(values: list[NDArray]) -> float:
    r"""The size of some parameters' values, $\max(\|\theta\|, \sqrt{N})$: entries below 1 count as 1."""
    return max(sum(float(np.sum(v * v)) for v in values), sum(v.size for v in values)) ** 0.5


def _cost_after_step(ctx: _Context, p: Parameter, values: NDArray, grad: NDArray, eta: float) -> float:
    """Set ``p`` to ``values`` and its grad to ``grad``, take one `SGD` step of ``p`` alone, return the test cost."""
    p.data, p.grad = values, grad
    SGD([p], eta=eta).step()
    return float(np.sum(ctx.g1 * ctx.replay.forward(ctx.x.copy())))


def _restore(params: list[Parameter], values: list[NDArray], grads: list[NDArray]) -> None:
    """Copy ``values`` and ``grads`` back into the parameters."""
    for p, v, g in zip(params, values, grads):
        p.data, p.grad = v, g


@dataclass(frozen=True)
class _Check:
    """One row of the contract: its name in the report and the function that runs it.

    Attributes:
        name: the check's name in `ContractReport.results`.
        run: raises `_Failure` (or anything else) if the module fails.
        needs_parameters: skipped for a module without parameters.
        essential: the later checks need its results; stop if it fails.
    """

    name: str
    run: Callable[[_Context], None]
    needs_parameters: bool = False
    essential: bool = False


_CHECKS = (
    _Check("parameters registered", _check_registered),
    _Check("forward output", _check_forward_output, essential=True),
    _Check("backward output", _check_backward_output, essential=True),
    _Check("inputs not mutated", _check_not_mutated),
    _Check("backward adds into grad", _check_accumulates, needs_parameters=True),
    _Check("backward_parameters adds what backward adds", _check_parameters_only, needs_parameters=True),
    _Check("backward repeatable", _check_repeatable),
    _Check("backward linear in grad_output", _check_linear),
    _Check("zero grad_output gives zero gradients", _check_zero_upstream),
    _Check("Fortran, non-contiguous and read-only inputs", _check_layouts),
    _Check("batching and column order", _check_batching),
    _Check("gradient check (float64)", _check_gradients),
    _Check("optimizer step moves the output as the gradient predicts", _check_optimizer_step, needs_parameters=True),
)


def _run_checks(ctx: _Context) -> None:
    """Run each check of `_CHECKS` in order, recording ``"ok"`` or its failure in the report."""
    for check in _CHECKS:
        if check.needs_parameters and not ctx.named:
            continue
        try:
            check.run(ctx)
        except _Failure as failure:
            ctx.report.results[check.name] = str(failure)
        except Exception as err:  # a crash is a failed check, reported with its message
            ctx.report.results[check.name] = f"raised {type(err).__name__}: {err}"
        else:
            ctx.report.results[check.name] = "ok"
            continue
        if check.essential:
            return  # nothing else can be checked without its results


def check_module(
    module: Module,
    x: NDArray | tuple[int, int],
    *,
    rng: np.random.Generator | int | None = 0,
    tolerance: float = 1e-7,
    roundoff: float = 1e-10,
    eps: float = 1e-6,
    raise_on_failure: bool = True,
) -> ContractReport:
    r"""Check ``module`` against the `Module` contract (see the table above).

    Args:
        module: the module to check, with float64 parameters (a `Sequential` works too).
        x: an input batch of shape ``(n_in, m)``, or just that shape for a
            standard normal batch drawn from ``rng``. Use a few columns
            ($m \ge 2$; the gradient check costs two forward passes per
            input entry and per parameter entry).
        rng: generator or seed for the input, the upstream gradients and the permutation.
        tolerance: the largest accepted gradient-check error.
        roundoff: the largest accepted norm-relative difference between
            results that should agree exactly up to floating-point reassociation.
        eps: finite-difference step of the gradient check.
        raise_on_failure: raise `AssertionError` if a check fails (default);
            otherwise just return the report.

    Returns:
        A `ContractReport` (truthy when every check passed; printing it lists each check).

    Raises:
        AssertionError: a check failed; the message lists every failed check,
            by how much and for which parameter.
        TypeError: a parameter is not float64.
        ValueError: one module object is placed twice in ``module``'s tree.

    Example:
        >>> from minibp import Dense
        >>> report = check_module(Dense(4, 3, rng=0), (4, 5))
        >>> report.ok
        True
    """
    check_network(module, "check_module")
    gen = as_generator(rng)
    if isinstance(x, tuple):
        if len(x) != 2:
            raise ValueError(f"check_module: input shape must be (n_in, m), got {x}")
        x = gen.standard_normal(x)
    x = np.array(x, dtype=np.float64)
    if x.ndim != 2 or x.size == 0:
        raise ValueError(f"check_module: the input must be a non-empty (n_in, m) batch, got shape {x.shape}")
    named = list(module.named_parameters())
    for name, p in named:
        if p.data.dtype != np.float64:
            raise TypeError(
                f"check_module checks in float64, but {module!r} parameter {name!r} is {p.data.dtype}; "
                "build the module with dtype=np.float64"
            )
    report = ContractReport(module=repr(module), input_shape=(int(x.shape[0]), int(x.shape[1])))
    replay = _Replaying(module)
    if replay.generators:
        paths = ", ".join(path for path, _, _ in replay.generators)
        report.notes.append(f"random module: its generators ({paths}) replayed from the same state before each forward")
    training = module.training
    saved = [(p, p.data.copy()) for _, p in named]
    ctx = _Context(module, replay, x, gen, report, tolerance, roundoff, eps, named)
    try:
        _run_checks(ctx)
    finally:
        replay.rewind()
        for p, values in saved:
            p.data = values
        module.zero_grad()
        module.train(training)
    if raise_on_failure and not report.ok:
        raise AssertionError(str(report))
    return report
