"""`minibp.io.network2`: the JSON files of the book's network2.py, read, written, and refused when malformed."""

from __future__ import annotations

import json
import os
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from _docs_site import ROOT, load_path

import minibp as bp
from minibp.errors import ModelFormatError, NonFiniteError, ShapeError
from minibp.io.network2 import MAX_BYTES, load_network2, save_network2

# --- a file written as network2.py writes it ------------------------------------------------------


class QuadraticCost:
    """Stands in for network2's class of that name: its save stores only the class's ``__name__``."""


class CrossEntropyCost:
    """Likewise."""


def save_as_network2(path: Path, sizes: list[int], weights: list, biases: list, cost: type) -> None:
    """Write the JSON object network2's ``Network.save`` writes: plain ``json.dump`` of nested lists."""
    record = {
        "sizes": sizes,
        "weights": [w.tolist() for w in weights],
        "biases": [b.tolist() for b in biases],
        "cost": str(cost.__name__),
    }
    with open(path, "w") as f:
        json.dump(record, f)


def sigma(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def book_output(weights: list, biases: list, a: np.ndarray) -> np.ndarray:
    """Eq. 17 layer by layer on one (n, 1) column: a = sigma(w a + b)."""
    for w, b in zip(weights, biases):
        a = sigma(w @ a + b)
    return a


def book_parameters(sizes: list[int], seed: int = 0) -> tuple[list, list]:
    """network2's default start: w ~ N(0, 1/n_in), b ~ N(0, 1)."""
    rng = np.random.default_rng(seed)
    weights = [rng.standard_normal((n_out, n_in)) / np.sqrt(n_in) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    biases = [rng.standard_normal((n_out, 1)) for n_out in sizes[1:]]
    return weights, biases


@pytest.mark.parametrize("cost, expected", [(CrossEntropyCost, bp.CrossEntropyCost), (QuadraticCost, bp.QuadraticCost)])
def test_a_network2_file_loads_and_computes_the_book_feedforward(tmp_path, cost, expected):
    sizes = [784, 30, 10]
    weights, biases = book_parameters(sizes)
    path = tmp_path / "net.json"
    save_as_network2(path, sizes, weights, biases, cost)

    net, loaded_cost = load_network2(path)

    assert type(loaded_cost) is expected
    assert [type(m) for m in net] == [bp.Dense, bp.Sigmoid, bp.Dense, bp.Sigmoid]
    for dense, w, b in zip(net.layers[0::2], weights, biases):
        assert dense.w.data.dtype == np.float64
        np.testing.assert_array_equal(dense.w.data, w)  # JSON keeps every bit of a float
        np.testing.assert_array_equal(dense.b.data, b)
    x = np.random.default_rng(1).uniform(0, 1, (784, 5))
    out = net(x)
    assert out.shape == (10, 5)
    for k in range(5):
        np.testing.assert_allclose(out[:, [k]], book_output(weights, biases, x[:, [k]]), rtol=1e-14, atol=1e-15)


def test_a_loaded_network_trains_with_its_cost(tmp_path):
    path = tmp_path / "net.json"
    save_as_network2(path, [4, 3, 2], *book_parameters([4, 3, 2]), CrossEntropyCost)
    net, cost = load_network2(path)
    before = [p.data.copy() for p in net.parameters()]
    X = np.random.default_rng(2).uniform(0, 1, (4, 20))
    bp.train(net, (X, np.arange(20) % 2), optimizer=bp.SGD(net.parameters(), eta=0.5), cost=cost,
             epochs=2, mini_batch_size=5, rng=0, verbose=False)  # fmt: skip
    assert all(not np.array_equal(p.data, q) for p, q in zip(net.parameters(), before))


# --- save_network2 --------------------------------------------------------------------------------


@pytest.mark.parametrize("cost", [bp.QuadraticCost(), bp.CrossEntropyCost(), bp.QuadraticCost, bp.CrossEntropyCost])
def test_save_then_load_gives_back_every_bit(tmp_path, cost):
    net = bp.mlp([6, 5, 4, 3], rng=3)
    awkward = [0.1, -0.0, 5e-324, 1.7976931348623157e308, -2.2250738585072014e-308, 1 / 3]
    net[0].w.data.flat[: len(awkward)] = awkward
    path = tmp_path / "net.json"

    save_network2(net, path, cost)
    same, loaded_cost = load_network2(path)

    assert type(loaded_cost) is (cost if isinstance(cost, type) else type(cost))
    assert len(same) == len(net)
    for p, q in zip(net.parameters(), same.parameters()):
        assert p.data.shape == q.data.shape and q.data.dtype == np.float64
        assert p.data.tobytes() == q.data.tobytes()  # bit-identical, -0.0 and the subnormal included


def test_save_writes_what_network2_reads(tmp_path):
    """The file holds exactly network2's four keys; its load rebuilds arrays with np.array of the lists."""
    net = bp.mlp([3, 4, 2], rng=0)
    path = tmp_path / "net.json"
    save_network2(net, path, bp.CrossEntropyCost())
    record = json.loads(path.read_text(encoding="ascii"))
    assert record["sizes"] == [3, 4, 2] and all(type(n) is int for n in record["sizes"])
    assert record["cost"] == "CrossEntropyCost"
    assert set(record) == {"sizes", "weights", "biases", "cost"}
    for dense, w, b in zip(net.layers[0::2], record["weights"], record["biases"]):
        np.testing.assert_array_equal(np.array(w), dense.w.data)
        np.testing.assert_array_equal(np.array(b), dense.b.data)
        assert np.array(b).shape == dense.b.shape == (dense.n_out, 1)


def test_a_float32_network_comes_back_as_float64_with_the_same_values(tmp_path):
    net = bp.mlp([3, 2], rng=0, dtype=np.float32)
    path = tmp_path / "net.json"
    save_network2(net, path, bp.QuadraticCost())
    same, _ = load_network2(path)
    assert same[0].w.data.dtype == np.float64
    np.testing.assert_array_equal(same[0].w.data, net[0].w.data.astype(np.float64))


def refused_network(kind: str) -> bp.Module:
    class MyDense(bp.Dense):
        pass

    return {
        "relu": bp.mlp([3, 2], rng=0, activation=bp.ReLU),
        "ends in Dense": bp.Sequential(bp.Dense(3, 2, rng=0)),
        "starts with Sigmoid": bp.Sequential(bp.Sigmoid(), bp.Dense(3, 2, rng=0), bp.Sigmoid()),
        "a Dense subclass": bp.Sequential(MyDense(3, 2, rng=0), bp.Sigmoid()),
        "a Dense alone": bp.Dense(3, 2, rng=0),
        "nested": bp.Sequential(bp.mlp([3, 2], rng=0)),
        "softmax output": bp.Sequential(bp.Dense(3, 2, rng=0), bp.Softmax()),
    }[kind]


@pytest.mark.parametrize(
    "kind",
    ["relu", "ends in Dense", "starts with Sigmoid", "a Dense subclass", "a Dense alone", "nested", "softmax output"],
)
def test_save_refuses_other_networks_and_writes_nothing(tmp_path, kind):
    path = tmp_path / "net.json"
    with pytest.raises(TypeError, match="save_network2"):
        save_network2(refused_network(kind), path, bp.QuadraticCost())
    assert not path.exists()


@pytest.mark.parametrize(
    "cost", [bp.LogLikelihoodCost(), bp.SigmoidCrossEntropyCost(), "QuadraticCost", None, bp.Cost, object()]
)
def test_save_refuses_other_costs(tmp_path, cost):
    path = tmp_path / "net.json"
    with pytest.raises(TypeError, match="QuadraticCost and CrossEntropyCost"):
        save_network2(bp.mlp([3, 2], rng=0), path, cost)
    assert not path.exists()


def test_save_refuses_layers_that_do_not_chain_and_non_finite_parameters(tmp_path):
    path = tmp_path / "net.json"
    path.write_text("old")
    unchained = bp.Sequential(bp.Dense(3, 4, rng=0), bp.Sigmoid(), bp.Dense(5, 2, rng=0), bp.Sigmoid())
    with pytest.raises(ShapeError, match="layer 2 takes 5 inputs but layer 0 gives 4"):
        save_network2(unchained, path, bp.QuadraticCost())
    net = bp.mlp([3, 4, 2], rng=0)
    net[2].b.data[1, 0] = np.nan
    with pytest.raises(NonFiniteError, match="layer 2 b"):
        save_network2(net, path, bp.QuadraticCost())
    assert path.read_text() == "old"


# --- malformed files ------------------------------------------------------------------------------


def good_record() -> dict:
    return {
        "sizes": [2, 3, 1],
        "weights": [[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], [[1.0, 2, -3.5]]],
        "biases": [[[0.0], [1.0], [-1.0]], [[0.25]]],
        "cost": "QuadraticCost",
    }


def changed(change) -> dict:
    record = good_record()
    change(record)
    return record


MALFORMED = {
    "weights rows": (lambda r: r["weights"][0].pop(), r"weights\[0\] must be 3 rows of 2 numbers"),
    "weights row length": (lambda r: r["weights"][1][0].append(0.0), r"weights\[1\]\[0\] must be a row of 3 numbers"),
    "weights transposed": (
        lambda r: r.update(weights=[np.ones((2, 3)).tolist(), [[1.0, 1.0, 1.0]]]),
        r"weights\[0\] must be 3 rows of 2 numbers, shape \(3, 2\), got 2 rows",
    ),
    "flat bias": (lambda r: r["biases"].__setitem__(1, [0.25]), r"biases\[1\]\[0\] must be a row of 1 numbers"),
    "bias of two columns": (lambda r: r["biases"][1][0].append(0.5), r"biases\[1\]\[0\] must be a row of 1 numbers"),
    "a layer missing": (lambda r: r["weights"].pop(), "'weights' must be a list of 2 layers, got a list of 1"),
    "a layer too many": (lambda r: r["biases"].append([[0.0]]), "'biases' must be a list of 2 layers, got a list of 3"),
    "sizes disagree": (lambda r: r.update(sizes=[2, 4, 1]), r"weights\[0\] must be 4 rows"),
    "weights not a list": (lambda r: r.update(weights={"0": 1}), "'weights' must be a list of 2 layers, got dict"),
    "a string": (lambda r: r["weights"][0][1].__setitem__(0, "0.3"), r"weights\[0\]\[1\]\[0\] must be a number"),
    "a bool": (lambda r: r["biases"][0][2].__setitem__(0, True), r"biases\[0\]\[2\]\[0\] must be a number, got True"),
    "a null": (lambda r: r["weights"][1][0].__setitem__(2, None), r"weights\[1\]\[0\]\[2\] must be a number"),
    "a list for a number": (lambda r: r["weights"][1][0].__setitem__(2, [1.0]), r"weights\[1\]\[0\]\[2\] must be"),
    "an int too large": (
        lambda r: r["weights"][1][0].__setitem__(1, 10**400),
        r"weights\[1\]\[0\]\[1\] is not a finite",
    ),
    "unknown cost": (lambda r: r.update(cost="LogLikelihoodCost"), "unknown cost 'LogLikelihoodCost'"),
    "cost as code": (lambda r: r.update(cost="__import__('os')"), "unknown cost"),
    "cost not a string": (lambda r: r.update(cost=["QuadraticCost"]), "unknown cost"),
    "cost missing": (lambda r: r.pop("cost"), r"missing keys \['cost'\]"),
    "an extra key": (lambda r: r.update(eta=0.5), r"unexpected keys \['eta'\]"),
    "sizes of one layer": (lambda r: r.update(sizes=[2]), "at least two positive integers"),
    "a zero size": (lambda r: r.update(sizes=[2, 0, 1]), "at least two positive integers"),
    "a negative size": (lambda r: r.update(sizes=[2, -3, 1]), "at least two positive integers"),
    "a float size": (lambda r: r.update(sizes=[2, 3.0, 1]), "at least two positive integers"),
    "a bool size": (lambda r: r.update(sizes=[2, 3, True]), "at least two positive integers"),
    "sizes a string": (lambda r: r.update(sizes="2,3,1"), "at least two positive integers"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_contents_are_refused_naming_the_file_and_the_fault(tmp_path, case):
    change, message = MALFORMED[case]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(changed(change)))
    with pytest.raises(ModelFormatError, match=message) as err:
        load_network2(path)
    assert repr(str(path)) in str(err.value)


def test_the_good_record_itself_loads(tmp_path):
    path = tmp_path / "good.json"
    path.write_text(json.dumps(good_record()))
    net, cost = load_network2(path)
    np.testing.assert_array_equal(net[2].w.data, [[1.0, 2.0, -3.5]])
    assert type(cost) is bp.QuadraticCost


@pytest.mark.parametrize(
    "text, message",
    [
        ("NaN", "holds NaN"),
        ('{"sizes": [1, 1], "weights": [[[NaN]]], "biases": [[[0]]], "cost": "QuadraticCost"}', "holds NaN"),
        ('{"sizes": [1, 1], "weights": [[[0]]], "biases": [[[-Infinity]]], "cost": "QuadraticCost"}', "-Infinity"),
        ('{"sizes": [1, 1], "weights": [[[1e400]]], "biases": [[[0]]], "cost": "QuadraticCost"}', "not a finite"),
        ("", "not a JSON file"),
        ("{'sizes': [1, 1]}", "not a JSON file"),
        ('{"sizes": [1, 1], ', "not a JSON file"),
        ("[1, 2, 3]", "must hold a JSON object .* got list"),
        ('"a string"', "must hold a JSON object .* got str"),
        ("null", "must hold a JSON object .* got NoneType"),
        ("[" * 100_000, "nested too deeply|not a JSON file"),
        ('{"sizes": [' + "9" * 5000 + "]}", "not a JSON file"),
    ],
)
def test_unparsable_or_non_finite_files_are_refused(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text, encoding="ascii")
    with pytest.raises(ModelFormatError, match=message) as err:
        load_network2(path)
    assert repr(str(path)) in str(err.value)


def test_bytes_that_are_not_text_are_refused(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b"\x80\x04\x95 a pickle, say")
    with pytest.raises(ModelFormatError, match="not a JSON file"):
        load_network2(path)


def test_a_tiny_file_declaring_a_huge_network_fails_fast_without_allocating(tmp_path):
    path = tmp_path / "huge.json"
    record = {"sizes": [100_000, 100_000], "weights": [[[0.0]]], "biases": [[[0.0]]], "cost": "QuadraticCost"}
    path.write_text(json.dumps(record))
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(ModelFormatError, match="declare 10,000,100,000 weights and biases, more than") as err:
            load_network2(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 1.0
    assert peak < 64 << 20, f"refusing a {path.stat().st_size}-byte file allocated {peak:,} bytes"
    assert peak < 1 << 20  # nothing in proportion to the file's limit either
    assert repr(str(path)) in str(err.value)


def test_parsing_takes_at_most_less_than_30_times_the_file(tmp_path):
    """Empty objects are the costliest JSON per byte; the module docstring's bound holds for them."""
    path = tmp_path / "objects.json"
    path.write_text("[" + "{}," * 300_000 + "{}]")
    tracemalloc.start()
    try:
        with pytest.raises(ModelFormatError, match="must hold a JSON object .* got list"):
            load_network2(path, max_bytes=1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 30 * path.stat().st_size


def test_the_parameter_limit_is_half_of_max_bytes(tmp_path):
    """A JSON number takes at least two bytes, so ``max_bytes`` bytes declare at most ``max_bytes // 2`` numbers."""
    path = tmp_path / "net.json"
    record = {"sizes": [10, 10], "weights": [], "biases": [], "cost": "QuadraticCost"}  # 110 parameters
    path.write_text(json.dumps(record))
    assert path.stat().st_size < 100
    with pytest.raises(ModelFormatError, match="declare 110 weights and biases, more than the 109 that a file"):
        load_network2(path, max_bytes=219)
    with pytest.raises(ModelFormatError, match="'weights' must be a list of 1 layers"):  # past the size check
        load_network2(path, max_bytes=220)


def test_a_file_larger_than_max_bytes_is_refused_before_parsing(tmp_path):
    path = tmp_path / "net.json"
    save_network2(bp.mlp([4, 3, 2], rng=0), path, bp.QuadraticCost())
    size = path.stat().st_size
    load_network2(path, max_bytes=size)  # exactly at the limit: read
    with pytest.raises(ModelFormatError, match=f"larger than max_bytes={size - 1:,} bytes") as err:
        load_network2(path, max_bytes=size - 1)
    assert repr(str(path)) in str(err.value)
    assert MAX_BYTES == 16 * 1024 * 1024


def test_max_bytes_must_be_a_positive_integer(tmp_path):
    path = tmp_path / "net.json"
    save_network2(bp.mlp([2, 1], rng=0), path, bp.QuadraticCost())
    for bad in (0, -1, 1.5, True, "100", None):
        with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
            load_network2(path, max_bytes=bad)  # type: ignore[arg-type]


def test_a_missing_file_is_named(tmp_path):
    path = tmp_path / "nothing.json"
    with pytest.raises(FileNotFoundError, match="nothing.json"):
        load_network2(path)
    with pytest.raises(FileNotFoundError):
        load_network2(os.fspath(path))


# --- the how-to's script ---------------------------------------------------------------------------


def test_the_docs_script_saves_loads_and_converts(capsys):
    script = load_path("_docs_example_book_files", ROOT / "docs" / "examples" / "book_files.py")
    assert script.main()
    out = capsys.readouterr().out
    assert "cost: CrossEntropyCost()" in out
    assert "training: (784, 4000) (4000,) int64" in out
    assert "Epoch 0: " in out and " / 500" in out
