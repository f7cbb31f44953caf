"""How-to: make a run repeatable with seeds.

python docs/examples/howto_seeds.py

The sections between the markers are the guide's Python blocks, as they run.
"""

from __future__ import annotations


def main() -> bool:
    # --8<-- [start:seeds]
    import numpy as np

    import minibp as bp
    from minibp.data import load_sample

    data = load_sample()

    def run(seed):
        net = bp.mlp([784, 30, 10], rng=seed)  # the initial weights come from the seed ...
        optimizer = bp.SGD(net.parameters(), eta=3.0)
        bp.train(net, data.training, optimizer=optimizer, epochs=2, mini_batch_size=10, rng=seed, verbose=False)
        return net  # ... and so does the order of the mini-batches

    a, b, c = run(seed=7), run(seed=7), run(seed=8)
    same = all(np.array_equal(p.data, q.data) for p, q in zip(a.parameters(), b.parameters()))
    print("same seed, same weights:", same)
    print("other seed, other weights:", not np.array_equal(a[0].w.data, c[0].w.data))
    # --8<-- [end:seeds]

    # --8<-- [start:generator]
    rng = np.random.default_rng(2024)  # one generator for everything, drawn from in order
    net = bp.mlp([784, 30, 10], rng=rng)
    optimizer = bp.SGD(net.parameters(), eta=3.0)
    bp.train(net, data.training, optimizer=optimizer, epochs=2, mini_batch_size=10, rng=rng, verbose=False)
    print("validation digits correct:", bp.evaluate(net, *data.validation), "/ 500")
    # --8<-- [end:generator]
    return same


if __name__ == "__main__":
    main()
