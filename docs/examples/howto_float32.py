"""How-to: train in float32 end to end.

python docs/examples/howto_float32.py
"""

from __future__ import annotations

import numpy as np

import minibp as bp
from minibp.data import load_sample


def main(n_train: int | None = None, epochs: int = 2) -> bool:
    # --8<-- [start:float32]
    data = load_sample(dtype=np.float32)  # pixels as float32
    X, y = data.training[0][:, :n_train], data.training[1][:n_train]  # n_train=None keeps all 4,000
    net = bp.mlp([784, 30, 10], rng=0, dtype=np.float32)  # every parameter float32
    optimizer = bp.SGD(net.parameters(), eta=3.0)
    bp.train(net, (X, y), optimizer=optimizer, epochs=epochs, mini_batch_size=10, rng=0, verbose=False)

    print("input:     ", X.dtype)
    print("parameters:", {p.data.dtype.name for p in net.parameters()})
    print("gradients: ", {p.grad.dtype.name for p in net.parameters()})
    print("output:    ", net(data.test[0]).dtype)
    print("validation accuracy:", bp.accuracy(net, *data.validation))
    # --8<-- [end:float32]
    return all(p.data.dtype == np.float32 for p in net.parameters())


if __name__ == "__main__":
    main()
