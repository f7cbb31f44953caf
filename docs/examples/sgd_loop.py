"""Mini-batch stochastic gradient descent written out: the five calls that `minibp.train` makes per mini-batch.

python docs/examples/sgd_loop.py

The sections between the markers are the backprop tutorial's first two Python blocks, as they run.
"""

from __future__ import annotations


def main():
    # --8<-- [start:setup]
    import numpy as np

    import minibp as bp
    from minibp.data import load_sample, minibatch_indices

    data = load_sample()
    X, y = data.training  # 4,000 digits: inputs (784, 4000), labels (4000,)
    targets = np.eye(10)[:, y]  # one-hot desired outputs y(x), one column per example: (10, 4000)
    epochs, mini_batch_size, eta = 3, 10, 3.0
    net = bp.mlp([784, 30, 10], rng=0)
    cost = bp.QuadraticCost()
    optimizer = bp.SGD(net.parameters(), eta=eta)
    rng = np.random.default_rng(0)  # shuffles the mini-batches
    # --8<-- [end:setup]

    # --8<-- [start:loop]
    for epoch in range(epochs):
        for idx in minibatch_indices(X.shape[1], mini_batch_size, rng):  # a fresh shuffle each epoch
            x, t = X[:, idx], targets[:, idx]  # m columns: (784, m) and (10, m)
            a = net(x)  # forward: eq. 17, layer after layer
            cost(a, t)  # eq. 1 on this mini-batch
            optimizer.zero_grad()  # start the gradients from zero
            net.backward(cost.backward())  # BP1 to BP4, last layer first
            optimizer.step()  # eq. 13-14
        print(f"Epoch {epoch}: {bp.evaluate(net, *data.validation)} / {data.validation[1].size}")
    # --8<-- [end:loop]
    return net


if __name__ == "__main__":
    main()
