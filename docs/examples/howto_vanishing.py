"""How-to: see the vanishing gradient: the earlier a layer, the slower it learns (the book's chapter 5).

Trains a [784, 30, 30, 30, 10] sigmoid network on 1,000 bundled digits with
the book's settings (the whole 1,000 as one mini-batch, eta = 0.1, L2 with
lambda = 5, 500 epochs), records each layer's learning speed with
`LearningSpeed`, prints it as a table and draws it into
``vanishing-gradient.png`` in the current folder.

python docs/examples/howto_vanishing.py
"""

from __future__ import annotations

# --8<-- [start:imports]
import minibp as bp
from minibp.callbacks import LearningSpeed
from minibp.data import load_sample
from minibp.regularization import L2

# --8<-- [end:imports]


def main() -> bp.History:
    """Train, print the table, draw the figure; return the `History`."""
    # --8<-- [start:train]
    X, y = load_sample().training
    X, y = X[:, :1000], y[:1000]  # 1,000 training digits, as in the book's experiment

    net = bp.mlp([784, 30, 30, 30, 10], init="scaled", rng=0)  # three hidden layers of 30 sigmoid neurons
    cost = bp.CrossEntropyCost()
    speed = LearningSpeed((X, y), cost)  # measures on the first 1,000 examples of (X, y)
    before, _ = speed.measure(net)  # ||dC/db^l|| of each Dense layer, before training
    history = bp.train(
        net,
        (X, y),
        optimizer=bp.SGD(net.parameters(), eta=0.1),
        cost=cost,
        regularization=L2(net, lmbda=5.0, n=1000),
        epochs=500,
        mini_batch_size=1000,  # the book's: one step an epoch, on all 1,000 digits
        callbacks=[speed],
        rng=0,
        verbose=False,
    )
    # --8<-- [end:train]
    # --8<-- [start:table]
    layers = ["hidden 1", "hidden 2", "hidden 3", "output"]
    print("||dC/db|| after epoch " + "".join(f"{name:>10}" for name in layers))
    print(f"{'(before training)':<22}" + "".join(f"{s:10.2e}" for s in before))
    for j in [0, 4, 9, 49, 99, 199, 299, 399, 499]:
        print(f"{j:<22}" + "".join(f"{s:10.2e}" for s in history.learning_speed[j]))
    last = history.saturation[-1]  # share of (neuron, example) pairs with sigma'(z) < 0.01
    print(f"{'saturated at the end':<22}" + "".join(f"{share:10.0%}" for share in last if share is not None))
    ordered = sum(s[0] < s[1] < s[2] for s in history.learning_speed)
    print(f"hidden 1 < hidden 2 < hidden 3 after {ordered} of {len(history.epoch)} epochs")
    print(f"the 1,000 training digits classified correctly at the end: {bp.accuracy(net, X, y):.1%}")
    # --8<-- [end:table]

    # --8<-- [start:figure]
    from minibp.plot import plot_speed

    plot_speed(history, path="vanishing-gradient.png")  # every layer's speed per epoch, and the saturation
    # --8<-- [end:figure]
    return history


if __name__ == "__main__":
    main()
