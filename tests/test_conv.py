"""Conv2d and MaxPool2d: against loops written here from the definitions, against PyTorch, and on the protocol.

The loops below are the definitions, one output number at a time, and share no code with
``minibp/conv.py``. Tolerances follow from the algorithm: a sum of ``n`` products computed in
another order differs by at most ``γ_n = n u / (1 - n u)`` (``u`` the unit round-off) times the sum
of the absolute values of its terms, so each comparison uses that bound, entry by entry.
"""

from __future__ import annotations

import io
import json
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

import minibp as bp
from minibp import fast
from minibp.conv import fold, unfold
from minibp.errors import HyperparameterError, ModelFormatError, ShapeError
from minibp.gradcheck import gradcheck
from minibp.io.format import write_npz
from minibp.testing import check_module

# -- the definitions, one number at a time ------------------------------------------------------------


def conv_loop(x, w, b, in_shape):
    """z[f, i, j] = b[f] + sum_{c,p,q} w[f, c, p, q] x[c, i+p, j+q], for each column of x ``(C·H·W, m)``."""
    c_in, h, w_in = in_shape
    f_out, _, k, _ = w.shape
    h_out, w_out = h - k + 1, w_in - k + 1
    m = x.shape[1]
    z = np.zeros((f_out, h_out, w_out, m))
    for n in range(m):
        image = x[:, n].reshape(c_in, h, w_in)
        for f in range(f_out):
            for i in range(h_out):
                for j in range(w_out):
                    z[f, i, j, n] = b[f, 0] + np.sum(w[f] * image[:, i : i + k, j : j + k])
    return z.reshape(-1, m)


def conv_grads_loop(x, w, delta, in_shape):
    """dC/dw, dC/db and dC/dx by the chain rule on the definition, one term at a time."""
    c_in, h, w_in = in_shape
    f_out, _, k, _ = w.shape
    h_out, w_out = h - k + 1, w_in - k + 1
    m = x.shape[1]
    images = x.reshape(c_in, h, w_in, m)
    d = delta.reshape(f_out, h_out, w_out, m)
    dw, db, dx = np.zeros_like(w), np.zeros((f_out, 1)), np.zeros((c_in, h, w_in, m))
    for n in range(m):
        for f in range(f_out):
            for i in range(h_out):
                for j in range(w_out):
                    db[f, 0] += d[f, i, j, n]
                    dw[f] += d[f, i, j, n] * images[:, i : i + k, j : j + k, n]
                    dx[:, i : i + k, j : j + k, n] += d[f, i, j, n] * w[f]
    return dw, db, dx.reshape(-1, m)


def pool_loop(x, in_shape, s):
    """The maximum of each s×s window and, for a gradient g, the window's g at its first maximum (row-major)."""
    c_in, h, w_in = in_shape
    m = x.shape[1]
    images = x.reshape(c_in, h, w_in, m)
    a = np.zeros((c_in, h // s, w_in // s, m))
    where = {}
    for n in range(m):
        for c in range(c_in):
            for i in range(h // s):
                for j in range(w_in // s):
                    window = [images[c, s * i + p, s * j + q, n] for p in range(s) for q in range(s)]
                    best = max(range(s * s), key=lambda t: (window[t], -t))  # the largest; among equals, the first
                    a[c, i, j, n] = window[best]
                    where[c, i, j, n] = (c, s * i + best // s, s * j + best % s, n)
    return a.reshape(-1, m), where


def pool_grad_loop(g, where, in_shape, s):
    """Each window's gradient added at the input its maximum came from (``where``, from `pool_loop`)."""
    c_in, h, w_in = in_shape
    m = g.shape[1]
    g4 = g.reshape(c_in, h // s, w_in // s, m)
    grad = np.zeros((c_in, h, w_in, m))
    for window, target in where.items():
        grad[target] += g4[window]
    return grad.reshape(-1, m)


def gamma(n, dtype=np.float64):
    u = np.finfo(dtype).eps / 2
    return n * u / (1 - n * u)


def assert_within_sum_bound(actual, expected, magnitude, n, dtype=np.float64):
    """|actual - expected| <= 2 γ_n · magnitude, entry by entry (two summation orders of the same n terms)."""
    bound = 2 * gamma(n, dtype) * magnitude
    excess = np.abs(np.asarray(actual, np.float64) - expected) - bound
    assert excess.max() <= 0, f"exceeds the rounding bound by up to {excess.max():.3e}"


SHAPES = [((1, 6, 6), 2, 3), ((3, 7, 5), 4, 3), ((2, 5, 6), 3, 1), ((2, 4, 4), 2, 4), ((3, 8, 8), 5, 5)]


# -- forward and backward against the definitions ------------------------------------------------------


@pytest.mark.parametrize("in_shape, f, k", SHAPES)
def test_conv_forward_and_backward_equal_the_definition(in_shape, f, k, rng):
    conv = bp.Conv2d(in_shape, f, k, rng=0)
    conv.b.data = rng.standard_normal((f, 1))
    x = rng.standard_normal((int(np.prod(in_shape)), 3))
    z = conv.forward(x)
    assert z.shape == (conv.n_out, 3) and conv.n_out == f * (in_shape[1] - k + 1) * (in_shape[2] - k + 1)
    n = in_shape[0] * k * k + 1
    magnitude = conv_loop(np.abs(x), np.abs(conv.w.data), np.abs(conv.b.data), in_shape)
    assert_within_sum_bound(z, conv_loop(x, conv.w.data, conv.b.data, in_shape), magnitude, n)

    delta = rng.standard_normal(z.shape)
    grad_x = conv.backward(delta)
    dw, db, dx = conv_grads_loop(x, conv.w.data, delta, in_shape)
    adw, adb, adx = conv_grads_loop(np.abs(x), np.abs(conv.w.data), np.abs(delta), in_shape)
    terms = 3 * z.shape[0]  # each gradient entry sums at most m·F·H'·W' products
    assert_within_sum_bound(conv.w.grad, dw, adw, terms)
    assert_within_sum_bound(conv.b.grad, db, adb, terms)
    assert_within_sum_bound(grad_x, dx, adx, terms)


@pytest.mark.parametrize("in_shape, s", [((2, 4, 6), 2), ((3, 6, 3), 3), ((1, 3, 3), 1)])
def test_pool_forward_and_backward_equal_the_definition(in_shape, s, rng):
    pool = bp.MaxPool2d(in_shape, s)
    x = rng.standard_normal((int(np.prod(in_shape)), 4))
    a = pool.forward(x)
    expected, where = pool_loop(x, in_shape, s)
    np.testing.assert_array_equal(a, expected)  # a maximum is exact
    g = rng.standard_normal(a.shape)
    np.testing.assert_array_equal(pool.backward(g), pool_grad_loop(g, where, in_shape, s))


def test_a_tie_sends_the_gradient_to_the_first_maximum_in_row_major_order():
    # One 2x2 window per case, rows of the window listed first: the maxima at (0,1) and (1,0) tie, and the
    # first in row-major order is (0,1) — not (1,0), which a maximum taken down the rows first would pick.
    cases = {
        "diagonal tie": ([[0.0, 5.0], [5.0, 1.0]], (0, 1)),
        "all equal": ([[2.0, 2.0], [2.0, 2.0]], (0, 0)),
        "bottom row tie": ([[0.0, 1.0], [3.0, 3.0]], (1, 0)),
        "column tie": ([[0.0, 4.0], [1.0, 4.0]], (0, 1)),
    }
    pool = bp.MaxPool2d((1, 2, 2))
    for name, (window, first) in cases.items():
        x = np.array(window).reshape(4, 1)
        pool.forward(x)
        grad = pool.backward(np.array([[7.0]])).reshape(2, 2)
        expected = np.zeros((2, 2))
        expected[first] = 7.0
        np.testing.assert_array_equal(grad, expected, err_msg=name)


def test_unfold_and_fold_are_adjoint(rng):
    # <unfold(x), y> = <x, fold(y)>: fold is the transpose of unfold, which is what backward needs.
    x = rng.standard_normal((2, 6, 5, 3))
    y = rng.standard_normal((2, 3, 3, 4, 3, 3))
    left, right = float(np.sum(unfold(x, 3) * y)), float(np.sum(x * fold(y, 6, 5)))
    assert abs(left - right) <= 1e-12 * max(abs(left), 1.0) * 50


# -- against PyTorch ------------------------------------------------------------------------------------


@pytest.mark.parametrize("in_shape, f, k", SHAPES)
def test_conv_matches_torch(in_shape, f, k, rng):
    torch = pytest.importorskip("torch")
    conv = bp.Conv2d(in_shape, f, k, rng=1)
    conv.b.data = rng.standard_normal((f, 1))
    m = 4
    x = rng.standard_normal((int(np.prod(in_shape)), m))
    delta = rng.standard_normal((conv.n_out, m))
    z = conv.forward(x)
    grad_x = conv.backward(delta)

    xt = torch.tensor(x.T.reshape(m, *in_shape), requires_grad=True)
    wt = torch.tensor(conv.w.data, requires_grad=True)
    bt = torch.tensor(conv.b.data[:, 0], requires_grad=True)
    zt = torch.nn.functional.conv2d(xt, wt, bt)
    zt.backward(torch.tensor(delta.T.reshape(zt.shape)))
    n = in_shape[0] * k * k + 1
    magnitude = conv_loop(np.abs(x), np.abs(conv.w.data), np.abs(conv.b.data), in_shape)
    assert_within_sum_bound(z, zt.detach().numpy().reshape(m, -1).T, magnitude, n)
    adw, adb, adx = conv_grads_loop(np.abs(x), np.abs(conv.w.data), np.abs(delta), in_shape)
    terms = m * conv.n_out
    assert_within_sum_bound(conv.w.grad, wt.grad.numpy(), adw, terms)
    assert_within_sum_bound(conv.b.grad[:, 0], bt.grad.numpy(), adb[:, 0], terms)
    assert_within_sum_bound(grad_x, xt.grad.numpy().reshape(m, -1).T, adx, terms)


@pytest.mark.parametrize("ties", [False, True])
def test_pool_matches_torch(ties, rng):
    torch = pytest.importorskip("torch")
    in_shape, m = (3, 6, 4), 5
    x = rng.standard_normal((72, m))
    if ties:
        x = np.round(x)  # many equal values in a window
    pool = bp.MaxPool2d(in_shape)
    a = pool.forward(x)
    g = rng.standard_normal(a.shape)
    xt = torch.tensor(x.T.reshape(m, *in_shape), requires_grad=True)
    at = torch.nn.functional.max_pool2d(xt, 2)
    at.backward(torch.tensor(g.T.reshape(at.shape)))
    np.testing.assert_array_equal(a, at.detach().numpy().reshape(m, -1).T)
    np.testing.assert_array_equal(pool.backward(g), xt.grad.numpy().reshape(m, -1).T)


# -- the protocol ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("in_shape, f, k", SHAPES[:4])
def test_conv_passes_gradcheck_and_the_module_contract(in_shape, f, k, rng):
    conv = bp.Conv2d(in_shape, f, k, rng=2)
    conv.b.data = rng.standard_normal((f, 1))
    x = rng.standard_normal((int(np.prod(in_shape)), 3))
    result = gradcheck(conv, x)
    assert result.ok, str(result)
    check_module(conv, x)


@pytest.mark.parametrize("in_shape, s", [((2, 4, 6), 2), ((2, 6, 3), 3)])
def test_pool_passes_gradcheck_and_the_module_contract(in_shape, s, rng):
    pool = bp.MaxPool2d(in_shape, s)
    x = rng.standard_normal((int(np.prod(in_shape)), 3))  # no two entries within 2 eps: no tie to cross
    result = gradcheck(pool, x)
    assert result.ok, str(result)
    check_module(pool, x)


def test_a_small_convolutional_network_passes_gradcheck(rng):
    net = bp.Sequential(
        bp.Conv2d((2, 6, 6), 3, 3, rng=0),
        bp.Tanh(),
        bp.MaxPool2d((3, 4, 4)),
        bp.Conv2d((3, 2, 2), 2, 2, rng=1),
        bp.Dense(2, 3, rng=2),
    )
    result = gradcheck(net, rng.standard_normal((72, 2)))
    assert result.ok, str(result)


def test_backward_before_forward_is_a_runtime_error():
    with pytest.raises(RuntimeError, match="Conv2d.*backward called before forward"):
        bp.Conv2d((1, 3, 3), 1, 2).backward(np.zeros((4, 1)))
    with pytest.raises(RuntimeError, match="MaxPool2d.*backward called before forward"):
        bp.MaxPool2d((1, 2, 2)).backward(np.zeros((1, 1)))


# -- arguments ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, error, words",
    [
        (((1, 28), 2, 3), ShapeError, "(1, 28)"),
        (((1, 0, 28), 2, 3), ShapeError, "(1, 0, 28)"),
        (((1, 5.0, 5), 2, 3), ShapeError, "5.0"),
        ((784, 2, 3), ShapeError, "784"),
        (((1, 5, 5), 0, 3), HyperparameterError, "out_channels"),
        (((1, 5, 5), 2, 0), HyperparameterError, "kernel_size"),
        (((1, 5, 5), 2, True), HyperparameterError, "kernel_size"),
        (((1, 5, 4), 2, 5), ShapeError, "kernel_size 5 is larger than the image (H, W) = (5, 4)"),
    ],
)
def test_conv_refuses_bad_arguments_naming_them(args, error, words):
    with pytest.raises(error) as info:
        bp.Conv2d(*args)
    assert words in str(info.value) and "Conv2d" in str(info.value)


def test_conv_refuses_a_bad_dtype_and_initialiser():
    with pytest.raises(TypeError, match="float32 or float64"):
        bp.Conv2d((1, 4, 4), 2, 3, dtype=np.int32)
    with pytest.raises(ValueError, match="unknown initialiser"):
        bp.Conv2d((1, 4, 4), 2, 3, init="nope")


@pytest.mark.parametrize(
    "args, error, words",
    [
        (((2, 5, 4), 2), ShapeError, "(H, W) = (5, 4)"),
        (((2, 6, 6), 4), ShapeError, "4x4"),
        (((2, 6, 6), 0), HyperparameterError, "size"),
        (((2, 6), 2), ShapeError, "(2, 6)"),
    ],
)
def test_pool_refuses_bad_arguments_naming_them(args, error, words):
    with pytest.raises(error) as info:
        bp.MaxPool2d(*args)
    assert words in str(info.value) and "MaxPool2d" in str(info.value)


@pytest.mark.parametrize("init", ["book", "scaled", "glorot", "he"])
def test_every_initialiser_name_works_with_the_fan_in_of_a_receptive_field(init):
    conv = bp.Conv2d((3, 10, 10), 8, 3, init=init, rng=0)
    assert conv.w.shape == (8, 3, 3, 3) and conv.b.shape == (8, 1)
    seen = []

    def mine(n_in, n_out, rng, dtype):
        seen.append((n_in, n_out))
        return np.ones((n_out, n_in), dtype=dtype), np.zeros((n_out, 1), dtype=dtype)

    bp.Conv2d((3, 10, 10), 8, 3, init=mine)
    assert seen == [(27, 8)]  # n_in = C k^2, n_out = F


def test_he_is_the_default_with_variance_two_over_the_fan_in():
    conv = bp.Conv2d((20, 12, 12), 400, 5, rng=0)  # 200,000 weights
    n_in = 20 * 25
    variance = conv.w.data.var()
    # the sample variance of N normal numbers has relative standard deviation sqrt(2/N) = 0.3 %: allow 5 of them
    assert abs(variance / (2 / n_in) - 1) < 5 * np.sqrt(2 / conv.w.data.size)
    assert not conv.b.data.any()


def test_float32_computes_in_float32(rng):
    in_shape = (3, 8, 6)
    conv64 = bp.Conv2d(in_shape, 4, 3, rng=0)
    conv32 = bp.Conv2d(in_shape, 4, 3, rng=0, dtype=np.float32)
    assert conv32.w.data.dtype == np.float32 and np.array_equal(conv32.w.data, conv64.w.data.astype(np.float32))
    pool = bp.MaxPool2d((4, 6, 4))
    x = rng.standard_normal((144, 5)).astype(np.float32)
    z32 = conv32.forward(x)
    assert z32.dtype == np.float32
    a32 = pool.forward(z32)
    assert a32.dtype == np.float32
    delta = rng.standard_normal(z32.shape).astype(np.float32)
    grad32 = conv32.backward(delta)
    assert grad32.dtype == np.float32 and conv32.w.grad.dtype == np.float32
    assert pool.backward(rng.standard_normal(a32.shape).astype(np.float32)).dtype == np.float32

    w = conv32.w.data.astype(np.float64)  # the same numbers, computed in float64 by the definition
    n = 3 * 9 + 1
    magnitude = conv_loop(np.abs(x.astype(np.float64)), np.abs(w), np.abs(conv32.b.data.astype(np.float64)), in_shape)
    assert_within_sum_bound(z32, conv_loop(x.astype(np.float64), w, conv32.b.data, in_shape), magnitude, n, np.float32)
    dw, _, dx = conv_grads_loop(x.astype(np.float64), w, delta.astype(np.float64), in_shape)
    adw, _, adx = conv_grads_loop(np.abs(x.astype(np.float64)), np.abs(w), np.abs(delta.astype(np.float64)), in_shape)
    assert_within_sum_bound(conv32.w.grad, dw, adw, 5 * z32.shape[0], np.float32)
    assert_within_sum_bound(grad32, dx, adx, 5 * z32.shape[0], np.float32)


def test_repr_and_attributes():
    conv = bp.Conv2d((1, 28, 28), 20, 5)
    assert repr(conv) == "Conv2d((1, 28, 28), 20, 5)"
    assert (conv.n_in, conv.n_out, conv.out_shape, conv.out_channels) == (784, 11520, (20, 24, 24), 20)
    assert repr(bp.Conv2d((1, 6, 6), 2, 3, dtype=np.float32)) == "Conv2d((1, 6, 6), 2, 3, dtype=float32)"
    pool = bp.MaxPool2d((20, 24, 24))
    assert (
        repr(pool) == "MaxPool2d((20, 24, 24))" and repr(bp.MaxPool2d((2, 6, 6), 3)) == "MaxPool2d((2, 6, 6), size=3)"
    )
    assert (pool.n_in, pool.n_out, pool.out_shape) == (11520, 2880, (20, 12, 12))


# -- files, summary, training ------------------------------------------------------------------------------


def small_net(dtype=np.float64):
    return bp.Sequential(
        bp.Conv2d((1, 8, 8), 3, 3, rng=0, dtype=dtype),
        bp.ReLU(),
        bp.MaxPool2d((3, 6, 6)),
        bp.Dense(27, 4, rng=1, dtype=dtype),
    )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_save_and_load_give_the_same_network(dtype, tmp_path, rng):
    net = small_net(dtype)
    net[0].b.data = rng.standard_normal((3, 1))
    bp.save(net, tmp_path / "conv.npz")
    same = bp.load(tmp_path / "conv.npz")
    assert repr(same) == repr(net)
    for (name, p), (_, q) in zip(net.named_parameters(), same.named_parameters()):
        assert p.data.dtype == q.data.dtype and np.array_equal(p.data, q.data), name
    x = rng.standard_normal((64, 5)).astype(dtype)
    np.testing.assert_array_equal(same.forward(x), net.forward(x))


def _entries(path):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return json.loads(arrays.pop("minibp.json").tobytes().decode()), arrays


def _archive(header, arrays) -> bytes:
    buf = io.BytesIO()
    write_npz(buf, {"minibp.json": np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays})
    return buf.getvalue()


def test_a_file_declaring_a_huge_convolution_is_refused_before_anything_is_allocated(tmp_path):
    bp.save(small_net(), tmp_path / "conv.npz")
    header, arrays = _entries(tmp_path / "conv.npz")
    header["architecture"]["modules"][0]["config"].update(in_shape=[5000, 28, 28], out_channels=5000, kernel_size=28)
    data = _archive(header, arrays)
    assert len(data) < 10 * 1024
    tracemalloc.start()
    try:
        with pytest.raises(ModelFormatError, match=r"Conv2d\(\(5000, 28, 28\), 5000, 28\) needs w of float64"):
            bp.load(io.BytesIO(data))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20  # the weights declared would take 157 GB


@pytest.mark.parametrize(
    "config",
    [
        {"in_shape": [1, 8], "out_channels": 3, "kernel_size": 3},
        {"in_shape": [1, 8, 8], "out_channels": 3, "kernel_size": 3, "init": "book"},
        {"in_shape": [1, 8, 8], "out_channels": 3.0, "kernel_size": 3},
        {"in_shape": [1, 8, 8], "out_channels": 3, "kernel_size": 3, "dtype": "int8"},
        {"in_shape": [1, 8, 8], "out_channels": 3, "kernel_size": 2},
    ],
)
def test_a_file_with_a_bad_convolution_config_is_refused(config, tmp_path):
    bp.save(small_net(), tmp_path / "conv.npz")
    header, arrays = _entries(tmp_path / "conv.npz")
    header["architecture"]["modules"][0]["config"] = config
    with pytest.raises(ModelFormatError, match="Conv2d"):
        bp.load(io.BytesIO(_archive(header, arrays)))


def test_a_file_with_an_indivisible_pooling_is_refused(tmp_path):
    bp.save(small_net(), tmp_path / "conv.npz")
    header, arrays = _entries(tmp_path / "conv.npz")
    header["architecture"]["modules"][2]["config"]["size"] = 4
    with pytest.raises(ModelFormatError, match="MaxPool2d.*not divisible"):
        bp.load(io.BytesIO(_archive(header, arrays)))


def test_summary_lists_the_layers_with_their_output_sizes():
    table = bp.summary(small_net(), 64)
    assert "Conv2d((1, 8, 8), 3, 3)  (108, m)" in table and "MaxPool2d((3, 6, 6))     (27, m)" in table
    assert "Total parameters: 142" in table


def test_the_fused_path_declines_a_convolution_and_says_why():
    net = small_net()
    plan, reason = fast.plan(net, bp.SoftmaxLogLikelihoodCost(), bp.SGD(net.parameters(), eta=0.1), ())
    assert plan is None and "Conv2d((1, 8, 8), 3, 3)" in reason and "not a built-in Dense" in reason


def test_a_short_training_run_lowers_the_cost(capsys):
    data = bp.data.load_sample()
    X, y = data.training
    images = X[:, :300].reshape(28, 28, -1)[::2, ::2].reshape(196, -1)  # 14x14 digits keep the test quick
    net = bp.Sequential(
        bp.Conv2d((1, 14, 14), 4, 3, rng=0),
        bp.ReLU(),
        bp.MaxPool2d((4, 12, 12)),
        bp.Dense(144, 10, init="scaled", rng=1),
    )
    history = bp.train(
        net,
        (images, y[:300]),
        optimizer=bp.SGD(net.parameters(), eta=0.1),
        epochs=3,
        mini_batch_size=10,
        cost=bp.SoftmaxLogLikelihoodCost(),
        rng=0,
    )
    assert (
        "Training with the modules' forward and backward (module 0 (Conv2d((1, 14, 14), 4, 3))"
        in capsys.readouterr().out
    )
    assert history.training_cost[-1] < 0.8 * history.training_cost[0]
    with tempfile.TemporaryDirectory() as d:  # a trained network saves and loads
        bp.save(net, Path(d) / "m.npz")
        assert np.array_equal(bp.predict(bp.load(Path(d) / "m.npz"), images), bp.predict(net, images))


def test_the_benchmark_times_the_same_network_in_both_libraries(rng):
    torch = pytest.importorskip("torch")
    import importlib.util

    path = Path(__file__).parents[1] / "benchmarks" / "bench_conv.py"
    spec = importlib.util.spec_from_file_location("bench_conv", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    net = bench.network(np.dtype(np.float64))
    x = rng.random((784, 3))
    theirs = bench.torch_network(torch, net)(torch.from_numpy(x.T.reshape(3, 1, 28, 28).copy())).detach().numpy()
    np.testing.assert_allclose(theirs.T, net.forward(x), rtol=1e-10, atol=1e-12)
    seconds = bench.main(["--n", "20", "--repeat", "1", "--dtypes", "float32"])  # runs end to end
    assert sorted(seconds) == ["float32 minibp", "float32 torch/1", "float32 torch/2"]
