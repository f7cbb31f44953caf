"""The shared argument checks: one integer rule, numpy integers accepted wherever Python integers are."""

import re

import numpy as np
import pytest

import minibp as bp
from minibp._checks import as_generator, check_count, is_integer
from minibp.errors import HyperparameterError

NUMPY_INTEGERS = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64]


@pytest.mark.parametrize("value", [0, 3, 2**70, *(t(3) for t in NUMPY_INTEGERS)])
def test_python_and_numpy_integers_are_integers(value):
    assert is_integer(value)


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 3.0, np.float64(3), "3", None, np.array(3), [3]])
def test_bools_floats_strings_and_arrays_are_not(value):
    assert not is_integer(value)


def test_check_count_returns_an_int_or_names_owner_name_and_value():
    assert check_count("owner", "k", np.int64(4)) == 4 and type(check_count("owner", "k", np.uint8(4))) is int
    assert check_count("owner", "k", 0, 0) == 0
    for bad in (0, -1, True, 2.0, np.float32(2), "2"):
        message = rf"^owner: k must be an integer >= 1, got {re.escape(repr(bad))}$"
        with pytest.raises(HyperparameterError, match=message):
            check_count("owner", "k", bad)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.random((4, 30)), rng.integers(0, 3, size=30)


@pytest.mark.parametrize("integer", NUMPY_INTEGERS)
def test_numpy_integers_are_accepted_wherever_a_count_is(integer, data, tmp_path):
    X, y = data
    net = bp.Sequential(bp.Dense(integer(4), integer(3), rng=integer(0)), bp.Sigmoid())
    assert net[0].w.shape == (3, 4)
    history = bp.train(
        net, (X, y), optimizer=bp.SGD(net.parameters(), eta=1.0), epochs=integer(2), mini_batch_size=integer(7),
        evaluation_data=(X, y),
        blas_threads=integer(1), verbose=False, rng=integer(1), progress=False,
        regularization=bp.L2(net, lmbda=0.1, n=integer(30)),
        callbacks=[bp.EarlyStopping(patience=integer(3)), bp.LearningSpeed((X, y), size=integer(10))],
        schedule=bp.HalveOnPlateau(eta=1.0, patience=integer(2)),
    )  # fmt: skip
    assert history.epoch == [0, 1] and len(history.learning_speed) == 2
    assert bp.L2(net, lmbda=0.1, n=integer(30)).n == 30
    assert as_generator(integer(5)).integers(1000) == np.random.default_rng(5).integers(1000)
    assert [len(i) for i in bp.data.minibatch_indices(10, integer(4), np.random.default_rng(0))] == [4, 4, 2]

    from minibp.data import read_idx

    path = tmp_path / "a.idx"
    path.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 2, 7, 9]))  # IDX: unsigned bytes, one dimension of 2
    np.testing.assert_array_equal(read_idx(path, max_bytes=integer(100)), [7, 9])
    if np.iinfo(integer).max >= 100_000:  # a network2 file takes a few hundred bytes
        bp.save_network2(bp.mlp([2, 2], rng=0), tmp_path / "n2.json", bp.QuadraticCost())
        assert bp.load_network2(tmp_path / "n2.json", max_bytes=integer(100_000))[0][0].w.shape == (2, 2)


@pytest.mark.parametrize("integer", [np.int64, np.uint8])
def test_numpy_integers_are_accepted_by_the_plots(integer, data):
    pytest.importorskip("matplotlib.figure", reason="the plot extra (matplotlib) is not installed")
    from minibp.plot import plot_misclassified, plot_weights

    X, y = data
    net = bp.mlp([4, 4, 3], rng=0)
    assert len(plot_misclassified(net, X, y, n=integer(2)).axes) == 2
    assert plot_weights(net, layer=integer(1)) is not None
