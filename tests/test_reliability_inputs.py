"""Bad inputs at every entry point: `train`, its ``evaluation_data``, `evaluate`, `accuracy`, `predict`, modules, costs.

Each gets a clear error naming the function or module and the values, and
`train` changes no parameter before raising. ``tests/test_train.py`` checks a
first set of these for `train` alone; here the same table runs through every
entry point.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minibp as bp
from minibp.data import minibatch_indices

N = 20


def data():
    rng = np.random.default_rng(0)
    return np.asfortranarray(rng.standard_normal((4, N))), rng.integers(0, 3, N)


def at(i, value, array):
    out = np.array(array, dtype=np.result_type(array, type(value)) if not isinstance(value, float) else float)
    out.flat[i] = value
    return out


# name -> (make (X, y) from good data, exception, message pattern with {what} for the entry point's name)
CASES = {
    "1-D X": (
        lambda X, y: (X[:, 0], y[:1]),
        bp.ShapeError,
        r"{what}: X must have shape \(n_in, N\).*got \(4,\).*column",
    ),
    "3-D X": (
        lambda X, y: (X[..., None], y),
        bp.ShapeError,
        r"{what}: X must have shape \(n_in, N\).*got \(4, 20, 1\)",
    ),
    "wrong feature count": (
        lambda X, y: (X[:3], y),
        bp.ShapeError,
        # the shape the caller passed, (3, 20), is named either way (predict runs the network on all of X)
        r"{what}: X of shape \(3, 20\) does not fit the network: Dense\(4, 5\) expected input of shape \(4, m\)"
        r"|Dense\(4, 5\) expected input of shape \(4, m\), got \(3, 20\)",
    ),
    "empty": (lambda X, y: (X[:, :0], y[:0]), ValueError, r"{what}: X holds no examples \(shape \(4, 0\)\)"),
    "NaN": (
        lambda X, y: (at(7, np.nan, X), y),
        bp.NonFiniteError,
        r"{what}: X contains non-finite values \(first at index \(0, 7\): nan\)",
    ),
    "+inf": (lambda X, y: (at(5, np.inf, X), y), bp.NonFiniteError, r"{what}: X contains non-finite.*: inf"),
    "-inf": (lambda X, y: (at(5, -np.inf, X), y), bp.NonFiniteError, r"{what}: X contains non-finite.*: -inf"),
    "complex X": (
        lambda X, y: (X.astype(complex), y),
        TypeError,
        r"{what}: X must be a real numeric array, got dtype complex128",
    ),
    "object X": (
        lambda X, y: (X.astype(object), y),
        TypeError,
        r"{what}: X must be a real numeric array, got dtype object",
    ),
    "string X": (lambda X, y: (X.astype(str), y), TypeError, r"{what}: X must be a real numeric array, got dtype <U"),
    "fewer labels": (lambda X, y: (X, y[:-1]), bp.ShapeError, r"{what}: X has 20 examples but y has 19 labels"),
    "label -1": (
        lambda X, y: (X, at(2, -1, y)),
        bp.LabelError,
        r"{what}: label -1 is out of range for a network with 3 outputs \(0\.\.2\)",
    ),
    "label 3": (lambda X, y: (X, at(2, 3, y)), bp.LabelError, r"{what}: label 3 is out of range.*\(0\.\.2\)"),
    "label 2**40": (lambda X, y: (X, at(2, 2**40, y)), bp.LabelError, r"{what}: label 1099511627776 is out of range"),
    "fractional labels": (
        lambda X, y: (X, y + 0.5),
        bp.LabelError,
        r"{what}: labels must be integers, got dtype float64",
    ),
    "NaN label": (lambda X, y: (X, at(2, np.nan, y.astype(float))), bp.LabelError, r"{what}: labels must be integers"),
    "object labels": (
        lambda X, y: (X, y.astype(object)),
        bp.LabelError,
        r"{what}: labels must be integers, got dtype object",
    ),
    "complex labels": (
        lambda X, y: (X, y.astype(complex)),
        bp.LabelError,
        r"{what}: labels must be integers, got dtype complex128",
    ),
    "boolean labels": (lambda X, y: (X, y > 0), bp.LabelError, r"{what}: labels must be integers, got dtype bool"),
    "targets of the wrong size": (
        lambda X, y: (X, np.zeros((2, N))),
        bp.ShapeError,
        r"{what}: .*y.*\(3, 20\).*got \(2, 20\)",
    ),
    "NaN targets": (
        lambda X, y: (X, at(4, np.nan, np.eye(3)[:, y])),
        bp.NonFiniteError,
        r"{what}: y contains non-finite values \(first at index \(0, 4\): nan\)",
    ),
    "3-D targets": (
        lambda X, y: (X, np.zeros((3, N, 1))),
        bp.ShapeError,
        r"{what}: y must be labels.*got \(3, 20, 1\)",
    ),
}


def run(entry, X, y, case=""):
    net = bp.mlp([4, 5, 3], rng=0)
    before = [p.data.copy() for p in net.parameters()]
    good_X, good_y = data()
    try:
        if entry == "train":
            bp.train(
                net, (X, y), optimizer=bp.SGD(net.parameters(), eta=1.0), epochs=1, mini_batch_size=5, verbose=False
            )
        elif entry == "train: evaluation_data":
            bp.train(net, (good_X, good_y), optimizer=bp.SGD(net.parameters(), eta=1.0), epochs=1, mini_batch_size=5,
                     verbose=False, evaluation_data=(X, y))  # fmt: skip
        elif entry == "predict":
            bp.predict(net, X)
        else:
            getattr(bp, entry)(net, X, y)
    finally:
        for p, b in zip(net.parameters(), before):
            assert p.data.tobytes() == b.tobytes(), f"{entry} changed a parameter before raising"


ENTRIES = ["train", "train: evaluation_data", "evaluate", "accuracy", "predict"]


def _about_x(case: str) -> bool:
    return case in {"1-D X", "3-D X", "wrong feature count", "empty", "NaN", "+inf", "-inf"} or case.endswith(" X")


@pytest.mark.parametrize(
    "entry, case",
    [(e, c) for e in ENTRIES for c in CASES if e != "predict" or _about_x(c)],  # predict takes no y
)
def test_bad_data_gets_a_clear_error_everywhere(entry, case):
    make, error, pattern = CASES[case]
    X, y = make(*data())
    with pytest.raises(error, match=pattern.format(what=entry)):
        run(entry, X, y, case)


def test_label_minus_one_never_wraps_to_the_last_class():
    """-1 would index the last output (numpy's negative indexing); it is refused, and 9 is not counted as right."""
    X, y = data()
    net = bp.mlp([4, 10], rng=0)
    y = bp.predict(net, X)
    y_bad = y.copy()
    y_bad[y == 9] = -1
    y_bad[0] = -1
    for call in (bp.evaluate, bp.accuracy):
        with pytest.raises(bp.LabelError, match="label -1"):
            call(net, X, y_bad)
    with pytest.raises(bp.LabelError, match="label -1"):
        bp.train(
            net, (X, y_bad), optimizer=bp.SGD(net.parameters(), eta=1.0), epochs=1, mini_batch_size=5, verbose=False
        )


@pytest.mark.parametrize("m", [0, -1, N + 1, 10**9, 2.0, True, "10", None])
def test_bad_mini_batch_size_is_refused_before_any_change(m):
    X, y = data()
    net = bp.mlp([4, 5, 3], rng=0)
    before = [p.data.copy() for p in net.parameters()]
    with pytest.raises(bp.HyperparameterError, match=rf"mini_batch_size must be.*{m!r}" if m != N + 1 else r"\(20\)"):
        bp.train(net, (X, y), optimizer=bp.SGD(net.parameters(), eta=1.0), epochs=1, mini_batch_size=m, verbose=False)
    assert all((p.data == b).all() for p, b in zip(net.parameters(), before))


class Recorder(bp.Module):
    """Passes its input through and records, per forward call, the example ids it saw (row 0 holds the id)."""

    def __init__(self):
        self.seen: list[list[int]] = []

    def forward(self, x):
        if self.training:
            self.seen.append([int(v) for v in np.asarray(x)[0]])
        return x

    def backward(self, grad_output):
        return grad_output


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), data=st.data())
def test_each_example_is_used_exactly_once_per_epoch(n, data):
    m = data.draw(st.integers(1, n), label="mini_batch_size")
    epochs = data.draw(st.integers(1, 3), label="epochs")
    X = np.vstack([np.arange(n, dtype=float), np.ones(n)])
    recorder = Recorder()
    net = bp.Sequential(recorder, bp.Dense(2, 2, rng=0))
    bp.train(net, (X, np.zeros(n, dtype=int)), optimizer=bp.SGD(net.parameters(), eta=1e-3), epochs=epochs,
             mini_batch_size=m, rng=data.draw(st.integers(0, 99)), verbose=False)  # fmt: skip
    per_epoch = -(-n // m)
    assert len(recorder.seen) == epochs * per_epoch
    for e in range(epochs):
        batches = recorder.seen[e * per_epoch : (e + 1) * per_epoch]
        assert [len(b) for b in batches] == [m] * (n // m) + ([n % m] if n % m else [])
        assert sorted(i for b in batches for i in b) == list(range(n))
    # The generator-level iterator says the same.
    rng = np.random.default_rng(0)
    assert sorted(np.concatenate(list(minibatch_indices(n, m, rng))).tolist()) == list(range(n))


# -- modules and costs ------------------------------------------------------------------------------


def activations():
    return [bp.Sigmoid(), bp.Tanh(), bp.ReLU(), bp.Identity(), bp.Softmax(), bp.Dropout(0.5, rng=0)]


@pytest.mark.parametrize("dtype", [complex, object, str])
def test_every_module_refuses_non_real_arrays_naming_itself(dtype):
    x = np.ones((4, 3)).astype(dtype)
    for module in [bp.Dense(4, 2, rng=0), bp.mlp([4, 2], rng=0), *activations()]:
        name = re.escape(repr(module))  # the module called: a chain checks its batch before its first module
        with pytest.raises(TypeError, match=rf"{name} expected a real numeric array, got dtype"):
            module(x)


def test_module_shape_errors_name_the_module_and_both_shapes():
    dense = bp.Dense(4, 2, rng=0)
    with pytest.raises(bp.ShapeError, match=r"Dense\(4, 2\) expected input of shape \(4, m\), got \(4,\).*reshape"):
        dense(np.ones(4))
    with pytest.raises(bp.ShapeError, match=r"Dense\(4, 2\) expected input of shape \(4, m\), got \(3, 4\).*x\.T"):
        dense(np.ones((3, 4)))
    with pytest.raises(bp.ShapeError, match=r"Dense\(4, 2\) expected input.*got \(3, 5\)"):
        bp.mlp([4, 2], rng=0)(np.ones((3, 5)))
    with pytest.raises(bp.ShapeError, match=r"Softmax\(\) expected input of shape \(n, m\), got \(3,\)"):
        bp.Softmax()(np.ones(3))
    chain = bp.Sequential(dense)  # a direct backward call skips the checks: a container's does not
    chain(np.ones((4, 5)))
    with pytest.raises(
        bp.ShapeError,
        match=r"(?s)Sequential\(.*Dense\(4, 2\).*\)\.backward expected grad_output of shape \(2, 5\), got \(5, 2\)",
    ):
        chain.backward(np.ones((5, 2)))
    for module in activations():
        chain = bp.Sequential(module)
        chain(np.ones((3, 5)))
        with pytest.raises(bp.ShapeError, match=r"backward expected grad_output of shape \(3, 5\), got \(3, 4\)"):
            chain.backward(np.ones((3, 4)))


@pytest.mark.parametrize("shape", [(), (3,), (2, 3, 1)])
def test_every_activation_refuses_input_that_is_not_a_batch(shape):
    """Every activation takes (n, m) batches, as Dense and Softmax do; a vector gets the reshape hint."""
    for module in [bp.Sigmoid(), bp.Tanh(), bp.ReLU(), bp.Identity(), bp.Softmax(), bp.Dropout(0.5, rng=0)]:
        with pytest.raises(bp.ShapeError, match=rf"{type(module).__name__}.*expected input of shape \(n, m\)"):
            module(np.ones(shape))
    with pytest.raises(bp.ShapeError, match="reshape"):
        bp.Sigmoid()(np.ones(3))


COSTS = [bp.QuadraticCost, bp.CrossEntropyCost, bp.LogLikelihoodCost, bp.SoftmaxLogLikelihoodCost]


@pytest.mark.parametrize("cost", COSTS)
def test_costs_refuse_bad_shapes_and_non_real_arrays(cost):
    a, y = np.full((3, 4), 0.25), np.eye(3, 4)
    name = cost.__name__
    for bad_a, bad_y in [(a[:, 0], y[:, 0]), (a, y[:2]), (a, y.T), (a[..., None], y[..., None])]:
        with pytest.raises(
            bp.ShapeError, match=rf"{name}\(\): output a \S.* and target y \S.* must both be \(n_L, m\)"
        ):
            cost()(bad_a, bad_y)
    for dtype in (complex, object):
        with pytest.raises(TypeError, match=rf"{name}\(\): a and y must be real numeric arrays"):
            cost()(a.astype(dtype), y)
        with pytest.raises(TypeError, match=rf"{name}\(\): a and y must be real numeric arrays"):
            cost()(a, y.astype(dtype))


@pytest.mark.parametrize(
    "make, error, pattern",
    [
        (lambda: bp.Dense(0, 3), ValueError, r"Dense: n_in must be a positive integer, got 0"),
        (lambda: bp.Dense(3, 2.5), ValueError, r"Dense: n_out must be a positive integer, got 2\.5"),
        (lambda: bp.Dense(3, 2, dtype=np.int32), TypeError, r"Dense: dtype must be float32 or float64, got int32"),
        (lambda: bp.Dense(3, 2, rng="seed"), TypeError, r"rng must be a numpy\.random\.Generator.*got str"),
        (lambda: bp.Dropout(1.0), bp.HyperparameterError, r"Dropout: p must be in \[0, 1\), got 1\.0"),
        (lambda: bp.Dropout(float("nan")), bp.HyperparameterError, r"Dropout: p must be in \[0, 1\), got nan"),
        (lambda: bp.mlp([3]), ValueError, r"mlp: sizes needs at least an input and an output size, got \[3\]"),
        (lambda: bp.Sequential(), ValueError, r"Sequential needs at least one module"),
        (lambda: bp.Sequential(bp.Dense(2, 2), print), TypeError, r"Sequential: item 1 is builtin_function_or_method"),
        (lambda: bp.SGD([], eta=1.0), ValueError, r"SGD: got an empty parameter list"),
        (lambda: bp.SGD(bp.mlp([2, 2]).parameters(), eta=0), bp.HyperparameterError, r"SGD: eta must be.*> 0, got 0"),
        (lambda: bp.SGD(bp.mlp([2, 2]).parameters(), eta=float("inf")), bp.HyperparameterError, r"got inf"),
        (lambda: bp.Adam(bp.mlp([2, 2]).parameters(), beta1=1.0), bp.HyperparameterError, r"Adam: beta1 .*got 1\.0"),
    ],
)
def test_bad_construction_arguments(make, error, pattern):
    with pytest.raises(error, match=pattern):
        make()


@pytest.mark.parametrize(
    "args, pattern",
    [
        (["--sizes", "784"], r"--sizes needs at least two sizes, each >= 1, got \[784\]"),
        (["--sizes", "784", "0", "10"], r"--sizes needs at least two sizes.*got \[784, 0, 10\]"),
        (["--save", "{missing}/m.npz"], r"--save .*/m\.npz: the directory '.*missing' does not exist"),
        (["--history", "{missing}/h.json"], r"--history .*/h\.json: the directory '.*missing' does not exist"),
    ],
)
def test_command_line_refuses_bad_settings_before_loading_or_training(args, pattern, tmp_path, capsys):
    from minibp.cli import main

    args = [a.format(missing=tmp_path / "missing") for a in args]
    with pytest.raises(SystemExit, match=pattern):
        main(["train", "--epochs", "1", *args])
    assert "Epoch" not in capsys.readouterr().out
