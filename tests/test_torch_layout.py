import numpy as np
import pytest

import minibp as bp
from minibp.torch_layout import from_torch_state_dict, to_torch_state_dict, torch_code


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
