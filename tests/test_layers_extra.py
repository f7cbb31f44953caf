"""Tanh, ReLU, Identity, Softmax and Dropout: values, gradient checks, modes, fused output gradients."""

import numpy as np
import pytest

import minibp as bp
from minibp.gradcheck import gradcheck
from minibp.layers import Dropout, Identity, ReLU, Softmax, Tanh


def away_from_zero(rng, shape, gap=0.1):
    x = rng.standard_normal(shape) * 3
    return np.where(np.abs(x) < gap, np.sign(x + 1e-300) * gap + x, x)


@pytest.mark.parametrize("make", [Tanh, ReLU, Identity, Softmax])
def test_activation_gradients_match_finite_differences(make, rng):
    x = away_from_zero(rng, (6, 5))  # ReLU's kink at 0 is out of reach of the eps = 1e-6 steps
    result = gradcheck(make(), x)
    assert result.ok, str(result)
    assert result.errors["input"] < 1e-7


@pytest.mark.parametrize("make", [Tanh, ReLU, Identity, Softmax, bp.Sigmoid])
def test_activations_in_a_network_pass_gradcheck(make, rng):
    net = bp.Sequential(bp.Dense(4, 5, rng=rng), make(), bp.Dense(5, 3, rng=rng), make())
    result = gradcheck(net, rng.standard_normal((4, 6)))
    assert result.ok, str(result)
    assert set(result.errors) == {"input", "0.w", "0.b", "2.w", "2.b"}


def test_activation_values(rng):
    z = rng.standard_normal((4, 7)) * 5
    np.testing.assert_array_equal(Tanh()(z), np.tanh(z))
    np.testing.assert_array_equal(ReLU()(z), np.maximum(z, 0))
    assert Identity()(z) is z
    a = Softmax()(z)
    np.testing.assert_allclose(a, np.exp(z) / np.exp(z).sum(axis=0), rtol=1e-14)
    np.testing.assert_allclose(a.sum(axis=0), 1.0, rtol=1e-15)


def test_softmax_is_stable_for_huge_inputs():
    z = np.array([[1000.0, -1000.0, 0.0], [999.0, -1e308, 0.0], [-1e308, -999.0, 0.0]])
    a = Softmax()(z)  # would overflow without the shift; warnings are errors here
    assert np.isfinite(a).all()
    np.testing.assert_allclose(a[:, 0], [1 / (1 + np.exp(-1.0)), np.exp(-1.0) / (1 + np.exp(-1.0)), 0.0])
    np.testing.assert_allclose(a[:, 2], 1 / 3)


def test_tanh_relu_keep_float32(rng):
    z = rng.standard_normal((3, 4)).astype(np.float32)
    for make in (Tanh, ReLU, Softmax, Identity):
        module = make()
        assert module(z).dtype == np.float32
        assert module.backward(np.ones((3, 4), dtype=np.float32)).dtype == np.float32


@pytest.mark.parametrize("make", [Tanh, ReLU, Identity, Softmax, lambda: Dropout(0.5, rng=0)])
def test_backward_before_forward_and_wrong_shapes_are_clear_errors(make):
    module = make()
    with pytest.raises(RuntimeError, match="backward called before forward"):
        module.backward(np.ones((2, 3)))
    net = bp.Sequential(module)  # a direct backward call skips the checks; a container's does not
    net(np.ones((2, 3)))
    with pytest.raises(bp.ShapeError, match=r"expected grad_output of shape \(2, 3\)"):
        net.backward(np.ones((3, 2)))


def test_dropout_is_inverted_seeded_and_only_active_in_training(rng):
    x = rng.standard_normal((200, 50))
    layer = Dropout(0.3, rng=7)
    out = layer(x)
    kept = out != 0
    assert 0.6 < kept.mean() < 0.8  # about 1 - p of the entries survive
    np.testing.assert_allclose(out[kept], x[kept] / 0.7, rtol=1e-15)
    g = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(g), g * layer.mask)
    np.testing.assert_array_equal(Dropout(0.3, rng=7)(x), out)  # same seed, same mask
    assert not np.array_equal(layer(x), out)  # a fresh mask at every forward
    layer.eval()
    assert layer(x) is x and layer.mask is None
    assert layer.backward(g) is g
    layer.train()
    assert (layer(x) == 0).any()


def test_dropout_mean_is_preserved_in_expectation():
    x = np.ones((1000, 100))
    out = Dropout(0.5, rng=0)(x)
    assert abs(out.mean() - 1.0) < 0.02


def test_dropout_gradient_matches_finite_differences_with_a_fixed_mask(rng):
    class FixedMaskDropout(Dropout):
        def forward(self, x):
            self.rng = np.random.default_rng(3)  # the same mask at every call, for the finite differences
            return super().forward(x)

    result = gradcheck(FixedMaskDropout(0.4), rng.standard_normal((5, 6)))
    assert result.ok, str(result)


@pytest.mark.parametrize("p", [-0.1, 1.0, float("nan"), "half"])
def test_dropout_rejects_bad_p(p):
    with pytest.raises(bp.HyperparameterError, match="p must"):
        Dropout(p, rng=0)


def test_sequential_eval_reaches_nested_dropout(rng):
    inner = bp.Sequential(bp.Dense(3, 4, rng=0), Dropout(0.5, rng=1))
    net = bp.Sequential(inner, bp.Sigmoid())
    net.eval()
    assert not inner.training and not inner[1].training
    x = rng.standard_normal((3, 5))
    np.testing.assert_array_equal(net(x), net(x))
    net.train()
    assert inner[1].training


def test_activation_choice_in_mlp_and_init_per_dense(rng):
    net = bp.mlp([4, 6, 2], activation=Tanh, init="glorot", rng=0)
    assert isinstance(net[1], Tanh) and isinstance(net[3], Tanh)
    assert not net[0].b.data.any()  # glorot: zero biases
    layer = bp.Dense(4, 6, init="he", rng=0)
    assert not layer.b.data.any()
