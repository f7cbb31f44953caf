r"""What a network's output means: class probabilities, whichever way the network ends.

The book's network ends in a `Sigmoid`, and its output activations lie
between 0 and 1. A network trained with a cost of $z$
(`SoftmaxLogLikelihoodCost`, `SigmoidCrossEntropyCost`) ends in a `Dense`
layer instead: the cost applies the activation itself, and the network's
output is the weighted input $z^L$, any real number. `predict_proba` applies
the activation the cost applied, so that both give numbers between 0 and 1:

| trained with | the network ends in | `predict_proba` returns |
|---|---|---|
| `SoftmaxLogLikelihoodCost` | `Dense` | $\mathrm{softmax}(z^L)$: each column sums to 1 |
| `SigmoidCrossEntropyCost` | `Dense` | $\sigma(z^L)$ |
| a cost of $a$ (`QuadraticCost`, ...) | its output activation | $a^L$ as it is |

`minibp.predict` is unchanged: it returns class indices, the arg-max of the
output (the arg-max of $z$ is the arg-max of $\sigma(z)$ and of the softmax).
A model file written with ``save(..., cost=cost)`` records the cost
(`minibp.io.Checkpoint.cost`), and ``minibp predict`` uses it.

Deliberately left out: calibration. These are the network's own numbers.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from . import costs
from .data.pairs import check_inputs
from .errors import NonFiniteError
from .layers import Dense, Sigmoid, Softmax
from .module import Module, evaluation_mode
from .sequential import Sequential

__all__ = ["predict_proba", "output_meaning"]

_CHUNK = 10_000  # examples per forward pass

# The costs of z minibp has, and the activation each applies to z itself.
_ACTIVATION_OF_Z = {"SoftmaxLogLikelihoodCost": "softmax", "SigmoidCrossEntropyCost": "sigmoid"}


def _last_module(net: Module) -> Module:
    last = net
    while isinstance(last, Sequential) and len(last.layers):  # the last module of nested chains
        last = last.layers[-1]
    return last


def _activation(net: Module, cost: costs.Cost | str | None, what: str) -> str | None:
    """``"softmax"`` or ``"sigmoid"`` to apply to the output, or ``None`` to take it as it is."""
    if cost is None:
        last = _last_module(net)
        if isinstance(last, Dense):
            raise ValueError(
                f"{what}: the network ends in {last!r}, whose output z is not a probability, and no cost was "
                "given: pass the cost it was trained with (cost=SoftmaxLogLikelihoodCost() or "
                "SigmoidCrossEntropyCost(), or the Checkpoint's cost)"
            )
        return None
    if isinstance(cost, str):
        name = cost
        known = getattr(costs, name, None)
        if name not in costs.__all__ or not (isinstance(known, type) and issubclass(known, costs.Cost)):
            raise ValueError(f"{what}: unknown cost {name!r}; give one of minibp's costs, or the Cost object itself")
        takes = known.takes  # the base class Cost takes "a": its output as it is
    elif isinstance(cost, costs.Cost):
        name, takes = type(cost).__name__, getattr(cost, "takes", "a")
    else:
        raise TypeError(f"{what}: cost must be a Cost, the name of one of minibp's costs, or None, got {cost!r:.100}")
    if takes != "z":
        return None
    if name not in _ACTIVATION_OF_Z:
        raise ValueError(f"{what}: {name} is a cost of z, and minibp cannot tell which activation it applies to z")
    return _ACTIVATION_OF_Z[name]


def output_meaning(net: Module, cost: costs.Cost | str | None = None) -> str:
    """Say what `predict_proba` returns for ``net`` trained with ``cost``, in a few words.

    ``"probabilities (softmax of the output layer's z)"``, ``"probabilities (sigmoid of the output layer's
    z)"``, ``"probabilities (outputs of the final Softmax)"`` or ``"outputs of the final Sigmoid"``.

    Raises:
        ValueError, TypeError: as `predict_proba`.
    """
    activation = _activation(net, cost, "output_meaning")
    if activation is not None:
        return f"probabilities ({activation} of the output layer's z)"
    name = type(_last_module(net)).__name__
    return f"probabilities (outputs of the final {name})" if name == "Softmax" else f"outputs of the final {name}"


def predict_proba(net: Module, X: NDArray, cost: costs.Cost | str | None = None) -> NDArray:
    r"""Return the network's output for each example as numbers between 0 and 1: probabilities.

    Args:
        net: the network, in any mode (it runs in evaluation mode, then gets its mode back).
        X: inputs, shape ``(n_in, N)``.
        cost: the cost ``net`` was trained with: a `Cost`, the class name of one of minibp's
            (``"SoftmaxLogLikelihoodCost"``, as `minibp.io.Checkpoint.cost` holds it), or ``None``
            for a network that ends in its own output activation.

    Returns:
        Shape ``(n_out, N)``: $\mathrm{softmax}(z^L)$ after `SoftmaxLogLikelihoodCost`, $\sigma(z^L)$
        after `SigmoidCrossEntropyCost`, the output $a^L$ as it is after a cost of $a$.

    Raises:
        ValueError: ``cost`` is ``None`` but the network ends in a `Dense` layer (its output is $z$), or
            a cost of $z$ whose activation minibp does not know, or an unknown cost name.
        NonFiniteError: the output of an example is NaN or infinite.

    Example:
        >>> import minibp as bp
        >>> net = bp.mlp([4, 3, 2], rng=0)[:-1]      # ends in Dense: trained with a cost of z
        >>> p = bp.predict_proba(net, np.ones((4, 5)), cost=bp.SoftmaxLogLikelihoodCost())
        >>> p.shape, bool(np.allclose(p.sum(axis=0), 1))
        ((2, 5), True)
    """
    activation = _activation(net, cost, "predict_proba")
    X = check_inputs(X, "predict_proba")
    apply = {"softmax": Softmax().forward, "sigmoid": Sigmoid().forward, None: lambda z: z}[activation]
    chunks = []
    with evaluation_mode(net):
        for k in range(0, X.shape[1], _CHUNK):
            with np.errstate(all="ignore"):
                out = apply(net.forward(X[:, k : k + _CHUNK]))
            if not np.isfinite(out).all():
                column = k + int(np.argwhere(~np.isfinite(out))[0][1])
                raise NonFiniteError(f"predict_proba: the network's output for example {column} is not finite")
            chunks.append(out)
    return np.concatenate(chunks, axis=1)
