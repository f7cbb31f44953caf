"""Write your own layer: a Tanh activation and a Scale layer with a parameter, checked, then trained.

python docs/examples/own_layer.py

The sections between the markers are the tutorial's Python blocks. On the page they run in the
order layer, check, broken, scale, then the contract check of own_layer_contract.py, then train.
"""

from __future__ import annotations

# --8<-- [start:layer]
import numpy as np

import minibp as bp
from minibp.module import saved


class Tanh(bp.Module):
    r"""The hyperbolic tangent, element by element: $a = \tanh(z)$, $\tanh'(z) = 1 - a^2$."""

    def __init__(self) -> None:
        self.a = None  # the output, kept by forward for backward

    def forward(self, x):
        self.a = np.tanh(x)
        return self.a

    def backward(self, grad_output):
        a = saved(self, self.a)  # what forward kept; a RuntimeError if forward has not run
        return grad_output * (1.0 - a**2)  # dC/dz = dC/da (*) tanh'(z)


# --8<-- [end:layer]


# --8<-- [start:scale]
class Scale(bp.Module):
    r"""Multiply each feature by a factor of its own: $a = s \odot x$, with $s$ of shape $(n, 1)$."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.s = bp.Parameter(np.ones((n, 1)))  # found by parameters() because it is an attribute
        self.x = None  # the input, kept by forward for the gradient of s

    def forward(self, x):
        self.x = x
        return self.s.data * x  # a = s (*) x, s broadcast over the m columns

    def backward(self, grad_output):
        x = saved(self, self.x)
        self.s.grad += (grad_output * x).sum(axis=1, keepdims=True)  # dC/ds_j = sum_x dC/da_j x_j
        return grad_output * self.s.data  # dC/dx = dC/da (*) s

    def __repr__(self) -> str:
        return f"Scale({self.n})"


# --8<-- [end:scale]


def main() -> float:
    # --8<-- [start:check]
    from minibp.gradcheck import gradcheck

    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))  # 4 features, 3 examples
    print(gradcheck(Tanh(), x))
    print(gradcheck(bp.Sequential(bp.Dense(4, 5, rng=0), Tanh(), bp.Dense(5, 2, rng=0)), x))
    # --8<-- [end:check]

    # --8<-- [start:broken]
    class WrongTanh(Tanh):
        def backward(self, grad_output):
            return grad_output * (1.0 - self.a)  # forgot the square

    print(gradcheck(WrongTanh(), x))
    # --8<-- [end:broken]

    # --8<-- [start:train]
    from minibp.data import load_sample

    data = load_sample()
    net = bp.Sequential(
        bp.Dense(784, 30, init="scaled", rng=0),
        Tanh(),
        Scale(30),
        bp.Dense(30, 10, init="scaled", rng=0),
        bp.Sigmoid(),
    )
    s = net[2].s.data  # the very array that SGD will update: a parameter's arrays never move
    optimizer = bp.SGD(net.parameters(), eta=0.5)
    bp.train(
        net, data.training, optimizer=optimizer, epochs=10, mini_batch_size=10, evaluation_data=data.validation, rng=0
    )
    print(f"the 30 factors s after training: from {s.min():.2f} to {s.max():.2f} (all 1.00 at the start)")
    # --8<-- [end:train]
    return bp.accuracy(net, *data.validation)


if __name__ == "__main__":
    main()
