"""How far two correct computations of a network's output may differ: a bound from the algorithm, not a machine.

Another CPU's BLAS kernel sums a product's terms in another order (and may fuse multiply and add), so
``w @ a`` can differ in its last bits. For a sum of ``n`` products the classical bound is
$|\\Delta z| \\le \\gamma_n \\sum_k |w_{jk}|\\,|a_k|$ with $\\gamma_n = n u / (1 - n u)$ and $u$ the unit
roundoff. Layer by layer, `forward_error_bound` adds that rounding to what the previous layer's
difference becomes through $|w|$ and through each activation's largest slope, and a few units of roundoff
for each elementwise function. Both computations are within the bound of the exact result, so twice the
bound covers their difference.
"""

from __future__ import annotations

import numpy as np

import minibp as bp

SLOPE = {bp.Sigmoid: 0.25, bp.Tanh: 1.0, bp.ReLU: 1.0, bp.Identity: 1.0, bp.Dropout: 1.0}


def forward_error_bound(net: bp.Sequential, x: np.ndarray) -> np.ndarray:
    """Return a bound, entry by entry, on |computed output - exact output| of ``net`` (evaluation mode) at ``x``."""
    a = np.asarray(x, dtype=np.float64)
    u = float(np.finfo(net.parameters()[0].data.dtype).eps) / 2
    error = np.zeros_like(a)
    for module in net:
        if isinstance(module, bp.Dense):
            n = module.n_in + 1  # the bias is one more term
            gamma = n * u / (1 - n * u)
            w, b = np.abs(module.w.data), np.abs(module.b.data)
            error = gamma * (w @ np.abs(a) + b) + w @ error
            a = module.w.data @ a + module.b.data
        elif isinstance(module, bp.Softmax):  # |d a_j| <= a_j (|d z_j| + sum_k a_k |d z_k|) <= 2 max_k |d z_k|
            a = module(a)
            error = 2 * error.max(axis=0, keepdims=True) + 8 * u * np.ones_like(a)
        else:
            error = SLOPE[type(module)] * error + 4 * u * np.abs(module(a))
            a = module(a)
    return 2 * error
