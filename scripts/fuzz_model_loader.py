"""Coverage-guided fuzzing of `minibp.io.load` with atheris (libFuzzer for Python).

    pip install atheris
    python scripts/fuzz_model_loader.py -runs=200000          # or -max_total_time=600

The corpus starts from real model files (a plain network, one with an
optimizer's state, history, rng states and a dropout layer), and libFuzzer
mutates them. Any exception other than `ModelFormatError` is a crash and
stops the run with the input that caused it (written to ``crash-*``).
The test suite runs the same property with hypothesis (``tests/test_io.py``).
"""

from __future__ import annotations

import io
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    import numpy as np

    import minibp as bp
    from minibp import io as bpio


def seeds(directory: Path) -> None:
    """Write a few valid model files into ``directory`` as the starting corpus."""
    plain = bp.mlp([3, 2, 2], rng=0)
    bpio.save(plain, directory / "plain.npz")
    net = bp.Sequential(bp.Dense(3, 4, rng=0), bp.layers.Tanh(), bp.layers.Dropout(0.5, rng=1), bp.Dense(4, 2, rng=2))
    optimizer = bp.Adam(net.parameters(), eta=0.01)
    bpio.save(
        net,
        directory / "full.npz",
        optimizer=optimizer,
        history={"epoch": [0], "training_cost": [0.5]},
        rng=np.random.default_rng(0),
        metadata={"note": "seed"},
    )


def test_one_input(data: bytes) -> None:
    try:
        bpio.load(io.BytesIO(data))
    except bp.ModelFormatError:
        pass


def main() -> None:
    corpus = Path(tempfile.mkdtemp(prefix="minibp-fuzz-corpus-"))
    seeds(corpus)
    atheris.Setup([sys.argv[0], *sys.argv[1:], str(corpus)], test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
