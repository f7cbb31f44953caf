r"""MNIST and Fashion-MNIST: the book's split, examples as columns.

The official MNIST files hold 60,000 training and 10,000 test images. The
book keeps the test images for the end and cuts the training images in two:

| split | images | from |
|---|---|---|
| ``training`` | 50,000 | the first 50,000 training images |
| ``validation`` | 10,000 | the last 10,000 training images |
| ``test`` | 10,000 | the test images |

Every loader returns a [`Splits`][minibp.data._common.Splits] of ``(X, y)`` pairs:

- ``X`` has shape $(784, N)$, one example per column, pixels as floats in
  $[0, 1]$ (the byte divided by 255). Its memory holds each example
  contiguously: ``X`` is the transpose of a C-ordered $(N, 784)$ array, which
  is what `minibp.train` slices fastest. ``np.ascontiguousarray(X.T)`` gives
  the rows that scikit-learn and PyTorch expect.
- ``y`` has shape $(N,)$, the labels as ``int64`` in $0, \dots, 9$. (The book
  turns training labels into unit vectors $e_y$; `minibp.train` does that
  itself, so one format serves every split.)

Where the files are looked for: the ``directory`` argument, which holds the
four files (``train-images-idx3-ubyte.gz`` and so on, gzipped or not);
otherwise ``$MINIBP_DATA/mnist`` (``$MINIBP_DATA/fashion-mnist``) when the
environment variable ``MINIBP_DATA`` is set, else the user cache
``$XDG_CACHE_HOME/minibp/...`` (``~/.cache/minibp/...``). Fashion-MNIST is
also found where Debian's ``dataset-fashion-mnist`` package installs it,
``/usr/share/datasets/fashion-mnist``.

Memory: ``X`` takes 784 pixels × 8 bytes in ``float64`` (4 in ``float32``)
per image, ``y`` 8 bytes per label. Before reading any pixel, a loader adds
this up from the four files' headers and refuses, naming the size, a data
set that would take more than ``max_bytes`` (by default
[`DEFAULT_MAX_BYTES`][minibp.data._common.DEFAULT_MAX_BYTES], 1 GiB):

| data set | images | ``float64`` | ``float32`` |
|---|---|---|---|
| MNIST, Fashion-MNIST | 70,000 | 439,600,000 bytes (440 MB) | 220,080,000 bytes (220 MB) |
| the bundled sample | 5,000 | 31,400,000 bytes (31 MB) | 15,720,000 bytes (16 MB) |

(70,000 × 784 × 8 = 439,040,000 bytes of pixels plus 560,000 of labels.)
While loading, the file's bytes (one byte a pixel: 54,880,000 for MNIST)
are held as well, so the peak is about 495 MB in ``float64``.

The book's own ``mnist.pkl.gz`` is a Python pickle: minibp recognises it (by
name or by its first bytes) and, instead of unpickling it, says where to get
the IDX files.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .._checks import is_integer
from ..errors import DataFormatError, HyperparameterError
from ._common import (
    DEFAULT_MAX_BYTES,
    DataNotFoundError,
    Splits,
    as_columns,
    check_max_bytes,
    check_size,
    data_home,
    float_dtype,
)
from .idx import PICKLE_HINT, is_pickle, read_idx, read_idx_header
from .remote import download as fetch
from .sample import load_sample

# Splits, DataNotFoundError, data_home and as_columns live in ._common; importing them from here still works.
__all__ = [
    "IDX_FILES",
    "FASHION_MNIST_SYSTEM_DIR",
    "load_idx_directory",
    "load_mnist",
    "load_fashion_mnist",
    "load_dataset",
]

#: The four files of MNIST and Fashion-MNIST, each looked for as ``name.gz`` then ``name``:
#: training images, training labels, test images, test labels.
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

#: Where Debian's ``dataset-fashion-mnist`` package puts the files.
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

_VALIDATION_SIZE = 10_000


def _find(directory: Path) -> list[Path] | None:
    """Return the four files in ``directory`` (gzipped or raw), or ``None`` if any is missing."""
    paths = []
    for name in IDX_FILES:
        for candidate in (directory / f"{name}.gz", directory / name):
            if candidate.is_file():
                paths.append(candidate)
                break
        else:
            return None
    return paths


def _refuse_a_file(path: Path) -> None:
    """Raise if ``path`` is a file where a directory of IDX files is expected (most often, the book's pickle)."""
    if not path.is_file():
        return
    if is_pickle(path):
        raise DataFormatError(f"{path} {PICKLE_HINT}")
    raise DataNotFoundError(f"{path} is a file, not a directory holding the four IDX files ({', '.join(IDX_FILES)})")


def _pickles_in(directory: Path) -> str:
    """A sentence on the pickles ``directory`` holds (the book's ``mnist.pkl.gz``), or ``""``."""
    try:
        found = sorted(p.name for p in directory.iterdir() if p.is_file() and is_pickle(p))
    except OSError:  # no such directory, or not readable
        return ""
    if not found:
        return ""
    return f". {directory / found[0]}{' (and ' + ', '.join(found[1:]) + ')' if found[1:] else ''} {PICKLE_HINT}"


def _check_memory(paths: list[Path], dtype: np.dtype, max_bytes: int | None) -> None:
    """Refuse, from the headers alone, files whose ``X`` (floats) and ``y`` (int64) would exceed ``max_bytes``."""
    shapes = [read_idx_header(path)[0] for path in paths]
    per_element = (dtype.itemsize, 8, dtype.itemsize, 8)  # X as floats, y as int64
    total = sum(math.prod(shape) * size for shape, size in zip(shapes, per_element))
    what = f"{paths[0].parent}: training images {shapes[0]} and test images {shapes[2]} in {dtype}, with their labels,"
    check_size(what, total, max_bytes)


def _read_pair(
    images_path: Path, labels_path: Path, image_shape: tuple[int, int] | None, max_bytes: int | None
) -> tuple[NDArray, NDArray]:
    images = read_idx(images_path, max_bytes=max_bytes)
    labels = read_idx(labels_path, max_bytes=max_bytes)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DataFormatError(
            f"{images_path}: expected uint8 images of shape (N, rows, cols), got {images.dtype} {images.shape}"
        )
    if image_shape is not None and images.shape[1:] != image_shape:
        raise DataFormatError(
            f"{images_path}: expected images of {image_shape[0]}x{image_shape[1]} pixels, got {images.shape[1:]}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataFormatError(f"{labels_path}: expected uint8 labels of shape (N,), got {labels.dtype} {labels.shape}")
    if labels.shape[0] != images.shape[0]:
        raise DataFormatError(
            f"{labels_path} holds {labels.shape[0]} labels but {images_path} holds {images.shape[0]} images"
        )
    return images, labels


def load_idx_directory(
    directory: str | os.PathLike,
    *,
    dtype: DTypeLike = np.float64,
    validation_size: int | None = None,
    image_shape: tuple[int, int] | None = None,
    n_classes: int | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> Splits:
    """Load the four IDX files in ``directory`` and split them the book's way.

    Args:
        directory: holds ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
            ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each
            optionally with ``.gz``.
        dtype: floating dtype of ``X``.
        validation_size: how many of the last training images form the
            validation split; by default ``min(10_000, n // 6)`` for ``n``
            training images, which is the book's 10,000 for MNIST's 60,000.
        image_shape: if given, the required ``(rows, cols)`` of every image.
        n_classes: if given, every label must lie in ``[0, n_classes)``.
        max_bytes: the most memory the returned arrays may take, in bytes, or
            ``None`` for no limit. It is checked against the files' headers
            before any pixel is decompressed: ``N * rows * cols`` times the
            dtype's size for the images, ``8 * N`` for the labels. The default,
            1 GiB, fits MNIST and Fashion-MNIST (439,600,000 bytes in float64).

    Returns:
        ``Splits`` with ``X`` of shape ``(rows * cols, N)`` and ``y`` of shape ``(N,)``.

    Raises:
        DataNotFoundError: a file is missing.
        DataFormatError: a file is corrupt, the files do not fit together,
            they would take more than ``max_bytes``, or ``directory`` is a
            pickle such as the book's ``mnist.pkl.gz`` (never unpickled).
    """
    dt = float_dtype(dtype)
    max_bytes = check_max_bytes(max_bytes)
    directory = Path(directory)
    _refuse_a_file(directory)
    paths = _find(directory)
    if paths is None:
        missing = [n for n in IDX_FILES if not (directory / n).is_file() and not (directory / f"{n}.gz").is_file()]
        raise DataNotFoundError(
            f"{directory}: missing {', '.join(missing)} (with or without .gz){_pickles_in(directory)}"
        )
    _check_memory(paths, dt, max_bytes)
    train_images, train_labels = _read_pair(paths[0], paths[1], image_shape, max_bytes)
    test_images, test_labels = _read_pair(paths[2], paths[3], image_shape, max_bytes)
    if test_images.shape[1:] != train_images.shape[1:]:
        raise DataFormatError(
            f"{paths[2]}: test images are {test_images.shape[1:]} pixels, training images {train_images.shape[1:]}"
        )
    if n_classes is not None:
        for path, labels in ((paths[1], train_labels), (paths[3], test_labels)):
            if labels.size and labels.max() >= n_classes:
                raise DataFormatError(f"{path}: label {int(labels.max())} is not in 0..{n_classes - 1}")
    n = train_images.shape[0]
    v = min(_VALIDATION_SIZE, n // 6) if validation_size is None else validation_size
    if not is_integer(v) or not 0 < v < n:
        raise HyperparameterError(
            f"validation_size must be an integer in [1, {n - 1}] for {n} training images, got {v!r}"
        )
    X = as_columns(train_images, dtype)
    y = train_labels.astype(np.int64)
    X_test = as_columns(test_images, dtype)
    return Splits(
        training=(X[:, : n - v], y[: n - v]),
        validation=(X[:, n - v :], y[n - v :]),
        test=(X_test, test_labels.astype(np.int64)),
    )


def _load_named(
    name: str, title: str, candidates: list[Path], download: bool, dtype: DTypeLike, max_bytes: int | None
) -> Splits:
    float_dtype(dtype)
    check_max_bytes(max_bytes)

    def load(directory: Path) -> Splits:
        return load_idx_directory(directory, dtype=dtype, image_shape=(28, 28), n_classes=10, max_bytes=max_bytes)

    for directory in candidates:
        _refuse_a_file(directory)
        if _find(directory) is not None:
            return load(directory)
    if download:
        fetch(name, candidates[0])
        return load(candidates[0])
    looked = ", ".join(str(d) for d in candidates)
    raise DataNotFoundError(
        f"{title} not found (looked in {looked}). Download it with `minibp data download {name}`, "
        f"pass download=True, or point MINIBP_DATA at a directory whose {name}/ holds the four IDX files"
        + "".join(_pickles_in(d) for d in candidates)
    )


def load_mnist(
    directory: str | os.PathLike | None = None,
    *,
    download: bool = False,
    dtype: DTypeLike = np.float64,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> Splits:
    """Load MNIST with the book's 50,000 / 10,000 / 10,000 split.

    Args:
        directory: the directory holding the four files; by default
            ``data_home() / "mnist"`` (see [`data_home`][minibp.data._common.data_home]).
        download: fetch and verify the files (see
            `minibp.data.download`) if they are missing.
        dtype: floating dtype of ``X`` (``float64`` or ``float32``). The
            arrays take 439,600,000 bytes (440 MB) in ``float64``,
            220,080,000 (220 MB) in ``float32``.
        max_bytes: the most memory the arrays may take, checked against the
            files' headers before any pixel is read (see
            [`load_idx_directory`][minibp.data.mnist.load_idx_directory]);
            ``None`` for no limit. The default is 1 GiB.

    Returns:
        ``Splits``: ``training`` ``X`` $(784, 50000)$, ``validation`` and
        ``test`` ``X`` $(784, 10000)$; ``y`` ``int64`` of shape $(N,)$.

    Raises:
        DataNotFoundError: the files are missing and ``download`` is false.
        DataFormatError: a file is corrupt or not MNIST-shaped, the files
            would take more than ``max_bytes``, or ``directory`` is the
            book's ``mnist.pkl.gz`` (a pickle, which minibp never loads).
        DownloadError: ``download`` is true and no mirror delivered a verified file.
    """
    candidates = [Path(directory)] if directory is not None else [data_home() / "mnist"]
    return _load_named("mnist", "MNIST", candidates, download, dtype, max_bytes)


def load_fashion_mnist(
    directory: str | os.PathLike | None = None,
    *,
    download: bool = False,
    dtype: DTypeLike = np.float64,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> Splits:
    """Load Fashion-MNIST, split like MNIST (50,000 / 10,000 / 10,000).

    Fashion-MNIST (Xiao, Rasul and Vollgraf, Zalando Research, 2017) has the
    format and sizes of MNIST, with ten kinds of clothing for the ten digits.
    Without ``directory``, it is looked for in ``data_home() / "fashion-mnist"``
    and then in ``/usr/share/datasets/fashion-mnist`` (Debian's
    ``dataset-fashion-mnist`` package); a download goes to the first.

    Args:
        directory: the directory holding the four files; by default, see above.
        download: fetch and verify the files if they are missing.
        dtype: floating dtype of ``X`` (``float64`` or ``float32``); the
            memory is that of MNIST, 440 MB in ``float64``, 220 MB in ``float32``.
        max_bytes: as for [`load_mnist`][minibp.data.mnist.load_mnist].

    Returns:
        ``Splits`` shaped as those of [`load_mnist`][minibp.data.mnist.load_mnist];
        the labels are classes of clothing, 0 (T-shirt/top) to 9 (ankle boot).

    Raises:
        DataNotFoundError: the files are missing and ``download`` is false.
        DataFormatError: a file is corrupt or not MNIST-shaped, or the files
            would take more than ``max_bytes``.
        DownloadError: ``download`` is true and no mirror delivered a verified file.
    """
    if directory is not None:
        candidates = [Path(directory)]
    else:
        candidates = [data_home() / "fashion-mnist", FASHION_MNIST_SYSTEM_DIR]
    return _load_named("fashion-mnist", "Fashion-MNIST", candidates, download, dtype, max_bytes)


def load_dataset(
    name: str | os.PathLike,
    *,
    download: bool = False,
    dtype: DTypeLike = np.float64,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
) -> Splits:
    """Load a data set by name, as the ``minibp train --data`` option does.

    Args:
        name: ``"sample"`` (the bundled 5,000 MNIST digits, see
            [`load_sample`][minibp.data.sample.load_sample]), ``"mnist"``,
            ``"fashion-mnist"``, or a directory holding the four IDX files.
        download: for ``"mnist"`` and ``"fashion-mnist"``, fetch missing files.
        dtype: floating dtype of ``X``.
        max_bytes: the most memory the arrays may take (see
            [`load_idx_directory`][minibp.data.mnist.load_idx_directory]);
            ``None`` for no limit.

    Returns:
        ``Splits`` of ``(X, y)`` pairs, examples as columns.

    Raises:
        DataFormatError: ``name`` is a pickle such as the book's
            ``mnist.pkl.gz`` (never unpickled), or as for the loaders.
        DataNotFoundError: ``name`` is none of the above, or as for the loaders.
    """
    if name == "sample":
        return load_sample(dtype=dtype, max_bytes=max_bytes)
    if name == "mnist":
        return load_mnist(download=download, dtype=dtype, max_bytes=max_bytes)
    if name == "fashion-mnist":
        return load_fashion_mnist(download=download, dtype=dtype, max_bytes=max_bytes)
    path = Path(name).expanduser()
    _refuse_a_file(path)
    if path.is_dir():
        return load_idx_directory(path, dtype=dtype, max_bytes=max_bytes)
    raise DataNotFoundError(
        f"unknown data set {os.fspath(name)!r}: expected 'sample', 'mnist', 'fashion-mnist' "
        "or a directory holding the four IDX files"
    )
