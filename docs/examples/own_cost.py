"""Write your own cost: cross-entropy for sigmoid outputs, and what it does to delta^L.

python docs/examples/own_cost.py
"""

from __future__ import annotations

import numpy as np

import minibp as bp
from minibp.data import load_sample


# --8<-- [start:cost]
class CrossEntropy(bp.Cost):
    r"""Cross-entropy for sigmoid outputs, averaged over the mini-batch.

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


def main(epochs: int = 10, eta: float = 0.5, seed: int = 0, n_train: int | None = None) -> dict[str, float]:
    # --8<-- [start:delta]
    rng = np.random.default_rng(seed)
    net = bp.mlp([784, 30, 10], rng=seed)
    x = rng.random((784, 4))
    y = np.eye(10)[:, [3, 1, 4, 1]]  # targets for the labels 3, 1, 4, 1, as columns

    for cost in (bp.QuadraticCost(), CrossEntropy(), bp.CrossEntropyCost()):
        a = net(x)
        cost(a, y)
        delta_L = net[-1].backward(cost.backward())  # BP1: Sigmoid.backward(cost.backward())
        m = x.shape[1]
        gap = np.abs(m * delta_L - (a - y)).max()
        print(f"{type(cost).__name__:<16} largest |m delta^L - (a - y)| = {gap:.2e}")
    # --8<-- [end:delta]

    # --8<-- [start:saturated]
    sigmoid = bp.Sigmoid()
    a = sigmoid(np.array([[40.0]]))  # an output neuron that is confidently wrong: a rounds to exactly 1.0
    y = np.array([[0.0]])
    for cost in (bp.QuadraticCost(), CrossEntropy(), bp.CrossEntropyCost()):
        cost(a, y)
        delta_L = sigmoid.backward(cost.backward())
        print(f"{type(cost).__name__:<16} a = {a.item()}, y = 0: delta^L = {delta_L.item():.3g}")
    # --8<-- [end:saturated]

    # --8<-- [start:compare]
    data = load_sample()
    X, y = data.training
    if n_train is not None:  # the tests train on fewer digits
        X, y = X[:, :n_train], y[:n_train]
    accuracy = {}
    for cost in (bp.QuadraticCost(), CrossEntropy()):
        net = bp.mlp([784, 30, 10], init="scaled", rng=seed)  # the same start for both
        optimizer = bp.SGD(net.parameters(), eta=eta)
        bp.train(
            net, (X, y), optimizer=optimizer, cost=cost, epochs=epochs, mini_batch_size=10, rng=seed, verbose=False
        )
        name = type(cost).__name__
        accuracy[name] = bp.accuracy(net, *data.validation)
        print(f"{name:<16} validation accuracy after {epochs} epochs: {accuracy[name]:.1%}")
    # --8<-- [end:compare]
    return accuracy


if __name__ == "__main__":
    main()
