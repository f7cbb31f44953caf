r"""Numerical gradient checking, for minibp's modules and for your own.

`gradcheck` compares what a module's ``backward`` returns (and adds into each
parameter's ``grad``) with central finite differences of a scalar test cost

$$C(x) = \sum_{ij} g_{ij}\, f(x)_{ij},$$

where $g$ is a fixed random "upstream gradient". Its exact gradient with
respect to the output is $g$, so ``backward(g)`` must return
$\partial C/\partial x$. Each entry is estimated as

$$\frac{\partial C}{\partial \theta} \approx \frac{C(\theta + \epsilon) - C(\theta - \epsilon)}{2\epsilon},$$

with an error of order $\epsilon^2$. Compare in float64: float32 round-off
swamps the difference quotient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ._checks import as_generator, check_network
from .module import Module

__all__ = ["GradcheckResult", "gradcheck", "numerical_gradient"]


@dataclass
class GradcheckResult:
    """The outcome of `gradcheck`.

    Attributes:
        errors: norm-relative error ``|analytic - numeric| / max(|analytic|, |numeric|, tiny)``
            for ``"input"`` and each named parameter (``"w"``, ``"b"``, ...).
        tolerance: the largest error accepted.
    """

    errors: dict[str, float]
    tolerance: float

    @property
    def ok(self) -> bool:
        """Whether every error is within the tolerance."""
        return all(e <= self.tolerance for e in self.errors.values())

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        rows = ", ".join(f"{k}: {v:.2e}" for k, v in self.errors.items())
        return f"gradcheck {'passed' if self.ok else 'FAILED'} (tolerance {self.tolerance:.0e}): {rows}"


def numerical_gradient(f, x: NDArray, eps: float = 1e-6) -> NDArray:
    """Central differences of the scalar function ``f`` with respect to ``x``, changed in place and restored.

    Args:
        f: a function of no arguments returning a float; it must read ``x``.
        x: the array to perturb, any shape, float64.
        eps: the step $\\epsilon$.

    Returns:
        The estimated gradient, same shape as ``x``.
    """
    grad = np.empty_like(x, dtype=np.float64)
    flat, out = x.reshape(-1), grad.reshape(-1)
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient needs an array whose reshape is a view")
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        out[i] = (plus - minus) / (2 * eps)
    return grad


def _relative_error(a: NDArray, b: NDArray) -> float:
    scale = max(float(np.linalg.norm(a)), float(np.linalg.norm(b)), 1e-12)
    return float(np.linalg.norm(a - b) / scale)


def gradcheck(
    module: Module,
    x: NDArray,
    *,
    eps: float = 1e-6,
    tolerance: float = 1e-7,
    rng: np.random.Generator | int | None = 0,
) -> GradcheckResult:
    """Check ``module.backward`` against finite differences, for the input and every parameter.

    Run it in float64 (`Dense(..., dtype=np.float64)` is the default). The
    module is left in training mode; for modules with randomness (dropout),
    make ``forward`` repeatable before checking.

    Args:
        module: any `Module`, including a `Sequential`.
        x: a float64 input batch, shape ``(n_in, m)``; a few columns suffice.
        eps: finite-difference step.
        tolerance: largest accepted norm-relative error.
        rng: generator or seed for the random upstream gradient.

    Returns:
        A `GradcheckResult`; it is truthy when the check passed and prints a summary.

    Raises:
        ValueError: one module object is placed twice in ``module``'s tree (its
            gradients would be wrong), checked as the tree is now.

    Example:
        >>> from minibp import Dense
        >>> result = gradcheck(Dense(3, 2, rng=0), np.random.default_rng(1).standard_normal((3, 4)))
        >>> result.ok
        True
    """
    check_network(module, "gradcheck")
    x = np.array(x, dtype=np.float64)
    rng = as_generator(rng)
    out = module.forward(x.copy())
    g = rng.standard_normal(out.shape)

    def cost() -> float:
        return float(np.sum(g * module.forward(x)))

    module.zero_grad()
    module.forward(x.copy())
    grad_input = np.asarray(module.backward(g.copy()), dtype=np.float64)
    analytic = {"input": grad_input}
    named = list(module.named_parameters())
    for name, p in named:
        analytic[name] = p.grad.astype(np.float64, copy=True)

    errors = {"input": _relative_error(analytic["input"], numerical_gradient(cost, x, eps))}
    for name, p in named:
        errors[name] = _relative_error(analytic[name], numerical_gradient(cost, p.data, eps))
    module.zero_grad()
    return GradcheckResult(errors=errors, tolerance=tolerance)
