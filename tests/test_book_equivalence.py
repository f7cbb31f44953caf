"""minibp reproduces the book's algorithm.

An independent, example-by-example implementation of chapter 2's algorithm,
written here from the equations (feedforward eq. 17; BP1, BP2, BP3, BP4;
the mini-batch update eq. 13-14), is run next to minibp from the same
initial parameters with the same mini-batch order. After three epochs over
5,000 real MNIST digits every weight and bias agrees to 1e-10, on both of
`train`'s paths: the modules' own forward and backward, and the fused epoch.
"""

from __future__ import annotations

import numpy as np
import pytest

import minibp as bp
from minibp.data import load_sample


def sigma(z):
    return 1.0 / (1.0 + np.exp(-z))


def per_example_gradients(weights, biases, x, y):
    """dC_x/dw and dC_x/db for one example (column vectors), by BP1-BP4."""
    activations, zs = [x], []
    for w, b in zip(weights, biases):
        zs.append(w @ activations[-1] + b)  # eq. 17: z^l = w^l a^{l-1} + b^l
        activations.append(sigma(zs[-1]))
    deltas = [None] * len(weights)
    s = sigma(zs[-1])
    deltas[-1] = (activations[-1] - y) * s * (1 - s)  # BP1 with the quadratic cost
    for l in range(len(weights) - 2, -1, -1):
        s = sigma(zs[l])
        deltas[l] = (weights[l + 1].T @ deltas[l + 1]) * s * (1 - s)  # BP2
    grad_b = deltas  # BP3
    grad_w = [d @ a.T for d, a in zip(deltas, activations[:-1])]  # BP4
    return grad_w, grad_b


def book_epoch(weights, biases, columns, targets, order, m, eta):
    for k in range(0, len(order), m):
        batch = order[k : k + m]
        sum_w = [np.zeros_like(w) for w in weights]
        sum_b = [np.zeros_like(b) for b in biases]
        for i in batch:
            gw, gb = per_example_gradients(weights, biases, columns[i], targets[i])
            sum_w = [s + g for s, g in zip(sum_w, gw)]
            sum_b = [s + g for s, g in zip(sum_b, gb)]
        weights = [w - (eta / len(batch)) * s for w, s in zip(weights, sum_w)]  # eq. 13
        biases = [b - (eta / len(batch)) * s for b, s in zip(biases, sum_b)]  # eq. 14
    return weights, biases


@pytest.mark.slow
@pytest.mark.parametrize("fused", [False, True], ids=["modules", "fused"])
def test_three_epochs_on_5000_digits_match_the_per_example_algorithm(fused):
    sample = load_sample()
    X = np.concatenate([sample.training[0], sample.validation[0], sample.test[0]], axis=1)
    y = np.concatenate([sample.training[1], sample.validation[1], sample.test[1]])
    assert X.shape == (784, 5000)
    eta, m, epochs, seed = 3.0, 10, 3, 2024

    net = bp.mlp([784, 30, 10], rng=7)
    weights = [net[0].w.data.copy(), net[2].w.data.copy()]
    biases = [net[0].b.data.copy(), net[2].b.data.copy()]

    bp.train(
        net,
        (np.asfortranarray(X), y),
        optimizer=bp.SGD(net.parameters(), eta=eta),
        epochs=epochs,
        mini_batch_size=m,
        rng=seed,
        verbose=False,
        progress=False,
        fused=fused,
    )

    # The same shuffles: train draws one permutation per epoch from this generator.
    rng = np.random.default_rng(seed)
    columns = [X[:, [i]] for i in range(X.shape[1])]
    targets = [np.eye(10)[:, [label]] for label in y]
    for _ in range(epochs):
        weights, biases = book_epoch(weights, biases, columns, targets, rng.permutation(X.shape[1]), m, eta)

    ours = [net[0].w.data, net[0].b.data, net[2].w.data, net[2].b.data]
    book = [weights[0], biases[0], weights[1], biases[1]]
    for name, a, b in zip(["w2", "b2", "w3", "b3"], ours, book):
        difference = np.abs(a - b).max()
        assert difference <= 1e-10, f"{name}: max |minibp - book| = {difference:.3e}"
    # The run really trained: the parameters moved far from where they started.
    assert np.abs(net[2].w.data - bp.mlp([784, 30, 10], rng=7)[2].w.data).max() > 0.1
