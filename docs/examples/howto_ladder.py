"""How-to: climb chapter 6's ladder, from a fully connected network to convolutions, ReLU, more data and dropout.

python docs/examples/howto_ladder.py

Builds the six networks of the ladder and trains each for a few epochs on a slice of the bundled
digits. ``scripts/chapter6_ladder.py`` imports ``RUNGS``, ``expand`` and ``climb`` from here to
measure the same ladder on full data sets. The sections between the markers are the guide's
Python blocks, as they run.
"""

from __future__ import annotations

# --8<-- [start:rungs]
import numpy as np

import minibp as bp
from minibp.data import expand  # each image and its four one-pixel shifts, labels repeated


def conv_pool(in_shape, filters, activation, rng):
    """A 5 x 5 convolution, its activation, and 2 x 2 max-pooling: the book's ConvPoolLayer."""
    conv = bp.Conv2d(in_shape, filters, 5, init="scaled" if activation is bp.Sigmoid else "he", rng=rng)
    return [conv, activation(), bp.MaxPool2d(conv.out_shape)]


def head(n_in, activation, rng, hidden=100, dropout=0.0):
    """The fully connected end: n_in -> hidden -> 10, dropping inputs of each Dense with probability `dropout`."""

    def drop():
        return [bp.Dropout(dropout, rng=rng)] if dropout else []

    return [
        *drop(),
        bp.Dense(n_in, hidden, init="scaled", rng=rng),
        activation(),
        *drop(),
        bp.Dense(hidden, 10, init="scaled", rng=rng),
    ]


def shallow(rng):
    return bp.Sequential(*head(784, bp.Sigmoid, rng))


def one_conv_pool(rng):
    return bp.Sequential(*conv_pool((1, 28, 28), 20, bp.Sigmoid, rng), *head(20 * 12 * 12, bp.Sigmoid, rng))


def two_conv_pool(rng, activation=bp.Sigmoid, **head_options):
    return bp.Sequential(
        *conv_pool((1, 28, 28), 20, activation, rng),
        *conv_pool((20, 12, 12), 40, activation, rng),
        *head(40 * 4 * 4, activation, rng, **head_options),
    )


def relu(rng):
    return two_conv_pool(rng, bp.ReLU)


def dropout(rng):
    return two_conv_pool(rng, bp.ReLU, hidden=1000, dropout=0.5)


RUNGS = {  # name: (network, trained on the expanded data?)
    "shallow [784, 100, 10]": (shallow, False),
    "one conv-pool": (one_conv_pool, False),
    "two conv-pool": (two_conv_pool, False),
    "ReLU": (relu, False),
    "expanded data": (relu, True),
    "dropout": (dropout, True),
}
# --8<-- [end:rungs]



# --8<-- [start:climb]
def climb(training, evaluation, epochs, seed=0, rungs=RUNGS, report=print):
    """Train every rung on `training` with SGD (eta = 0.1, m = 10) and return {rung: accuracy on `evaluation`}."""
    expanded = expand(*training)
    accuracy = {}
    for name, (network, more_data) in rungs.items():
        net = network(np.random.default_rng(seed))
        bp.train(
            net,
            expanded if more_data else training,
            optimizer=bp.SGD(net.parameters(), eta=0.1),
            cost=bp.SoftmaxLogLikelihoodCost(),
            epochs=epochs,
            mini_batch_size=10,
            rng=seed,
            verbose=False,
        )
        accuracy[name] = bp.accuracy(net, *evaluation)
        report(f"{name:<24} {accuracy[name]:6.1%}")
    return accuracy


# --8<-- [end:climb]


def main() -> dict[str, float]:
    # --8<-- [start:run]
    from minibp.data import load_sample

    data = load_sample()
    X, y = data.training
    accuracy = climb((X[:, :1000], y[:1000]), data.validation, epochs=2)  # 1,000 digits, 2 epochs a rung
    # --8<-- [end:run]
    return accuracy


if __name__ == "__main__":
    main()
