import numpy as np
import pytest

import minibp as bp
from minibp.gradcheck import gradcheck


def test_mlp_is_the_books_network():
    net = bp.mlp([784, 30, 10], rng=0)
    assert [type(m).__name__ for m in net] == ["Dense", "Sigmoid", "Dense", "Sigmoid"]
    assert net[0].w.shape == (30, 784) and net[2].w.shape == (10, 30)
    assert [name for name, _ in net.named_parameters()] == ["0.w", "0.b", "2.w", "2.b"]
    assert len(net.parameters()) == 4


def test_sequential_gradients_match_finite_differences(rng):
    net = bp.mlp([6, 5, 4, 3], rng=rng)
    result = gradcheck(net, rng.standard_normal((6, 4)))
    assert result.ok, str(result)


def test_sequential_forward_is_composition(rng):
    net = bp.mlp([4, 3, 2], rng=rng)
    x = rng.standard_normal((4, 5))
    expected = x
    for module in net:
        expected = module(expected)
    np.testing.assert_array_equal(net(x), expected)


def test_mlp_seed_is_reproducible():
    a, b = bp.mlp([5, 4, 3], rng=7), bp.mlp([5, 4, 3], rng=7)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_mlp_scaled_init_by_name():
    net = bp.mlp([784, 100, 10], init="scaled", rng=0)
    assert abs(net[0].w.data.std() - 1 / np.sqrt(784)) < 0.002
    assert abs(net[0].b.data.std() - 1) < 0.2


def test_bad_construction():
    with pytest.raises(ValueError, match="at least one"):
        bp.Sequential()
    with pytest.raises(TypeError, match="item 1"):
        bp.Sequential(bp.Sigmoid(), "nope")
    with pytest.raises(ValueError, match="sizes"):
        bp.mlp([3])
    with pytest.raises(ValueError, match="unknown initialiser 'nope'"):
        bp.mlp([3, 2], init="nope")


def test_shape_error_names_the_failing_layer(rng):
    net = bp.Sequential(bp.Dense(4, 3, rng=0), bp.Sigmoid(), bp.Dense(5, 2, rng=0))
    with pytest.raises(bp.ShapeError, match=r"Dense\(5, 2\).*\(5, m\).*\(3, 7\)"):
        net(rng.standard_normal((4, 7)))
