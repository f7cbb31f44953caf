"""The book's chapter 1 experiment: a [784, 30, 10] sigmoid network learns MNIST digits.

Thirty epochs of mini-batch SGD with m = 10 and eta = 3.0 on the quadratic
cost, printing the validation accuracy after each epoch as the book does
(after a first line naming the training path, here minibp's fused epoch):

    python examples/book_mnist.py                 # the bundled 5,000-digit sample
    python examples/book_mnist.py --data mnist    # the full 50,000 / 10,000 / 10,000 split
"""

from __future__ import annotations

import argparse

import minibp as bp
from minibp.data import load_dataset


def main(data: str = "sample", epochs: int = 30, mini_batch_size: int = 10, eta: float = 3.0, seed: int | None = 0):
    splits = load_dataset(data)
    net = bp.mlp([784, 30, 10], rng=seed)  # the book's Network([784, 30, 10])
    optimizer = bp.SGD(net.parameters(), eta=eta)
    history = bp.train(
        net,
        splits.training,
        optimizer=optimizer,
        epochs=epochs,
        mini_batch_size=mini_batch_size,
        evaluation_data=splits.validation,
        rng=seed,
    )
    X_test, y_test = splits.test
    print(f"Test: {bp.evaluate(net, X_test, y_test)} / {X_test.shape[1]}")
    return history


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="sample")
    parser.add_argument("--epochs", type=int, default=30)
    main(**vars(parser.parse_args()))
