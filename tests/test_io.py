import io as _stdio
import json
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from _rounding import forward_error_bound
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minibp as bp
from minibp import _files, optim
from minibp import io as bpio
from minibp.data import load_sample
from minibp.io import registry as bpregistry
from minibp.io.format import write_npz

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def registry():
    """Restore the module registry after a test that registers layers."""
    saved, containers = dict(bpregistry._REGISTRY), set(bpregistry._CONTAINERS)
    yield bpregistry._REGISTRY
    bpregistry._REGISTRY.clear()
    bpregistry._REGISTRY.update(saved)
    bpregistry._CONTAINERS.clear()
    bpregistry._CONTAINERS.update(containers)


def blobs(rng, n=120, k=3, d=4):
    labels = rng.integers(0, k, n)
    centres = rng.standard_normal((d, k)) * 3
    return np.asfortranarray(centres[:, labels] + rng.standard_normal((d, n))), labels


def read_entries(path):
    """All arrays of an archive (without pickle) and its decoded header."""
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays.pop("minibp.json").tobytes().decode())
    return header, arrays


def write_entries(path, header, arrays):
    """Write a (possibly doctored) archive in the same layout as `save`."""
    text = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        write_npz(f, {"minibp.json": text, **arrays})


# -- round trips ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_save_load_gives_bit_identical_predictions(tmp_path, rng, dtype):
    net = bp.mlp([7, 5, 4, 3], rng=0, dtype=dtype)
    path = tmp_path / "net.npz"
    bpio.save(net, path)
    same = bpio.load(path)
    assert type(same) is bp.Sequential and len(same) == len(net)
    assert [type(m) for m in same] == [type(m) for m in net]
    x = rng.standard_normal((7, 9)).astype(dtype)
    out, out2 = net(x), same(x)
    assert out2.dtype == out.dtype
    assert out2.tobytes() == out.tobytes()
    for (n1, p1), (n2, p2) in zip(net.named_parameters(), same.named_parameters()):
        assert n1 == n2 and p1.data.dtype == p2.data.dtype and p1.data.tobytes() == p2.data.tobytes()


def test_file_is_a_plain_npz_without_pickle(tmp_path):
    net = bp.mlp([4, 3, 2], rng=0)
    path = tmp_path / "net.npz"
    bpio.save(net, path, metadata={"note": "hello"})
    header, arrays = read_entries(path)
    assert header["format_version"] == 1  # nothing tied: the layout minibp 0.1.0 wrote and reads
    assert header["minibp_version"] == bp.__version__ and "tied" not in header
    assert header["architecture"]["type"] == "Sequential"
    assert [m["type"] for m in header["architecture"]["modules"]] == ["Dense", "Sigmoid", "Dense", "Sigmoid"]
    assert header["architecture"]["modules"][0]["config"] == {"n_in": 4, "n_out": 3, "dtype": "float64"}
    assert sorted(arrays) == ["param/0.b", "param/0.w", "param/2.b", "param/2.w"]
    assert header["metadata"] == {"note": "hello"}


def test_saving_twice_gives_the_same_bytes(tmp_path):
    net = bp.mlp([6, 4, 2], rng=3)
    bpio.save(net, tmp_path / "a.npz")
    time.sleep(1.1)  # zip timestamps have a resolution of two seconds; they must not leak in
    bpio.save(net, tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_path_is_used_as_given(tmp_path):
    net = bp.mlp([2, 2], rng=0)
    bpio.save(net, tmp_path / "model.bin")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]
    assert bpio.load(str(tmp_path / "model.bin"))[0].n_in == 2


def test_load_accepts_a_file_object(tmp_path):
    net = bp.mlp([3, 2], rng=0)
    bpio.save(net, tmp_path / "m.npz")
    same = bpio.load(_stdio.BytesIO((tmp_path / "m.npz").read_bytes()))
    assert same[0].w.data.tobytes() == net[0].w.data.tobytes()


def _optimizers():
    factories = {"SGD": lambda ps: optim.SGD(ps, eta=0.5)}
    if hasattr(optim, "Momentum"):
        factories["Momentum"] = lambda ps: optim.Momentum(ps, eta=0.1, mu=0.9)
    if hasattr(optim, "Nesterov"):
        factories["Nesterov"] = lambda ps: optim.Nesterov(ps, eta=0.1, mu=0.9)
    if hasattr(optim, "Adam"):
        factories["Adam"] = lambda ps: optim.Adam(ps, eta=0.01)
    return factories


@pytest.mark.parametrize("name", sorted(_optimizers()))
def test_resumed_training_is_bit_identical_to_an_uninterrupted_run(tmp_path, name):
    make_optimizer = _optimizers()[name]
    X, y = blobs(np.random.default_rng(5))
    kwargs = dict(mini_batch_size=7, verbose=False, progress=False)

    net = bp.mlp([4, 6, 3], rng=0)
    rng = np.random.default_rng(42)
    bp.train(net, (X, y), optimizer=make_optimizer(net.parameters()), epochs=3, rng=rng, **kwargs)

    first = bp.mlp([4, 6, 3], rng=0)
    rng1 = np.random.default_rng(42)
    optimizer1 = make_optimizer(first.parameters())
    history = bp.train(first, (X, y), optimizer=optimizer1, epochs=2, rng=rng1, **kwargs)
    path = tmp_path / "checkpoint.npz"
    bpio.save(first, path, optimizer=optimizer1, history=history, rng=rng1)
    del first, optimizer1, rng1

    ckpt = bpio.load_checkpoint(path)
    assert ckpt.optimizer_state["type"] == name
    assert ckpt.history["epoch"] == [0, 1]
    optimizer2 = make_optimizer(ckpt.net.parameters())
    if hasattr(optimizer2, "load_state_dict"):
        optimizer2.load_state_dict(ckpt.optimizer_state)
    bp.train(ckpt.net, (X, y), optimizer=optimizer2, epochs=1, rng=ckpt.rng, **kwargs)

    for (n1, p1), (_, p2) in zip(net.named_parameters(), ckpt.net.named_parameters()):
        assert p1.data.tobytes() == p2.data.tobytes(), f"parameter {n1} differs after resuming"
    assert rng.bit_generator.state == ckpt.rng.bit_generator.state


def test_optimizer_state_arrays_round_trip(tmp_path):
    if not hasattr(optim, "Momentum") or not hasattr(optim.Optimizer, "state_dict"):
        pytest.skip("needs an optimizer with state buffers and state_dict()")
    net = bp.mlp([3, 4, 2], rng=0)
    opt = optim.Momentum(net.parameters(), eta=0.1, mu=0.9)
    X, y = blobs(np.random.default_rng(0), d=3, k=2)
    bp.train(net, (X, y), optimizer=opt, epochs=1, mini_batch_size=10, rng=0, verbose=False, progress=False)
    bpio.save(net, tmp_path / "m.npz", optimizer=opt)
    state = bpio.load_checkpoint(tmp_path / "m.npz").optimizer_state
    original = opt.state_dict()
    assert sorted(state) == sorted(original)
    for key, value in original.items():
        if isinstance(value, np.ndarray):
            assert state[key].dtype == value.dtype and state[key].tobytes() == value.tobytes(), key
        else:
            assert state[key] == value, key


def test_optimizer_without_state_dict_keeps_its_settings(tmp_path):
    class Plain:
        def __init__(self):
            self.eta = 0.25
            self._hidden = 1

    net = bp.mlp([2, 2], rng=0)
    bpio.save(net, tmp_path / "m.npz", optimizer=Plain())
    assert bpio.load_checkpoint(tmp_path / "m.npz").optimizer_state == {"type": "Plain", "eta": 0.25}


def test_optimizer_state_values_keep_their_kinds(tmp_path):
    class Custom:
        def state_dict(self):
            return {
                "type": "Custom",
                "t": 3,
                "beta": 0.9,
                "flag": np.bool_(True),
                "none": None,
                "scale": np.float32(1.5),
                "buffer": np.arange(6.0).reshape(2, 3).T,
            }

    bpio.save(bp.mlp([2, 2], rng=0), tmp_path / "m.npz", optimizer=Custom())
    state = bpio.load_checkpoint(tmp_path / "m.npz").optimizer_state
    assert state["t"] == 3 and state["beta"] == 0.9 and state["flag"] is True and state["none"] is None
    assert state["scale"].shape == () and state["scale"].dtype == np.float32 and state["scale"] == 1.5
    np.testing.assert_array_equal(state["buffer"], np.arange(6.0).reshape(2, 3).T)


def test_history_and_rng_round_trip(tmp_path):
    history = bp.History(
        epoch=[0, 1],
        training_cost=[0.5, 0.25],
        evaluation_cost=[None, None],
        evaluation_correct=[None, None],
        evaluation_accuracy=[None, None],
        seconds=[0.1, 0.1],
    )
    for kind in ("PCG64", "MT19937", "Philox", "SFC64", "PCG64DXSM"):
        rng = np.random.Generator(getattr(np.random, kind)(7))
        rng.random(3)
        bpio.save(bp.mlp([2, 2], rng=0), tmp_path / "m.npz", history=history, rng=rng)
        ckpt = bpio.load_checkpoint(tmp_path / "m.npz")
        assert bp.History.from_dict(ckpt.history) == history
        assert ckpt.rng.random(5).tobytes() == rng.random(5).tobytes(), kind


# -- the registry -----------------------------------------------------------------------------------


def test_builtin_modules_are_registered():
    names = bpio.registered_modules()
    for name in ["Sequential", "Dense", "Sigmoid"]:
        assert names[name] is getattr(bp, name)
    for name in ["Tanh", "ReLU", "Identity", "Softmax", "Dropout"]:
        if hasattr(bp.layers, name):
            assert names[name] is getattr(bp.layers, name)


def test_user_layer_registers_and_round_trips(tmp_path, registry, rng):
    @bpio.register_module
    class Scale(bp.Module):
        def __init__(self, factor: float = 2.0):
            self.factor = factor

        def get_config(self):
            return {"factor": self.factor}

        def forward(self, x):
            return self.factor * x

        def backward(self, grad_output):
            return self.factor * grad_output

    @bpio.register_module(name="my.Shift")
    class Shift(bp.Module):  # no get_config: the argument is read back from the attribute
        def __init__(self, n: int, amount: float = 0.0):
            self.n, self.amount = n, amount

        def forward(self, x):
            return x + self.amount

        def backward(self, grad_output):
            return grad_output

    net = bp.Sequential(bp.Dense(3, 4, rng=0), Scale(0.5), Shift(4, amount=1.5), bp.Sigmoid())
    bpio.save(net, tmp_path / "m.npz")
    header, _ = read_entries(tmp_path / "m.npz")
    assert header["architecture"]["modules"][1] == {"type": "Scale", "config": {"factor": 0.5}}
    assert header["architecture"]["modules"][2] == {"type": "my.Shift", "config": {"n": 4, "amount": 1.5}}
    same = bpio.load(tmp_path / "m.npz")
    assert same[1].factor == 0.5 and same[2].amount == 1.5
    x = rng.standard_normal((3, 5))
    assert same(x).tobytes() == net(x).tobytes()


def test_unregistered_layer_cannot_be_saved_and_the_old_file_stays(tmp_path):
    class Mystery(bp.Module):
        def forward(self, x):
            return x

    path = tmp_path / "m.npz"
    bpio.save(bp.mlp([2, 2], rng=0), path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match="Mystery is not registered.*register_module"):
        bpio.save(bp.Sequential(bp.Dense(2, 2, rng=0), Mystery()), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_register_module_rejects_non_modules_and_name_clashes(registry):
    with pytest.raises(TypeError, match="not a subclass of minibp.Module"):
        bpio.register_module(int)

    class Dense(bp.Module):
        pass

    with pytest.raises(ValueError, match="'Dense' is already registered"):
        bpio.register_module(Dense)
    assert bpio.register_module(bp.Dense) is bp.Dense  # registering the same class again is harmless


def test_save_refuses_nan_parameters_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "m.npz"
    net = bp.mlp([2, 3, 2], rng=0)
    bpio.save(net, path)
    before = path.read_bytes()
    net[2].w.data[1, 0] = np.nan
    with pytest.raises(bp.NonFiniteError, match=r"'2\.w'"):
        bpio.save(net, path)
    assert path.read_bytes() == before


# -- tied parameters --------------------------------------------------------------------------------


def tied_net():
    d, d2 = bp.Dense(5, 5, rng=0), bp.Dense(5, 5, rng=1)
    d2.w = d.w  # one Parameter held by two modules
    return bp.Sequential(d, bp.Sigmoid(), d2)


def test_tied_parameter_is_written_once_and_tied_again_on_loading(tmp_path, rng):
    net = tied_net()
    bpio.save(net, tmp_path / "m.npz")
    header, arrays = read_entries(tmp_path / "m.npz")
    assert header["format_version"] == 2 and header["tied"] == {"2.w": "0.w"}
    assert header["parameters"] == ["0.w", "0.b", "2.b"] and sorted(arrays) == ["param/0.b", "param/0.w", "param/2.b"]
    same = bpio.load(tmp_path / "m.npz")
    assert same[2].w is same[0].w and same[2].b is not same[0].b
    assert [n for n, _ in same.named_parameters()] == ["0.w", "0.b", "2.b"]
    x = rng.standard_normal((5, 3))
    assert same(x).tobytes() == net(x).tobytes()
    same[0].w.data[0, 0] = 7.0  # still one matrix: a change through one layer is seen by the other
    assert same[2].w.data[0, 0] == 7.0


def test_training_a_loaded_tied_network_matches_the_original(tmp_path):
    X, y = blobs(np.random.default_rng(1), d=5, k=5)
    kwargs = dict(epochs=2, mini_batch_size=8, rng=3, verbose=False, progress=False)
    net = tied_net()
    bpio.save(net, tmp_path / "m.npz")
    same = bpio.load(tmp_path / "m.npz")
    for network in (net, same):
        bp.train(network, (X, y), optimizer=optim.SGD(network.parameters(), eta=0.5), **kwargs)
    for p, q in zip(net.parameters(), same.parameters(), strict=True):
        assert p.data.tobytes() == q.data.tobytes()
    assert same[2].w is same[0].w


def test_ties_inside_nested_containers_and_resaving_gives_the_same_bytes(tmp_path):
    inner = bp.Sequential(bp.Dense(3, 3, rng=0), bp.Tanh(), bp.Dense(3, 3, rng=1))
    inner[2].b = inner[0].b
    outer = bp.Sequential(bp.Dense(3, 3, rng=2), inner, bp.Sigmoid())
    outer[0].w = inner[2].w
    bpio.save(outer, tmp_path / "a.npz")
    header, _ = read_entries(tmp_path / "a.npz")
    assert header["tied"] == {"1.2.w": "0.w", "1.2.b": "1.0.b"}
    same = bpio.load(tmp_path / "a.npz")
    assert same[1][2].w is same[0].w and same[1][2].b is same[1][0].b
    bpio.save(same, tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_a_module_shared_as_a_whole_is_refused_but_a_network_with_both_parameters_tied_round_trips(tmp_path, rng):
    d = bp.Dense(4, 4, rng=0)
    with pytest.raises(ValueError, match=r"Dense\(4, 4\) is used twice, as 0 and as 2.*second\.w = first\.w"):
        bp.Sequential(d, bp.Sigmoid(), d)
    net = bp.Sequential(d, bp.Sigmoid(), bp.Dense(4, 4, rng=1))
    net[2].w, net[2].b = d.w, d.b
    bpio.save(net, tmp_path / "m.npz")
    same = bpio.load(tmp_path / "m.npz")
    assert same[2].w is same[0].w and same[2].b is same[0].b
    x = rng.standard_normal((4, 2))
    assert same(x).tobytes() == net(x).tobytes()


@pytest.mark.parametrize(
    "tied,pattern",
    [
        ([["2.w", "0.w"]], "'tied' must be an object"),
        ({"2.w": 0}, "'tied' must be an object"),
        ({"9.w": "0.w"}, r"cannot tie parameter '9\.w' to '0\.w'"),
        ({"2.w": "0.x"}, r"cannot tie parameter '2\.w' to '0\.x'"),
        ({"2.w": "2.w"}, "cannot tie parameter"),
        ({"2.w": "0.w", "0.w": "0.b"}, "cannot tie parameter"),
        ({"2.w": "0.b"}, r"cannot tie parameter '2\.w' \(float64 \(5, 5\)\) to '0\.b' \(float64 \(5, 1\)\)"),
        ({"2.b": "0.b"}, "the architecture has parameters"),
    ],
)
def test_malformed_ties_are_refused(tmp_path, tied, pattern):
    bpio.save(tied_net(), tmp_path / "m.npz")
    header, arrays = read_entries(tmp_path / "m.npz")
    header["tied"] = tied
    expect_refusal(tmp_path / "bad.npz", header, arrays, pattern)


def test_tied_key_belongs_to_format_2_only(tmp_path):
    bpio.save(tied_net(), tmp_path / "m.npz")
    header, arrays = read_entries(tmp_path / "m.npz")
    expect_refusal(tmp_path / "bad.npz", {**header, "format_version": 1}, arrays, r"unexpected \['tied'\]")
    del header["tied"]
    expect_refusal(tmp_path / "bad.npz", header, arrays, r"missing \['tied'\]")


# -- files written by minibp 0.1.0 ------------------------------------------------------------------


def test_model_written_by_0_1_0_loads_with_its_optimizer_history_and_rng():
    ckpt = bpio.load_checkpoint(FIXTURES / "model-0.1.0.npz")
    assert ckpt.minibp_version == "0.1.0" and ckpt.format_version == 1
    net = ckpt.net
    assert [type(m) for m in net] == [bp.Dense, bp.Sigmoid, bp.Dense, bp.Sigmoid]
    assert_parameters_are_the_files(net, FIXTURES / "model-0.1.0.npz")
    x = load_sample().test[0][:, :5]
    expected = np.load(FIXTURES / "model-0.1.0-output.npy", allow_pickle=False)
    np.testing.assert_array_less(np.abs(net(x) - expected), forward_error_bound(net, x))
    optimizer = bp.Momentum(net.parameters(), eta=0.5, mu=0.9)
    optimizer.load_state_dict(ckpt.optimizer_state)
    assert optimizer.eta == 0.5 and optimizer.mu == 0.9
    state = optimizer.state_dict()
    for i, p in enumerate(net.parameters()):
        assert state[f"velocity.{i}"].shape == p.shape
        np.testing.assert_array_equal(state[f"velocity.{i}"], ckpt.optimizer_state[f"velocity.{i}"])
    history = bp.History.from_dict(ckpt.history)
    assert history.epoch == [0] and history.training_size == 1000
    assert ckpt.rng.bit_generator.state["bit_generator"] == "PCG64"
    ckpt.rng.random(3)  # a working generator


def test_layers_written_by_0_1_0_load_and_give_the_same_outputs():
    net = bpio.load(FIXTURES / "layers-0.1.0.npz")
    assert [type(m) for m in net] == [bp.Dense, bp.Tanh, bp.Dropout, bp.Dense, bp.Softmax]
    assert net[2].p == 0.2
    assert_parameters_are_the_files(net, FIXTURES / "layers-0.1.0.npz")
    x = np.linspace(-1, 1, 8).reshape(4, 2)
    expected = np.load(FIXTURES / "layers-0.1.0-output.npy", allow_pickle=False)
    np.testing.assert_array_less(np.abs(net.eval()(x) - expected), forward_error_bound(net, x))


def assert_parameters_are_the_files(net, path):
    """What the format stores is loaded bit for bit (the outputs then differ only as BLAS kernels round)."""
    with np.load(path, allow_pickle=False) as stored:
        state = net.state_dict()
        assert sorted(state) == sorted(key.removeprefix("param/") for key in stored.files if key.startswith("param/"))
        for name, values in state.items():
            assert values.dtype == stored[f"param/{name}"].dtype
            np.testing.assert_array_equal(values, stored[f"param/{name}"], strict=True)


@pytest.mark.parametrize("name", ["layers-0.1.0.npz", "model-0.1.0.npz"])
def test_files_without_ties_are_still_written_byte_for_byte_as_0_1_0_wrote_them(tmp_path, monkeypatch, name):
    monkeypatch.setattr(bpio, "__version__", "0.1.0")  # the only field that differs once minibp's version moves on
    ckpt = bpio.load_checkpoint(FIXTURES / name)
    optimizer = None
    if ckpt.optimizer_state is not None:
        optimizer = bp.Momentum(ckpt.net.parameters(), eta=0.5, mu=0.9)
        optimizer.load_state_dict(ckpt.optimizer_state)
    bpio.save(ckpt.net, tmp_path / name, optimizer=optimizer, history=ckpt.history, rng=ckpt.rng)
    if sys.version_info[:2] == (3, 11):  # the fixtures' Python: its zipfile writes the same archive headers
        assert (tmp_path / name).read_bytes() == (FIXTURES / name).read_bytes()
    with zipfile.ZipFile(tmp_path / name) as ours, zipfile.ZipFile(FIXTURES / name) as theirs:
        assert ours.namelist() == theirs.namelist()  # every entry, in order, with the same bytes
        for entry in theirs.namelist():
            assert ours.read(entry) == theirs.read(entry), entry


# -- a file written by minibp 0.2.0 in format 2, and format 3 -------------------------------------------
#
# tests/fixtures/model-0.2.0-format-2.npz was written by minibp 0.2.0: Dense(5, 5), Tanh, a Dense whose w is the
# first one's, Sigmoid, Dropout(0.25) drawing from the shuffling generator, Dense(5, 3); trained two epochs with
# Momentum(eta=0.2, mu=0.5) and SoftmaxLogLikelihoodCost; its output at np.linspace(-1, 1, 10).reshape(5, 2) is
# model-0.2.0-format-2-output.npy.

FORMAT_2 = FIXTURES / "model-0.2.0-format-2.npz"


def test_model_written_by_0_2_0_in_format_2_loads_with_its_ties_shared_generator_and_optimizer():
    ckpt = bpio.load_checkpoint(FORMAT_2)
    assert ckpt.minibp_version == "0.2.0" and ckpt.format_version == 2 and ckpt.cost is None
    net = ckpt.net
    assert [type(m) for m in net] == [bp.Dense, bp.Tanh, bp.Dense, bp.Sigmoid, bp.Dropout, bp.Dense]
    assert net[2].w is net[0].w and net[4].rng is ckpt.rng and net[4].p == 0.25
    assert_parameters_are_the_files(net, FORMAT_2)
    x = np.linspace(-1, 1, 10).reshape(5, 2)
    expected = np.load(FIXTURES / "model-0.2.0-format-2-output.npy", allow_pickle=False)
    np.testing.assert_array_less(np.abs(net.eval()(x) - expected), forward_error_bound(net, x))
    optimizer = bp.Momentum(net.parameters(), eta=0.1, mu=0.1)
    optimizer.load_state_dict(ckpt.optimizer_state)
    assert optimizer.eta == 0.2 and optimizer.mu == 0.5
    assert bp.History.from_dict(ckpt.history).epoch == [0, 1] and ckpt.metadata["note"].startswith("format 2")


def test_a_format_2_file_is_still_written_entry_for_entry_as_0_2_0_wrote_it(tmp_path, monkeypatch):
    monkeypatch.setattr(bpio, "__version__", "0.2.0")
    ckpt = bpio.load_checkpoint(FORMAT_2)
    optimizer = bp.Momentum(ckpt.net.parameters(), eta=0.1, mu=0.1)
    optimizer.load_state_dict(ckpt.optimizer_state)
    path = tmp_path / "again.npz"
    bpio.save(ckpt.net, path, optimizer=optimizer, history=ckpt.history, rng=ckpt.rng, metadata=ckpt.metadata)
    with zipfile.ZipFile(path) as ours, zipfile.ZipFile(FORMAT_2) as theirs:
        assert ours.namelist() == theirs.namelist()
        for entry in theirs.namelist():
            assert ours.read(entry) == theirs.read(entry), entry


def test_the_cost_is_recorded_in_format_3_and_nothing_else_changes(tmp_path):
    net = bp.mlp([4, 3, 2], rng=0)[:-1]
    bpio.save(net, tmp_path / "m.npz", cost=bp.SoftmaxLogLikelihoodCost())
    header, arrays = read_entries(tmp_path / "m.npz")
    assert header["format_version"] == bpio.FORMAT_VERSION == 3
    assert header["cost"] == {"type": "SoftmaxLogLikelihoodCost", "takes": "z"} and header["tied"] == {}
    ckpt = bpio.load_checkpoint(tmp_path / "m.npz")
    assert ckpt.cost == "SoftmaxLogLikelihoodCost" and ckpt.format_version == 3
    bpio.save(net, tmp_path / "plain.npz")  # nothing newer to say: the oldest format, 0.1.0's
    assert read_entries(tmp_path / "plain.npz")[0]["format_version"] == 1
    assert bpio.load_checkpoint(tmp_path / "plain.npz").cost is None
    with pytest.raises(TypeError, match="cost must be a minibp Cost"):
        bpio.save(net, tmp_path / "bad.npz", cost="SoftmaxLogLikelihoodCost")
    assert not (tmp_path / "bad.npz").exists()


def test_the_cost_key_belongs_to_format_3(tmp_path):
    bpio.save(tied_net(), tmp_path / "m.npz", cost=bp.QuadraticCost())
    header, arrays = read_entries(tmp_path / "m.npz")
    assert header["format_version"] == 3 and header["cost"] == {"type": "QuadraticCost", "takes": "a"}
    expect_refusal(tmp_path / "bad.npz", {**header, "format_version": 2}, arrays, r"unexpected \['cost'\]")
    for bad in ({"type": "QuadraticCost"}, {"type": 3, "takes": "a"}, {"type": "X", "takes": "y"}, "QuadraticCost"):
        expect_refusal(tmp_path / "bad.npz", {**header, "cost": bad}, arrays, "'cost' must be null or an object")
    without = {k: v for k, v in header.items() if k != "cost"}
    expect_refusal(tmp_path / "bad.npz", without, arrays, r"missing \['cost'\]")
    assert bpio.load_checkpoint(write_and_path(tmp_path, {**header, "cost": None}, arrays)).cost is None


def write_and_path(tmp_path, header, arrays):
    write_entries(tmp_path / "doctored.npz", header, arrays)
    return tmp_path / "doctored.npz"


def test_each_format_version_holds_the_keys_of_the_ones_before():
    from minibp.io.format import header_keys

    keys = [set().union(*header_keys(v)) for v in range(1, bpio.FORMAT_VERSION + 1)]
    assert all(a < b for a, b in zip(keys, keys[1:]))
    assert header_keys(3)[0] - header_keys(2)[0] == {"cost"} and "rng_shared_with" in header_keys(3)[1]


# -- containers -------------------------------------------------------------------------------------


def test_user_container_round_trips(tmp_path, registry, rng):
    @bpio.register_module(container=True)
    class SkipChain(bp.Module):
        """y = x + f(x) for a chain f of modules."""

        def __init__(self, *modules: bp.Module):
            self.body = list(modules)

        def forward(self, x):
            out = x
            for module in self.body:
                out = module(out)
            return x + out

        def backward(self, grad_output):
            grad = grad_output
            for module in reversed(self.body):
                grad = module.backward(grad)
            return grad_output + grad

    net = bp.Sequential(bp.Dense(3, 4, rng=0), SkipChain(bp.Dense(4, 4, rng=1), bp.Tanh()), bp.Sigmoid())
    bpio.save(net, tmp_path / "m.npz")
    header, _ = read_entries(tmp_path / "m.npz")
    node = header["architecture"]["modules"][1]
    assert node["type"] == "SkipChain" and [m["type"] for m in node["modules"]] == ["Dense", "Tanh"]
    same = bpio.load(tmp_path / "m.npz")
    assert [n for n, _ in same.named_parameters()] == ["0.w", "0.b", "1.body.0.w", "1.body.0.b"]
    x = rng.standard_normal((3, 5))
    assert same(x).tobytes() == net(x).tobytes()


def test_a_layer_that_builds_its_own_children_is_saved_by_its_config(tmp_path, registry, rng):
    @bpio.register_module
    class Block(bp.Module):
        def __init__(self, n: int):
            self.n = n
            self.inner = bp.Sequential(bp.Dense(n, n, rng=0), bp.Sigmoid())

        def forward(self, x):
            return self.inner(x)

        def backward(self, grad_output):
            return self.inner.backward(grad_output)

    net = bp.Sequential(Block(3), bp.Dense(3, 2, rng=1))
    net[0].inner[0].w.data[...] = rng.standard_normal((3, 3))
    bpio.save(net, tmp_path / "m.npz")
    header, _ = read_entries(tmp_path / "m.npz")
    assert header["architecture"]["modules"][0] == {"type": "Block", "config": {"n": 3}}
    same = bpio.load(tmp_path / "m.npz")
    x = rng.standard_normal((3, 4))
    assert same(x).tobytes() == net(x).tobytes()


def test_only_containers_may_have_child_modules(saved):
    path, header, arrays = saved
    header["architecture"]["modules"][1]["modules"] = [{"type": "Sigmoid", "config": {}}]
    expect_refusal(path, header, arrays, "Sigmoid cannot have child modules")


# -- refusing bad files -----------------------------------------------------------------------------


class Payload:
    """Unpickling this creates the sentinel file: the side effect a malicious file would have."""

    def __init__(self, sentinel):
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (open, (self.sentinel, "w"))


def test_pickled_entry_is_refused_and_never_executed(tmp_path):
    good = tmp_path / "good.npz"
    bpio.save(bp.mlp([3, 2], rng=0), good)
    header, arrays = read_entries(good)
    sentinel = tmp_path / "pwned"
    evil_param = np.empty((2, 3), dtype=object)
    evil_param[0, 0] = Payload(sentinel)
    for where in ("param", "extra", "header"):
        evil = tmp_path / f"evil_{where}.npz"
        doctored = dict(arrays)
        if where == "param":
            doctored["param/0.w"] = evil_param
        elif where == "extra":
            doctored["param/zz"] = evil_param
        payload = np.array([Payload(sentinel)], dtype=object)
        with zipfile.ZipFile(evil, "w") as zf:
            for key, value in doctored.items():
                with zf.open(key + ".npy", "w") as f:
                    np.lib.format.write_array(f, value, allow_pickle=True)
            with zf.open("minibp.json.npy", "w") as f:
                if where == "header":
                    np.lib.format.write_array(f, payload, allow_pickle=True)
                else:
                    np.lib.format.write_array(f, np.frombuffer(json.dumps(header).encode(), np.uint8))
        with pytest.raises(bp.ModelFormatError, match="object array.*unpickling"):
            bpio.load(evil)
        assert not sentinel.exists()
    # The payload is live: numpy with pickling allowed would have run it.
    with np.load(tmp_path / "evil_param.npz", allow_pickle=True) as npz:
        npz["param/0.w"][0, 0].close()
    assert sentinel.exists()


def test_raw_pickle_and_npy_files_are_refused(tmp_path):
    sentinel = tmp_path / "pwned"
    raw = tmp_path / "model.pkl"
    raw.write_bytes(pickle.dumps(Payload(sentinel)))
    with pytest.raises(bp.ModelFormatError, match="not an .npz archive"):
        bpio.load(raw)
    npy = tmp_path / "model.npy"
    with open(npy, "wb") as f:
        np.lib.format.write_array(f, np.array([Payload(sentinel)], dtype=object), allow_pickle=True)
    with pytest.raises(bp.ModelFormatError):
        bpio.load(npy)
    plain_npy = tmp_path / "plain.npy"
    np.save(plain_npy, np.zeros(3))
    with pytest.raises(bp.ModelFormatError):
        bpio.load(plain_npy)
    assert not sentinel.exists()


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "good.npz"
    bpio.save(bp.mlp([3, 4, 2], rng=0), path, optimizer=optim.SGD(bp.mlp([3, 2], rng=0).parameters(), eta=1.0))
    header, arrays = read_entries(path)
    return tmp_path / "bad.npz", header, arrays


def expect_refusal(path, header, arrays, pattern):
    write_entries(path, header, arrays)
    with pytest.raises(bp.ModelFormatError, match=pattern):
        bpio.load(path)


def test_unknown_layer_type_is_refused(saved):
    path, header, arrays = saved
    header["architecture"]["modules"][1]["type"] = "os.system"
    expect_refusal(path, header, arrays, r"unknown layer type 'os\.system'.*known types are.*register_module")


def test_wrong_parameter_shape_is_refused(saved):
    path, header, arrays = saved
    arrays["param/0.w"] = arrays["param/0.w"].T.copy()
    expect_refusal(path, header, arrays, r"Dense\(3, 4\) needs w of float64 \(4, 3\).*stores .*float64 \(3, 4\)")


def test_wrong_parameter_dtype_is_refused(saved):
    path, header, arrays = saved
    arrays["param/2.b"] = arrays["param/2.b"].astype(np.float32)
    expect_refusal(path, header, arrays, r"Dense\(4, 2\) needs b of float64 \(2, 1\).*stores .*float32 \(2, 1\)")


def test_architecture_and_parameters_must_agree(saved):
    path, header, arrays = saved
    header["architecture"]["modules"][0]["config"]["n_out"] = 5
    expect_refusal(path, header, arrays, r"Dense\(3, 5\) needs w of float64 \(5, 3\).*stores .*float64 \(4, 3\)")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_parameters_are_refused(saved, value):
    path, header, arrays = saved
    arrays["param/0.b"][2, 0] = value
    expect_refusal(path, header, arrays, r"parameter '0\.b' holds 1 NaN or infinite")


def test_missing_and_extra_entries_are_refused(saved):
    path, header, arrays = saved
    expect_refusal(
        path, header, {k: v for k, v in arrays.items() if k != "param/2.w"}, r"missing entries \['param/2\.w'\]"
    )
    expect_refusal(path, header, {**arrays, "param/9.w": np.zeros(2)}, r"unexpected entries \['param/9\.w'\]")
    header["parameters"] = header["parameters"][:-1]
    expect_refusal(path, header, arrays, r"unexpected entries \['param/2\.b'\]")
    header["parameters"] = header["parameters"][::-1] + ["2.b"]
    expect_refusal(path, header, arrays, "the architecture has parameters")


def test_newer_format_version_is_refused(saved):
    path, header, arrays = saved
    header["format_version"] = bpio.FORMAT_VERSION + 1
    expect_refusal(path, header, arrays, rf"format version {bpio.FORMAT_VERSION + 1}.*Upgrade minibp")


@pytest.mark.parametrize(
    "change,pattern",
    [
        (lambda h: h.update(format="other"), "does not describe a minibp model"),
        (lambda h: h.update(format_version="1"), "invalid format version"),
        (lambda h: h.update(surprise=1), r"unexpected \['surprise'\]"),
        (lambda h: h.update(architecture=[]), "expected an object with a string 'type'"),
        (lambda h: h["architecture"].update(modules=[]), "non-empty 'modules'"),
        (lambda h: h["architecture"]["modules"][0]["config"].update(n_in=-1), "cannot build Dense"),
        (lambda h: h["architecture"]["modules"][0]["config"].update(rng=1), "cannot build Dense"),
        (lambda h: h["architecture"]["modules"][1]["config"].update(x=1), "cannot build Sigmoid"),
        (lambda h: h.update(metadata=[]), "'metadata' must be an object"),
        (lambda h: h.update(rng={"bit_generator": "Evil"}), "not the state of a known numpy bit generator"),
        (lambda h: h.update(optimizer={"scalars": 1}), "malformed optimizer state"),
    ],
)
def test_malformed_headers_are_refused(saved, change, pattern):
    path, header, arrays = saved
    change(header)
    expect_refusal(path, header, arrays, pattern)


def test_truncated_files_are_refused(tmp_path):
    path = tmp_path / "m.npz"
    bpio.save(bp.mlp([5, 4, 3], rng=0), path, metadata={"x": 1})
    data = path.read_bytes()
    cut = tmp_path / "cut.npz"
    for n in sorted({*range(0, len(data), max(1, len(data) // 97)), len(data) - 1, len(data) - 22}):
        cut.write_bytes(data[:n])
        with pytest.raises(bp.ModelFormatError):
            bpio.load(cut)


def test_unparsable_npy_headers_are_refused():
    # Found by fuzzing with atheris: numpy's header parser raises tokenize.TokenError, not ValueError.
    bad_npy = b"\x93NUMPY\x01\x00\x01\x00[\x00"
    with pytest.raises(bp.ModelFormatError, match="not an .npz archive"):
        bpio.load(_stdio.BytesIO(bad_npy))
    buf = _stdio.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("minibp.json.npy", bad_npy)
    with pytest.raises(bp.ModelFormatError, match="TokenError"):
        bpio.load(_stdio.BytesIO(buf.getvalue()))


def test_encrypted_entries_are_refused():
    # Found by fuzzing with atheris: zipfile raises RuntimeError for an entry flagged as encrypted.
    data = bytearray(GOOD)
    central = data.index(b"PK\x01\x02")
    data[central + 8] |= 0x1  # general purpose flag bit 0: encrypted
    with pytest.raises(bp.ModelFormatError, match="encrypted"):
        bpio.load(_stdio.BytesIO(bytes(data)))


def test_compressed_archives_are_refused(tmp_path):
    # Found by fuzzing with atheris: a corrupt deflate stream raised zlib.error. save never compresses,
    # so load accepts stored entries only and never runs a decompressor.
    with np.load(_stdio.BytesIO(GOOD), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    np.savez_compressed(tmp_path / "c.npz", **arrays)
    with pytest.raises(bp.ModelFormatError, match="is compressed"):
        bpio.load(tmp_path / "c.npz")


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such model file"):
        bpio.load(tmp_path / "nope.npz")
    with pytest.raises(IsADirectoryError):  # not a format problem: raised as it is
        bpio.load(tmp_path)


# -- fuzzing the loader -----------------------------------------------------------------------------


def _good_bytes() -> bytes:
    """A small but complete model file: optimizer arrays, history, rng states and metadata."""
    modules = [bp.Dense(3, 2, rng=0), bp.Sigmoid()]
    if hasattr(bp.layers, "Dropout"):
        modules.append(bp.layers.Dropout(0.5, rng=1))
    net = bp.Sequential(*modules, bp.Dense(2, 2, rng=2))
    opt = optim.Momentum(net.parameters(), eta=0.1, mu=0.9) if hasattr(optim, "Momentum") else None
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.npz"
        bpio.save(net, path, optimizer=opt, history={"epoch": [0]}, rng=np.random.default_rng(0), metadata={"k": 1})
        return path.read_bytes()


GOOD = _good_bytes()


def only_model_format_errors(data: bytes) -> None:
    try:
        bpio.load(_stdio.BytesIO(data))
    except bp.ModelFormatError:
        pass


FUZZ = settings(
    max_examples=int(os.environ.get("MINIBP_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@FUZZ
@given(st.binary(max_size=2048))
def test_fuzz_random_bytes(data):
    only_model_format_errors(data)


@FUZZ
@given(st.binary(max_size=64))
def test_fuzz_zip_magic_then_random_bytes(data):
    only_model_format_errors(b"PK\x03\x04" + data)
    only_model_format_errors(GOOD[:200] + data)


@FUZZ
@given(st.integers(0, len(GOOD)))
def test_fuzz_truncation(n):
    only_model_format_errors(GOOD[:n])


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), min_size=1, max_size=8))
def test_fuzz_byte_changes(changes):
    data = bytearray(GOOD)
    for position, value in changes:
        data[position] = value
    only_model_format_errors(bytes(data))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(
    st.sampled_from(["architecture", "parameters", "optimizer", "history", "rng", "metadata", "format_version"]),
    json_values,
)
def test_fuzz_header_values(key, value):
    with np.load(_stdio.BytesIO(GOOD), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays["minibp.json"].tobytes())
    header[key] = value
    arrays["minibp.json"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    buf = _stdio.BytesIO()
    write_npz(buf, arrays)
    only_model_format_errors(buf.getvalue())


@FUZZ
@given(json_values | st.dictionaries(st.sampled_from(["0.w", "0.b", "2.w", "2.b", "1.w", ""]), json_values))
def test_fuzz_tied_values(value):
    buf = _stdio.BytesIO()
    with tempfile.TemporaryDirectory() as d:
        bpio.save(tied_net(), Path(d) / "m.npz")
        header, arrays = read_entries(Path(d) / "m.npz")
    header["tied"] = value
    write_npz(buf, {"minibp.json": np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays})
    only_model_format_errors(buf.getvalue())


def _npy(array) -> bytes:
    buf = _stdio.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


member_names = st.sampled_from(["minibp.json.npy", "param/0.w.npy", "param/0.b.npy", "optimizer/v.npy"]) | st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=12
)


def _random_npy(dtype: str, shape: tuple, data: bytes) -> bytes:
    dtype, n = np.dtype(dtype), int(np.prod(shape, dtype=int))
    raw = (data + b"\1" * (n * dtype.itemsize))[: n * dtype.itemsize]
    return _npy(np.frombuffer(raw, dtype).reshape(shape))


member_data = st.binary(max_size=64) | st.builds(
    _random_npy,
    st.sampled_from(["<f8", ">f8", "<f4", "u1", "<i8", "?", "<c16"]),
    st.lists(st.integers(0, 4), max_size=3).map(tuple),
    st.binary(max_size=64),
)


@FUZZ
@given(st.dictionaries(member_names, member_data, max_size=5))
def test_fuzz_archives_of_random_members(members):
    buf = _stdio.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    only_model_format_errors(buf.getvalue())


# -- interrupted saves ------------------------------------------------------------------------------


@pytest.mark.parametrize("anonymous", [True, False], ids=["O_TMPFILE", "named-temporary"])
def test_exception_mid_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch, anonymous):
    path = tmp_path / "model.npz"
    bpio.save(bp.mlp([6, 5, 4], rng=0), path)
    before = path.read_bytes()
    if not anonymous:
        monkeypatch.setattr(_files, "_write_anonymous", lambda *args: False)
    real_write_array = np.lib.format.write_array
    calls = []

    def failing_write_array(fp, array, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            fp.write(b"\0" * 100)  # part of the array is out, then the disk "fills up"
            raise OSError(28, "No space left on device")
        return real_write_array(fp, array, *args, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", failing_write_array)
    with pytest.raises(OSError, match="No space left"):
        bpio.save(bp.mlp([6, 5, 4], rng=1), path)
    assert len(calls) == 3
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    monkeypatch.undo()
    assert bpio.load(path)[0].w.data.tobytes() == bp.mlp([6, 5, 4], rng=0)[0].w.data.tobytes()


def test_keyboard_interrupt_mid_write_leaves_nothing_behind(tmp_path, monkeypatch):
    path = tmp_path / "new.npz"
    monkeypatch.setattr(np.lib.format, "write_array", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        bpio.save(bp.mlp([3, 2], rng=0), path)
    assert list(tmp_path.iterdir()) == []


CHILD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    import minibp as bp
    from minibp import io

    path, mode = sys.argv[1], sys.argv[2]
    net = bp.mlp([784, 1000, 1000, 10], rng=1)
    if mode == "pause":  # stop for good in the middle of the archive, after the first parameter
        real = np.lib.format.write_array
        count = [0]
        def write_array(fp, array, *args, **kwargs):
            count[0] += 1
            if count[0] == 3:
                fp.write(array.tobytes()[: array.nbytes // 2])
                print("mid-write", flush=True)
                time.sleep(60)
            return real(fp, array, *args, **kwargs)
        np.lib.format.write_array = write_array
        io.save(net, path)
    else:  # save again and again until killed
        print("saving", flush=True)
        while True:
            io.save(net, path)
    """
)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_process_killed_mid_write_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "model.npz"
    old = bp.mlp([784, 30, 10], rng=0)
    bpio.save(old, path)
    before = path.read_bytes()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), "pause"], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "mid-write"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]
    assert bpio.load(path)[2].w.data.tobytes() == old[2].w.data.tobytes()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_process_killed_at_random_moments_leaves_a_loadable_file(tmp_path):
    path = tmp_path / "model.npz"
    bpio.save(bp.mlp([784, 30, 10], rng=0), path)
    delays = np.random.default_rng(0).uniform(0.05, 0.3, 2)
    for delay in delays:
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), "loop"], stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "saving"
            time.sleep(delay)
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait(timeout=30)
            child.stdout.close()
        net = bpio.load(path)  # either the old network or a complete new one
        assert [p.shape for p in net.parameters()] in (
            [(30, 784), (30, 1), (10, 30), (10, 1)],
            [(1000, 784), (1000, 1), (1000, 1000), (1000, 1), (10, 1000), (10, 1)],
        )
        leftovers = sorted(p.name for p in Path(tmp_path).iterdir() if p.name != "model.npz")
        assert leftovers == [] or all(n.startswith(".minibp-") for n in leftovers)


def test_resuming_with_dropout_draws_the_same_masks(tmp_path):
    if not hasattr(bp.layers, "Dropout"):
        pytest.skip("no Dropout module")
    X, y = blobs(np.random.default_rng(6))
    kwargs = dict(mini_batch_size=8, verbose=False, progress=False)

    def network():
        return bp.Sequential(bp.Dense(4, 8, rng=0), bp.Sigmoid(), bp.layers.Dropout(0.3, rng=11), bp.Dense(8, 3, rng=1))

    net, rng = network(), np.random.default_rng(4)
    bp.train(net, (X, y), optimizer=optim.SGD(net.parameters(), eta=0.5), epochs=3, rng=rng, **kwargs)

    first, rng1 = network(), np.random.default_rng(4)
    optimizer1 = optim.SGD(first.parameters(), eta=0.5)
    bp.train(first, (X, y), optimizer=optimizer1, epochs=2, rng=rng1, **kwargs)
    bpio.save(first, tmp_path / "m.npz", optimizer=optimizer1, rng=rng1)
    header, _ = read_entries(tmp_path / "m.npz")
    assert header["architecture"]["modules"][2]["config"] == {"p": 0.3}
    assert header["architecture"]["modules"][2]["rng"]["bit_generator"] == "PCG64"

    ckpt = bpio.load_checkpoint(tmp_path / "m.npz")
    optimizer2 = optim.SGD(ckpt.net.parameters(), eta=0.5)
    optimizer2.load_state_dict(ckpt.optimizer_state)
    bp.train(ckpt.net, (X, y), optimizer=optimizer2, epochs=1, rng=ckpt.rng, **kwargs)
    for p, q in zip(net.parameters(), ckpt.net.parameters()):
        assert p.data.tobytes() == q.data.tobytes()


BUILTIN_FACTORIES = {
    "Dense": lambda: bp.Dense(4, 4, rng=0),
    "Sequential": lambda: bp.mlp([4, 5, 4], rng=0),
    "Dropout": lambda: bp.layers.Dropout(0.25, rng=0),
    "Parallel": lambda: bp.containers.Parallel(bp.Dense(4, 2, rng=0), bp.Tanh()),
    "Residual": lambda: bp.containers.Residual(bp.Sequential(bp.Dense(4, 4, rng=0), bp.Tanh())),
    "Conv2d": lambda: bp.Conv2d((1, 2, 2), 3, 2, rng=0),
    "MaxPool2d": lambda: bp.MaxPool2d((1, 2, 2)),
}


@pytest.mark.parametrize(
    "name", sorted(n for n, c in bpio.registered_modules().items() if c.__module__.startswith("minibp."))
)
def test_every_builtin_module_round_trips(tmp_path, rng, name):
    cls = bpio.registered_modules()[name]
    module = BUILTIN_FACTORIES[name]() if name in BUILTIN_FACTORIES else cls()
    net = bp.Sequential(bp.Dense(4, 4, rng=1), module)
    bpio.save(net, tmp_path / "m.npz")
    same = bpio.load(tmp_path / "m.npz")
    assert type(same[1]) is cls and bpio.module_config(same[1]) == bpio.module_config(module)
    x = rng.standard_normal((4, 6))
    net.eval(), same.eval()
    assert same(x).tobytes() == net(x).tobytes()
