"""Determinism: the same seeds give bit-identical training in one process and across processes; global state untouched.

``tests/test_train.py::test_same_seed_same_run`` checks a plain SGD run twice
in one process; here the run also has dropout, momentum, Adam, float32, a
regulariser and every cost, and is repeated in fresh interpreters.
"""

# ruff: noqa: NPY002  (these tests seed and read numpy's legacy global generator on purpose)
from __future__ import annotations

import hashlib
import io
import json
import random
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minibp as bp

RUN = textwrap.dedent(
    """
    import hashlib
    import numpy as np
    import minibp as bp
    from minibp.regularization import L2

    def run(optimizer_name, cost_name, dtype_name):
        dtype = np.dtype(dtype_name)
        data = np.random.default_rng(7)
        X = np.asfortranarray(data.standard_normal((6, 120)).astype(dtype))
        y = data.integers(0, 4, 120)
        net = bp.Sequential(
            bp.Dense(6, 8, rng=1, dtype=dtype), bp.Tanh(), bp.Dropout(0.3, rng=2),
            bp.Dense(8, 4, rng=3, dtype=dtype),
            bp.Identity() if cost_name == "SoftmaxLogLikelihoodCost" else bp.Sigmoid(),
        )
        kwargs = {"eta": 0.01} if optimizer_name == "Adam" else {"eta": 0.5}
        optimizer = getattr(bp, optimizer_name)(net.parameters(), **kwargs)
        history = bp.train(net, (X, y), optimizer=optimizer, epochs=3, mini_batch_size=7, rng=11, verbose=False,
                           progress=False, cost=getattr(bp, cost_name)(), evaluation_data=(X[:, :30], y[:30]),
                           regularization=L2(net, lmbda=0.5, n=120))
        digest = hashlib.sha256()
        for p in net.parameters():
            digest.update(p.data.tobytes())
        digest.update(repr(history.training_cost).encode())
        digest.update(repr(history.evaluation_cost).encode())
        return digest.hexdigest()
    """
)

CONFIGS = [
    ("SGD", "QuadraticCost", "float64"),
    ("Momentum", "CrossEntropyCost", "float32"),
    ("Adam", "SoftmaxLogLikelihoodCost", "float64"),
    ("Nesterov", "QuadraticCost", "float32"),
]


def run_here(config) -> str:
    namespace: dict = {}
    exec(compile(RUN, "<determinism run>", "exec"), namespace)
    return namespace["run"](*config)


def test_same_seed_is_bit_identical_twice_in_one_process():
    for config in CONFIGS:
        assert run_here(config) == run_here(config), config
    assert len({run_here(c) for c in CONFIGS}) == len(CONFIGS)  # the digests do depend on the run


def test_same_seed_is_bit_identical_in_separate_processes():
    script = RUN + "\nimport sys, json\nprint(json.dumps([run(*c) for c in json.loads(sys.argv[1])]))\n"

    result = subprocess.run(
        [sys.executable, "-c", script, json.dumps(CONFIGS)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [run_here(c) for c in CONFIGS]  # a fresh interpreter and this one agree


@pytest.fixture(autouse=True)
def keep_global_state():
    """These tests seed the global generators; put them back as they were for the rest of the suite."""
    numpy_state, python_state = np.random.get_state(), random.getstate()
    yield
    np.random.set_state(numpy_state)
    random.setstate(python_state)


def test_results_do_not_depend_on_the_global_seeds():
    digests = []
    for seed in (0, 1):
        np.random.seed(seed)
        random.seed(seed)
        digests.append(run_here(CONFIGS[0]))
    assert digests[0] == digests[1]


def everything_minibp_does(tmp_path):
    """Build, train (with dropout and rng=None), evaluate, predict, check, save, load, read data."""
    from minibp import io as bpio
    from minibp.data import load_sample, minibatch_indices, read_idx, write_idx
    from minibp.gradcheck import gradcheck
    from minibp.testing import check_module

    data = load_sample()
    X, y = data.training[0][:, :200], data.training[1][:200]
    nets = [
        bp.mlp([784, 10, 10]),  # rng=None: seeded from the operating system, not from numpy's global state
        bp.Sequential(bp.Dense(784, 12, init="he"), bp.ReLU(), bp.Dropout(0.5), bp.Dense(12, 10), bp.Softmax()),
    ]
    for net, cost in zip(nets, [bp.QuadraticCost(), bp.LogLikelihoodCost()]):
        bp.train(net, (X, y), optimizer=bp.Adam(net.parameters()), epochs=2, mini_batch_size=25, cost=cost,
                 evaluation_data=data.validation, verbose=False, progress=False)  # fmt: skip
        bp.evaluate(net, *data.test)
        bp.accuracy(net, *data.test)
        bp.predict(net, data.test[0])
        bp.summary(net, 784)
        bpio.save(net, tmp_path / "net.npz", rng=np.random.default_rng())
        bpio.load_checkpoint(tmp_path / "net.npz")
    list(minibatch_indices(50, 7, np.random.default_rng()))
    check_module(bp.Dropout(0.5), (3, 4), rng=None)
    gradcheck(bp.Dense(3, 2), np.ones((3, 2)), rng=None)
    buffer = io.BytesIO()
    write_idx(buffer, (X[:, :5].T * 255).astype(np.uint8))
    buffer.seek(0)
    read_idx(buffer)
    bp.init.get_initializer("glorot")(3, 2, np.random.default_rng(), np.float64)


def test_minibp_never_touches_global_random_state(tmp_path):
    np.random.seed(1234)
    random.seed(1234)
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    everything_minibp_does(tmp_path)
    after = np.random.get_state()
    assert after[0] == numpy_state[0] and np.array_equal(after[1], numpy_state[1]) and after[2:] == numpy_state[2:]
    assert random.getstate() == python_state
    # And the legacy generators were not drawn from: the next numbers are the ones the seed gives.
    assert np.random.random() == np.random.RandomState(1234).random_sample()
    assert random.random() == random.Random(1234).random()


@pytest.mark.parametrize("module_name", ["minibp", "minibp.data", "minibp.io", "minibp.testing", "minibp.cli"])
def test_no_module_draws_from_global_state(module_name):
    """A source-level check: no call to numpy's legacy global functions or Python's random module."""
    import ast
    import importlib
    from pathlib import Path

    module = importlib.import_module(module_name)
    files = [Path(module.__file__)]
    if files[0].name == "__init__.py":
        files = sorted(files[0].parent.glob("*.py"))
    legacy = {"seed", "rand", "randn", "randint", "random", "shuffle", "permutation", "choice", "normal", "uniform",
              "standard_normal", "random_sample", "get_state", "set_state", "binomial"}  # fmt: skip
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in legacy:
                owner = ast.unparse(node.value)
                assert owner not in ("np.random", "numpy.random", "random"), f"{path}: {owner}.{node.attr}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = {a.name for a in node.names} | {getattr(node, "module", None)}
                assert "random" not in names, f"{path} imports Python's random module"


def test_rng_none_draws_fresh_entropy_not_a_fixed_seed():
    """rng=None is documented as seeded by the operating system: two networks differ."""
    a, b = bp.mlp([5, 3]), bp.mlp([5, 3])
    assert a[0].w.data.tobytes() != b[0].w.data.tobytes()
    assert hashlib.sha256(a[0].w.data.tobytes()).hexdigest()  # (and are ordinary arrays)
