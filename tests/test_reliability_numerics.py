"""Numerics: activations at the ends of the float range, costs that never give NaN, optimizers that refuse NaN.

Every check runs with warnings as errors and numpy's overflow, invalid and
divide-by-zero flags raised, so "no warning" means no floating-point event
(underflow to 0, which is exact here, is allowed). ``tests/test_layers.py``
(sigmoid at ±1000), ``tests/test_costs_extra.py`` (costs at saturated
outputs) and ``tests/test_optim_extra.py`` (one NaN per optimizer) check single
points of what is proven here over whole ranges.
"""

from __future__ import annotations

import contextlib
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from _exports import exported_subclasses
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import minibp as bp

SETTINGS = settings(max_examples=60, deadline=None)


@contextlib.contextmanager
def strict():
    """Turn every warning and every floating-point event except underflow into an exception."""
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        warnings.simplefilter("error")
        yield


def test_the_suite_treats_warnings_as_errors():
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8")  # tomllib needs 3.11
    section = text.split("[tool.pytest.ini_options]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'^filterwarnings = \[\s*"error"', section, re.MULTILINE)


ACTIVATIONS = [bp.Sigmoid, bp.Tanh, bp.ReLU, bp.Identity, bp.Softmax]
BOUNDED = {bp.Sigmoid: (0.0, 1.0), bp.Tanh: (-1.0, 1.0), bp.Softmax: (0.0, 1.0)}


def test_every_parameterless_exported_module_is_checked_here():
    exported = {getattr(bp, n) for n in exported_subclasses(bp.Module)}
    assert exported - set(ACTIVATIONS) == {
        bp.Dense,
        bp.Conv2d,
        bp.MaxPool2d,
        bp.Sequential,
        bp.Dropout,
        bp.Parallel,
        bp.Residual,
    }


def extremes(dtype) -> np.ndarray:
    info = np.finfo(dtype)
    values = [-np.inf, -info.max, -1e308, -1e38, -1e4, -745.2, -100.0, -1.0, -info.tiny, -0.0, 0.0, info.tiny]
    values += [1.0, 36.8, 100.0, 745.2, 1e4, 1e38, 1e308, info.max, np.inf]
    with np.errstate(over="ignore"):
        return np.array(values, dtype=np.float64).astype(dtype)  # 1e308 becomes inf in float32


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cls", ACTIVATIONS, ids=lambda c: c.__name__)
def test_activations_at_the_ends_of_the_range(cls, dtype):
    v = extremes(dtype)
    rng = np.random.default_rng(0)
    # One column of all values, one row (softmax sees pairs), and columns mixing them at random.
    for x in [v[:, None], v[None, :], rng.permutation(np.tile(v, 3)).reshape(3, -1), v[[0, 0]][:, None]]:
        module = cls()
        with strict():
            a = module(x.copy())
            grad = module.backward(np.ones_like(a))
        assert a.dtype == dtype and grad.dtype == dtype
        assert not np.isnan(a).any() and not np.isnan(grad).any()
        assert np.isfinite(grad).all()
        if cls in BOUNDED:
            low, high = BOUNDED[cls]
            assert np.isfinite(a).all() and (a >= low).all() and (a <= high).all()
        else:  # ReLU and Identity pass infinities through (ReLU(-inf) = 0) and keep every finite value finite
            assert (np.isfinite(a) | np.isinf(x)).all()
    sigmoid = bp.Sigmoid()(v[:, None])[:, 0]
    assert sigmoid[0] == 0.0 and sigmoid[-1] == 1.0 and sigmoid[v == 0].tolist() == [0.5, 0.5]
    np.testing.assert_array_equal(bp.ReLU()(v[:, None])[:, 0], np.maximum(v, 0))
    softmax = bp.Softmax()(np.array([[np.inf, np.inf, 1.0, -np.inf]], dtype=dtype).T)[:, 0]
    np.testing.assert_array_equal(softmax, np.array([0.5, 0.5, 0.0, 0.0], dtype=dtype))  # the limit


finite64 = st.floats(allow_nan=False, allow_infinity=False, width=64)


@SETTINGS
@given(x=arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 4)), elements=finite64))
def test_bounded_activations_are_finite_for_any_finite_input(x):
    for cls, (low, high) in BOUNDED.items():
        with strict():
            a = cls()(x)
        assert np.isfinite(a).all() and (a >= low).all() and (a <= high).all(), cls.__name__
    with strict():
        columns = bp.Softmax()(x).sum(axis=0)
    np.testing.assert_allclose(columns, 1.0, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_max_pooling_at_the_ends_of_the_range(dtype):
    v = extremes(dtype)
    v = np.concatenate([v, v[: 24 - v.size]])
    rng = np.random.default_rng(0)
    for x in [v, rng.permutation(v), v[::-1]]:  # 24 values: six 2x2 windows of a (1, 2, 12) image
        pool = bp.MaxPool2d((1, 2, 12))
        with strict():
            a = pool(x.reshape(24, 1))
            grad = pool.backward(np.ones_like(a))
        windows = x.reshape(2, 6, 2).transpose(1, 0, 2).reshape(6, 4)
        np.testing.assert_array_equal(a[:, 0], windows.max(axis=1))  # exactly the largest, infinities too
        assert grad.dtype == dtype and np.isfinite(grad).all() and grad.sum() == 6  # one input per window


@pytest.mark.parametrize("p", [0.0, 0.5, 0.9])
def test_dropout_at_the_ends_of_the_range(p):
    v = extremes(np.float64)
    safe = np.where(np.isfinite(v), v * (1 - p), v)  # scaling by 1/(1-p) must not overflow
    x = np.tile(safe, (4, 1))
    for training in (True, False):
        layer = bp.Dropout(p, rng=0).train(training)
        with strict():
            a = layer(x)
            g = layer.backward(np.ones_like(a))
        assert not np.isnan(a).any() and np.isfinite(g).all()
        assert (np.isfinite(a) | np.isinf(x)).all()


# -- costs ------------------------------------------------------------------------------------------


def unit(dtype=np.float64, **kw):
    return st.floats(0.0, 1.0, width=np.dtype(dtype).itemsize * 8, **kw)


@st.composite
def cost_inputs(draw, dtype=np.float64):
    shape = (draw(st.integers(1, 5)), draw(st.integers(1, 4)))
    y = draw(arrays(dtype, shape, elements=unit(dtype)))
    return shape, y


@SETTINGS
@given(data=st.data())
def test_quadratic_cost_is_never_nan(data):
    shape, y = data.draw(cost_inputs())
    a = data.draw(arrays(np.float64, shape, elements=finite64), label="a")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # beyond 1e154 the square overflows: inf is the answer
        cost = bp.QuadraticCost()
        value = cost(a, y)
        grad = cost.backward()
    assert not np.isnan(value) and np.isfinite(grad).all()
    if np.abs(a).max() < 1e100:
        with strict():
            value = bp.QuadraticCost()(a, y)
        assert np.isfinite(value) and value >= 0


@SETTINGS
@given(data=st.data(), dtype=st.sampled_from([np.float64, np.float32]))
def test_sigmoid_costs_are_finite_on_outputs_in_0_1_including_0_and_1(data, dtype):
    shape, y = data.draw(cost_inputs(dtype))
    a = data.draw(arrays(dtype, shape, elements=unit(dtype) | st.sampled_from([0.0, 1.0])), label="a")
    for cls in (bp.CrossEntropyCost, bp.LogLikelihoodCost, bp.QuadraticCost):
        cost = cls()
        with strict():
            value = cost(a, y)
            grad = cost.backward()
            delta = getattr(grad, "delta", None)
        assert np.isfinite(value), cls.__name__
        assert np.isfinite(np.asarray(grad)).all(), cls.__name__
        assert delta is None or np.isfinite(delta).all()


@SETTINGS
@given(data=st.data())
def test_softmax_log_likelihood_is_never_nan_for_any_finite_z(data):
    shape, y = data.draw(cost_inputs())
    z = data.draw(arrays(np.float64, shape, elements=finite64), label="z")
    cost = bp.SoftmaxLogLikelihoodCost()
    with strict():
        value = cost(z, y)
        delta = cost.backward()
    assert not np.isnan(value) and np.isfinite(delta).all()
    if np.abs(z).max() < 1e100:
        assert np.isfinite(value) and value >= -1e-9 * max(1.0, np.abs(z).max())


@SETTINGS
@given(data=st.data())
def test_a_network_cost_is_finite_for_any_finite_input(data):
    """Dense -> Softmax -> log-likelihood, and Dense -> Sigmoid -> cross-entropy, on inputs of any size."""
    n_in = data.draw(st.integers(1, 4))
    x = data.draw(arrays(np.float64, (n_in, 3), elements=st.floats(-1e150, 1e150)), label="x")
    y = np.eye(2)[:, [0, 1, 0]]
    for activation, cost in [(bp.Softmax, bp.LogLikelihoodCost), (bp.Sigmoid, bp.CrossEntropyCost)]:
        net = bp.Sequential(bp.Dense(n_in, 2, rng=0), activation())
        c = cost()
        with strict():
            value = c(net(x), y)
            net.backward(c.backward())
        assert np.isfinite(value)
        assert all(np.isfinite(p.grad).all() for p in net.parameters())


# -- optimizers -------------------------------------------------------------------------------------

OPTIMIZERS = exported_subclasses(bp.Optimizer)


def make_optimizer(name, params):
    return getattr(bp, name)(params, eta=0.1)


@pytest.mark.parametrize("name", OPTIMIZERS)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_a_step_with_a_non_finite_gradient_changes_nothing_and_raises(name, data):
    shapes = data.draw(st.lists(st.tuples(st.integers(1, 4), st.integers(1, 3)), min_size=1, max_size=3))
    mixed = data.draw(st.booleans(), label="mixed dtypes (no shared storage)")
    dtypes = [np.float32 if mixed and i % 2 else np.float64 for i in range(len(shapes))]
    rng = np.random.default_rng(data.draw(st.integers(0, 99)))
    params = [bp.Parameter(rng.standard_normal(s).astype(d)) for s, d in zip(shapes, dtypes)]
    optimizer = make_optimizer(name, params)
    for p in params:  # one good step, so that velocities and moments are not zero
        p.grad = rng.standard_normal(p.shape)
    optimizer.step()
    before = [p.data.tobytes() for p in params]
    state = {k: np.array(v, copy=True) for k, v in optimizer.state_dict().items()}
    for p in params:
        p.grad = rng.standard_normal(p.shape)
    i = data.draw(st.integers(0, len(params) - 1), label="parameter")
    j = data.draw(st.integers(0, params[i].data.size - 1), label="entry")
    params[i].grad.flat[j] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]), label="value")
    with pytest.raises(bp.NonFiniteError, match=rf"{name}\.step: gradient of parameter {i} .*no parameter was changed"):
        optimizer.step()
    assert [p.data.tobytes() for p in params] == before
    after = optimizer.state_dict()
    assert after.keys() == state.keys()
    for k in state:
        np.testing.assert_array_equal(after[k], state[k])
    params[i].grad.flat[j] = 0.0  # and once the gradient is finite again, steps resume
    optimizer.step()
    assert all(np.isfinite(p.data).all() for p in params)


def test_diverging_training_with_regularisation_leaves_finite_parameters():
    """train's step with L2 and weight decay also checks the gradients before the first change."""
    from minibp.regularization import L2, WeightDecay

    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((4, 60)), rng.standard_normal((3, 60))
    for regularization in (None, "L2", "decay"):
        net = bp.Sequential(bp.Dense(4, 3, rng=0))
        reg = {"L2": [L2(net, lmbda=0.1, n=60)], "decay": [WeightDecay(net, 1e-7)]}.get(regularization)
        with pytest.raises(bp.DivergedError, match="smaller learning rate"):
            bp.train(net, (X, y), optimizer=bp.SGD(net.parameters(), eta=1e6), epochs=50, mini_batch_size=6, rng=0,
                     verbose=False, regularization=reg)  # fmt: skip
        assert all(np.isfinite(p.data).all() for p in net.parameters())
