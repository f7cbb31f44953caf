"""With `L2`, the costs in `History` are network2's ``total_cost``: the penalty uses the evaluated set's size.

network2 (the book's chapter 3 program) computes a monitored cost as

    cost = sum over (x, y) in data of cost.fn(feedforward(x), y) / len(data)
    cost += 0.5 * (lmbda / len(data)) * sum(norm(w)**2 for w in weights)

so the training cost is penalised with the training set's size and the
evaluation cost with the evaluation set's. `total_cost` below is that
definition, one example at a time, written here from the book rather than
taken from minibp.
"""

from __future__ import annotations

import numpy as np
import pytest

import minibp as bp
from minibp.regularization import L2, WeightDecay

SIZES = [6, 5, 4]
N_TRAIN, N_EVAL = 40, 15


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def quadratic_fn(a, y):
    return 0.5 * np.linalg.norm(a - y) ** 2  # network2's QuadraticCost.fn


def cross_entropy_fn(a, y):
    return np.sum(np.nan_to_num(-y * np.log(a) - (1 - y) * np.log(1 - a)))  # network2's CrossEntropyCost.fn


def vectorized_result(j, n_out):
    e = np.zeros((n_out, 1))
    e[j] = 1.0
    return e


def total_cost(weights, biases, fn, X, y, lmbda):
    """network2's ``Network.total_cost(data, lmbda, convert=True)``, example by example."""
    data = list(zip(X.T, y))
    cost = 0.0
    for x, label in data:
        a = x.reshape(-1, 1)
        for w, b in zip(weights, biases):
            a = sigmoid(w @ a + b)  # network2's feedforward
        cost += fn(a, vectorized_result(label, a.shape[0])) / len(data)
    cost += 0.5 * (lmbda / len(data)) * sum(np.linalg.norm(w) ** 2 for w in weights)
    return cost


def parameters(net):
    dense = [m for m in net if isinstance(m, bp.Dense)]
    return [d.w.data.copy() for d in dense], [d.b.data.copy() for d in dense]


def data(seed):
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (SIZES[0], N_TRAIN))
    Xe = rng.uniform(0, 1, (SIZES[0], N_EVAL))
    return (X, rng.integers(0, SIZES[-1], N_TRAIN)), (Xe, rng.integers(0, SIZES[-1], N_EVAL))


def close(actual, expected):
    assert actual == pytest.approx(expected, rel=1e-12, abs=0)


@pytest.mark.parametrize(
    ("cost", "fn"), [(bp.QuadraticCost(), quadratic_fn), (bp.CrossEntropyCost(), cross_entropy_fn)]
)
@pytest.mark.parametrize("fused", [None, False])
@pytest.mark.parametrize("l2_n", [N_TRAIN, 1000])  # the n of the gradient: the training set's, or another
def test_monitored_costs_are_network2_total_cost(cost, fn, fused, l2_n):
    training, evaluation = data(0)
    lmbda = 4.0
    net = bp.mlp(SIZES, rng=1)
    history = bp.train(
        net,
        training,
        optimizer=bp.SGD(net.parameters(), eta=0.5),
        cost=cost,
        regularization=L2(net, lmbda=lmbda, n=l2_n),
        epochs=2,
        mini_batch_size=8,
        evaluation_data=evaluation,
        monitor_training=True,
        rng=2,
        verbose=False,
        fused=fused,
    )
    weights, biases = parameters(net)  # the weights after the last epoch, which its costs measure
    close(history.evaluation_cost[-1], total_cost(weights, biases, fn, *evaluation, lmbda))
    close(history.training_full_cost[-1], total_cost(weights, biases, fn, *training, lmbda))


def test_the_evaluation_penalty_uses_the_evaluation_set_size_not_the_training_set_size():
    """The same weights give network2's evaluation cost, not C0 + lambda/(2 n_train) sum w^2."""
    training, evaluation = data(3)
    lmbda = 50.0
    net = bp.mlp(SIZES, rng=4)
    history = bp.train(
        net,
        training,
        optimizer=bp.SGD(net.parameters(), eta=0.1),
        regularization=L2(net, lmbda=lmbda, n=N_TRAIN),
        epochs=1,
        mini_batch_size=10,
        evaluation_data=evaluation,
        rng=5,
        verbose=False,
    )
    weights, biases = parameters(net)
    unpenalised = total_cost(weights, biases, quadratic_fn, *evaluation, 0.0)
    squares = sum(float(np.sum(w**2)) for w in weights)
    close(history.evaluation_cost[0], unpenalised + 0.5 * lmbda / N_EVAL * squares)
    assert abs(history.evaluation_cost[0] - (unpenalised + 0.5 * lmbda / N_TRAIN * squares)) > 0.1


@pytest.mark.parametrize("fused", [None, False])
def test_training_cost_adds_the_penalty_of_the_training_set_size(fused):
    """One full-batch step: the mean mini-batch cost is C0 before the step, the penalty is of the weights after it."""
    training, _ = data(6)
    lmbda = 3.0
    net = bp.mlp(SIZES, rng=7)
    before_w, before_b = parameters(net)
    history = bp.train(
        net,
        training,
        optimizer=bp.SGD(net.parameters(), eta=0.5),
        regularization=L2(net, lmbda=lmbda, n=500),  # a gradient n other than the training set's
        epochs=1,
        mini_batch_size=N_TRAIN,
        rng=8,
        verbose=False,
        fused=fused,
    )
    after_w, _ = parameters(net)
    unpenalised = total_cost(before_w, before_b, quadratic_fn, *training, 0.0)
    squares = sum(float(np.sum(w**2)) for w in after_w)
    close(history.training_cost[0], unpenalised + 0.5 * lmbda / N_TRAIN * squares)


def test_weight_decay_adds_nothing_to_the_costs():
    training, evaluation = data(9)
    net = bp.mlp(SIZES, rng=10)
    history = bp.train(
        net,
        training,
        optimizer=bp.SGD(net.parameters(), eta=0.5),
        regularization=WeightDecay(net, wd=0.01),
        epochs=1,
        mini_batch_size=8,
        evaluation_data=evaluation,
        rng=11,
        verbose=False,
    )
    weights, biases = parameters(net)
    close(history.evaluation_cost[0], total_cost(weights, biases, quadratic_fn, *evaluation, 0.0))
