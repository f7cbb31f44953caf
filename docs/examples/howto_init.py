"""How-to: choose a weight initialisation, and see what it does to the hidden neurons.

python docs/examples/howto_init.py

The sections between the markers are the guide's Python blocks, as they run.
"""

from __future__ import annotations


def main() -> dict[str, float]:
    # --8<-- [start:saturation]
    import numpy as np

    import minibp as bp
    from minibp.data import load_sample

    data = load_sample()
    X, y = data.training
    for init in ("book", "scaled"):
        net = bp.mlp([784, 30, 10], init=init, rng=0)
        z = net[0](X)  # the hidden layer's weighted inputs, (30, N)
        saturated = np.mean(np.abs(z) > 5)  # where sigma'(z) < 0.007
        print(f"{init:>6}: typical |z| = {np.median(np.abs(z)):5.2f}, saturated hidden neurons: {saturated:.0%}")
    # --8<-- [end:saturation]

    # --8<-- [start:compare]
    accuracy = {}
    for init in ("book", "scaled"):
        net = bp.mlp([784, 30, 10], init=init, rng=0)
        optimizer = bp.SGD(net.parameters(), eta=3.0)
        bp.train(net, (X, y), optimizer=optimizer, epochs=5, mini_batch_size=10, rng=0, verbose=False)
        accuracy[init] = bp.accuracy(net, *data.validation)
        print(f"{init:>6}: validation accuracy after 5 epochs {accuracy[init]:.1%}")
    # --8<-- [end:compare]
    return accuracy


if __name__ == "__main__":
    main()
