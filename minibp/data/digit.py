r"""Your own digit, made the way MNIST's were: an image in, one input column of 784 pixels out.

MNIST's digits are scans of handwriting, each fitted into a 20 × 20 box
keeping its aspect ratio, anti-aliased to grey levels, and placed in a
28 × 28 field so that its centre of mass is at the centre, white ink on
black. `image_to_column` does the same to a photo of a digit, to a 2-D
array, or to a Pillow image:

1. grey levels, scaled to $[0, 1]$ (a colour image is converted to grey,
   transparency is laid on white paper);
2. Otsu's threshold splits ink from background; if most of the image's
   border is on the bright side, the image is dark ink on light paper and is
   inverted into white ink on black;
3. the background becomes 0 and the ink's core 1, the rest scaled between:
   a pixel no brighter than 99 % of the background becomes 0, and the
   brightest quarter of the ink becomes 1, so that uneven light and noise
   leave no grey behind;
4. the bounding box of the ink (specks less than a tenth the size of the
   largest blob of ink are left out) is resized so that its longer side is 20
   pixels, with a triangle filter as wide as the reduction (as Pillow's
   ``resize(..., BILINEAR)``), and scaled so that its brightest pixel is 1;
5. it is placed in a 28 × 28 field, shifted by whole pixels so that its
   centre of mass is within half a pixel of row 14, column 14 (counted from
   0), where MNIST's digits have theirs; a digit so lopsided that this would
   push ink out of the field goes only as far as the edge.

Memory: an image file's header is read first, and a file of more than
`MAX_PIXELS` pixels is refused before any pixel is decoded (a JPEG is
decoded at 1/2, 1/4 or 1/8 of its size if that is enough); an image of more
than `WORK_PIXELS` is reduced by a whole factor, with a box filter, before it
is converted to floats. Reading any image takes less than 150 MB.

`images_to_columns` makes several images one batch, one column each, and
`example_digits` returns the paths of five photos of handwritten digits that
come with minibp (in ``minibp/data/digits/``), to try all this on.

Pillow is needed only to read image files (``pip install minibp[image]``);
arrays are converted with numpy and scipy alone.

Deliberately left out: finding a digit in a cluttered scene, splitting a row
of digits (crop the photo to one digit first) and straightening slanted
writing (MNIST's digits were not deskewed either).
"""

from __future__ import annotations

import math
import os
import re
import sys
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeGuard, Union

import numpy as np
from numpy.typing import DTypeLike, NDArray
from scipy import ndimage

from ..errors import DataFormatError, NonFiniteError, ShapeError
from ._common import DataNotFoundError, float_dtype

if TYPE_CHECKING:
    from PIL import Image as PILImage

__all__ = ["image_to_column", "images_to_columns", "example_digits", "EXAMPLE_DIGITS", "probe_image", "PILLOW_HINT"]

#: What to install when an image file must be read and Pillow is missing.
PILLOW_HINT = "reading image files needs Pillow: pip install minibp[image]"

SIDE = 28  # the field, as MNIST's
BOX = 20  # the longer side of the digit's bounding box, as MNIST's
CENTRE = 14.0  # where MNIST's digits have their centre of mass (row and column, counted from 0)
BACKGROUND_PERCENTILE = 99.0  # background brighter than this much of the paper stays above 0
INK_PERCENTILE = 75.0  # ink as bright as this much of the ink becomes 1
SPECK = 0.1  # ink blobs smaller than this fraction of the largest are not part of the digit

#: The largest image file `image_to_column` decodes, in pixels (4096 x 4096), after a JPEG's reduction:
#: at most 8 bytes a pixel while Pillow decodes and converts it, 134 MB. Its header is checked first.
MAX_SIDE = 4096
MAX_PIXELS = MAX_SIDE * MAX_SIDE
#: The most pixels the conversion works on (2 megapixels, about 1448 x 1448): a larger image is first
#: reduced by a whole factor with a box filter (Pillow's ``reduce``; a block mean for an array). The
#: conversion takes about 35 bytes a pixel, 73 MB; the digit ends up 20 pixels high either way.
WORK_PIXELS = 1 << 21
_TOO_MANY = (
    f"more than image_to_column reads ({MAX_SIDE} x {MAX_SIDE}, {MAX_PIXELS:,} pixels): "
    "scale the image down or crop it to the digit"
)

ImageLike = Union[str, "os.PathLike[str]", "PILImage.Image", NDArray[Any]]

#: The digits of the example photos, in the order `example_digits` returns them; ``NAME.png`` shows a NAME.
EXAMPLE_DIGITS = ("two", "three", "four", "seven", "nine")


def image_to_column(image: ImageLike, *, dtype: DTypeLike = np.float64) -> NDArray:
    r"""Turn a picture of one handwritten digit into an input column the way MNIST's digits were made.

    Dark ink on light paper and white ink on black both work: the image is
    inverted when its border is bright. The digit is fitted into 20 × 20
    keeping its aspect ratio and centred by its centre of mass in 28 × 28
    (see the module's description for each step).

    Args:
        image: an image file's path (read with Pillow, any format it knows;
            a phone's EXIF orientation is applied), a Pillow image, or a 2-D
            array of grey levels of shape ``(rows, cols)``, at least 3 × 3, of
            any real dtype and range (``uint8`` 0–255, floats in $[0, 1]$,
            ``bool``): only the relative brightness matters.
        dtype: floating dtype of the result.

    Returns:
        The digit as one example, shape $(784, 1)$: the 28 × 28 field row by
        row, white ink (1) on black (0), values in $[0, 1]$, as a column of
        `minibp.data.load_sample`'s ``X``. Stack several with
        ``np.hstack`` into an $(784, m)$ batch.

    Raises:
        ModuleNotFoundError: ``image`` is a file and Pillow is not installed
            (an `ImportError`).
        FileNotFoundError: there is no such file.
        DataFormatError: the file is not an image Pillow can read, or its
            header declares more than `MAX_PIXELS` (4096 x 4096; a JPEG
            counts at the 1/2, 1/4 or 1/8 of its size it is decoded at); the
            message names the file and its size. Nothing is decoded then.
        ShapeError: an array that is not 2-D or smaller than 3 × 3.
        NonFiniteError: an array holding NaN or infinity.
        TypeError: an array that is not real numbers (complex, object, text).
        ValueError: a blank image, every pixel alike.

    Example:
        >>> import numpy as np
        >>> paper = np.ones((120, 90))      # white paper, dark ink
        >>> paper[20:100, 40:52] = 0.1      # a thick "1"
        >>> x = image_to_column(paper)
        >>> x.shape, float(x.min()), float(x.max())
        ((784, 1), 0.0, 1.0)
    """
    dt = float_dtype(dtype)
    gray = _gray(image)
    ink, digit = _ink(gray)
    box = _fit(digit, ink)
    return _centre(box).reshape(SIDE * SIDE, 1).astype(dt)


def images_to_columns(images: Iterable[ImageLike], *, dtype: DTypeLike = np.float64) -> NDArray:
    r"""Turn several pictures of one digit each into one batch, a column per picture, in their order.

    Each picture is converted by `image_to_column`; the columns are stacked
    side by side, as ``np.hstack([image_to_column(i) for i in images])``
    would, but an empty set of pictures is a clear error. A picture that
    cannot be converted raises what `image_to_column` raises for it.

    Args:
        images: image files' paths, Pillow images or 2-D arrays of grey levels,
            as `image_to_column` takes them (a list, a tuple, any iterable).
        dtype: floating dtype of the result.

    Returns:
        The batch, shape $(784, m)$ for $m$ pictures: column $k$ is
        ``image_to_column(images[k])``.

    Raises:
        ShapeError: ``images`` holds no picture (a folder or a pattern that
            matched no file, say).
        TypeError: ``images`` is one picture rather than a collection of them.

    Example:
        >>> from minibp.data import example_digits, images_to_columns
        >>> images_to_columns(example_digits()).shape  # the files are read with Pillow
        (784, 5)
    """
    one = isinstance(images, (str, os.PathLike)) or _is_pil_image(images)
    if one or (isinstance(images, np.ndarray) and images.ndim < 3):  # a 3-D array is a stack of 2-D images
        raise TypeError(
            f"images_to_columns expected a collection of images, got one ({type(images).__name__}); "
            "use image_to_column for a single image, or put it in a list"
        )
    columns = [image_to_column(image, dtype=dtype) for image in images]
    if not columns:
        raise ShapeError(
            f"images_to_columns: no images were given (an empty {type(images).__name__}), so there is no batch "
            "to make (a folder or a file pattern that matched no file?)"
        )
    return np.hstack(columns)


def example_digits() -> list[Path]:
    """Return the paths of the five example photos of handwritten digits that come with minibp.

    A 2, a 3, a 4, a 7 and a 9, in this order, named after their digit
    (``two.png``, ..., ``nine.png``; `EXAMPLE_DIGITS` lists the names): grey
    PNG files of 180 × 240 pixels, dark ink on light paper lit unevenly, as a
    phone would take them. They are drawn, not photographed, by
    ``scripts/make_digit_photos.py`` from a seeded generator, and live in the
    installed package (``minibp/data/digits/``), so they are found from any
    working folder.

    Returns:
        The five paths, each an existing file.

    Raises:
        DataNotFoundError: a photo is missing from the installation of minibp
            (a package built without its data files).
    """
    folder = Path(__file__).resolve().parent / "digits"
    paths = [folder / f"{name}.png" for name in EXAMPLE_DIGITS]
    missing = [path.name for path in paths if not path.is_file()]
    if missing:
        raise DataNotFoundError(
            f"the example photos {missing} are not in {folder}: this installation of minibp lacks its data "
            "files; reinstall it (pip install --force-reinstall minibp)"
        )
    return paths


# ---------------------------------------------------------------- 1. grey levels in [0, 1]


def _pillow() -> Any:
    """``PIL.Image``, imported on first use."""
    try:
        from PIL import Image
    except ImportError as err:
        raise ModuleNotFoundError(PILLOW_HINT, name="PIL") from err
    return Image


def _is_pil_image(image: object) -> TypeGuard[PILImage.Image]:
    module = sys.modules.get("PIL.Image")  # a Pillow image means Pillow is imported already
    return module is not None and isinstance(image, module.Image)


def _from_pil(img: PILImage.Image) -> NDArray[np.float64]:
    """Grey levels of a Pillow image; transparent parts are laid on white paper."""
    if img.mode in ("I", "I;16", "I;16L", "I;16B", "I;16N", "F"):
        return np.array(img, dtype=np.float64)
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        Image = _pillow()
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    return np.array(img.convert("L"), dtype=np.float64)


def _open(f: BinaryIO, path: str | os.PathLike[str]) -> tuple[PILImage.Image, tuple[int, int]]:
    """Open an image file, reading only its header; return it and its size, or refuse it if it is too large.

    A JPEG is set to decode at the smallest of 1/1, 1/2, 1/4, 1/8 of its size
    that still holds `WORK_PIXELS` (Pillow's ``draft``), so a large photo
    costs what its reduced size does.
    """
    Image = _pillow()
    try:
        with warnings.catch_warnings():  # over Pillow's own limit: refused below, naming the size
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(f)
    except Image.DecompressionBombError as err:  # over twice Pillow's own limit, which gives the pixels, not the sides
        found = re.search(r"\((\d+) pixels\)", str(err))
        size = f"{int(found.group(1)):,} pixels" if found else "too many pixels"
        raise DataFormatError(f"{os.fspath(path)!r} declares {size}, {_TOO_MANY} ({err})") from err
    except Exception as err:  # whatever a decoder raises on a file that is not an image
        raise DataFormatError(f"{os.fspath(path)!r} is not an image Pillow can read ({_why(err)})") from err
    width, height = img.size
    if img.format in ("JPEG", "MPO") and width * height > WORK_PIXELS:
        shrink = math.sqrt(WORK_PIXELS / (width * height))
        img.draft("L", (max(1, math.ceil(width * shrink)), max(1, math.ceil(height * shrink))))
    if img.width * img.height > MAX_PIXELS:
        img.close()
        reduced = (
            f" (still {img.width} x {img.height} decoded at 1/8 of its size)" if img.size != (width, height) else ""
        )
        raise DataFormatError(f"{os.fspath(path)!r} is {width} x {height} pixels{reduced}, {_TOO_MANY}")
    return img, (width, height)


def _small(img: PILImage.Image) -> PILImage.Image:
    """``img``, or a box-filtered copy reduced by a whole factor to at most `WORK_PIXELS` pixels."""
    factor = math.ceil(math.sqrt(img.width * img.height / WORK_PIXELS))
    while math.ceil(img.width / factor) * math.ceil(img.height / factor) > WORK_PIXELS:
        factor += 1
    if factor <= 1:
        return img
    if img.mode in ("1", "P", "PA", "I;16", "I;16L", "I;16B", "I;16N"):  # reduce refuses these, or averages indices
        wider = {"1": "L", "P": "RGBA" if "transparency" in img.info else "RGB", "PA": "RGBA"}
        img = img.convert(wider.get(img.mode, "I"))
    return img.reduce(factor)


def _read(path: str | os.PathLike[str]) -> NDArray[np.float64]:
    """Grey levels of an image file, upright as the camera held it, reduced to at most `WORK_PIXELS` pixels."""
    _pillow()
    from PIL import ImageOps

    with open(path, "rb") as f:  # a missing file or a directory raises as usual
        img, _ = _open(f, path)
        try:
            return _from_pil(ImageOps.exif_transpose(_small(img)))
        except Exception as err:  # whatever a decoder raises on a file that is not an image
            raise DataFormatError(f"{os.fspath(path)!r} is not an image Pillow can read ({_why(err)})") from err
        finally:
            img.close()


def probe_image(path: str | os.PathLike[str]) -> tuple[str, int, int]:
    """Return an image file's format, width and height, read from its header without decoding its pixels.

    A quick check that a file is an image before any work starts (``minibp
    predict`` runs it on every file it is given); a file whose header is
    sound but whose pixels are damaged passes it, and `image_to_column` then
    raises `DataFormatError`.

    Raises:
        ModuleNotFoundError: Pillow is not installed.
        FileNotFoundError: there is no such file.
        DataFormatError: Pillow does not recognise the file as an image, or
            it has more pixels than `image_to_column` reads (`MAX_PIXELS`,
            after a JPEG's reduction).
    """
    with open(path, "rb") as f:
        img, (width, height) = _open(f, path)
        img.close()
        return str(img.format), int(width), int(height)


def _why(err: Exception) -> str:
    """Why Pillow could not read a file, in a few words."""
    return "no format it knows" if type(err).__name__ == "UnidentifiedImageError" else str(err)


def _gray(image: ImageLike) -> NDArray[np.float64]:
    """``image`` as a finite 2-D float64 array of grey levels in [0, 1], its darkest pixel 0 and brightest 1."""
    if isinstance(image, (str, os.PathLike)):
        a = _read(image)
    elif _is_pil_image(image):
        a = _from_pil(_small(image))
    else:
        a = np.asarray(image)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"image_to_column expected an array of real numbers, got dtype {a.dtype}")
        if a.ndim != 2:
            hint = ""
            if a.ndim == 3 and a.shape[2] in (3, 4):
                hint = " (a colour image: convert it to grey first, for example a[..., :3].mean(axis=2))"
            elif a.shape == (784,):
                hint = " (already a column? an image is (rows, cols): use a.reshape(28, 28))"
            raise ShapeError(f"image_to_column expected a 2-D image of shape (rows, cols), got {a.shape}{hint}")
        bad = a.size - np.count_nonzero(np.isfinite(a))
        if bad:
            raise NonFiniteError(f"image_to_column: the image holds {bad} NaN or infinite pixels of {a.size}")
        if min(a.shape) >= 3:
            a = _block_mean(a)
    if min(a.shape) < 3:
        hint = " (already a column? an image is (rows, cols): use a.reshape(28, 28))" if a.shape == (784, 1) else ""
        raise ShapeError(f"image_to_column expected an image of at least 3 x 3 pixels, got {a.shape}{hint}")
    scale = float(np.abs(a).max())
    if scale > 0:
        a = a / scale  # into [-1, 1] first, so that the range below cannot overflow
    lo, hi = float(a.min()), float(a.max())
    if not hi > lo:
        raise ValueError(f"image_to_column: the image is blank, every pixel is {lo * scale:g}; no digit to find")
    return (a - lo) / (hi - lo)


def _block_mean(a: NDArray[Any]) -> NDArray[np.float64]:
    """``a`` as float64, averaged over square blocks of a whole number of pixels if it has more than `WORK_PIXELS`.

    The blocks at the right and bottom edges may be smaller, as in Pillow's
    ``reduce``; no copy of ``a`` as large as ``a`` is made.
    """
    rows, cols = a.shape
    factor = math.ceil(math.sqrt(a.size / WORK_PIXELS))
    while math.ceil(rows / factor) * math.ceil(cols / factor) > WORK_PIXELS:
        factor += 1
    if factor <= 1:
        return a.astype(np.float64)
    starts_r, starts_c = np.arange(0, rows, factor), np.arange(0, cols, factor)
    sums = np.add.reduceat(np.add.reduceat(a, starts_r, axis=0, dtype=np.float64), starts_c, axis=1)
    counts = np.outer(np.diff(starts_r, append=rows), np.diff(starts_c, append=cols))
    return sums / counts


# ---------------------------------------------------------------- 2-3. ink on black, background 0


def _otsu(g: NDArray[np.float64]) -> float:
    """Otsu's threshold of ``g`` (values in [0, 1]): the one that best separates two classes of grey levels.

    Returns ``t``: ``g >= t`` is the bright class, ``g < t`` the dark one; both are non-empty.
    """
    counts, edges = np.histogram(g, bins=256, range=(0.0, 1.0))
    centres = (edges[:-1] + edges[1:]) / 2
    n0 = np.cumsum(counts)[:-1].astype(np.float64)  # dark class when the cut is after bin k
    s0 = np.cumsum(counts * centres)[:-1]
    n1, s1 = g.size - n0, float(np.sum(counts * centres)) - s0
    valid = (n0 > 0) & (n1 > 0)
    between = np.full(n0.shape, -1.0)
    between[valid] = n0[valid] * n1[valid] * (s0[valid] / n0[valid] - s1[valid] / n1[valid]) ** 2
    best = np.flatnonzero(between == between.max())
    k = int(best[len(best) // 2])  # the middle of equally good cuts (a two-level image has many)
    return float(edges[k + 1])


def _border(shape: tuple[int, ...]) -> NDArray[np.bool_]:
    """The outer ring of pixels, a twentieth of the shorter side wide (at least one pixel)."""
    width = max(1, round(min(shape) / 20))
    ring = np.ones(shape, dtype=bool)
    ring[width:-width, width:-width] = False
    return ring


def _ink(g: NDArray[np.float64]) -> tuple[NDArray[np.bool_], NDArray[np.float64]]:
    """Return ``(ink, digit)``: where the ink is, and the image as white ink (1) on black (0)."""
    t = _otsu(g)
    bright = g >= t
    if bright[_border(g.shape)].mean() > 0.5:  # light paper: make it white ink on black
        g, ink = 1.0 - g, ~bright
    else:
        ink = bright
    background = float(np.percentile(g[~ink], BACKGROUND_PERCENTILE))
    core = float(np.percentile(g[ink], INK_PERCENTILE))
    if not core > background:  # cannot happen after a threshold, but a division by zero must not either
        core = 1.0
    digit = np.clip((g - background) / (core - background), 0.0, 1.0)
    return _without_specks(ink), digit


def _without_specks(ink: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """``ink`` less the blobs with fewer than `SPECK` times the pixels of the largest.

    Strokes closer to each other than a pixel of the final 20 x 20 box count
    as one blob, so that a thin stroke broken by the threshold stays.
    """
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    reach = max(1, int(np.ceil(max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) / BOX)))
    near = ndimage.maximum_filter(ink.astype(np.uint8), size=2 * reach + 1) > 0  # widened by `reach` pixels
    labels, n = ndimage.label(near, structure=np.ones((3, 3)))
    sizes = np.bincount(labels[ink], minlength=n + 1)[1:]  # ink pixels in each blob
    keep = 1 + np.flatnonzero(sizes >= SPECK * sizes.max())
    return np.isin(labels, keep) & near  # the ink kept and its surroundings


# ---------------------------------------------------------------- 4. into 20 x 20


def _resample_matrix(n_in: int, n_out: int) -> NDArray[np.float64]:
    """The ``(n_out, n_in)`` matrix that resizes a line of ``n_in`` pixels to ``n_out`` with a triangle filter.

    The filter is one pixel wide when enlarging and as wide as the reduction
    when reducing, so that every input pixel counts (anti-aliasing), as in
    Pillow's ``resize(..., BILINEAR)``. Each row sums to 1. An image ``a`` of
    shape ``(rows, cols)`` becomes ``R_rows @ a @ R_cols.T``.
    """
    scale = n_in / n_out  # input pixels per output pixel
    support = max(scale, 1.0)
    centres = (np.arange(n_out) + 0.5) * scale - 0.5  # in input pixel coordinates
    w = np.maximum(0.0, 1.0 - np.abs(np.arange(n_in)[None, :] - centres[:, None]) / support)
    return w / w.sum(axis=1, keepdims=True)


def _fit(digit: NDArray[np.float64], ink: NDArray[np.bool_]) -> NDArray[np.float64]:
    """The ink's bounding box of ``digit``, resized so that its longer side is `BOX`, brightest pixel 1."""
    where = ink & (digit > 0)
    rows, cols = np.flatnonzero(where.any(axis=1)), np.flatnonzero(where.any(axis=0))
    crop = digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    box = _resample_matrix(h, new_h) @ crop @ _resample_matrix(w, new_w).T
    return box / box.max()  # the crop holds ink, so its maximum is positive


# ---------------------------------------------------------------- 5. centred by centre of mass in 28 x 28


def _centre(box: NDArray[np.float64]) -> NDArray[np.float64]:
    """``box`` in a `SIDE` x `SIDE` field of zeros, its centre of mass moved to (`CENTRE`, `CENTRE`).

    The shift is in whole pixels, as MNIST's; it stops where the box would
    leave the field, so that no ink is ever cut off.
    """
    field = np.zeros((SIDE, SIDE))
    h, w = box.shape
    cy, cx = ndimage.center_of_mass(box)
    top = min(max(int(np.floor(CENTRE - cy + 0.5)), 0), SIDE - h)
    left = min(max(int(np.floor(CENTRE - cx + 0.5)), 0), SIDE - w)
    field[top : top + h, left : left + w] = box
    return field
