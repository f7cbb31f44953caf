"""Write your own regulariser: the elastic net (L1 and L2 together), checked numerically, then trained.

python docs/examples/own_regularizer.py

The sections between the markers are the tutorial's Python blocks. On the page they run in the
order regularizer, check, train, fused.
"""

from __future__ import annotations

# --8<-- [start:regularizer]
import numpy as np

import minibp as bp
from minibp.regularization import weight_parameters


class ElasticNet(bp.regularization.Regularizer):
    r"""The elastic net: L1 and L2 at once, on the weights only.

    $$C = C_0 + \frac{\lambda_1}{n}\sum_w |w| + \frac{\lambda_2}{2n}\sum_w w^2, \qquad
      \frac{\partial C}{\partial w} = \frac{\partial C_0}{\partial w}
      + \frac{\lambda_1}{n}\,\mathrm{sgn}(w) + \frac{\lambda_2}{n}\, w$$
    """

    def __init__(self, net, l1, l2, n):
        self.weights = weight_parameters(net)  # the parameters named w, not the biases
        self.l1, self.l2, self.n = l1, l2, n

    def penalty(self):
        l1_sum = sum(float(np.abs(p.data).sum()) for p in self.weights)
        l2_sum = sum(float(np.square(p.data).sum()) for p in self.weights)
        return (self.l1 * l1_sum + 0.5 * self.l2 * l2_sum) / self.n

    def add_gradient(self):
        for p in self.weights:
            p.grad += (self.l1 * np.sign(p.data) + self.l2 * p.data) / self.n

    def __repr__(self):
        return f"ElasticNet(l1={self.l1}, l2={self.l2}, n={self.n})"


# --8<-- [end:regularizer]


def main():
    # --8<-- [start:check]
    net = bp.mlp([4, 3, 2], rng=0)
    elastic = ElasticNet(net, l1=0.5, l2=2.0, n=10)
    net.zero_grad()
    elastic.add_gradient()  # with every grad at 0, grad is now the penalty's gradient alone

    eps, worst = 1e-6, 0.0
    for p in elastic.weights:
        for i in np.ndindex(p.shape):
            w = p.data[i]
            p.data[i] = w + eps
            up = elastic.penalty()
            p.data[i] = w - eps
            down = elastic.penalty()
            p.data[i] = w
            numerical = (up - down) / (2 * eps)  # central difference of penalty()
            worst = max(worst, abs(numerical - p.grad[i]) / max(abs(numerical), 1e-3))
    print(f"largest relative difference from finite differences: {worst:.1e}")
    # --8<-- [end:check]

    # --8<-- [start:train]
    from minibp.data import load_sample

    data = load_sample()
    n = data.training[0].shape[1]
    results = {}
    for name in ("none", "elastic net"):
        net = bp.mlp([784, 30, 10], init="scaled", rng=0)
        regularization = [] if name == "none" else [ElasticNet(net, l1=0.2, l2=2.0, n=n)]
        optimizer = bp.SGD(net.parameters(), eta=0.5)
        bp.train(
            net,
            data.training,
            optimizer=optimizer,
            epochs=5,
            mini_batch_size=10,
            rng=0,
            regularization=regularization,
            verbose=False,
        )
        size = np.abs(net[0].w.data)  # the first layer's |w|
        results[name] = bp.accuracy(net, *data.validation)
        print(
            f"{name:<12} validation accuracy {results[name]:.1%}, "
            f"first layer: mean |w| {size.mean():.4f}, |w| < 0.001: {np.mean(size < 1e-3):.0%}"
        )
    # --8<-- [end:train]

    # --8<-- [start:fused]
    try:
        bp.train(
            net,
            data.training,
            optimizer=optimizer,
            epochs=1,
            mini_batch_size=10,
            regularization=regularization,
            fused=True,
        )
    except ValueError as err:
        print(err)
    # --8<-- [end:fused]
    return results


if __name__ == "__main__":
    main()
