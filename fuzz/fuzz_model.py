"""atheris harness for the model loader: any input is loaded or refused with `ModelFormatError`, nothing else.

    pip install atheris
    python fuzz/fuzz_model.py -max_total_time=60 [corpus_dir]

The seed corpus (written to ``fuzz/corpus_model`` when no directory is given) holds complete model
files: a network with dropout, an optimizer with state, history, rng and metadata.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["minibp"]):
    import numpy as np

    import minibp as bp
    from minibp import io as bpio
    from minibp.errors import ModelFormatError


def test_one_input(data: bytes) -> None:
    try:
        bpio.load_checkpoint(io.BytesIO(data))
    except ModelFormatError:
        return


def seed_corpus(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    net = bp.Sequential(bp.Dense(3, 2, rng=0), bp.Sigmoid(), bp.Dropout(0.5, rng=1), bp.Dense(2, 2, rng=2))
    bpio.save(net, directory / "plain.npz")
    optimizer = bp.Adam(net.parameters())
    bpio.save(
        net,
        directory / "full.npz",
        optimizer=optimizer,
        history={"epoch": [0]},
        rng=np.random.default_rng(0),
        metadata={"k": 1},
    )


def main() -> None:
    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):
        corpus = Path(__file__).with_name("corpus_model")
        seed_corpus(corpus)
        args.append(str(corpus))
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
