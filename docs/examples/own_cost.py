"""Write your own cost: cross-entropy as a cost of a and as a cost of z, and what each does to delta^L.

python docs/examples/own_cost.py

The sections between the markers are the tutorial's Python blocks. On the page they run in the
order cost, delta, cost-z, saturated, refuse, compare.
"""

from __future__ import annotations

# --8<-- [start:cost]
import numpy as np
from scipy.special import expit

import minibp as bp


class CrossEntropy(bp.Cost):
    r"""Cross-entropy of sigmoid outputs $a$, averaged over the mini-batch (a cost of $a$).

    $$C = -\frac{1}{m}\sum_x \sum_j \big[y_j \ln a^L_j + (1 - y_j)\ln(1 - a^L_j)\big]$$
    """

    tiny = 1e-12  # keeps the logarithms and the division finite when a sigmoid saturates

    def forward(self, a, y):
        self.a = np.clip(a, self.tiny, 1 - self.tiny)
        self.y = y
        m = a.shape[1]
        return -float(np.sum(y * np.log(self.a) + (1 - y) * np.log(1 - self.a))) / m

    def backward(self):
        a, y = self.a, self.y
        m = a.shape[1]
        return (a - y) / (a * (1 - a)) / m  # dC/da, one column per example


# --8<-- [end:cost]


# --8<-- [start:cost-z]
class SigmoidCrossEntropy(bp.Cost):
    r"""The same cost, computed from the weighted input $z$ of a final `Dense` (a cost of $z$).

    $$C = \frac{1}{m}\sum_x \sum_j \big[\ln(1 + e^{-z_j}) + (1 - y_j)\,z_j\big],
      \qquad \delta^L = \frac{1}{m}\big(\sigma(z) - y\big)$$
    """

    takes = "z"  # forward receives z^L, backward returns delta^L = dC/dz^L

    def forward(self, z, y):
        self.z, self.y = z, y
        m = z.shape[1]
        return float(np.sum(np.logaddexp(0, -z) + (1 - y) * z)) / m  # ln(1 + e^-z) = -ln sigma(z), never overflows

    def backward(self):
        m = self.z.shape[1]
        return (expit(self.z) - self.y) / m  # BP1 with sigma' cancelled on paper: nothing left to round to 0


# --8<-- [end:cost-z]


def main() -> dict[str, float]:
    # --8<-- [start:delta]
    rng = np.random.default_rng(0)
    net = bp.mlp([784, 30, 10], rng=0)
    x = rng.random((784, 4))
    y = np.eye(10)[:, [3, 1, 4, 1]]  # targets for the labels 3, 1, 4, 1, as columns

    for cost in (bp.QuadraticCost(), CrossEntropy(), bp.CrossEntropyCost()):
        a = net(x)
        cost(a, y)
        delta_L = net[-1].backward(cost.backward())  # BP1: Sigmoid.backward(cost.backward())
        m = x.shape[1]
        gap = np.abs(m * delta_L - (a - y)).max()
        print(f"{type(cost).__name__:<19} largest |m delta^L - (a - y)| = {gap:.2e}")
    # --8<-- [end:delta]

    # --8<-- [start:saturated]
    z = np.array([[40.0, -40.0]])  # one output neuron, two examples, both confidently wrong
    y = np.array([[0.0, 1.0]])  # so sigma(z) - y = [1, -1]
    m = z.shape[1]
    sigmoid = bp.Sigmoid()
    a = sigmoid(z)
    print(f"a = sigma(z) = [{a[0, 0]}, {a[0, 1]:.3g}]")  # sigma(40) rounds to exactly 1.0
    for cost in (bp.QuadraticCost(), CrossEntropy(), bp.CrossEntropyCost()):  # costs of a, after a Sigmoid
        cost(a, y)
        d = m * sigmoid.backward(cost.backward())  # m delta^L, to compare with sigma(z) - y
        print(f"{type(cost).__name__:<23} m delta^L = [{d[0, 0]:.3g}, {d[0, 1]:.3g}]")
    for cost in (SigmoidCrossEntropy(), bp.SigmoidCrossEntropyCost()):  # costs of z, no Sigmoid
        cost(z, y)
        d = m * cost.backward()  # the cost returns delta^L itself
        print(f"{type(cost).__name__:<23} m delta^L = [{d[0, 0]:.3g}, {d[0, 1]:.3g}]")
    # --8<-- [end:saturated]

    # --8<-- [start:refuse]
    from minibp.data import load_sample

    data = load_sample()
    net = bp.mlp([784, 30, 10], rng=0)  # ends in Sigmoid
    optimizer = bp.SGD(net.parameters(), eta=0.5)
    try:
        bp.train(net, data.training, optimizer=optimizer, cost=SigmoidCrossEntropy(), epochs=1, mini_batch_size=10)
    except ValueError as err:
        print(err)
    # --8<-- [end:refuse]

    # --8<-- [start:compare]
    accuracy = {}
    for cost in (bp.QuadraticCost(), CrossEntropy(), SigmoidCrossEntropy()):
        net = bp.mlp([784, 30, 10], init="scaled", rng=0)  # the same start for all three
        if cost.takes == "z":
            net = net[:-1]  # drop the final Sigmoid: the cost applies it
        optimizer = bp.SGD(net.parameters(), eta=0.5)
        bp.train(
            net, data.training, optimizer=optimizer, cost=cost, epochs=10, mini_batch_size=10, rng=0, verbose=False
        )
        name = type(cost).__name__
        accuracy[name] = bp.accuracy(net, *data.validation)
        print(f"{name:<19} validation accuracy after 10 epochs: {accuracy[name]:.1%}")
    # --8<-- [end:compare]
    return accuracy


if __name__ == "__main__":
    main()
