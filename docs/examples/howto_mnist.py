"""How-to: train on the full MNIST or Fashion-MNIST with the book's 50,000 / 10,000 / 10,000 split.

python docs/examples/howto_mnist.py

It needs the files: `minibp data download` and `minibp data download fashion-mnist` fetch them.

The sections between the markers are the guide's Python blocks, as they run. They read the files
from $MINIBP_DATA/mnist and $MINIBP_DATA/fashion-mnist, or from the user cache (~/.cache/minibp).
"""

from __future__ import annotations


def main():
    # --8<-- [start:load]
    import minibp as bp
    from minibp.data import load_mnist

    data = load_mnist()  # or load_mnist("a/folder") for files elsewhere, load_mnist(download=True) to fetch them
    # --8<-- [end:load]

    # --8<-- [start:train]
    X, y = data.training
    print("training:", X.shape, " validation:", data.validation[0].shape, " test:", data.test[0].shape)
    net = bp.mlp([784, 30, 10], rng=0)
    optimizer = bp.SGD(net.parameters(), eta=3.0)
    bp.train(net, (X, y), optimizer=optimizer, epochs=30, mini_batch_size=10, evaluation_data=data.validation, rng=0)
    print(f"test: {bp.evaluate(net, *data.test)} / {data.test[1].size}")
    # --8<-- [end:train]

    # --8<-- [start:fashion]
    from minibp.data import load_fashion_mnist

    data = load_fashion_mnist()  # also found where Debian's dataset-fashion-mnist package puts it
    X, y = data.training
    print("Fashion-MNIST training:", X.shape, " labels:", sorted(set(y.tolist())))
    # --8<-- [end:fashion]
    return net


if __name__ == "__main__":
    main()
