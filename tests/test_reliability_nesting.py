"""Reliability, round 3, for nesting: one depth limit, met with one typed error everywhere, and loading in linear time.

Containers may nest `MAX_DEPTH` (64) deep: a module sits at most 64
containers below the network. Deeper nesting is refused with `NestingError`
(a `MinibpError` and a `ValueError`) when a container is built, when `train`,
`gradcheck`, `check_module` or `save` meets a network edited deeper after
construction, and when `load` reads a file (`ModelNestingError`, also a
`ModelFormatError`); a file of 10,000 levels is refused before anything is
built. At the limit everything works: forward, backward, ``repr``, training,
saving and loading. Loading walks each module a bounded number of times,
whatever its depth: counted, not timed.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import minibp as bp
from minibp import _checks
from minibp.errors import MinibpError, ModelFormatError, ModelNestingError, NestingError
from minibp.gradcheck import gradcheck
from minibp.io import format as fmt
from minibp.io import registry
from minibp.module import Module
from minibp.sequential import Sequential
from minibp.testing import check_module

MAX_DEPTH = _checks.MAX_DEPTH
WRAPPERS = {
    "Sequential": lambda m: bp.Sequential(m),
    "Parallel": lambda m: bp.Parallel(m),
    "Residual": lambda m: bp.Residual(m),
    "Sequential-with-siblings": lambda m: bp.Sequential(bp.Identity(), m, bp.Identity()),
    "Parallel-second-branch": lambda m: bp.Parallel(bp.Identity(), m),
}


def nest(levels: int, wrap=WRAPPERS["Sequential"], leaf: Module | None = None) -> Module:
    module = bp.Dense(2, 2, rng=0) if leaf is None else leaf
    for _ in range(levels):
        module = wrap(module)
    return module


def test_the_limit_is_one_constant():
    assert MAX_DEPTH == 64 and registry.MAX_DEPTH is _checks.MAX_DEPTH
    assert issubclass(NestingError, MinibpError) and issubclass(NestingError, ValueError)
    assert issubclass(ModelNestingError, NestingError) and issubclass(ModelNestingError, ModelFormatError)


@pytest.mark.parametrize("kind", sorted(WRAPPERS))
def test_every_container_may_nest_to_the_limit_and_not_one_level_more(kind):
    wrap = WRAPPERS[kind]
    net = nest(MAX_DEPTH, wrap)  # the Dense sits 64 containers deep
    with pytest.raises(NestingError, match=rf"sits {MAX_DEPTH + 1} containers deep, more than MAX_DEPTH = 64"):
        wrap(net)
    with pytest.raises(NestingError):
        nest(MAX_DEPTH + 1, wrap, leaf=bp.Sigmoid())  # the same for a leaf without parameters


def test_alternating_containers_count_every_level():
    kinds = [WRAPPERS[k] for k in sorted(WRAPPERS)]
    net: Module = bp.Dense(2, 2, rng=0)
    for level in range(MAX_DEPTH):
        net = kinds[level % len(kinds)](net)
    with pytest.raises(NestingError):
        kinds[0](net)
    with pytest.raises(NestingError):  # a deep branch beside shallow ones: found wherever it is
        bp.Parallel(bp.Dense(2, 2, rng=1), bp.Sequential(net))


def test_everything_works_at_the_limit(tmp_path):
    """Forward, backward, repr, gradcheck, check_module, train, save and load of a network 64 containers deep."""
    net = bp.Sequential(nest(MAX_DEPTH - 1), bp.Sigmoid())  # the Dense at depth 64
    x = np.random.default_rng(0).standard_normal((2, 3))
    assert net(x).shape == (2, 3) and net.backward(np.ones((2, 3))).shape == (2, 3)
    assert repr(net).count("Sequential(") == MAX_DEPTH
    assert gradcheck(net, x).ok and check_module(net, x).ok
    data = (np.random.default_rng(1).random((2, 20)), np.arange(20) % 2)
    bp.train(net, data, optimizer=bp.SGD(net.parameters(), eta=0.1), epochs=1, mini_batch_size=5, rng=0, verbose=False)
    bp.io.save(net, tmp_path / "deep.npz")
    again = bp.io.load(tmp_path / "deep.npz")
    assert [n for n, _ in again.named_parameters()] == [n for n, _ in net.named_parameters()]
    np.testing.assert_array_equal(again(x), net(x))


def deeper_by_editing() -> Sequential:
    """Two chains each within the limit, one placed inside the other by editing ``layers``: 80 deep."""
    outer = nest(40, leaf=bp.Sigmoid())
    inner = nest(40)
    last = outer
    while isinstance(last, Sequential):
        parent, last = last, last.layers[0]
    parent.layers[0] = inner
    return outer


def test_a_network_edited_deeper_after_construction_is_refused_where_it_is_used(tmp_path):
    net = deeper_by_editing()
    x = np.ones((2, 3))
    data = (np.random.default_rng(1).random((2, 20)), np.arange(20) % 2)
    for use in (
        lambda: bp.train(
            net, data, optimizer=bp.SGD(net.parameters(), eta=0.1), epochs=1, mini_batch_size=5, rng=0, verbose=False
        ),
        lambda: gradcheck(net, x),
        lambda: check_module(net, x),
        lambda: bp.io.save(net, tmp_path / "deep.npz"),
    ):
        with pytest.raises(NestingError, match="containers deep, more than MAX_DEPTH = 64"):
            use()
    assert list(tmp_path.iterdir()) == []


def test_a_network_placed_inside_itself_is_refused_not_walked_forever(tmp_path):
    net = bp.Sequential(bp.Dense(2, 2, rng=0), bp.Sigmoid())
    optimizer = bp.SGD(net.parameters(), eta=0.1)
    net.layers.append(net)
    data = (np.random.default_rng(1).random((2, 20)), np.arange(20) % 2)
    for use in (
        lambda: bp.train(net, data, optimizer=optimizer, epochs=1, mini_batch_size=5, rng=0, verbose=False),
        lambda: gradcheck(net, np.ones((2, 3))),
        lambda: bp.io.save(net, tmp_path / "loop.npz"),
    ):
        with pytest.raises(ValueError, match="is used twice, as the network itself and as 2"):
            use()


# -- files ---------------------------------------------------------------------------------------------

DENSE = {"type": "Dense", "config": {"n_in": 2, "n_out": 2, "dtype": "float64"}}
SIGMOID = {"type": "Sigmoid", "config": {}}


def write_model(path, depth: int, leaves: int) -> None:
    """A model file: ``depth`` nested Sequentials, the innermost holding one Dense then ``leaves`` Sigmoids.

    The JSON is written as text, so that no recursion limits how deep it nests.
    """
    bp.io.save(bp.Sequential(bp.Dense(2, 2, rng=0)), path)
    with np.load(path) as npz:
        arrays = {key.removesuffix(".npy"): npz[key] for key in npz.files}
    header = json.loads(arrays[fmt.HEADER].tobytes())
    prefix = "0." * (depth - 1)
    header["architecture"], header["parameters"] = "TREE", [f"{prefix}0.w", f"{prefix}0.b"]
    body = ", ".join([json.dumps(DENSE)] + [json.dumps(SIGMOID)] * leaves)
    tree = '{"type": "Sequential", "config": {}, "modules": [' * depth + body + "]}" * depth
    arrays[fmt.HEADER] = np.frombuffer(json.dumps(header).replace('"TREE"', tree).encode(), np.uint8)
    arrays = {key: value for key, value in arrays.items() if not key.startswith(fmt.PARAM)}
    arrays |= {f"{fmt.PARAM}{prefix}0.w": np.zeros((2, 2)), f"{fmt.PARAM}{prefix}0.b": np.zeros((2, 1))}
    with open(path, "wb") as f:
        fmt.write_npz(f, arrays)


class Count:
    """Count the Sequential and Dense modules built and the calls of ``named_children`` (any walk makes them)."""

    def __init__(self, monkeypatch):
        self.built = self.walked = 0
        for cls in (Module, Sequential, bp.Parallel, bp.Residual):
            if "named_children" in vars(cls):
                monkeypatch.setattr(cls, "named_children", self.counting(vars(cls)["named_children"], "walked"))
        for cls in (Sequential, bp.Dense):
            monkeypatch.setattr(cls, "__init__", self.counting(cls.__init__, "built"))

    def counting(self, method, what):
        def wrapper(module, *args, **kwargs):
            setattr(self, what, getattr(self, what) + 1)
            return method(module, *args, **kwargs)

        return wrapper


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 10_000])
def test_a_file_nesting_too_deep_is_refused_with_the_typed_error(tmp_path, monkeypatch, depth):
    path = tmp_path / "deep.npz"
    write_model(path, depth, 0)
    count = Count(monkeypatch)
    with pytest.raises(ModelNestingError, match=r"modules nested (far )?more than MAX_DEPTH = 64"):
        bp.io.load(path)
    assert count.walked == count.built == 0  # refused from the JSON or the tree, before any module is built


def test_a_file_at_the_limit_loads(tmp_path):
    write_model(tmp_path / "deep.npz", MAX_DEPTH, 3)
    net = bp.io.load(tmp_path / "deep.npz")
    assert net(np.ones((2, 1))).shape == (2, 1)


def test_loading_walks_each_module_a_bounded_number_of_times_whatever_its_depth(tmp_path, monkeypatch):
    """Before: each module was walked once per container above it (27 s for 2.8 MB); now a few times in all."""
    walks = {}
    for depth, leaves in [(1, 1000), (MAX_DEPTH, 1000), (MAX_DEPTH, 2000)]:
        path = tmp_path / f"model-{depth}-{leaves}.npz"
        write_model(path, depth, leaves)
        with monkeypatch.context() as patch:
            count = Count(patch)
            bp.io.load(path)
        modules = depth + 1 + leaves
        assert count.built == depth + 1  # the Sequentials and the Dense
        walks[depth, leaves] = count.walked / modules
    assert max(walks.values()) <= 8, walks  # a few walks (checks, ties, shared generators), each once per module
    assert walks[MAX_DEPTH, 1000] <= 1.1 * walks[1, 1000], walks


def _interrupted_at(k: int, call) -> bool:
    """Run ``call`` raising `KeyboardInterrupt` at the ``k``-th line run in minibp/_checks.py; whether it was."""
    seen = [0]

    def tracer(frame, event, arg):
        if frame.f_code.co_filename != _checks.__file__:
            return None
        if event == "line":
            seen[0] += 1
            if seen[0] == k:
                raise KeyboardInterrupt
        return tracer

    sys.settrace(tracer)
    try:
        call()
    except KeyboardInterrupt:
        return True
    finally:
        sys.settrace(None)
    return False


def test_a_ctrl_c_at_any_line_of_a_load_leaves_the_duplicate_module_check_on(tmp_path):
    """Loading builds without the per-container check and checks once; no interruption may leave it off."""
    path = tmp_path / "net.npz"
    bp.save(bp.Sequential(bp.mlp([3, 4, 2], rng=0), bp.Residual(bp.Dense(2, 2, rng=1))), path)
    k = 1
    while _interrupted_at(k, lambda: bp.load(path)):
        sigmoid = bp.Sigmoid()
        with pytest.raises(ValueError, match="is used twice"):
            bp.Sequential(sigmoid, sigmoid)
        k += 1
    assert k > 20  # every line of _checks.py a load runs was interrupted once
