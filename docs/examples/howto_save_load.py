"""How-to: save a trained network to one file, load it back, and resume training exactly.

python docs/examples/howto_save_load.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

import minibp as bp
from minibp.data import load_sample


def main(n_train: int = 1000, epochs: int = 2) -> bool:
    data = load_sample()
    X, y = data.training[0][:, :n_train], data.training[1][:n_train]
    folder = Path(tempfile.mkdtemp())

    # --8<-- [start:save]
    rng = np.random.default_rng(0)  # shuffles the mini-batches
    net = bp.mlp([784, 30, 10], rng=1)
    optimizer = bp.SGD(net.parameters(), eta=3.0)
    history = bp.train(net, (X, y), optimizer=optimizer, epochs=epochs, mini_batch_size=10, rng=rng, verbose=False)

    path = folder / "model.npz"
    bp.save(net, path, optimizer=optimizer, history=history, rng=rng, metadata={"data": "sample"})
    print(f"saved {path.name}: {path.stat().st_size:,} bytes")
    # --8<-- [end:save]

    # --8<-- [start:load]
    restored = bp.load(path)  # the network alone: architecture and parameters
    print(restored)
    same = np.array_equal(bp.predict(restored, data.test[0]), bp.predict(net, data.test[0]))
    print("same predictions on the test digits:", same)
    # --8<-- [end:load]

    # --8<-- [start:resume]
    ckpt = bp.load_checkpoint(path)  # network, optimizer state, history, rng and metadata
    resumed = ckpt.net
    optimizer2 = bp.SGD(resumed.parameters(), eta=3.0)
    optimizer2.load_state_dict(ckpt.optimizer_state)
    bp.train(resumed, (X, y), optimizer=optimizer2, epochs=1, mini_batch_size=10, rng=ckpt.rng, verbose=False)

    bp.train(net, (X, y), optimizer=optimizer, epochs=1, mini_batch_size=10, rng=rng, verbose=False)  # no break
    identical = all(np.array_equal(p.data, q.data) for p, q in zip(net.parameters(), resumed.parameters()))
    print("resumed run equals the uninterrupted one, bit for bit:", identical)
    print("metadata:", ckpt.metadata)
    # --8<-- [end:resume]
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    return same and identical


if __name__ == "__main__":
    main()
