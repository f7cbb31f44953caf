"""Your first network: the book's [784, 30, 10] sigmoid network on the bundled MNIST sample.

    python docs/examples/first_network.py

The sections between the markers are the tutorial's Python blocks: run in
order as one script, they are this file, and the output on the page is what
this file printed when the site was built.
"""

from __future__ import annotations


def main():
    # --8<-- [start:load]
    import numpy as np

    import minibp as bp
    from minibp.data import load_sample

    data = load_sample()
    X, y = data.training
    print("images:", X.shape, X.dtype, " labels:", y.shape, y.dtype)
    print("the first ten labels:", y[:10])
    # --8<-- [end:load]

    # --8<-- [start:build]
    net = bp.mlp([784, 30, 10], rng=0)
    print(net)
    print("hidden layer: w", net[0].w.shape, " b", net[0].b.shape)
    # --8<-- [end:build]

    # --8<-- [start:train]
    optimizer = bp.SGD(net.parameters(), eta=3.0)
    history = bp.train(
        net,
        (X, y),
        optimizer=optimizer,
        epochs=30,
        mini_batch_size=10,
        evaluation_data=data.validation,
        rng=0,
    )
    # --8<-- [end:train]

    # --8<-- [start:evaluate]
    X_test, y_test = data.test
    correct = bp.evaluate(net, X_test, y_test)
    print(f"test: {correct} / {y_test.size} digits correct")

    a = net(X_test[:, :1])  # one example is a single column, shape (784, 1)
    print("output for the first test digit:", np.round(a.ravel(), 2))
    print("most active neuron:", int(a.argmax()), " label:", int(y_test[0]))
    # --8<-- [end:evaluate]
    return net, history, data


if __name__ == "__main__":
    main()
