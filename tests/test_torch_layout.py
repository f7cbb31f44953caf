"""minibp.torch_layout: PyTorch's state_dict layout (no PyTorch needed) and whole networks as torch.nn modules."""

from __future__ import annotations

import importlib
import subprocess
import sys

import numpy as np
import pytest

import minibp as bp
from minibp.torch_layout import from_torch, from_torch_state_dict, to_torch, to_torch_state_dict, torch_code


def test_names_and_shapes_follow_torch_sequential():
    net = bp.mlp([784, 30, 10], rng=0)
    state = to_torch_state_dict(net)
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert {k: v.shape for k, v in state.items()} == {
        "0.weight": (30, 784),
        "0.bias": (30,),
        "2.weight": (10, 30),
        "2.bias": (10,),
    }
    assert all(v.flags.c_contiguous and v.dtype == np.float64 for v in state.values())
    np.testing.assert_array_equal(state["2.weight"], net[2].w.data)
    np.testing.assert_array_equal(state["0.bias"], net[0].b.data[:, 0])


def test_export_is_a_copy():
    net = bp.mlp([3, 2], rng=0)
    state = to_torch_state_dict(net)
    state["0.weight"][...] = 0
    assert net[0].w.data.any()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_round_trip_through_the_layout_is_exact(rng, dtype):
    net = bp.mlp([5, 4, 3, 2], rng=1, dtype=dtype)
    state = to_torch_state_dict(net)
    back = from_torch_state_dict(state, [5, 4, 3, 2])
    assert [p.data.dtype for p in back.parameters()] == [dtype] * 6
    for p, q in zip(net.parameters(), back.parameters()):
        assert p.data.tobytes() == q.data.tobytes()
    template = bp.mlp([5, 4, 3, 2], rng=9, dtype=dtype)
    assert from_torch_state_dict(state, template) is template
    x = rng.standard_normal((5, 6)).astype(dtype)
    assert template(x).tobytes() == net(x).tobytes()


def test_mismatched_layouts_are_refused_with_the_keys_named():
    state = to_torch_state_dict(bp.mlp([4, 3, 2], rng=0))
    with pytest.raises(bp.ModelFormatError, match=r"missing \['4\.bias', '4\.weight'\]"):
        from_torch_state_dict(state, [4, 3, 2, 2])
    with pytest.raises(bp.ModelFormatError, match=r"unexpected \['2\.bias', '2\.weight'\]"):
        from_torch_state_dict(state, [4, 3])
    transposed = dict(state, **{"0.weight": state["0.weight"].T})
    with pytest.raises(bp.ShapeError, match=r"0\.weight has shape \(4, 3\), expected \(3, 4\).*transposed"):
        from_torch_state_dict(transposed, [4, 3, 2])
    bad = dict(state, **{"2.bias": np.array([0.0, np.nan])})
    template = bp.mlp([4, 3, 2], rng=5)
    before = [p.data.copy() for p in template.parameters()]
    with pytest.raises(bp.NonFiniteError, match=r"2\.bias"):
        from_torch_state_dict(bad, template)
    assert all((p.data == b).all() for p, b in zip(template.parameters(), before))  # nothing half-loaded


def test_modules_without_a_torch_counterpart_are_refused():
    class Odd(bp.Module):
        def __init__(self):
            self.p = bp.Parameter(np.zeros((2, 1)))

        def named_parameters(self):
            yield "p", self.p

    with pytest.raises(TypeError, match="not a Dense layer"):
        to_torch_state_dict(bp.Sequential(bp.Dense(2, 2, rng=0), Odd()))
    with pytest.raises(TypeError, match="Sequential"):
        to_torch_state_dict(bp.Dense(2, 2, rng=0))


def test_torch_code_describes_the_network():
    net = bp.mlp([784, 30, 10], rng=0)
    assert torch_code(net) == (
        "torch.nn.Sequential(torch.nn.Linear(784, 30, dtype=torch.float64), torch.nn.Sigmoid(), "
        "torch.nn.Linear(30, 10, dtype=torch.float64), torch.nn.Sigmoid())"
    )


def test_pytorch_gives_the_same_outputs_with_rows_for_columns(rng):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed; the layout is tested by names and shapes")
    layers = [bp.Dense(6, 5, rng=0), bp.Sigmoid(), bp.Dense(5, 4, rng=1)]
    for name in ("Tanh", "ReLU"):
        if hasattr(bp.layers, name):
            layers += [getattr(bp.layers, name)(), bp.Dense(4, 4, rng=2)]
    layers.append(bp.Sigmoid())
    net = bp.Sequential(*layers)
    torch_net = eval(torch_code(net), {"torch": torch})
    torch_net.load_state_dict({k: torch.from_numpy(v) for k, v in to_torch_state_dict(net).items()}, strict=True)
    x = rng.standard_normal((6, 7))  # minibp: one column per example
    with torch.no_grad():
        rows = torch_net(torch.from_numpy(np.ascontiguousarray(x.T))).numpy()  # PyTorch: one row per example
    np.testing.assert_allclose(rows.T, net(x), rtol=1e-12, atol=1e-14)

    # And back: PyTorch's own random initialisation, read into minibp.
    torch.manual_seed(0)
    other = torch.nn.Sequential(
        torch.nn.Linear(6, 5, dtype=torch.float64), torch.nn.Sigmoid(), torch.nn.Linear(5, 3, dtype=torch.float64)
    )
    back = from_torch_state_dict(other.state_dict(), bp.Sequential(bp.Dense(6, 5), bp.Sigmoid(), bp.Dense(5, 3)))
    with torch.no_grad():
        rows = other(torch.from_numpy(np.ascontiguousarray(x.T))).numpy()
    np.testing.assert_allclose(back(x), rows.T, rtol=1e-12, atol=1e-14)


# --- to_torch / from_torch: whole networks ----------------------------------------------------------


@pytest.fixture
def torch():
    return pytest.importorskip("torch", reason="PyTorch is not installed (pip install 'minibp[torch]')")


@pytest.fixture
def conv():
    try:
        return importlib.import_module("minibp.conv")
    except ModuleNotFoundError:
        pytest.skip("minibp.conv (Conv2d, MaxPool2d) is not part of this checkout")


def rows(torch, x):
    """minibp's columns (n, m) as PyTorch's rows (m, n), a tensor of the same dtype."""
    return torch.from_numpy(np.ascontiguousarray(x.T))


def run(torch, module, x):
    with torch.no_grad():
        return module(rows(torch, x)).numpy().T


def assert_same_parameters(net, other):
    assert len(net.parameters()) == len(other.parameters())
    for p, q in zip(net.parameters(), other.parameters()):
        assert p.data.dtype == q.data.dtype and p.data.shape == q.data.shape
        assert p.data.tobytes() == q.data.tobytes() and p.data is not q.data


def test_importing_minibp_does_not_import_torch():
    code = "import sys, minibp, minibp.torch_layout; assert 'torch' not in sys.modules, 'torch was imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_without_torch_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # what `import torch` meets when PyTorch is not installed
    with pytest.raises(ImportError, match=r'to_torch needs PyTorch.*pip install "minibp\[torch\]"'):
        to_torch(bp.mlp([3, 2], rng=0))
    with pytest.raises(ImportError, match=r'from_torch needs PyTorch.*pip install "minibp\[torch\]"'):
        from_torch(object())


def every_module(dtype):
    """One network per built-in module (each alone, as to_torch may be given any of them), and the torch class."""
    return {
        "Dense": (bp.Dense(5, 3, rng=0, dtype=dtype), "Linear"),
        "Sigmoid": (bp.Sigmoid(), "Sigmoid"),
        "Tanh": (bp.Tanh(), "Tanh"),
        "ReLU": (bp.ReLU(), "ReLU"),
        "Identity": (bp.Identity(), "Identity"),
        "Softmax": (bp.Softmax(), "Softmax"),
        "Dropout": (bp.Dropout(0.25, rng=0).eval(), "Dropout"),
        "Sequential": (bp.Sequential(bp.Dense(5, 4, rng=1, dtype=dtype), bp.Tanh()), "Sequential"),
        "Parallel": (bp.Parallel(bp.Dense(5, 2, rng=2, dtype=dtype), bp.Sigmoid()), "Parallel"),
        "Residual": (bp.Residual(bp.Dense(5, 5, rng=3, dtype=dtype)), "Residual"),
    }


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", list(every_module(np.float64)))
def test_every_built_in_module_moves_to_torch_and_back(torch, rng, name, dtype):
    net, torch_name = every_module(dtype)[name]
    x = rng.standard_normal((5, 7)).astype(dtype)
    torch_net = to_torch(net)
    assert type(torch_net).__name__ == torch_name
    assert [t.dtype for t in torch_net.parameters()] == [getattr(torch, np.dtype(dtype).name)] * len(net.parameters())
    outputs = run(torch, torch_net, x)
    assert outputs.dtype == dtype
    expected = net(x)
    # Each side computes at most one dot product of n = 5 terms plus a bias (rounding error at most
    # (n+1)u (|w||x| + |b|), Higham's bound, in any summation order) and at most two rounded element-wise
    # steps after it (activation, shortcut's add: a few u |a| each, with derivatives at most 1); the two
    # sides differ by at most twice that.
    u = np.finfo(dtype).eps / 2
    dense = [m for m in net.modules() if isinstance(m, bp.Dense)]
    sums = max((np.abs(d.w.data) @ np.abs(x) + np.abs(d.b.data)).max() for d in dense) if dense else 0.0
    bound = 2 * (6 * u * sums + 8 * u * max(1.0, np.abs(expected).max()))
    np.testing.assert_allclose(outputs, expected, rtol=0, atol=bound)
    back = from_torch(torch_net)
    assert type(back) is type(net)
    assert_same_parameters(net, back)
    assert back.training == net.training
    assert back(x).tobytes() == expected.tobytes()


def nested(dtype=np.float64):
    inner = bp.Sequential(bp.Dense(6, 6, rng=4, dtype=dtype), bp.ReLU(), bp.Dense(6, 6, rng=5, dtype=dtype))
    return bp.Sequential(
        bp.Dense(4, 6, rng=0, dtype=dtype),
        bp.Tanh(),
        bp.Parallel(
            bp.Sequential(bp.Dense(6, 3, rng=1, dtype=dtype), bp.Sigmoid()),
            bp.Residual(inner),
            bp.Identity(),
        ),
        bp.Dropout(0.5, rng=0),
        bp.Dense(15, 3, rng=2, dtype=dtype),
        bp.Softmax(),
    )


def test_nested_containers_compute_the_same_on_rows(torch, rng):
    net = nested()
    net.eval()
    torch_net = to_torch(net)
    assert isinstance(torch_net, torch.nn.Sequential)
    assert type(torch_net[2]).__module__ == "minibp.torch_containers"
    x = rng.standard_normal((4, 9))
    np.testing.assert_allclose(run(torch, torch_net, x), net(x), rtol=1e-10, atol=1e-14)
    back = from_torch(torch_net)
    assert repr(back) == repr(net)
    assert_same_parameters(net, back)
    assert back(x).tobytes() == net(x).tobytes()


def test_the_torch_module_holds_copies_and_leaves_torch_random_state_alone(torch):
    net = bp.mlp([3, 4, 2], rng=0)
    state = torch.random.get_rng_state()
    torch_net = to_torch(net)
    assert torch.equal(torch.random.get_rng_state(), state)  # no PyTorch initialisation was drawn
    with torch.no_grad():
        torch_net[0].weight.add_(1.0)
    np.testing.assert_array_equal(net[0].w.data, bp.mlp([3, 4, 2], rng=0)[0].w.data)
    back = from_torch(torch_net)
    with torch.no_grad():
        torch_net[0].weight.add_(1.0)
    np.testing.assert_array_equal(back[0].w.data, net[0].w.data + 1.0)


def test_modes_and_dropout_p_are_kept(torch, rng):
    net = nested()
    net[2].eval()  # one subtree in evaluation mode, the rest training
    torch_net = to_torch(net)
    assert [m.training for m in net.modules()] == [m.training for m in from_torch(torch_net).modules()]
    assert torch_net.training and not torch_net[2].training and not torch_net[2].branches[1].module[1].training
    assert torch_net[3].training and torch_net[3].p == 0.5
    x = np.abs(rng.standard_normal((6, 200))) + 0.1
    dropout = to_torch(bp.Dropout(0.5, rng=0))
    with torch.no_grad():
        a = dropout(rows(torch, x)).numpy().T
    kept = a != 0
    assert 0.3 < kept.mean() < 0.7  # a fresh mask from PyTorch's generator
    np.testing.assert_allclose(a[kept], 2 * x[kept], rtol=1e-15)  # inverted dropout: kept inputs scaled by 1/(1-p)
    assert not to_torch(bp.Dropout(0.5, rng=0).eval()).training
    back = from_torch(torch.nn.Sequential(torch.nn.Dropout(0.2)).eval(), rng=0)
    assert type(back[0]) is bp.Dropout and back[0].p == 0.2 and not back[0].training


def test_tied_parameters_stay_tied(torch, rng):
    first, second = bp.Dense(3, 3, rng=0), bp.Dense(3, 3, rng=1)
    second.w = first.w  # one weight matrix in two layers
    net = bp.Sequential(first, bp.Tanh(), second)
    torch_net = to_torch(net)
    assert torch_net[0].weight is torch_net[2].weight and torch_net[0].bias is not torch_net[2].bias
    assert len(list(torch_net.parameters())) == len(net.parameters()) == 3
    back = from_torch(torch_net)
    assert back[0].w is back[2].w
    x = rng.standard_normal((3, 4))
    assert back(x).tobytes() == net(x).tobytes()


def quadratic_gradients(torch, net, torch_net, x, y):
    """minibp's QuadraticCost gradients and PyTorch's for the same cost, as lists of arrays (input first)."""
    cost = bp.QuadraticCost()
    net.zero_grad()
    cost(net(x), y)
    grad_input = net.backward(cost.backward())
    inputs = rows(torch, x).requires_grad_()
    outputs = torch_net(inputs)
    n = y.shape[0]
    # QuadraticCost is (1/m) sum_x 1/2 |y - a|^2; mse_loss averages over all m*n entries: scale by n/2.
    loss = torch.nn.functional.mse_loss(outputs, rows(torch, y)) * (n / 2)
    np.testing.assert_allclose(loss.item(), cost(net(x), y), rtol=1e-13)
    loss.backward()
    ours = [grad_input, *(p.grad for p in net.parameters())]
    theirs = [inputs.grad.numpy().T, *(t.grad.numpy() for t in torch_net.parameters())]
    return ours, [t.reshape(o.shape) for o, t in zip(ours, theirs)]


def assert_gradients_agree(ours, theirs, rtol):
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        scale = np.abs(o).max()
        assert scale > 0
        np.testing.assert_allclose(t, o, rtol=0, atol=rtol * scale)


def test_a_backward_pass_gives_the_same_gradients(torch, rng):
    net = nested()
    net.eval()  # dropout's masks come from different generators
    torch_net = to_torch(net)
    x, y = rng.standard_normal((4, 8)), rng.uniform(0, 1, (3, 8))
    ours, theirs = quadratic_gradients(torch, net, torch_net, x, y)
    # float64 sums of at most 15 products per entry, a few layers deep: agreement to 1e-12 of the largest entry.
    assert_gradients_agree(ours, theirs, 1e-12)


def float32_error_bound(net, x):
    """A bound on how far a float32 evaluation of ``net`` (Dense and activations) lies from the exact one.

    Higham's bound for a dot product of n terms rounded in any order: |fl(w.a + b) - (w.a + b)| <= g (|w||a| + |b|)
    with g = (n+1)u/(1-(n+1)u); an error e in a propagates as |w| e. Activations are 1-Lipschitz (sigmoid 1/4)
    and the libraries compute them to within a few ulp: 4u |a| each. Computed in float64 on exact float32 values.
    """
    u = np.finfo(np.float32).eps / 2
    a, e = x.astype(np.float64), np.zeros(x.shape)
    for module in net:
        if isinstance(module, bp.Dense):
            w, b = module.w.data.astype(np.float64), module.b.data.astype(np.float64)
            g = (module.n_in + 1) * u / (1 - (module.n_in + 1) * u)
            e = np.abs(w) @ e + g * (np.abs(w) @ np.abs(a) + np.abs(b))
            a = w @ a + b
        else:
            a = type(module)()(a)
            e = (0.25 if isinstance(module, bp.Sigmoid) else 1.0) * e + 4 * u * np.abs(a)
    return e


def test_float32_outputs_agree_within_the_rounding_bound(torch, rng):
    net = bp.Sequential(
        bp.Dense(64, 32, init="scaled", rng=0, dtype=np.float32),
        bp.Tanh(),
        bp.Dense(32, 16, init="scaled", rng=1, dtype=np.float32),
        bp.ReLU(),
        bp.Dense(16, 10, init="scaled", rng=2, dtype=np.float32),
        bp.Sigmoid(),
    )
    x = rng.uniform(0, 1, (64, 50)).astype(np.float32)
    ours, theirs = net(x), run(torch, to_torch(net), x)
    assert ours.dtype == theirs.dtype == np.float32
    bound = float32_error_bound(net, x)  # each side is within this of the exact value: they differ by at most twice
    assert np.all(np.abs(ours.astype(np.float64) - theirs) <= 2 * bound)
    assert np.all(bound < 1e-4)  # the bound is not vacuous


def test_unsupported_minibp_modules_are_refused_by_name(torch):
    class Scale(bp.Module):
        def forward(self, x):
            return 2 * x

    with pytest.raises(TypeError, match=r"module 1\.0 \(Scale\(\)\) is a .*Scale, which has no PyTorch counterpart"):
        to_torch(bp.Sequential(bp.Dense(2, 2, rng=0), bp.Parallel(Scale())))

    class MyDense(bp.Dense):
        pass

    with pytest.raises(TypeError, match=r"the network \(Dense\(2, 2\)\) is a .*MyDense"):
        to_torch(MyDense(2, 2, rng=0))
    odd = bp.Sigmoid()
    odd.forward = lambda x: x  # a forward of its own, set on the instance
    with pytest.raises(TypeError, match=r"module 1 \(Sigmoid\(\)\) has its own forward"):
        to_torch(bp.Sequential(bp.Dense(2, 2, rng=0), odd))
    with pytest.raises(TypeError, match="expected a minibp Module, got list"):
        to_torch([bp.Dense(2, 2, rng=0)])
    with pytest.raises(TypeError, match=r"mix dtypes \['float32', 'float64'\]"):
        to_torch(bp.Sequential(bp.Dense(2, 2, rng=0), bp.Dense(2, 2, rng=0, dtype=np.float32)))


def test_unsupported_torch_modules_are_refused_by_name(torch):
    nn = torch.nn
    cases = [
        (nn.Sequential(nn.Linear(2, 2), nn.GELU()), TypeError, r"module 1 \(GELU.*\) is a torch\.nn.*GELU"),
        (nn.Sequential(nn.Linear(2, 2, bias=False)), TypeError, r"module 0 .* has no bias"),
        (nn.Sequential(nn.Linear(2, 2).half()), TypeError, r"module 0 .* has torch\.float16 parameters"),
        (nn.Sequential(nn.Linear(2, 2), nn.Softmax(dim=0)), TypeError, r"module 1 .* softmax over the features"),
        (nn.Sequential(nn.Unflatten(1, (1, 2, 2)), nn.Linear(2, 2)), bp.ShapeError, r"module 1 .* receives images"),
        (nn.Sequential(nn.Conv2d(1, 2, 3)), (TypeError, bp.ShapeError), r"module 0 \(Conv2d"),  # no image shape
        (nn.Sequential(nn.Unflatten(1, (1, 5, 5)), nn.Conv2d(1, 2, 3, stride=2)), TypeError, r"module 1 \(Conv2d"),
        (nn.LSTM(2, 2), TypeError, r"the network \(LSTM.*\) is a torch\.nn\.modules\.rnn\.LSTM"),
    ]
    for module, error, message in cases:
        with pytest.raises(error, match=message):
            from_torch(module)
    with pytest.raises(TypeError, match="expected a torch.nn.Module, got list"):
        from_torch([nn.Linear(2, 2)])


def test_a_torch_network_of_its_own_comes_into_minibp(torch, rng):
    torch.manual_seed(0)
    nn = torch.nn
    torch_net = nn.Sequential(nn.Linear(6, 5, dtype=torch.float64), nn.ReLU(), nn.Linear(5, 3, dtype=torch.float64))
    net = from_torch(torch_net)
    assert repr(net) == repr(bp.Sequential(bp.Dense(6, 5), bp.ReLU(), bp.Dense(5, 3)))
    x = rng.standard_normal((6, 4))
    np.testing.assert_allclose(net(x), run(torch, torch_net, x), rtol=1e-12, atol=1e-15)


# --- Conv2d and MaxPool2d (minibp.conv) --------------------------------------------------------------


def conv_net(conv, dtype=np.float64):
    """A small chapter-6 network: conv, ReLU, pool, conv, ReLU, pool, Dense, ReLU, Dense."""
    return bp.Sequential(
        conv.Conv2d((2, 12, 12), 3, 3, rng=0, dtype=dtype),
        bp.ReLU(),
        conv.MaxPool2d((3, 10, 10)),
        conv.Conv2d((3, 5, 5), 4, 2, rng=1, dtype=dtype),
        bp.Tanh(),
        conv.MaxPool2d((4, 4, 4), size=2),
        bp.Dense(16, 7, init="scaled", rng=2, dtype=dtype),
        bp.ReLU(),
        bp.Dense(7, 3, init="scaled", rng=3, dtype=dtype),
    )


def test_a_convolutional_network_unflattens_inside_and_flattens_channel_first(torch, conv, rng):
    net = conv_net(conv)
    torch_net = to_torch(net)
    kinds = [type(m).__name__ for m in torch_net]
    assert kinds == [
        "Unflatten", "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "Tanh", "MaxPool2d", "Flatten", "Linear", "ReLU", "Linear"
    ]  # fmt: skip
    assert tuple(torch_net[0].unflattened_size) == (2, 12, 12) and torch_net[3].kernel_size == 2
    x = rng.uniform(0, 1, (2 * 12 * 12, 5))  # columns of image.reshape(C, H, W)
    np.testing.assert_allclose(run(torch, torch_net, x), net(x), rtol=1e-10, atol=1e-12)
    images = torch.from_numpy(np.ascontiguousarray(x.T.reshape(5, 2, 12, 12)))  # what torch's own Conv2d reads
    with torch.no_grad():
        np.testing.assert_allclose(torch_net[1:](images).numpy().T, net(x), rtol=1e-10, atol=1e-12)
    back = from_torch(torch_net)
    assert repr(back) == repr(net)
    assert_same_parameters(net, back)
    assert back(x).tobytes() == net(x).tobytes()
    assert back[0].in_shape == (2, 12, 12) and back[5].in_shape == (4, 4, 4)


def test_convolutions_alone_and_in_containers(torch, conv, rng):
    conv2d = conv.Conv2d((1, 6, 6), 2, 3, rng=0)
    residual = bp.Residual(bp.Sequential(conv.Conv2d((2, 4, 4), 2, 1, rng=1), bp.Tanh()))
    net = bp.Sequential(
        bp.Parallel(conv2d, conv.MaxPool2d((1, 6, 6), size=3)), bp.Dense(36, 32, rng=2), residual, bp.Sigmoid()
    )
    x = rng.uniform(-1, 1, (36, 4))
    for module in (conv2d, residual, net, conv.MaxPool2d((1, 6, 6), size=3)):
        inputs = x if module is not residual else x[:32]
        torch_net = to_torch(module)
        np.testing.assert_allclose(run(torch, torch_net, inputs), module(inputs), rtol=1e-10, atol=1e-12)
        back = from_torch(torch_net)
        assert_same_parameters(module, back)
        assert back(inputs).tobytes() == module(inputs).tobytes()
    images = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, dtype=torch.float64), torch.nn.MaxPool2d(2))
    net = from_torch(images, in_shape=(1, 6, 6))  # a PyTorch network that takes images (m, C, H, W)
    with torch.no_grad():
        expected = images(torch.from_numpy(np.ascontiguousarray(x.T.reshape(4, 1, 6, 6)))).numpy()
    np.testing.assert_allclose(net(x), expected.reshape(4, -1).T, rtol=1e-12, atol=1e-14)


def test_convolution_gradients_agree(torch, conv, rng):
    net = conv_net(conv)
    x, y = rng.uniform(0, 1, (2 * 12 * 12, 6)), rng.uniform(0, 1, (3, 6))
    ours, theirs = quadratic_gradients(torch, net, to_torch(net), x, y)
    # float64 sums of at most 2*3*3 products per convolution output and m*H'*W' <= 600 per weight gradient
    assert_gradients_agree(ours, theirs, 1e-11)


def test_convolution_settings_minibp_lacks_are_refused(torch, conv):
    nn = torch.nn
    cases = [
        (nn.Sequential(nn.Conv2d(1, 2, 3)), bp.ShapeError, r"module 0 .* receives rows of features.*Unflatten"),
        (nn.Sequential(nn.Unflatten(1, (2, 4, 4)), nn.Conv2d(1, 2, 3)), bp.ShapeError, r"needs images of 1 channels"),
        (nn.Sequential(nn.Unflatten(1, (1, 5, 5)), nn.Conv2d(1, 2, 3, padding=1)), TypeError, "unpadded"),
        (nn.Sequential(nn.Unflatten(1, (1, 5, 5)), nn.MaxPool2d(2)), bp.ShapeError, "height and width 2 divides"),
        (nn.Sequential(nn.Unflatten(1, (1, 4, 4)), nn.MaxPool2d(2, stride=1)), TypeError, "non-overlapping"),
        (nn.Sequential(nn.Unflatten(1, (1, 4, 4)), nn.Softmax(dim=1)), TypeError, "softmax over the features"),
    ]
    for module, error, message in cases:
        with pytest.raises(error, match=message):
            from_torch(module)
