"""Files: the IDX reader fuzzed, save/load round trips over random (tied) networks, no pickle, atomic history files.

Proven elsewhere and not repeated here (``tests/test_io.py``): a model file
carrying a pickle (as a parameter, an extra entry or the header, or a raw
pickle or ``.npy``) is refused and the payload's side effect never happens;
hypothesis fuzzing of the model loader (random bytes, truncations, byte
changes, random header values, archives of random members) raises only
`ModelFormatError`; an exception, a ``KeyboardInterrupt`` or ``SIGKILL`` in
the middle of `save` leaves the previous file byte-identical and no
temporary file. ``tests/test_data_idx.py`` covers each kind of bad IDX file
by hand, the gzip bomb and ``python -O``.
"""

from __future__ import annotations

import ast
import gzip
import io
import json
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import minibp as bp
from minibp import io as bpio
from minibp.data import read_idx, write_idx
from minibp.data.idx import IDX_TYPES
from minibp.errors import DataFormatError
from minibp.io.ties import find_ties

FUZZ = settings(
    max_examples=int(os.environ.get("MINIBP_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def idx_bytes(array: np.ndarray, compress: bool = False) -> bytes:
    buffer = io.BytesIO()
    write_idx(buffer, array, compress=compress)
    return buffer.getvalue()


GOOD_RAW = idx_bytes(np.arange(6 * 7, dtype=np.uint8).reshape(6, 7))
GOOD_GZ = idx_bytes(np.arange(6 * 7, dtype=np.uint8).reshape(6, 7), compress=True)
GOOD_WIDE = idx_bytes(np.linspace(-1, 1, 12, dtype=np.float64).reshape(3, 4))


def read_or_refuse(data: bytes) -> np.ndarray | None:
    """Read ``data``; a refusal must be `DataFormatError`, and an accepted file must match its own header."""
    try:
        array = read_idx(io.BytesIO(data))
    except DataFormatError as err:
        assert str(err)  # it says what is wrong
        return None
    raw = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    ndim = raw[3]
    shape = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    assert array.shape == shape
    assert array.dtype == IDX_TYPES[raw[2]].newbyteorder("=")
    assert array.tobytes() == np.frombuffer(raw[4 + 4 * ndim :], IDX_TYPES[raw[2]]).astype(array.dtype).tobytes()
    return array


@FUZZ
@given(st.binary(max_size=512))
def test_idx_fuzz_random_bytes(data):
    read_or_refuse(data)
    read_or_refuse(b"\x00\x00" + data)  # past the magic's first check
    read_or_refuse(gzip.compress(data, mtime=0))  # a valid gzip stream of garbage


@FUZZ
@given(st.sampled_from([GOOD_RAW, GOOD_GZ, GOOD_WIDE]), st.data())
def test_idx_fuzz_mutations_of_good_files(good, data):
    buf = bytearray(good)
    for _ in range(data.draw(st.integers(1, 6), label="changes")):
        kind = data.draw(st.sampled_from(["set", "insert", "delete"]))
        pos = data.draw(st.integers(0, len(buf) - 1 if buf else 0))
        if kind == "set" and buf:
            buf[pos] = data.draw(st.integers(0, 255))
        elif kind == "insert":
            buf[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif buf:
            del buf[pos : pos + data.draw(st.integers(1, 8))]
    read_or_refuse(bytes(buf))


@FUZZ
@given(st.sampled_from([GOOD_RAW, GOOD_GZ, GOOD_WIDE]), st.data())
def test_idx_fuzz_truncation(good, data):
    assert read_or_refuse(good) is not None
    assert read_or_refuse(good[: data.draw(st.integers(0, len(good) - 1))]) is None


@FUZZ
@given(
    code=st.integers(0, 255),
    dims=st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 5), min_size=0, max_size=5),
    body=st.integers(0, 64),
    compress=st.booleans(),
)
def test_idx_fuzz_headers(code, dims, body, compress):
    """Any type code and dimensions, including sizes whose product overflows 64 bits, with any body length."""
    raw = struct.pack(f">HBB{len(dims)}I", 0, code, len(dims), *dims) + bytes(body)
    read_or_refuse(gzip.compress(raw, mtime=0) if compress else raw)


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        st.sampled_from([np.dtype(d).newbyteorder("=") for d in IDX_TYPES.values()]),
        st.lists(st.integers(0, 4), min_size=1, max_size=4).map(tuple),
    ),
    st.booleans(),
)
def test_idx_round_trip_is_exact(array, compress):
    back = read_or_refuse(idx_bytes(array, compress))
    assert back.dtype == array.dtype and back.shape == array.shape
    assert back.tobytes() == array.tobytes()  # bit for bit, NaN payloads and -0.0 included


# -- save / load ------------------------------------------------------------------------------------

LAYERS = [bp.Sigmoid, bp.Tanh, bp.ReLU, bp.Identity, bp.Softmax]


@st.composite
def networks(draw):
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    sizes = draw(st.lists(st.integers(1, 6), min_size=2, max_size=4))
    seed = draw(st.integers(0, 2**32 - 1))
    modules = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        modules.append(bp.Dense(n_in, n_out, rng=seed + i, dtype=dtype))
        modules.append(draw(st.sampled_from(LAYERS))())
        if draw(st.booleans()):
            modules.append(bp.Dropout(draw(st.sampled_from([0.1, 0.5])), rng=seed))
    dense = [m for m in modules if isinstance(m, bp.Dense)]
    for i, later in enumerate(dense):
        same_shape = [d for d in dense[:i] if d.w.shape == later.w.shape]
        if same_shape and draw(st.booleans()):  # tied weights: one Parameter in two layers
            later.w = draw(st.sampled_from(same_shape)).w
    net = bp.Sequential(*modules)
    if draw(st.booleans()):
        net = bp.Sequential(net, bp.Identity())  # nested containers
    return net, sizes[0], dtype


@settings(max_examples=25, deadline=None)
@given(networks(), st.sampled_from(["SGD", "Momentum", "Nesterov", "Adam", None]), st.integers(0, 3))
def test_save_load_round_trip_is_bit_identical(tmp_path_factory, case, optimizer_name, steps):
    net, n_in, dtype = case
    path = tmp_path_factory.mktemp("roundtrip") / "net.npz"
    rng = np.random.default_rng(steps)
    optimizer = getattr(bp, optimizer_name)(net.parameters(), eta=0.01) if optimizer_name else None
    for _ in range(steps if optimizer else 0):  # non-trivial optimizer state
        for p in net.parameters():
            p.grad = rng.standard_normal(p.shape)
        optimizer.step()
    bpio.save(net, path, optimizer=optimizer, rng=rng, metadata={"steps": steps})
    ckpt = bpio.load_checkpoint(path)
    again = path.with_name("again.npz")
    bpio.save(ckpt.net, again, optimizer=optimizer, rng=ckpt.rng, metadata=ckpt.metadata)
    assert again.read_bytes() == path.read_bytes()  # loading loses nothing that saving writes
    assert repr(ckpt.net) == repr(net)
    assert find_ties(ckpt.net) == find_ties(net)  # the same parameters are shared, and only those
    for (name, p), (name2, q) in zip(net.named_parameters(), ckpt.net.named_parameters(), strict=True):
        assert name == name2 and p.data.dtype == q.data.dtype and p.data.tobytes() == q.data.tobytes()
    x = np.random.default_rng(1).standard_normal((n_in, 5)).astype(dtype)
    assert net.eval()(x).tobytes() == ckpt.net.eval()(x).tobytes()
    net.train(), ckpt.net.train()
    assert net(x).tobytes() == ckpt.net(x).tobytes()  # dropout masks continue from the same generator state
    assert ckpt.rng.bit_generator.state == rng.bit_generator.state and ckpt.metadata == {"steps": steps}
    if optimizer is not None:
        saved = optimizer.state_dict()
        assert ckpt.optimizer_state.keys() == saved.keys()
        for key, value in saved.items():
            assert np.asarray(ckpt.optimizer_state[key]).tobytes() == np.asarray(value).tobytes(), key


# -- no pickle, no code from files ------------------------------------------------------------------

PACKAGE = Path(bp.__file__).parent


def calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield ast.unparse(node.func), node


def test_no_reader_can_unpickle_or_run_code():
    """No pickle-family module is imported; every np.load passes allow_pickle=False; nothing is eval'd."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                assert not {"pickle", "cPickle", "dill", "shelve", "marshal", "joblib"} & set(names), path
        for name, call in calls(tree):
            assert name not in ("eval", "exec", "__import__", "importlib.import_module"), f"{path}: {name}"
            if name in ("np.load", "numpy.load"):
                flags = {k.arg: k.value for k in call.keywords}
                assert "allow_pickle" in flags and ast.literal_eval(flags["allow_pickle"]) is False, f"{path}: {name}"
            if name.endswith("read_array"):
                flags = {k.arg: k.value for k in call.keywords}
                assert ast.literal_eval(flags.get("allow_pickle", ast.Constant(False))) is False, f"{path}: {name}"


def test_history_file_is_written_atomically(tmp_path, monkeypatch):
    import sys

    history_module = sys.modules["minibp.history"]

    path = tmp_path / "history.json"
    bp.History(epoch=[0], training_cost=[1.0]).save(path)
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(history_module.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        bp.History(epoch=[0, 1], training_cost=[1.0, 0.5]).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["history.json"]
    assert json.loads(before)["epoch"] == [0]


def test_idx_file_is_written_atomically(tmp_path, monkeypatch):
    import os

    from minibp.data import read_idx, write_idx

    path = tmp_path / "images.idx.gz"
    write_idx(path, np.arange(6, dtype=np.uint8).reshape(2, 3))
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_idx(path, np.zeros((5, 3), dtype=np.uint8))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["images.idx.gz"]
    monkeypatch.undo()
    np.testing.assert_array_equal(read_idx(path), np.arange(6, dtype=np.uint8).reshape(2, 3))
