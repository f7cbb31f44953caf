"""How-to: the rest of chapter 3's toolbox: L1 regularisation and expanded training data.

python docs/examples/howto_chapter3_more.py

The sections between the markers are the guide's Python blocks, as they run.
"""

from __future__ import annotations


def l1() -> dict[str, float]:
    """Train with L2 and with L1, print what each leaves of the first layer; return the validation accuracies."""
    # --8<-- [start:l1]
    import numpy as np

    import minibp as bp
    from minibp.data import load_sample
    from minibp.regularization import L1, L2

    data = load_sample()
    X, y = data.training
    accuracy = {}
    for regularizer in (L2, L1):
        net = bp.mlp([784, 30, 10], init="scaled", rng=0)
        bp.train(
            net,
            (X, y),
            optimizer=bp.SGD(net.parameters(), eta=0.5),
            cost=bp.CrossEntropyCost(),
            regularization=regularizer(net, lmbda=5.0, n=X.shape[1]),  # L1: w -> w - (eta lmbda / n) sgn(w) - ...
            epochs=10,
            mini_batch_size=10,
            rng=0,
            verbose=False,
        )
        w = np.abs(net[0].w.data)  # the first layer's 784 x 30 weights
        accuracy[regularizer.__name__] = bp.accuracy(net, *data.validation)
        print(
            f"{regularizer.__name__}: validation {accuracy[regularizer.__name__]:.1%}, "
            f"{np.mean(w < 1e-3):.0%} of the first layer's |w| below 0.001, the largest {w.max():.2f}"
        )
    # --8<-- [end:l1]
    return accuracy


def expanded() -> dict[str, float]:
    """Train on 1,000 digits and on the same digits expanded; return the validation accuracies."""
    # --8<-- [start:expand]
    import minibp as bp
    from minibp.data import expand, load_sample

    data = load_sample()
    X, y = data.training
    X, y = X[:, :1000], y[:1000]  # a slice: the first 1,000 training digits
    X5, y5 = expand(X, y)  # each digit as it is, then moved one pixel up, down, left and right
    print(f"{X.shape} -> {X5.shape}, labels {y.shape} -> {y5.shape}")
    print("the first block is the digits themselves:", bool((X5[:, :1000] == X).all()))

    accuracy = {}
    for name, (X_train, y_train), epochs in [
        ("1,000 digits, 50 epochs", (X, y), 50),
        ("expanded to 5,000, 10 epochs", (X5, y5), 10),  # the same 5,000 steps of 10 examples
    ]:
        net = bp.mlp([784, 30, 10], init="scaled", rng=0)
        bp.train(
            net,
            (X_train, y_train),
            optimizer=bp.SGD(net.parameters(), eta=0.5),
            cost=bp.CrossEntropyCost(),
            epochs=epochs,
            mini_batch_size=10,
            rng=0,
            verbose=False,
        )
        accuracy[name] = bp.accuracy(net, *data.validation)
        print(f"{name:30s} validation {accuracy[name]:.1%}")
    # --8<-- [end:expand]
    return accuracy


def main() -> tuple[dict[str, float], dict[str, float]]:
    """Run both sections, as the guide does (L1 prints lines 1-2, expand lines 3-6)."""
    return l1(), expanded()


if __name__ == "__main__":
    main()
