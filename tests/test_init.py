"""The weight initialisers: shapes, dtypes, distributions, selection by name for Dense and mlp."""

import numpy as np
import pytest

import minibp as bp
from minibp import init


@pytest.mark.parametrize("name", ["book", "scaled", "glorot", "he"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_shapes_and_dtypes(name, dtype):
    w, b = init.INITIALIZERS[name](7, 3, np.random.default_rng(0), dtype)
    assert w.shape == (3, 7) and b.shape == (3, 1)
    assert w.dtype == dtype and b.dtype == dtype


@pytest.mark.parametrize(
    "name, w_std, b_std",
    [
        ("book", lambda n_in, n_out: 1.0, 1.0),
        ("scaled", lambda n_in, n_out: 1 / np.sqrt(n_in), 1.0),
        ("glorot", lambda n_in, n_out: np.sqrt(6 / (n_in + n_out)) / np.sqrt(3), 0.0),
        ("he", lambda n_in, n_out: np.sqrt(2 / n_in), 0.0),
    ],
)
def test_distributions(name, w_std, b_std):
    n_in, n_out = 400, 300
    w, b = init.INITIALIZERS[name](n_in, n_out, np.random.default_rng(1), np.float64)
    expected = w_std(n_in, n_out)
    assert abs(w.mean()) < 4 * expected / np.sqrt(w.size)  # 120,000 draws: the mean is within 4 standard errors
    assert w.std() == pytest.approx(expected, rel=0.01)
    if b_std:
        assert b.std() == pytest.approx(b_std, rel=0.2)
    else:
        assert not b.any()
    if name == "glorot":
        limit = np.sqrt(6 / (n_in + n_out))
        assert np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    else:
        kurtosis = np.mean(((w - w.mean()) / w.std()) ** 4)
        assert kurtosis == pytest.approx(3.0, abs=0.1)  # normal, not uniform (1.8)


def test_selectable_per_dense_and_in_mlp():
    net = bp.mlp([100, 50, 10], init="scaled", rng=0)
    assert net[0].w.data.std() == pytest.approx(0.1, rel=0.05)
    assert bp.Dense(100, 50, init="he", rng=0).w.data.std() == pytest.approx(np.sqrt(0.02), rel=0.05)
    same = bp.Dense(100, 50, init=init.scaled, rng=0)
    np.testing.assert_array_equal(same.w.data, bp.Dense(100, 50, init="scaled", rng=0).w.data)
    with pytest.raises(ValueError, match="unknown initialiser 'xavier'"):
        bp.Dense(3, 2, init="xavier")


def test_same_seed_same_weights_different_seed_different_weights():
    a, b, c = (bp.mlp([5, 4, 3], init="glorot", rng=seed) for seed in (3, 3, 4))
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert not np.array_equal(a[0].w.data, c[0].w.data)
