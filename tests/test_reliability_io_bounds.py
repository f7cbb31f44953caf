"""Model files: a small file never costs a large allocation, and `save` refuses what `load` would refuse.

The rule: loading any model file of at most 10 KB allocates at most 64 MB (peak of `tracemalloc`, which
sees numpy's array memory too), whether it loads or is refused, and a refusal is a `ModelFormatError`.
Checked on the two files that broke it (a ~1 KB file declaring ``Dense(20000, 20000)``: 9 GB and 14 s;
a dtype string in a stored rng state: 1.9 GB) and by hypothesis over mutations of small valid files:
changed header values, changed bytes, stored arrays swapped for others. ``minibp info`` reads through
the same path.

Proven elsewhere and not repeated here (``tests/test_io.py``): fuzzed files raise only `ModelFormatError`;
`save` refuses non-finite parameters and unregistered modules, keeping the old file.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import operator
import re
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minibp as bp
from minibp import io as bpio
from minibp import optim
from minibp.cli import main
from minibp.io import registry
from minibp.io.format import write_npz
from minibp.io.state import rng_state

SMALL = 10 * 1024
BUDGET = 64 * 2**20


def entries(data: bytes) -> tuple[dict, dict]:
    """The decoded header and the arrays of a model file (read without pickle)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return json.loads(arrays.pop("minibp.json").tobytes()), arrays


def archive(header: dict, arrays: dict) -> bytes:
    """A model file holding ``header`` and ``arrays``, laid out as `save` lays it out."""
    buf = io.BytesIO()
    write_npz(buf, {"minibp.json": np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays})
    return buf.getvalue()


def saved(net, **kwargs) -> bytes:
    with tempfile.TemporaryDirectory() as d:
        bpio.save(net, Path(d) / "m.npz", **kwargs)
        return (Path(d) / "m.npz").read_bytes()


def _bases() -> list[bytes]:
    """Small valid files: optimizer arrays, history, rng states (one per bit generator), a tie, a convolution."""
    net = bp.Sequential(bp.Dense(3, 4, rng=0), bp.Sigmoid(), bp.layers.Dropout(0.5, rng=1), bp.Dense(4, 2, rng=2))
    momentum = optim.Momentum(net.parameters(), eta=0.1, mu=0.9)
    tied = bp.Sequential(bp.Dense(3, 3, rng=0), bp.Tanh(), bp.Dense(3, 3, rng=1))
    tied[2].w = tied[0].w
    return [
        saved(net, optimizer=momentum, history={"epoch": [0, 1]}, rng=np.random.default_rng(0), metadata={"k": 1}),
        saved(net, rng=np.random.Generator(np.random.Philox(3))),
        saved(tied, rng=np.random.Generator(np.random.SFC64(4))),
        saved(bp.Sequential(bp.Dense(2, 2, rng=0, dtype=np.float32)), rng=np.random.Generator(np.random.MT19937(5))),
        saved(
            bp.Sequential(bp.Conv2d((1, 4, 4), 2, 3, rng=0), bp.MaxPool2d((2, 2, 2)), bp.Dense(2, 2, rng=1)),
            rng=np.random.default_rng(6),
        ),
    ]


BASES = _bases()


def load_measured(data: bytes) -> tuple[object, int, float]:
    """Load ``data``; return the checkpoint (or the `ModelFormatError`), the peak allocation and the seconds."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        outcome = bpio.load_checkpoint(io.BytesIO(data))
    except bp.ModelFormatError as err:
        outcome = err
    finally:
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return outcome, peak, seconds


def refused_cheaply(data: bytes, pattern: str) -> None:
    """Loading ``data`` (at most 10 KB) raises `ModelFormatError` matching ``pattern``, within 64 MB and 5 s."""
    assert len(data) <= SMALL
    outcome, peak, seconds = load_measured(data)
    assert isinstance(outcome, bp.ModelFormatError), outcome
    assert re.search(pattern, str(outcome)), str(outcome)
    assert peak <= BUDGET, f"{peak / 2**20:.0f} MiB"
    assert seconds < 5


# -- the two files that broke the rule --------------------------------------------------------------


def test_a_1_kb_file_declaring_dense_20000_by_20000_is_refused_fast_and_small(tmp_path):
    header, arrays = entries(saved(bp.Sequential(bp.Dense(3, 2, rng=0), bp.Sigmoid())))
    header["architecture"]["modules"][0]["config"].update(n_in=20000, n_out=20000)
    data = archive(header, arrays)
    refused_cheaply(data, r"Dense\(20000, 20000\) needs w of float64 \(20000, 20000\), but the file stores no")
    path = tmp_path / "huge.npz"
    path.write_bytes(data)
    tracemalloc.start()
    try:
        with contextlib.redirect_stderr(io.StringIO()) as err:
            assert main(["info", str(path)]) == 1
        assert tracemalloc.get_traced_memory()[1] <= BUDGET
    finally:
        tracemalloc.stop()
    assert "Dense(20000, 20000)" in err.getvalue() and "internal error" not in err.getvalue()


def test_many_dense_layers_matching_stored_shapes_cannot_add_up_past_the_stored_bytes():
    header, arrays = entries(saved(bp.Sequential(bp.Dense(20, 20, rng=0))))
    dense = header["architecture"]["modules"][0]
    header["architecture"]["modules"] = [dense] * 40  # 40 layers, each the shape of the one stored
    refused_cheaply(
        archive(header, arrays), r"architecture\[1\]: the Dense and Conv2d layers up to here need 6720 bytes"
    )


PCG = {"bit_generator": "PCG64", "state": {"state": 1, "inc": 1}, "has_uint32": 0, "uinteger": 0}
HOSTILE_RNG_STATES = [
    *(
        {"bit_generator": "MT19937", "state": {"key": key, "pos": 0}}
        for key in [
            {"__ndarray__": [1, 2], "dtype": "(1000000000,)u1"},  # 1.9 GB before the fix
            {"__ndarray__": [1], "dtype": "S2000000000"},
            {"__ndarray__": [1], "dtype": "V2000000000"},
            {"__ndarray__": [1, 2, 3, 4], "dtype": "O"},
            {"__ndarray__": list(range(624)), "dtype": "uint64"},  # the right length, the wrong dtype
            {"__ndarray__": [2**32] * 624, "dtype": "uint32"},  # out of range
            {"__ndarray__": [True] * 624, "dtype": "uint32"},
            [1, 2, 3],
        ]
    ),
    {**PCG, "state": {"state": -1, "inc": 1}},
    {**PCG, "state": {"state": 1, "inc": 2**200}},
    {**PCG, "has_uint32": True},
    {**PCG, "extra": 1},
    {**PCG, "bit_generator": "MT19937"},
]


@pytest.mark.parametrize("where", ["file", "dropout"])
@pytest.mark.parametrize("state", HOSTILE_RNG_STATES, ids=range(len(HOSTILE_RNG_STATES)))
def test_an_rng_state_is_checked_against_a_fresh_generators_before_anything_is_allocated(where, state):
    header, arrays = entries(BASES[1])
    if where == "file":
        header["rng"] = state
    else:
        header["architecture"]["modules"][2]["rng"] = state
    refused_cheaply(archive(header, arrays), r"rng state(\[.*\])?: expected")


@pytest.mark.parametrize("data", BASES, ids=["PCG64", "Philox", "SFC64", "MT19937", "PCG64 with Conv2d"])
def test_the_state_of_each_kind_of_bit_generator_still_round_trips(data):
    ckpt, peak, _ = load_measured(data)
    assert rng_state(ckpt.rng) == entries(data)[0]["rng"] and peak <= BUDGET


# -- the rule, over mutations of small valid files ---------------------------------------------------

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

sizes = st.sampled_from([3000, 20000, 5 * 10**4, 2**31, 2**64 + 1, 10**30]) | st.integers(-2, 4)
dtypes = st.sampled_from(["float32", "(1000000000,)u1", "S2000000000", "V2000000000", "O", "uint32", "uint64", "<f8"])
names = st.sampled_from(["Dense", "Sequential", "Dropout", "MT19937", "Philox", "0.w", "3.w", "minibp-model", ""])
arrays_in_json = st.fixed_dictionaries({"__ndarray__": st.lists(st.integers(0, 9), max_size=6), "dtype": dtypes})
values = sizes | dtypes | names | st.floats() | st.booleans() | st.none() | st.lists(sizes, max_size=6) | arrays_in_json


def places(value: object, path: tuple = ()) -> list[tuple]:
    """Paths into a JSON value below its root: dict keys, and the first three indices of each list."""
    items = value.items() if isinstance(value, dict) else enumerate(value[:3]) if isinstance(value, list) else []
    return [p for key, child in items for p in [(*path, key), *places(child, (*path, key))]]


def at(value: object, path: tuple) -> object:
    return functools.reduce(operator.getitem, path, value)


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def mutate(header: dict, data: st.DataObject) -> None:
    """Change one place of the header: all integers of an object (a layer's sizes), an rng state's array,
    a value for one like it, any value; or delete it, or repeat it (a layer 50 times)."""
    how = data.draw(
        st.sampled_from(["integers", "ndarray", "alike", "replace", "delete", "repeat"] + ["integers", "ndarray"])
    )
    wanted = {
        "integers": lambda v: isinstance(v, dict) and any(map(is_int, v.values())),
        "ndarray": lambda v: isinstance(v, dict) and "__ndarray__" in v,
    }
    paths = [p for p in places(header) if how not in wanted or wanted[how](at(header, p))]
    if not paths:
        return
    *parent_path, key = data.draw(st.sampled_from(paths))
    parent = at(header, tuple(parent_path))
    old = parent[key]
    if how == "integers":
        size = data.draw(sizes)
        parent[key] = {k: size if is_int(v) else v for k, v in old.items()}
    elif how == "ndarray":
        parent[key] = data.draw(arrays_in_json)
    elif how == "alike" and isinstance(old, (int, str)):
        parent[key] = data.draw(sizes if isinstance(old, int) else dtypes | names)
    elif how == "delete":
        del parent[key]
    elif how == "repeat" and isinstance(parent, list):
        parent[key:key] = [old] * data.draw(st.integers(1, 50))
    elif how == "repeat":
        parent[key] = [old] * data.draw(st.integers(1, 50))
    else:
        parent[key] = data.draw(values)


small_arrays = st.builds(
    np.full,
    st.lists(st.integers(0, 40), max_size=3).map(tuple),
    st.sampled_from([0, 1]),
    st.sampled_from(["<f8", "<f4", ">f8", "u1", "<i8", "?"]),
) | st.builds(np.full, st.sampled_from([(4, 3), (2, 1), (3,)]), st.sampled_from([np.nan, np.inf, 0.5]))


@FUZZ
@given(st.data())
def test_any_file_of_at_most_10_kb_loads_or_is_refused_within_64_mb(tmp_path_factory, data):
    base = BASES[data.draw(st.integers(0, len(BASES) - 1), label="base")]
    header, arrays = entries(base)
    kind = data.draw(st.sampled_from(["header", "header", "arrays", "bytes"]), label="kind")
    if kind == "bytes":
        blob = bytearray(base)
        for _ in range(data.draw(st.integers(1, 8))):
            blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
        blob = bytes(blob)
    else:
        if kind == "arrays":
            arrays[data.draw(st.sampled_from(sorted(arrays)))] = data.draw(small_arrays)
        for _ in range(data.draw(st.integers(1 if kind == "header" else 0, 3))):
            mutate(header, data)
        blob = archive(header, arrays)
    if len(blob) > SMALL:
        return
    outcome, peak, _ = load_measured(blob)
    assert isinstance(outcome, (bpio.Checkpoint, bp.ModelFormatError)), outcome
    assert peak <= BUDGET, f"{peak / 2**20:.0f} MiB"
    if isinstance(outcome, bpio.Checkpoint):  # `minibp info` describes it or says what is wrong, never crashes
        path = tmp_path_factory.getbasetemp() / "mutated.npz"
        path.write_bytes(blob)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            assert main(["info", str(path)]) in (0, 1)
        assert "internal error" not in err.getvalue(), err.getvalue()


# -- save refuses what load would refuse, before writing anything -------------------------------------


@pytest.fixture
def restore_registry():
    saved_registry = registry.registered_modules()
    yield
    for name in set(registry.registered_modules()) - set(saved_registry):
        del registry._REGISTRY[name]


class Bias(bp.Module):
    """A layer whose configuration forgets its size (`load` would rebuild it with ``n = 2``); saving is all it does."""

    def __init__(self, n: int = 2) -> None:
        self.b = bp.Parameter(np.zeros((n, 1)))

    def get_config(self) -> dict:
        return {}


class OddKeys:
    def state_dict(self) -> dict:
        return {"type": "OddKeys", "v\x00w": np.zeros(3)}  # a zip member name ends at NUL


def non_finite_optimizer(name: str, value: float) -> dict:
    net = bp.mlp([3, 4, 2], rng=1)
    optimizer = getattr(optim, name)(net.parameters(), eta=0.1)
    getattr(optimizer, "velocity" if name == "Momentum" else "second_moment")[1][0, 0] = value
    return {"net": net, "optimizer": optimizer}


def dropout_with_p(p: float) -> dict:
    dropout = bp.layers.Dropout(0.5, rng=0)
    dropout.p = p  # changed after construction: Dropout(p=p) refuses it
    return {"net": bp.Sequential(bp.Dense(3, 4, rng=0), dropout)}


def dense_with_n_in(n_in: int) -> dict:
    net = bp.mlp([3, 4, 2], rng=0)
    net[0].n_in = n_in  # the configuration no longer describes the weights
    return {"net": net}


@pytest.mark.parametrize(
    "make,error,pattern",
    [
        (lambda: non_finite_optimizer("Momentum", np.nan), bp.NonFiniteError, "state 'velocity.1' holds NaN"),
        (lambda: non_finite_optimizer("Adam", np.inf), bp.NonFiniteError, "state 'second_moment.1' holds NaN"),
        (lambda: dropout_with_p(1.5), ValueError, r"cannot build Dropout.*load would refuse the file, so .* not"),
        (lambda: dense_with_n_in(7), ValueError, r"Dense\(7, 4\) needs w of float64 \(4, 7\)"),
        (lambda: {"net": bp.Sequential(bp.Dense(3, 3), Bias(3))}, ValueError, r"'1\.b' is float64 \(3, 1\) in"),
        (lambda: {"net": bp.mlp([3, 2]), "optimizer": OddKeys()}, ValueError, "cannot be stored in a zip archive"),
    ],
    ids=["nan-velocity", "inf-moment", "bad-config", "stale-sizes", "config-forgets-size", "nul-in-key"],
)
def test_save_refuses_what_load_would_refuse_and_keeps_the_old_file(tmp_path, restore_registry, make, error, pattern):
    path = tmp_path / "m.npz"
    bpio.save(bp.mlp([3, 4, 2], rng=0), path)
    before = path.read_bytes()
    bpio.register_module(Bias)
    with pytest.raises(error, match=pattern):
        bpio.save(path=path, **make())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # no temporary file either


def test_optimizer_keys_ending_in_npy_are_read_from_their_own_entries(tmp_path):
    class Two:
        def state_dict(self) -> dict:
            return {"type": "Two", "v": np.zeros(2), "v.npy": np.ones(3)}

    bpio.save(bp.mlp([2, 2], rng=0), tmp_path / "m.npz", optimizer=Two())
    state = bpio.load_checkpoint(tmp_path / "m.npz").optimizer_state
    assert state["v"].tolist() == [0, 0] and state["v.npy"].tolist() == [1, 1, 1]
