"""XOR with a [2, 2, 1] sigmoid network: the smallest problem a hidden layer is needed for.

Runs in about a second and needs no data:

    python examples/xor.py
"""

from __future__ import annotations

import numpy as np

import minibp as bp


def main(epochs: int = 3000, seed: int = 1) -> bp.History:
    X = np.array([[0, 0, 1, 1], [0, 1, 0, 1]], dtype=float)  # the four inputs, as columns
    y = np.array([[0, 1, 1, 0]], dtype=float)  # x1 XOR x2
    net = bp.mlp([2, 2, 1], rng=seed)
    optimizer = bp.SGD(net.parameters(), eta=3.0)
    history = bp.train(net, (X, y), optimizer=optimizer, epochs=epochs, mini_batch_size=4, rng=seed, verbose=False)
    print("inputs :", X.T.tolist())
    print("outputs:", np.round(net(X), 3).ravel().tolist())
    print(f"cost   : {history.training_cost[0]:.4f} -> {history.training_cost[-1]:.4f}")
    return history


if __name__ == "__main__":
    main()
