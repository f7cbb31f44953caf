"""How-to: train in float32 end to end.

python docs/examples/howto_float32.py

The section between the markers is the guide's Python block, as it runs.
"""

from __future__ import annotations


def main() -> bool:
    # --8<-- [start:float32]
    import numpy as np

    import minibp as bp
    from minibp.data import load_sample

    data = load_sample(dtype=np.float32)  # pixels as float32
    X, y = data.training
    net = bp.mlp([784, 30, 10], rng=0, dtype=np.float32)  # every parameter float32
    optimizer = bp.SGD(net.parameters(), eta=3.0)
    bp.train(net, (X, y), optimizer=optimizer, epochs=2, mini_batch_size=10, rng=0, verbose=False)

    print("input:     ", X.dtype)
    print("parameters:", {p.data.dtype.name for p in net.parameters()})
    print("gradients: ", {p.grad.dtype.name for p in net.parameters()})
    print("output:    ", net(data.test[0]).dtype)
    print("validation accuracy:", bp.accuracy(net, *data.validation))
    # --8<-- [end:float32]
    return all(p.data.dtype == np.float32 for p in net.parameters())


if __name__ == "__main__":
    main()
