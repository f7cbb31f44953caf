"""Baselines the benchmarks compare minibp with, written from the equations.

* `BookNetwork`: the book's algorithm example by example: for each mini-batch,
  back-propagate every example on its own (BP1-BP4), sum the gradients and
  step with eta/m. It follows chapter 1's program step for step: ``np.dot``
  for every product, sigma'(z) evaluated from the stored z as BP1 and BP2 are
  written, fresh zero arrays for each mini-batch's sums, new arrays for the
  updated parameters.
* `numpy_epoch`: the same mini-batch SGD vectorised over the batch by hand
  with bare numpy, the loop a careful user would write without a framework.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


class BookNetwork:
    """Per-example backpropagation on lists of column vectors."""

    def __init__(self, weights, biases):
        self.weights = [w.copy() for w in weights]
        self.biases = [b.copy() for b in biases]

    def gradients(self, x, y):
        activations, zs = [x], []
        for w, b in zip(self.weights, self.biases):
            zs.append(np.dot(w, activations[-1]) + b)
            activations.append(sigmoid(zs[-1]))
        grad_b = [np.zeros(b.shape) for b in self.biases]
        grad_w = [np.zeros(w.shape) for w in self.weights]
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1])  # BP1
        grad_b[-1] = delta  # BP3
        grad_w[-1] = np.dot(delta, activations[-2].transpose())  # BP4
        for l in range(2, len(self.weights) + 1):
            delta = np.dot(self.weights[-l + 1].transpose(), delta) * sigmoid_prime(zs[-l])  # BP2
            grad_b[-l] = delta
            grad_w[-l] = np.dot(delta, activations[-l - 1].transpose())
        return grad_b, grad_w

    def update(self, batch, eta):
        sum_b = [np.zeros(b.shape) for b in self.biases]
        sum_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in batch:
            gb, gw = self.gradients(x, y)
            sum_b = [s + g for s, g in zip(sum_b, gb)]
            sum_w = [s + g for s, g in zip(sum_w, gw)]
        scale = eta / len(batch)
        self.weights = [w - scale * s for w, s in zip(self.weights, sum_w)]
        self.biases = [b - scale * s for b, s in zip(self.biases, sum_b)]

    def epoch(self, data, order, m, eta):
        for k in range(0, len(order), m):
            self.update([data[i] for i in order[k : k + m]], eta)


def numpy_epoch(weights, biases, rows, target_rows, order, m, eta):
    """One epoch of vectorised mini-batch SGD with bare numpy; updates in place."""
    for k in range(0, len(order), m):
        idx = order[k : k + m]
        x = rows[idx].T
        y = target_rows[idx].T
        activations = [x]
        for w, b in zip(weights, biases):
            activations.append(sigmoid(w @ activations[-1] + b))
        a = activations[-1]
        delta = (a - y) * a * (1 - a)
        scale = eta / len(idx)
        for l in range(len(weights) - 1, -1, -1):
            grad_w = delta @ activations[l].T
            grad_b = delta.sum(axis=1, keepdims=True)
            if l:
                a_prev = activations[l]
                delta = (weights[l].T @ delta) * a_prev * (1 - a_prev)
            weights[l] -= scale * grad_w
            biases[l] -= scale * grad_b
