"""How-to: the book's chapter 3 toolbox in minibp: cross-entropy, scaled weights, L2, a schedule, early stopping.

python docs/examples/howto_chapter3.py

The section between the markers is the guide's Python block, as it runs.
"""

from __future__ import annotations


def main():
    # --8<-- [start:network2]
    import minibp as bp
    from minibp.callbacks import EarlyStopping, HalveOnPlateau
    from minibp.data import load_sample
    from minibp.regularization import L2

    data = load_sample()
    X, y = data.training
    net = bp.mlp([784, 30, 10], init="scaled", rng=0)  # weights N(0, 1/n_in)
    optimizer = bp.SGD(net.parameters(), eta=0.5)
    history = bp.train(
        net,
        (X, y),
        optimizer=optimizer,
        cost=bp.CrossEntropyCost(),
        regularization=L2(net, lmbda=5.0, n=X.shape[1]),  # w -> (1 - eta lmbda / n) w - ...
        schedule=HalveOnPlateau(eta=0.5, patience=3),  # halve eta when accuracy stalls
        callbacks=[EarlyStopping(patience=6, restore_best=True)],
        epochs=30,
        mini_batch_size=10,
        evaluation_data=data.validation,
        monitor_training=True,  # network2's four monitors: cost and accuracy on both sets
        rng=0,
        verbose=False,
    )
    for j, eta, acc, train_acc in zip(
        history.epoch, history.eta, history.evaluation_accuracy, history.training_accuracy
    ):
        print(f"epoch {j:2d}  eta {eta:<7g}  validation {acc:.1%}  training {train_acc:.1%}")
    # --8<-- [end:network2]
    return history


if __name__ == "__main__":
    main()
