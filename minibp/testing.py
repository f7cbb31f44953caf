r"""A test kit for modules: check your own layer against the `Module` contract in one call.

```python
from minibp.testing import check_module

check_module(MyLayer(4, 3), (4, 5))     # raises AssertionError naming what failed, and by how much
```

`check_module` runs every property a module must have for the rest of
minibp (containers, optimizers, the training loop) to work with it, in
float64:

| check | what it asserts |
|---|---|
| forward output | a 2-D float64 array with one column per input column, finite |
| backward output | ``backward`` returns ``(n_in, m)``; each ``grad`` keeps its parameter's shape |
| inputs not mutated | ``x``, ``grad_output`` and the parameters are unchanged by forward and backward |
| backward adds into grad | a second backward without ``zero_grad`` doubles every ``grad`` (``+=``, not ``=``) |
| backward repeatable | after ``zero_grad``, the same forward and backward give the same results |
| backward linear | $b(\alpha g_1 + \beta g_2) = \alpha b(g_1) + \beta b(g_2)$ for input and parameter gradients |
| zero upstream gradient | ``backward(0)`` gives zero gradients everywhere |
| memory layouts | Fortran-ordered, strided and read-only ``x`` and ``grad_output`` work and agree |
| batching and column order | permuting or splitting the columns permutes or splits the results |
| gradient check | `minibp.gradcheck` of the input and every parameter, norm-relative error $\le$ ``tolerance`` |

Agreement is measured as the norm-relative difference
$\|a - b\| / \max(\|a\|, \|b\|)$ and must stay within ``roundoff``
(default $10^{-10}$: float64 reassociation differs by about $10^{-16}$).

**Random modules.** Every `numpy.random.Generator` found in the module's
attributes (a `Dropout`'s ``rng``, say) is put back into the same state
before each forward call, so that a training-mode forward draws the same
mask every time and can be checked like any other function. The
generators are left as they were found.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ._checks import as_generator
from .gradcheck import gradcheck
from .module import Module

__all__ = ["ContractReport", "check_module"]


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


def _relative(a: NDArray, b: NDArray) -> float:
    """Norm-relative difference of two arrays (0 when both are zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)))
    if scale == 0.0:
        return 0.0
    return float(np.linalg.norm(a - b)) / scale


def _generators(module: Module, seen: set[int] | None = None) -> Iterator[tuple[object, str]]:
    """Yield ``(owner, attribute)`` for every `numpy.random.Generator` held by ``module`` or its children."""
    seen = set() if seen is None else seen
    if id(module) in seen:
        return
    seen.add(id(module))
    for name, value in vars(module).items():
        if isinstance(value, np.random.Generator):
            yield module, name
        elif isinstance(value, Module):
            yield from _generators(value, seen)
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, Module):
                    yield from _generators(item, seen)


class _Replaying(Module):
    """Wraps a module so that each forward starts its generators from the same state."""

    def __init__(self, module: Module) -> None:
        self.inner = module
        self.generators = [
            (owner, name, getattr(owner, name).bit_generator.state) for owner, name in _generators(module)
        ]

    def rewind(self) -> None:
        for owner, name, state in self.generators:
            getattr(owner, name).bit_generator.state = state

    def forward(self, x: NDArray) -> NDArray:
        self.rewind()
        return self.inner.forward(x)

    def backward(self, grad_output: NDArray) -> NDArray:
        return self.inner.backward(grad_output)

    def named_parameters(self):
        return self.inner.named_parameters()

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

    Example:
        >>> from minibp import Dense
        >>> report = check_module(Dense(4, 3, rng=0), (4, 5))
        >>> report.ok
        True
    """
    gen = as_generator(rng)
    if isinstance(x, tuple):
        if len(x) != 2:
            raise ValueError(f"check_module: input shape must be (n_in, m), got {x}")
        x = gen.standard_normal(x)
    x = np.array(x, dtype=np.float64)
    if x.ndim != 2 or x.size == 0:
        raise ValueError(f"check_module: the input must be a non-empty (n_in, m) batch, got shape {x.shape}")
    for name, p in module.named_parameters():
        if p.data.dtype != np.float64:
            raise TypeError(
                f"check_module checks in float64, but {module!r} parameter {name!r} is {p.data.dtype}; "
                "build the module with dtype=np.float64"
            )
    report = ContractReport(module=repr(module), input_shape=(int(x.shape[0]), int(x.shape[1])))
    replay = _Replaying(module)
    if replay.generators:
        names = ", ".join(f"{type(o).__name__}.{n}" for o, n, _ in replay.generators)
        report.notes.append(f"random module: {names} replayed from the same state before each forward")
    training = module.training
    try:
        _run_checks(module, replay, x, gen, report, tolerance, roundoff, eps)
    finally:
        replay.rewind()
        module.zero_grad()
        module.train(training)
    if raise_on_failure and not report.ok:
        raise AssertionError(str(report))
    return report


def _run_checks(
    module: Module,
    replay: _Replaying,
    x: NDArray,
    gen: np.random.Generator,
    report: ContractReport,
    tolerance: float,
    roundoff: float,
    eps: float,
) -> None:
    named = list(module.named_parameters())
    n_in, m = x.shape

    def check(name: str, body: Callable[[], None]) -> bool:
        try:
            body()
        except _Failure as failure:
            report.results[name] = str(failure)
            return False
        except Exception as err:  # a crash is a failed check, reported with its message
            report.results[name] = f"raised {type(err).__name__}: {err}"
            return False
        report.results[name] = "ok"
        return True

    def run(xin: NDArray, g: NDArray | None, zero: bool = True) -> tuple[NDArray, NDArray | None, dict]:
        if zero:
            module.zero_grad()
        out = replay.forward(xin)
        if g is None:
            return out, None, {}
        grad_input = module.backward(g)
        return out, grad_input, {name: p.grad.copy() for name, p in named}

    def agree(what: str, a: NDArray, b: NDArray, limit: float = roundoff) -> None:
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            raise _Failure(f"{what}: shapes differ, {a.shape} vs {b.shape}")
        err = _relative(a, b)
        if not err <= limit:
            raise _Failure(f"{what}: relative difference {err:.2e} > {limit:.0e}")

    state: dict[str, object] = {}

    def forward_output() -> None:
        out1 = replay.forward(x.copy())
        out2 = replay.forward(x.copy())
        if not isinstance(out1, np.ndarray):
            raise _Failure(f"forward returned {type(out1).__name__}, not a numpy array")
        if out1.ndim != 2 or out1.shape[1] != m:
            raise _Failure(f"forward returned shape {out1.shape} for input {x.shape}; expected (n_out, {m})")
        if out1.dtype != np.float64:
            raise _Failure(f"forward returned dtype {out1.dtype} for a float64 input")
        if not np.isfinite(out1).all():
            raise _Failure("forward returned NaN or infinity for a finite input")
        if not np.array_equal(out1, out2):
            raise _Failure(
                f"forward is not repeatable: two calls on the same input differ by {_relative(out1, out2):.2e} "
                "(relative) even with the module's random generators replayed"
            )
        state["out"] = out1

    if not check("forward output", forward_output):
        return  # nothing else can be checked without a usable output
    out = state["out"]
    g1, g2 = gen.standard_normal(out.shape), gen.standard_normal(out.shape)

    def backward_output() -> None:
        _, grad_input, grads = run(x.copy(), g1.copy())
        if not isinstance(grad_input, np.ndarray) or grad_input.shape != x.shape:
            shape = getattr(grad_input, "shape", type(grad_input).__name__)
            raise _Failure(f"backward returned {shape}; expected the input's shape {x.shape}")
        if grad_input.dtype.kind != "f" or not np.isfinite(grad_input).all():
            raise _Failure(f"backward returned dtype {grad_input.dtype} or non-finite values")
        for name, p in named:
            if grads[name].shape != p.data.shape:
                raise _Failure(f"grad of parameter {name!r} has shape {grads[name].shape}, expected {p.data.shape}")
        state["reference"] = (grad_input, grads)

    if not check("backward output", backward_output):
        return
    grad_input, grads = state["reference"]

    def not_mutated() -> None:
        xin, g = x.copy(), g1.copy()
        before = {name: p.data.copy() for name, p in named}
        run(xin, g)
        if not np.array_equal(xin, x):
            raise _Failure(f"forward or backward mutated its input x ({np.count_nonzero(xin != x)} entries changed)")
        if not np.array_equal(g, g1):
            raise _Failure(f"backward mutated grad_output ({np.count_nonzero(g != g1)} entries changed)")
        for name, p in named:
            if not np.array_equal(p.data, before[name]):
                raise _Failure(f"forward or backward changed parameter {name!r} (only an optimizer may)")

    def accumulates() -> None:
        run(x.copy(), g1.copy())
        module.zero_grad()
        replay.forward(x.copy())
        module.backward(g1.copy())
        replay.forward(x.copy())
        module.backward(g1.copy())
        for name, p in named:
            err = _relative(p.grad, 2 * grads[name])
            if not err <= roundoff:
                raise _Failure(
                    f"parameter {name!r}: after two backward calls without zero_grad, grad differs from twice "
                    f"one call's by {err:.2e} (relative); backward must add into grad (+=), not assign it"
                )

    def repeatable() -> None:
        _, gi, gr = run(x.copy(), g1.copy())
        agree("grad_input of a second identical backward", gi, grad_input)
        for name in gr:
            agree(f"grad of parameter {name!r} in a second identical backward (after zero_grad)", gr[name], grads[name])

    def linear() -> None:
        alpha, beta = 0.75, -1.25
        _, gi2, gr2 = run(x.copy(), g2.copy())
        _, gi3, gr3 = run(x.copy(), alpha * g1 + beta * g2)
        agree("grad_input: b(αg1+βg2) vs αb(g1)+βb(g2)", gi3, alpha * grad_input + beta * gi2)
        for name in gr3:
            agree(
                f"parameter {name!r}: grad for αg1+βg2 vs α·grad(g1)+β·grad(g2)",
                gr3[name],
                alpha * grads[name] + beta * gr2[name],
            )

    def zero_upstream() -> None:
        _, gi, gr = run(x.copy(), np.zeros_like(g1))
        worst = float(np.abs(gi).max())
        if worst != 0.0:
            raise _Failure(f"backward(0) returned a grad_input with entries up to {worst:.2e}")
        for name, value in gr.items():
            worst = float(np.abs(value).max()) if value.size else 0.0
            if worst != 0.0:
                raise _Failure(f"backward(0) left parameter {name!r} with grad entries up to {worst:.2e}")

    def layouts() -> None:
        xs, gs = _layouts(x), _layouts(g1)
        for kind in xs:
            o, gi, gr = run(xs[kind], gs[kind])
            agree(f"{kind} input: forward output", o, out)
            agree(f"{kind} input: grad_input", gi, grad_input)
            for name in gr:
                agree(f"{kind} input: grad of parameter {name!r}", gr[name], grads[name])

    def batching() -> None:
        was_training = module.training
        if replay.generators and was_training:
            # Which random draw meets which entry depends on the batch layout: compare in evaluation mode.
            module.eval()
            report.notes.append("batching and column order checked in evaluation mode (random draws follow layout)")
        try:
            ref_out, ref_gi, ref_grads = run(x.copy(), g1.copy())
            perm = gen.permutation(m)
            o, gi, gr = run(np.ascontiguousarray(x[:, perm]), np.ascontiguousarray(g1[:, perm]))
            agree("forward on permuted columns vs permuted forward", o, ref_out[:, perm])
            agree("grad_input for permuted columns", gi, ref_gi[:, perm])
            for name in gr:
                agree(f"grad of parameter {name!r} for permuted columns", gr[name], ref_grads[name])
            if m < 2:
                return
            k = m // 2
            module.zero_grad()
            pieces, grad_pieces = [], []
            for part in (slice(0, k), slice(k, m)):
                pieces.append(replay.forward(np.ascontiguousarray(x[:, part])))
                grad_pieces.append(module.backward(np.ascontiguousarray(g1[:, part])))
            agree(f"forward in two batches ({k} + {m - k} columns) vs one", np.hstack(pieces), ref_out)
            agree("grad_input in two batches vs one", np.hstack(grad_pieces), ref_gi)
            for name, p in named:
                agree(f"grad of parameter {name!r} accumulated over two batches vs one", p.grad, ref_grads[name])
        finally:
            module.train(was_training)

    def gradients() -> None:
        result = gradcheck(replay, x.copy(), eps=eps, tolerance=tolerance, rng=gen)
        report.gradcheck_errors.update(result.errors)
        bad = {k: v for k, v in result.errors.items() if not v <= tolerance}
        if bad:
            listed = ", ".join(f"{'input' if k == 'input' else f'parameter {k!r}'} {v:.2e}" for k, v in bad.items())
            raise _Failure(f"analytic and numerical gradients disagree: {listed} > {tolerance:.0e} (norm-relative)")

    check("inputs not mutated", not_mutated)
    if named:
        check("backward adds into grad", accumulates)
    check("backward repeatable", repeatable)
    check("backward linear in grad_output", linear)
    check("zero grad_output gives zero gradients", zero_upstream)
    check("Fortran, non-contiguous and read-only inputs", layouts)
    check("batching and column order", batching)
    check("gradient check (float64)", gradients)
