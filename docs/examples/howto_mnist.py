"""How-to: train on the full MNIST or Fashion-MNIST with the book's 50,000 / 10,000 / 10,000 split.

python docs/examples/howto_mnist.py            # needs the files: `minibp data download` fetches MNIST
"""

from __future__ import annotations

import minibp as bp
from minibp.data import load_fashion_mnist, load_mnist


def main(directory: str | None = None, fashion: bool = False, epochs: int = 30):
    # --8<-- [start:load]
    data = load_mnist(directory)  # or load_mnist(download=True) to fetch and verify the files first
    # --8<-- [end:load]
    if fashion:
        # --8<-- [start:fashion]
        data = load_fashion_mnist(directory)  # also found in Debian's dataset-fashion-mnist package
        # --8<-- [end:fashion]
    # --8<-- [start:train]
    X, y = data.training
    print("training:", X.shape, " validation:", data.validation[0].shape, " test:", data.test[0].shape)
    net = bp.mlp([784, 30, 10], rng=0)
    optimizer = bp.SGD(net.parameters(), eta=3.0)
    bp.train(net, data.training, optimizer=optimizer, epochs=epochs, mini_batch_size=10,
             evaluation_data=data.validation, rng=0)  # fmt: skip
    print(f"test: {bp.evaluate(net, *data.test)} / {data.test[1].size}")
    # --8<-- [end:train]
    return net


if __name__ == "__main__":
    main()
