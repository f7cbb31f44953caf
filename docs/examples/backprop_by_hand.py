"""Backpropagation by hand, next to minibp: BP1-BP4 in batch-as-columns form give the same gradients.

python docs/examples/backprop_by_hand.py

The sections between the markers are the backprop tutorial's last Python blocks, as they run.
"""

from __future__ import annotations


def main() -> dict[str, float]:
    # --8<-- [start:setup]
    import numpy as np
    from scipy.special import expit

    import minibp as bp

    rng = np.random.default_rng(0)
    net = bp.mlp([784, 30, 10], rng=0)
    dense2, sigmoid2, dense3, sigmoid3 = net  # the book numbers the input layer 1
    cost = bp.QuadraticCost()

    m = 5
    x = rng.random((784, m))  # m inputs, one per column
    y = np.zeros((10, m))
    y[rng.integers(0, 10, size=m), np.arange(m)] = 1.0  # one-hot targets, one per column
    # --8<-- [end:setup]

    # --8<-- [start:framework]
    a = net(x)  # forward: every module keeps what its backward needs
    C = cost(a, y)
    net.zero_grad()
    net.backward(cost.backward())  # backward: fills every Parameter.grad
    # --8<-- [end:framework]

    # --8<-- [start:by-hand]
    w2, b2, w3, b3 = dense2.w.data, dense2.b.data, dense3.w.data, dense3.b.data

    def sigmoid_prime(z):
        return expit(z) * (1 - expit(z))

    a1 = x
    z2 = w2 @ a1 + b2  # eq. 17: z^l = w^l a^{l-1} + b^l, all m columns at once
    a2 = expit(z2)  # eq. 17: a^l = sigma(z^l)
    z3 = w3 @ a2 + b3
    a3 = expit(z3)
    C_by_hand = 0.5 * np.sum((y - a3) ** 2) / m  # eq. 1 and 19, averaged over the mini-batch

    delta3 = (a3 - y) / m * sigmoid_prime(z3)  # BP1 (the 1/m comes from the mean)
    delta2 = (w3.T @ delta3) * sigmoid_prime(z2)  # BP2
    grad_b3 = delta3.sum(axis=1, keepdims=True)  # BP3, summed over the columns
    grad_w3 = delta3 @ a2.T  # BP4: a sum of outer products, one per column
    grad_b2 = delta2.sum(axis=1, keepdims=True)
    grad_w2 = delta2 @ a1.T
    # --8<-- [end:by-hand]

    # --8<-- [start:compare]
    print(f"cost: minibp {C:.6f}, by hand {C_by_hand:.6f}")
    delta3_minibp = sigmoid3.backward(cost.backward())  # BP1 is this composition
    differences = {
        "BP1 delta^3": np.abs(delta3_minibp - delta3).max(),
        "BP3 dC/db^3": np.abs(dense3.b.grad - grad_b3).max(),
        "BP4 dC/dw^3": np.abs(dense3.w.grad - grad_w3).max(),
        "BP3 dC/db^2": np.abs(dense2.b.grad - grad_b2).max(),
        "BP4 dC/dw^2": np.abs(dense2.w.grad - grad_w2).max(),
    }
    for name, difference in differences.items():
        print(f"{name:<12} largest |minibp - by hand| = {difference:.1e}")
    # --8<-- [end:compare]
    return differences


if __name__ == "__main__":
    main()
