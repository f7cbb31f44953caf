"""How-to: train with momentum, Nesterov or Adam instead of plain SGD, regularise with dropout, one rate per layer.

python docs/examples/howto_optimizers.py

The sections between the markers are the guide's Python blocks, as they run.
"""

from __future__ import annotations


def main() -> dict[str, float]:
    # --8<-- [start:optimizers]
    import minibp as bp
    from minibp.data import load_sample

    data = load_sample()
    epochs = 10

    def run(make_optimizer):
        net = bp.mlp([784, 30, 10], init="scaled", rng=0)  # the same start for every optimizer
        bp.train(
            net,
            data.training,
            optimizer=make_optimizer(net.parameters()),
            cost=bp.CrossEntropyCost(),
            epochs=epochs,
            mini_batch_size=10,
            rng=0,  # and the same mini-batches
            verbose=False,
        )
        return bp.accuracy(net, *data.validation)

    accuracy = {
        "SGD(eta=0.5)": run(lambda ps: bp.SGD(ps, eta=0.5)),
        "Momentum(eta=0.05, mu=0.9)": run(lambda ps: bp.Momentum(ps, eta=0.05, mu=0.9)),
        "Nesterov(eta=0.05, mu=0.9)": run(lambda ps: bp.Nesterov(ps, eta=0.05, mu=0.9)),
        "Adam(eta=0.001)": run(lambda ps: bp.Adam(ps, eta=0.001)),
    }
    for name, value in accuracy.items():
        print(f"{name:28s} validation accuracy {value:.1%}")
    # --8<-- [end:optimizers]

    # --8<-- [start:dropout]
    def wide(p):
        net = bp.Sequential(
            bp.Dense(784, 100, init="scaled", rng=1),
            bp.Sigmoid(),
            bp.Dropout(p, rng=2),  # while training, drops each hidden activation with probability p
            bp.Dense(100, 10, init="scaled", rng=3),
            bp.Sigmoid(),
        )
        optimizer = bp.SGD(net.parameters(), eta=0.5)
        history = bp.train(
            net,
            data.training,
            optimizer=optimizer,
            cost=bp.CrossEntropyCost(),
            epochs=epochs,
            mini_batch_size=10,
            evaluation_data=data.validation,  # evaluated with dropout switched off (eval mode)
            monitor_training=True,
            rng=0,
            verbose=False,
        )
        print(
            f"[784, 100, 10], dropout p = {p}: training accuracy {history.training_accuracy[-1]:.1%}, "
            f"validation accuracy {history.evaluation_accuracy[-1]:.1%}"
        )
        return history.evaluation_accuracy[-1]

    accuracy["no dropout"], accuracy["dropout"] = wide(0.0), wide(0.5)
    # --8<-- [end:dropout]

    # --8<-- [start:per_layer]
    net = bp.mlp([784, 30, 10], init="scaled", rng=0)
    optimizers = [
        bp.SGD(net[0].parameters(), eta=2.0),  # the hidden layer learns slowest: a larger rate
        bp.SGD(net[2].parameters(), eta=0.5),  # the output layer, at SGD's usual rate
    ]
    history = bp.train(
        net,
        data.training,
        optimizer=optimizers,
        cost=bp.CrossEntropyCost(),
        epochs=epochs,
        mini_batch_size=10,
        evaluation_data=data.validation,
        schedule=bp.HalveOnPlateau(eta=2.0, patience=1),  # the first optimizer's eta; the ratio 4 : 1 is kept
        rng=0,
        verbose=False,
    )
    print(f"eta per layer {history.eta[0]} -> {history.eta[-1]}: ", end="")
    print(f"validation accuracy {history.evaluation_accuracy[-1]:.1%}")
    accuracy["per layer"] = history.evaluation_accuracy[-1]
    # --8<-- [end:per_layer]
    return accuracy


if __name__ == "__main__":
    main()
