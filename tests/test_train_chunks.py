"""Evaluation in chunks bounded in bytes: `evaluate`, `predict` and `LearningSpeed` on the chapter-6 network.

A convolutional network's unfolded inputs take about 80,000 numbers per MNIST
digit (640 kB in float64), so 2,000 digits in one pass would take 1.3 GB.
The chunks are sized from the network's own widths so that one takes at most
``chunk_bytes``; the peak memory (tracemalloc, in this process) stays under
that bound, and the results are those of one pass over everything.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import minibp as bp
from minibp._chunks import CHUNK_BYTES, MAX_CHUNK, chunk_size, numbers_per_example
from minibp.callbacks import LearningSpeed
from minibp.module import evaluation_mode
from minibp.train import accuracy, evaluate, predict

MiB = 2**20


def chapter6(seed: int = 0) -> bp.Sequential:
    rng = np.random.default_rng(seed)
    return bp.Sequential(
        bp.Conv2d((1, 28, 28), 20, 5, rng=rng),
        bp.ReLU(),
        bp.MaxPool2d((20, 24, 24)),
        bp.Conv2d((20, 12, 12), 40, 5, rng=rng),
        bp.ReLU(),
        bp.MaxPool2d((40, 8, 8)),
        bp.Dense(640, 100, init="scaled", rng=rng),
        bp.ReLU(),
        bp.Dense(100, 10, init="scaled", rng=rng),
    )


def digits(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.asfortranarray(rng.random((784, n))), rng.integers(0, 10, n)


def peak_bytes(f, *args, **kwargs):
    """Run ``f`` under tracemalloc (numpy's arrays included); return its result and the peak traced bytes."""
    tracemalloc.start()
    try:
        result = f(*args, **kwargs)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def test_the_estimate_counts_each_width_and_the_unfolded_inputs():
    net = chapter6()
    widths = 784 + 11520 + 11520 + 2880 + 2560 + 2560 + 640 + 100 + 100 + 10  # the input, then each layer's output
    unfolded = 1 * 25 * 24 * 24 + 20 * 25 * 8 * 8
    assert numbers_per_example(net, 784) == widths + unfolded == 79_074
    assert chunk_size(net, digits(1)[0], 64 * MiB) == 64 * MiB // (8 * (widths + unfolded))
    x32 = digits(1)[0].astype(np.float32)
    assert chunk_size(net, x32, 64 * MiB) == chunk_size(net, digits(1)[0], 64 * MiB)  # computed in float64
    conv32 = bp.Conv2d((1, 28, 28), 20, 5, rng=0, dtype=np.float32)
    assert chunk_size(conv32, x32, 64 * MiB) == 64 * MiB // (4 * (784 + 11520 + 14400))
    assert chunk_size(bp.mlp([784, 30, 10], rng=0), digits(1)[0], None) == MAX_CHUNK  # small networks: 10,000 a pass
    assert chunk_size(net, digits(1)[0], 1) == 1  # at least one example
    assert CHUNK_BYTES == 128 * MiB


@pytest.mark.parametrize("bad", [0, -1, 1.5, "64M", True])
def test_a_bad_bound_is_refused(bad):
    X, y = digits(3)
    net = bp.mlp([784, 5, 10], rng=0)
    with pytest.raises(ValueError, match="chunk_bytes must be a positive integer"):
        evaluate(net, X, y, chunk_bytes=bad)
    with pytest.raises(ValueError, match="chunk_bytes must be a positive integer"):
        LearningSpeed((X, y), chunk_bytes=bad)


def test_evaluate_on_2000_digits_stays_under_the_bound():
    net = chapter6()
    X, y = digits(2000)
    bound = 16 * MiB
    net(X[:, :1])  # what the modules keep from an earlier pass is one example's worth
    correct, peak = peak_bytes(evaluate, net, X, y, chunk_bytes=bound)
    # One pass over all 2,000 would take 2000 * 79,074 * 8 bytes = 1.2 GiB; the chunks (26 digits) stay below
    # the bound, plus a little for what does not grow with the chunk (labels, predictions, Python objects).
    assert peak < bound + 1 * MiB, f"peak {peak / MiB:.1f} MiB for a bound of {bound / MiB:.0f} MiB"
    assert 0 <= correct <= 2000
    predicted, peak = peak_bytes(predict, net, X, chunk_bytes=bound)
    assert peak < bound + 1 * MiB
    assert np.count_nonzero(predicted == y) == correct


def test_chunks_give_the_results_of_one_pass():
    net = chapter6(seed=2)
    X, y = digits(100, seed=3)
    with evaluation_mode(net):
        whole = net(X)  # one pass over everything: 100 * 640 kB = 64 MB
    # Each output is a sum of at most 500 products per layer, in an order the chunking may change (BLAS picks
    # its kernels by shape): the outputs agree to ~1e-13 relative, so the predictions agree unless two
    # outputs tie that closely; check that none do, then that the predictions are equal.
    top2 = np.sort(whole, axis=0)[-2:]
    assert np.all(top2[1] - top2[0] > 1e-9 * np.abs(whole).max())
    expected = np.argmax(whole, axis=0)
    for bound in (1, 3 * MiB, None):  # one digit a chunk, four, all 100
        assert np.array_equal(predict(net, X, chunk_bytes=bound), expected)
        assert evaluate(net, X, y, chunk_bytes=bound) == np.count_nonzero(expected == y)
        assert accuracy(net, X, y, chunk_bytes=bound) == np.count_nonzero(expected == y) / 100


def test_learning_speed_in_chunks_equals_one_pass_and_stays_under_the_bound():
    net = chapter6(seed=4)
    X, y = digits(120, seed=5)
    cost = bp.SoftmaxLogLikelihoodCost()
    whole = LearningSpeed((X, y), cost, chunk_bytes=10**12).measure(net)  # all 120 at once
    bound = 8 * MiB
    net(X[:, :1])
    chunked, peak = peak_bytes(LearningSpeed((X, y), cost, chunk_bytes=bound).measure, net)
    assert peak < bound + 1 * MiB, f"peak {peak / MiB:.1f} MiB for a bound of {bound / MiB:.0f} MiB"
    # The mean of dC/db over 120 digits summed in chunks instead of at once: rounding of a sum of 120 terms.
    np.testing.assert_allclose(chunked[0], whole[0], rtol=1e-12)
    assert chunked[1] == whole[1] == [None, None]
    assert LearningSpeed((X, y), cost, chunk_bytes=1).measure(net)[1] == [None, None]  # one digit a chunk works


def test_conv2d_drops_the_last_unfolded_input_before_unfolding_the_next():
    conv = bp.Conv2d((1, 28, 28), 20, 5, rng=0)
    X, _ = digits(100)
    unfolded, z, images = conv.workspace() * 100 * 8, conv.n_out * 100 * 8, X.nbytes
    tracemalloc.start()
    try:
        conv(X)  # keeps its unfolded input (11.5 MB) for backward
        tracemalloc.reset_peak()
        conv(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Kept until the next unfolding, the old one would add 11.5 MB to the 21.3 MB of this pass.
    assert peak < 1.05 * (unfolded + z + images) < unfolded + z + images + unfolded
