"""Networks that are not chains, last part: a container of your own, checked, and a child's wrong gradient named.

python docs/examples/own_container.py

The sections between the markers are the last Python blocks of the not-chains page, in the order
container, check, wrong.
"""

from __future__ import annotations

# --8<-- [start:container]
import numpy as np

import minibp as bp
from minibp.module import saved


class Mean(bp.Module):
    r"""Branches that read the same input; the output is their mean, $a = \frac{1}{K}\sum_k f_k(x)$."""

    def __init__(self, *branches):
        self.branches = list(branches)  # a list of modules: parameters() and save() find them
        self.x_shape = self.a_shape = None  # the input's and output's shapes, kept by forward for backward's checks

    def forward(self, x):
        outputs = [branch(x) for branch in self.branches]  # branch(x), not branch.forward(x): x is checked
        a = sum(outputs) / len(outputs)
        self.x_shape, self.a_shape = x.shape, a.shape
        return a

    def backward(self, grad_output):
        x_shape, a_shape = saved(self, self.x_shape), saved(self, self.a_shape)  # RuntimeError before forward
        if np.shape(grad_output) != a_shape:
            raise bp.ShapeError(f"Mean.backward expected grad_output of shape {a_shape}, got {np.shape(grad_output)}")
        grad_input = np.zeros(x_shape)
        for i, branch in enumerate(self.branches):
            grad_branch = branch.backward(grad_output / len(self.branches))  # dC/df_k = (1/K) dC/da
            if np.shape(grad_branch) != x_shape:  # numpy would broadcast a wrong shape into the sum
                raise bp.ShapeError(
                    f"Mean: branch {i} ({branch!r}).backward returned shape {np.shape(grad_branch)}, "
                    f"expected the shape of its input {x_shape}"
                )
            grad_input = grad_input + grad_branch  # x fans out: the paths' gradients add up
        return grad_input

    def __repr__(self):
        return f"Mean({', '.join(repr(b) for b in self.branches)})"


# --8<-- [end:container]


def main():
    # --8<-- [start:check]
    from minibp.gradcheck import gradcheck
    from minibp.testing import check_module

    rng = np.random.default_rng(1)
    mean = Mean(bp.Dense(3, 2, rng=rng), bp.Sequential(bp.Dense(3, 2, rng=rng), bp.Tanh()))
    x = rng.standard_normal((3, 4))
    print(gradcheck(mean, x))
    print("contract:", check_module(mean, x).ok)
    # --8<-- [end:check]

    # --8<-- [start:wrong]
    class Sloppy(bp.Dense):
        """A layer whose backward returns one column too few."""

        def backward(self, grad_output):
            return super().backward(grad_output)[:, :-1]

        def __repr__(self):
            return "Sloppy()"

    for container in (bp.Parallel, Mean):
        net = bp.Sequential(container(bp.Dense(3, 2, rng=rng), Sloppy(3, 2, rng=rng)), bp.Sigmoid())
        a = net(x)
        try:
            net.backward(np.ones_like(a))
        except bp.ShapeError as err:
            print(err)
    # --8<-- [end:wrong]


if __name__ == "__main__":
    main()
