r"""The book's expanded training data (chapters 3 and 6): every image and its four one-pixel shifts.

Shifting a digit by one pixel leaves it the same digit, so the shifted copies
are new training examples for free. The book's ``expand_mnist.py`` turns
MNIST's 50,000 training images into 250,000 this way, and chapter 6 reaches
99.37 % with them. `expand` does the same to any set of square images stored
as columns.

**The order of the result.** Five blocks of $N$ columns, each block in the
order of the input: the images as they are, then shifted up, down, left and
right (``X5[:, :N]`` is ``X``; ``X5[:, N:2 * N]`` holds the images moved up
one pixel; ...). The labels are repeated in the same blocks, so column $j$ of
``X5`` keeps the label of column $j \bmod N$ of ``X``. `minibp.train`
shuffles the examples every epoch, so the blocks need not be mixed first (the
book's script interleaves each image with its shifts and shuffles once).

**Memory.** The result is five times the input: the book's 50,000 MNIST
training images take 313,600,000 bytes in ``float64`` and 1,568,000,000
(1.6 GB) expanded, more than the loaders' default limit
[`DEFAULT_MAX_BYTES`][minibp.data._common.DEFAULT_MAX_BYTES] (1 GiB), which
`expand` also applies before allocating anything. In ``float32`` (load with
``dtype=np.float32``) they take 784,000,000 bytes and fit; otherwise pass a
larger ``max_bytes`` or ``max_bytes=None``.

Deliberately left out: shifts by more than one pixel, diagonal shifts,
rotations and elastic distortions (the book mentions them; they are a few
lines of numpy on ``X.T.reshape(N, side, side)``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from .._checks import is_integer
from ..errors import ShapeError
from ._common import DEFAULT_MAX_BYTES, check_max_bytes, check_size

__all__ = ["expand", "SHIFTS"]

#: The blocks of `expand`'s result after the unshifted images, in order: where the ink moves.
SHIFTS = ("up", "down", "left", "right")


def expand(
    X: NDArray, y: NDArray, *, side: int | None = None, max_bytes: int | None = DEFAULT_MAX_BYTES
) -> tuple[NDArray, NDArray]:
    r"""Return the images with their four one-pixel shifts (zero fill), and the labels repeated.

    For an image $a$ of ``side`` × ``side`` pixels (row $r$, column $c$,
    counted from the top left), the shifted images are, with 0 where the
    right-hand side falls outside the image:

    $$\text{up}_{r,c} = a_{r+1,c},\quad \text{down}_{r,c} = a_{r-1,c},\quad
      \text{left}_{r,c} = a_{r,c+1},\quad \text{right}_{r,c} = a_{r,c-1}.$$

    Args:
        X: images as columns, shape ``(side * side, N)``, each column an image
            read row by row (``X[:, j].reshape(side, side)``), as every loader
            returns them; any real dtype.
        y: labels, shape ``(N,)``, or target vectors, shape ``(n_out, N)``.
        side: the image's side in pixels; ``None`` (the default) takes the
            square root of the number of rows (28 for MNIST's 784).
        max_bytes: refuse, before allocating, a result that would take more
            bytes than this (``None``: no limit), as the loaders do.

    Returns:
        ``(X5, y5)``: ``X5`` of shape ``(side * side, 5 N)`` and ``X``'s dtype,
        each column contiguous in memory as the loaders return them; ``y5`` of
        shape ``(5 N,)`` or ``(n_out, 5 N)`` and ``y``'s dtype. The blocks of
        $N$ columns are the images as they are, then moved up, down, left and
        right (`SHIFTS`).

    Raises:
        ShapeError: ``X`` is not 2-D, its rows are not ``side * side`` (or not
            a square number when ``side`` is not given), or ``y`` does not
            hold ``N`` labels or target columns.
        TypeError: ``X`` is not a real numeric array, or ``side`` not an integer.
        ValueError: ``side`` is below 1.
        DataFormatError: the result would take more than ``max_bytes``.

    Example:
        >>> import numpy as np
        >>> X = np.arange(1.0, 5.0).reshape(4, 1)  # one 2 x 2 image: [[1, 2], [3, 4]]
        >>> X5, y5 = expand(X, np.array([7]))
        >>> X5.T.reshape(5, 2, 2)[1]  # moved up one pixel
        array([[3., 4.],
               [0., 0.]])
        >>> y5
        array([7, 7, 7, 7, 7])
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2:
        raise ShapeError(f"expand: X must be images as columns, shape (side * side, N), got shape {X.shape}")
    if X.dtype.kind not in "fiu":
        raise TypeError(f"expand: X must be a real numeric array, got dtype {X.dtype}")
    rows, n = X.shape
    side = _side(rows, side)
    if y.ndim not in (1, 2) or y.shape[-1] != n:
        raise ShapeError(
            f"expand: y must hold one label per column of X, shape ({n},) or (n_out, {n}), got shape {y.shape}"
        )
    max_bytes = check_max_bytes(max_bytes)
    nbytes = 5 * (X.dtype.itemsize * rows * n + y.dtype.itemsize * y.size)
    check_size(f"expand: 5 x {n:,} images of {side} x {side} pixels in {X.dtype} and their labels", nbytes, max_bytes)

    images = np.zeros((5, n, side, side), dtype=X.dtype)  # C order: image j of block k is contiguous
    a = images[0]
    a.reshape(n, rows)[...] = X.T  # the images as they are
    images[1, :, :-1, :] = a[:, 1:, :]  # up:    a[r + 1, c], the last row 0
    images[2, :, 1:, :] = a[:, :-1, :]  # down:  a[r - 1, c], the first row 0
    images[3, :, :, :-1] = a[:, :, 1:]  # left:  a[r, c + 1], the last column 0
    images[4, :, :, 1:] = a[:, :, :-1]  # right: a[r, c - 1], the first column 0
    X5 = images.reshape(5 * n, rows).T  # (side * side, 5 N), each column contiguous
    y5 = np.concatenate([y] * 5, axis=-1)
    return X5, y5


def _side(rows: int, side: object) -> int:
    """Return the images' side: ``side`` checked against ``rows``, or the square root of ``rows``."""
    if side is None:
        root = math.isqrt(rows)
        if root * root != rows or rows == 0:
            raise ShapeError(
                f"expand: X has {rows} rows, not a square number of pixels: expand shifts square images, "
                f"stored as columns of shape (side * side, N)"
            )
        return root
    if not is_integer(side):
        raise TypeError(f"expand: side must be an integer number of pixels, got {side!r}")
    if side < 1:
        raise ValueError(f"expand: side must be at least 1 pixel, got {side}")
    if int(side) ** 2 != rows:
        raise ShapeError(f"expand: images of side {side} have {int(side) ** 2} pixels, but X has {rows} rows")
    return int(side)
