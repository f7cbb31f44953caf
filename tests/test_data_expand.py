"""`minibp.data.expand`: each image and its four one-pixel shifts, exactly, with the labels repeated."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

from minibp.data import DEFAULT_MAX_BYTES, expand, load_sample
from minibp.errors import DataFormatError, ShapeError

expand_module = importlib.import_module("minibp.data.expand")  # the module: the package's name expand is the function


def columns(*images):
    """Square images (2-D lists) as the columns of an (side * side, N) array, read row by row."""
    return np.stack([np.asarray(a, dtype=float).ravel() for a in images], axis=1)


def test_each_shift_moves_every_pixel_by_one_and_fills_with_zeros():
    image = [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
    X5, y5 = expand(columns(image), np.array([3]))
    up, down, left, right = ([[4, 5, 6], [7, 8, 9], [0, 0, 0]],
                             [[0, 0, 0], [1, 2, 3], [4, 5, 6]],
                             [[2, 3, 0], [5, 6, 0], [8, 9, 0]],
                             [[0, 1, 2], [0, 4, 5], [0, 7, 8]])  # fmt: skip
    np.testing.assert_array_equal(X5, columns(image, up, down, left, right))
    np.testing.assert_array_equal(y5, [3, 3, 3, 3, 3])
    assert expand_module.SHIFTS == ("up", "down", "left", "right")


def test_blocks_keep_the_input_order_and_labels_follow_their_images(rng):
    n, side = 7, 4
    X = rng.uniform(0, 1, (side * side, n))
    y = rng.integers(0, 10, n)
    X5, y5 = expand(X, y)
    assert X5.shape == (16, 35) and y5.shape == (35,)
    np.testing.assert_array_equal(X5[:, :n], X)  # the images as they are, first
    np.testing.assert_array_equal(y5, np.concatenate([y] * 5))
    images = X.T.reshape(n, side, side)
    shifted = X5.T.reshape(5, n, side, side)
    for j in range(n):  # the same image in every block, moved as the block says
        np.testing.assert_array_equal(shifted[1, j, :-1], images[j, 1:])
        np.testing.assert_array_equal(shifted[2, j, 1:], images[j, :-1])
        np.testing.assert_array_equal(shifted[3, j, :, :-1], images[j, :, 1:])
        np.testing.assert_array_equal(shifted[4, j, :, 1:], images[j, :, :-1])
    assert not shifted[1, :, -1].any() and not shifted[2, :, 0].any()
    assert not shifted[3, :, :, -1].any() and not shifted[4, :, :, 0].any()


def test_target_vectors_are_repeated_by_column(rng):
    X = rng.uniform(0, 1, (9, 4))
    Y = np.eye(3)[:, [0, 2, 1, 2]]
    _, Y5 = expand(X, Y)
    assert Y5.shape == (3, 20)
    np.testing.assert_array_equal(Y5, np.tile(Y, (1, 5)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.uint8])
def test_dtype_is_kept_and_columns_are_contiguous_like_the_loaders(dtype, rng):
    X = (rng.uniform(0, 1, (25, 6)) * 200).astype(dtype)
    X5, y5 = expand(X, np.arange(6, dtype=np.int32), side=5)
    assert X5.dtype == dtype and y5.dtype == np.int32
    assert X5.T.flags.c_contiguous  # each example (column) contiguous in memory
    assert load_sample().training[0].T.flags.c_contiguous  # as the loaders return theirs


def test_a_row_major_input_gives_the_same_result(rng):
    X = rng.uniform(0, 1, (16, 5))
    X5, _ = expand(X, np.zeros(5, dtype=int))
    X5c, _ = expand(np.ascontiguousarray(X), np.zeros(5, dtype=int))
    np.testing.assert_array_equal(X5, X5c)


def test_the_sample_expands_to_five_times_its_size_and_leaves_the_input_alone():
    X, y = load_sample().training
    X, y = X[:, :100], y[:100]
    before = X.copy()
    X5, y5 = expand(X, y)
    assert X5.shape == (784, 500) and y5.shape == (500,)
    np.testing.assert_array_equal(X, before)
    # A one-pixel shift moves ink, never creates it: no shifted image has more ink than its original.
    ink = X5.sum(axis=0).reshape(5, 100)
    assert np.all(ink[1:] <= ink[0] + 1e-12)
    assert X5.min() >= 0.0 and X5.max() <= 1.0


def test_memory_is_checked_before_anything_is_allocated():
    X = np.zeros((784, 10), dtype=np.float32)
    y = np.zeros(10, dtype=np.int64)
    nbytes = 5 * (784 * 10 * 4 + 10 * 8)  # 157,200 bytes
    X5, _ = expand(X, y, max_bytes=nbytes)  # exactly at the limit: allowed
    assert X5.nbytes + 5 * y.nbytes == nbytes
    with pytest.raises(DataFormatError, match="157,200 bytes .* more than max_bytes=157,199"):
        expand(X, y, max_bytes=nbytes - 1)
    big = np.lib.stride_tricks.as_strided(np.zeros(1), shape=(784, 50_000), strides=(0, 0))  # MNIST's training size
    with pytest.raises(DataFormatError, match="1,570,000,000 bytes"):  # 1.6 GB in float64: over the 1 GiB default
        expand(big, np.zeros(50_000, dtype=np.int64))
    assert DEFAULT_MAX_BYTES == 1 << 30


@pytest.mark.parametrize(
    ("X", "y", "side", "error", "message"),
    [
        (np.zeros(784), np.zeros(1), None, ShapeError, r"shape \(side \* side, N\), got shape \(784,\)"),
        (np.zeros((783, 2)), np.zeros(2), None, ShapeError, "783 rows, not a square number"),
        (np.zeros((0, 2)), np.zeros(2), None, ShapeError, "0 rows, not a square number"),
        (np.zeros((784, 2)), np.zeros(2), 27, ShapeError, "side 27 have 729 pixels, but X has 784 rows"),
        (np.zeros((784, 2)), np.zeros(3), None, ShapeError, r"one label per column of X, shape \(2,\)"),
        (np.zeros((784, 2)), np.zeros((1, 1, 2)), None, ShapeError, r"got shape \(1, 1, 2\)"),
        (np.zeros((784, 2)), np.zeros(2), 28.0, TypeError, "side must be an integer"),
        (np.zeros((784, 2)), np.zeros(2), True, TypeError, "side must be an integer"),
        (np.zeros((1, 2)), np.zeros(2), 0, ValueError, "at least 1 pixel"),
        (np.zeros((4, 2), dtype=bool), np.zeros(2), None, TypeError, "real numeric array, got dtype bool"),
    ],
)
def test_bad_input_is_refused_by_name(X, y, side, error, message):
    with pytest.raises(error, match=message):
        expand(X, y, side=side)


def test_the_docstring_example_runs_as_written():
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    tests = finder.find(expand, "expand", globs={"expand": expand})
    assert tests and tests[0].examples
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
