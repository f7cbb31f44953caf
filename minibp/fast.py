r"""The fused epoch: the book's ``update_mini_batch``, vectorised, for the networks it recognises.

This file is the one place where minibp trades readability for speed. The
modules, costs and optimizers are the reference; this computes the same
steps in fewer, larger calls, on the parameters' own arrays.

**What it accepts** (`plan` says why not, naming the first module or setting
that disqualifies a network):

* a `Sequential` (exactly, not a subclass) of built-in `Dense` layers, each
  followed by a `Sigmoid`, `Tanh`, `ReLU` or `Identity`, ending in
  `Sigmoid` with `QuadraticCost`, or in a bare `Dense` with
  `SigmoidCrossEntropyCost` or `SoftmaxLogLikelihoodCost`;
* plain `SGD` whose parameter list is exactly ``net.parameters()`` in order,
  optionally with the book's `L2` on exactly the `Dense` weights;
* no parameter held twice (tied weights), one float dtype throughout;
* no method replaced on an instance (``dense.backward = ...``,
  ``optimizer.step = ...``) of the network's modules, the cost, the optimizer
  or a regulariser: the fused epoch would not call it.

Callbacks and the schedule run between epochs, where both paths leave the
same state; `minibp.train.train` calls `plan` again before each epoch, so what
they move (an `L2`'s ``lmbda`` or ``n``, the optimizer's parameters, a method)
is read afresh, and a run that no longer qualifies falls back from that epoch.

**What it does differently** (and only this):

* the first layer's $w^T\delta$, which nothing needs, is not computed;
* BP3 and BP4 are never written out: one BLAS ``gemm`` applies
  $w \to (1 - \eta\lambda/n)\,w - \eta\,\delta a^T$ straight into $w$, and one
  ``gemv`` applies $b \to b - \eta \sum_x \delta_x$;
* activations are applied in place; the checks `Optimizer.step` makes (every
  gradient finite, no parameter left at or beyond `minibp._checks.limit`) use
  bounds: $|(\delta a^T)_{jk}| \le \sum|\delta| \cdot \max|a|$ for a gradient,
  and for $\max|w|$ a running bound that each update raises by at most
  $\eta \max|\partial C/\partial w|$. Only when a bound fails is the step's
  exact result computed and held against the same limit, so the paths refuse
  the same steps; an $\eta$ beyond float32's range is refused as the module
  path's update refuses it.

**Held equal to the modules** by ``tests/test_fast.py``: the same parameters
after 100 steps (relative difference $\le 10^{-12}$ in float64, $10^{-5}$ in
float32, or 16 times the drift a one-ulp nudge of the initial parameters
causes, where a run amplifies rounding more; single steps where it is
chaotic) for every accepted combination, the same errors, and divergence at
the same mini-batch with the parameters of the last good step.

**Switching it off:** ``train(..., fused=False)`` always runs the modules'
own forward and backward; ``fused=True`` raises if the network does not
qualify.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import get_blas_funcs
from scipy.special import expit

from ._checks import limit
from .costs import Cost, QuadraticCost, SigmoidCrossEntropyCost, SoftmaxLogLikelihoodCost
from .errors import DivergedError
from .layers import Dense, Identity, ReLU, Sigmoid, Tanh
from .module import Module
from .optim import SGD, Optimizer
from .regularization import L2, Regularizer
from .sequential import Sequential

__all__ = ["FusedEpoch", "plan"]

_ACTIVATIONS = (Sigmoid, Tanh, ReLU, Identity)
_Z_COSTS = (SigmoidCrossEntropyCost, SoftmaxLogLikelihoodCost)


def plan(
    net: Module, cost: Cost, optimizer: Optimizer, regularizers: Sequence[Regularizer]
) -> tuple[FusedEpoch | None, str]:
    """Return ``(FusedEpoch, "")`` if the fused path computes this training run, else ``(None, reason)``."""
    if type(net) is not Sequential:
        return None, f"the network is a {type(net).__name__}, not a Sequential"
    for owner in (*net.modules(), cost, optimizer, *regularizers):  # the fused path would not call such a method
        replaced = _replaced_methods(owner)
        if replaced:
            return None, f"{owner!r} has its method {replaced[0]!r} replaced on the instance"
    layers, activations = _pairs(net.layers, type(cost) in _Z_COSTS)
    if isinstance(layers, str):
        return None, layers
    if type(cost) is QuadraticCost:
        if activations[-1] is not Sigmoid:
            return None, "QuadraticCost is fused only after a final Sigmoid"
    elif type(cost) not in _Z_COSTS:
        return None, f"the cost {cost!r} is not QuadraticCost, SigmoidCrossEntropyCost or SoftmaxLogLikelihoodCost"
    if type(optimizer) is not SGD:
        return None, f"the optimizer {optimizer!r} is not plain SGD"
    params = net.parameters()
    if len(params) != 2 * len(layers):
        return None, "a parameter is held twice (tied weights)"
    if [id(p) for p in optimizer.parameters] != [id(p) for p in params]:
        return None, "the optimizer's parameters are not exactly net.parameters() in order"
    dtypes = {p.data.dtype for p in params}
    if len(dtypes) != 1:
        return None, f"the parameters mix dtypes {sorted(str(d) for d in dtypes)}"
    l2_scale = 0.0
    for r in regularizers:
        if type(r) is not L2 or l2_scale:
            return None, f"the regulariser {r!r} is not the book's L2 (one at most)"
        if [id(p) for p in r.weights] != [id(layer.w) for layer in layers]:
            return None, "the L2 regulariser does not hold exactly the Dense weights"
        l2_scale = r.lmbda / r.n
    return FusedEpoch(layers, activations, cost, l2_scale, dtypes.pop()), ""


def _replaced_methods(owner: object) -> list[str]:
    """The names of ``owner``'s methods that an attribute of the instance itself replaces (``dense.backward = ...``)."""
    own = getattr(owner, "__dict__", {})
    return [name for name in own if callable(getattr(type(owner), name, None))]


def _pairs(modules: list[Module], ends_in_dense: bool) -> tuple[Any, list]:
    """Split ``modules`` into Dense layers and the activation type after each (``None`` after the last one)."""
    layers: list[Dense] = []
    activations: list[type | None] = []
    for i, module in enumerate(modules):
        expect_dense = i % 2 == 0
        if expect_dense and type(module) is not Dense:
            return f"module {i} ({module!r}) is not a built-in Dense", []
        if not expect_dense and type(module) not in _ACTIVATIONS:
            return f"module {i} ({module!r}) is not a built-in Sigmoid, Tanh, ReLU or Identity", []
        if expect_dense:
            layers.append(module)  # type: ignore[arg-type]
        else:
            activations.append(type(module))
    if ends_in_dense and len(modules) % 2 == 0:
        return "a cost of z must follow a final Dense, but the network ends in an activation", []
    if not ends_in_dense and len(modules) % 2 == 1:
        return "the network ends in a Dense without an activation, but the cost takes the activation a", []
    if ends_in_dense:
        activations.append(None)
    return layers, activations


def _activate(kind: type | None, z: NDArray) -> None:
    """Apply the activation to ``z`` in place (eq. 17: a = sigma(z))."""
    if kind is Sigmoid:
        expit(z, out=z)
    elif kind is Tanh:
        np.tanh(z, out=z)
    elif kind is ReLU:
        np.maximum(z, 0, out=z)


def _times_derivative(kind: type | None, a: NDArray, g: NDArray) -> None:
    """Multiply ``g`` in place by the activation's derivative, from its output ``a`` (the Hadamard step of BP1/BP2)."""
    if kind is Sigmoid:
        t = 1 - a
        t *= a  # sigma'(z) = a (1 - a)
        g *= t
    elif kind is Tanh:
        g *= 1 - a * a
    elif kind is ReLU:
        g *= a > 0


def _max_abs(x: NDArray) -> float:
    """``max |x|`` (NaN if ``x`` holds NaN)."""
    return float(np.abs(x).max()) if x.size else 0.0


class FusedEpoch:
    """One epoch of mini-batch SGD for a network `plan` accepted, on its parameters' own arrays."""

    def __init__(self, layers: list[Dense], activations: list, cost: Cost, l2_scale: float, dtype: np.dtype) -> None:
        self.weights = [layer.w.data for layer in layers]  # (n_out, n_in), C-ordered: w.T is Fortran-ordered
        self.biases = [layer.b.data for layer in layers]  # (n_out, 1)
        self.bias_vectors = [b.reshape(-1) for b in self.biases]  # views of the same arrays, for gemv
        self.activations = activations
        self.cost = cost
        self.l2_scale = l2_scale
        self.dtype = dtype
        self.gemm, self.gemv, self.asum = get_blas_funcs(("gemm", "gemv", "asum"), dtype=dtype)
        self.limit = limit(dtype)  # the module path's limit (Optimizer.step), so both refuse the same steps

    def run(
        self, epoch: int, x_rows: NDArray, target_rows: NDArray, batches: Iterable[NDArray], eta: float, x_bound: float
    ) -> float:
        """Train on every mini-batch of ``batches``; return the summed cost (cost × m per mini-batch).

        Args:
            epoch: the epoch's number, for error messages.
            x_rows: the training inputs as rows, shape ``(N, n_in)``.
            target_rows: the targets as rows, shape ``(N, n_out)``, of the parameters' dtype.
            batches: index arrays, one per mini-batch.
            eta: the learning rate.
            x_bound: the largest ``|x|`` in ``x_rows``.
        """
        weights, biases, activations, dtype = self.weights, self.biases, self.activations, self.dtype
        gemm, gemv, asum, limit = self.gemm, self.gemv, self.asum, self.limit
        with np.errstate(over="ignore"):  # eta in the parameters' dtype, as BLAS and the module path's update see it
            eta_fits = math.isfinite(float(np.asarray(eta, dtype=dtype)))
        w_bounds = [_max_abs(w) for w in weights]  # running upper bounds on max |w| and max |b|
        b_bounds = [_max_abs(b) for b in biases]
        beta = 1.0 - eta * self.l2_scale  # the book's L2 (eq. 93): w -> (1 - eta lambda/n) w - eta dC0/dw
        cost, quadratic = self.cost, type(self.cost) is QuadraticCost
        ones = np.ones(0, dtype=dtype)
        total = 0.0
        for k, idx in enumerate(batches):
            x = x_rows.take(idx, axis=0).T  # (n_in, m), one contiguous column per example
            if x.dtype != dtype:
                x = x.astype(dtype)
            m = x.shape[1]
            a_list = [x]
            for w, b, kind in zip(weights, biases, activations):  # eq. 17, layer by layer
                z = w.dot(a_list[-1])
                z += b
                _activate(kind, z)
                a_list.append(z)
            c = cost.forward(a_list[-1], target_rows.take(idx, axis=0).T)
            if not math.isfinite(c):
                raise DivergedError.at(epoch, k, f"the cost is {c}", eta)
            if not eta_fits:  # beyond float32's range: every update would write inf or NaN, as SGD.step finds
                raise DivergedError.at(
                    epoch, k, f"the update of Dense layer 0's w would overflow (eta = {eta:.3g} is beyond {dtype})", eta
                )
            delta = cost.backward()
            if quadratic:
                _times_derivative(Sigmoid, a_list[-1], delta)  # BP1: delta^L = grad_a C (*) sigma'(z^L)
            deltas = [delta]
            for layer in range(len(weights) - 1, 0, -1):  # BP2, before any update touches w
                delta = weights[layer].T.dot(delta)
                _times_derivative(activations[layer - 1], a_list[layer], delta)
                deltas.append(delta)
            deltas.reverse()
            for layer, delta in enumerate(
                deltas
            ):  # the gradients are finite and no update overflows, or nothing changes
                b_grad = asum(delta)  # >= max |dC/db|
                w_grad = b_grad * (x_bound if layer == 0 else asum(a_list[layer])) + self.l2_scale * w_bounds[layer]
                w, a = weights[layer], a_list[layer]
                if not w_bounds[layer] + eta * w_grad < limit:  # check exactly, as Optimizer.step does
                    g = delta @ a.T + self.l2_scale * w
                    if not np.isfinite(g).all():
                        raise DivergedError.at(epoch, k, f"the gradient of Dense layer {layer} is not finite", eta)
                    w_bounds[layer], w_grad = _max_abs(w - eta * g), 0.0  # max |w| after the step
                    if not w_bounds[layer] < limit:
                        raise DivergedError.at(epoch, k, f"the update of Dense layer {layer}'s w would overflow", eta)
                if not b_bounds[layer] + eta * b_grad < limit:
                    b_bounds[layer], b_grad = _max_abs(biases[layer] - eta * delta.sum(axis=1, keepdims=True)), 0.0
                    if not b_bounds[layer] < limit:
                        raise DivergedError.at(epoch, k, f"the update of Dense layer {layer}'s b would overflow", eta)
                w_bounds[layer] += eta * w_grad
                b_bounds[layer] += eta * b_grad
            if ones.shape[0] != m:
                ones = np.ones(m, dtype=dtype)
            for w, b, a, delta in zip(weights, self.bias_vectors, a_list, deltas):
                # BP4 and eq. 13 in one call: w^T -> beta w^T - eta a delta^T, written into w itself
                if a.flags.f_contiguous:
                    gemm(-eta, a, delta.T, beta, w.T, overwrite_c=1)
                else:
                    gemm(-eta, a.T, delta.T, beta, w.T, trans_a=1, overwrite_c=1)
                gemv(-eta, delta.T, ones, 1.0, b, trans=1, overwrite_y=1)  # BP3 and eq. 14: b -> b - eta sum_x delta
            total += c * m
        return total
