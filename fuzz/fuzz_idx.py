"""atheris harness for the IDX reader: any input is read or refused with `DataFormatError`, nothing else.

    pip install atheris
    python fuzz/fuzz_idx.py -max_total_time=60 [corpus_dir]

The seed corpus (written to ``fuzz/corpus_idx`` when no directory is given) holds small valid files,
raw and gzip-compressed, of every IDX element type. Any other exception is a crash that atheris
reports with the input that caused it.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["minibp"]):
    import numpy as np

    from minibp.data.idx import IDX_TYPES, read_idx, write_idx
    from minibp.errors import DataFormatError


def test_one_input(data: bytes) -> None:
    try:
        array = read_idx(io.BytesIO(data))
    except DataFormatError:
        return
    if array.ndim < 1:
        raise AssertionError(f"read_idx returned a {array.ndim}-dimensional array")


def seed_corpus(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for code, dtype in IDX_TYPES.items():
        array = (rng.standard_normal((3, 4)) * 50).astype(dtype.newbyteorder("="))
        for compress in (False, True):
            buffer = io.BytesIO()
            write_idx(buffer, array, compress=compress)
            (directory / f"type{code:02x}{'.gz' if compress else ''}").write_bytes(buffer.getvalue())


def main() -> None:
    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):
        corpus = Path(__file__).with_name("corpus_idx")
        seed_corpus(corpus)
        args.append(str(corpus))
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
