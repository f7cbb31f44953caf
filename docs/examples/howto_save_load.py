"""How-to: save a trained network to one file, load it back, and resume training exactly.

python docs/examples/howto_save_load.py

The sections between the markers are the guide's first three Python blocks, which write model.npz
into the working folder (this script works in a temporary one).
"""

from __future__ import annotations

import contextlib
import os
import tempfile


@contextlib.contextmanager
def _in_a_temporary_folder():
    """Run in an empty working folder, removed afterwards, as the tests run the guide."""
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            yield
        finally:
            os.chdir(here)


def main() -> bool:
    with _in_a_temporary_folder():
        # --8<-- [start:save]
        from pathlib import Path

        import numpy as np

        import minibp as bp
        from minibp.data import load_sample

        data = load_sample()
        rng = np.random.default_rng(0)  # shuffles the mini-batches
        net = bp.mlp([784, 30, 10], rng=1)
        optimizer = bp.SGD(net.parameters(), eta=3.0)
        history = bp.train(
            net, data.training, optimizer=optimizer, epochs=2, mini_batch_size=10, rng=rng, verbose=False
        )

        path = Path("model.npz")
        bp.save(net, path, optimizer=optimizer, history=history, rng=rng, metadata={"data": "sample"})
        print(f"saved {path}: {path.stat().st_size / 1000:.0f} kB")  # the exact size varies: the history holds timings
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
        bp.train(
            resumed, data.training, optimizer=optimizer2, epochs=1, mini_batch_size=10, rng=ckpt.rng, verbose=False
        )

        # the same epoch without the break, from the network, optimizer and rng still in memory
        bp.train(net, data.training, optimizer=optimizer, epochs=1, mini_batch_size=10, rng=rng, verbose=False)
        identical = all(np.array_equal(p.data, q.data) for p, q in zip(net.parameters(), resumed.parameters()))
        print("resumed run equals the uninterrupted one, bit for bit:", identical)
        print("metadata:", ckpt.metadata)
        # --8<-- [end:resume]
    return same and identical


if __name__ == "__main__":
    main()
