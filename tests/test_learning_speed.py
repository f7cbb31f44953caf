"""`LearningSpeed`: the book's chapter 5 measure, recorded without changing the run, and saved with the `History`."""

from __future__ import annotations

import doctest
import json
import re
import textwrap

import numpy as np
import pytest
from _docs_site import ROOT, load_path

import minibp as bp
import minibp.callbacks as callbacks_module
from minibp.callbacks import LearningSpeed
from minibp.errors import HyperparameterError, LabelError, ShapeError

EXAMPLES = ROOT / "docs" / "examples"
PAGE = ROOT / "docs" / "how-to" / "vanishing-gradient.md"


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def book_speeds(net, X, Y, cross_entropy=False, threshold=0.01):
    """Per-example BP1-BP3 from the book's equations, on the mean gradient: (||dC/db^l||, saturated share) per layer."""
    layers = [m for m in net.layers if isinstance(m, bp.Dense)]
    ws, bs = [d.w.data for d in layers], [d.b.data[:, 0] for d in layers]
    n = X.shape[1]
    sum_delta = [np.zeros(len(b)) for b in bs]
    saturated = [0] * len(layers)
    for i in range(n):
        a, zs = X[:, i], []
        for w, b in zip(ws, bs):
            z = w @ a + b  # eq. 25
            zs.append(z)
            a = sigmoid(z)
        prime = [sigmoid(z) * (1 - sigmoid(z)) for z in zs]
        delta = a - Y[:, i] if cross_entropy else (a - Y[:, i]) * prime[-1]  # BP1
        deltas = [delta]
        for l in range(len(layers) - 2, -1, -1):
            delta = (ws[l + 1].T @ delta) * prime[l]  # BP2
            deltas.insert(0, delta)
        for l in range(len(layers)):
            sum_delta[l] += deltas[l]  # BP3: dC_x/db = delta_x
            saturated[l] += int(np.sum(prime[l] < threshold))
    speeds = [float(np.linalg.norm(s / n)) for s in sum_delta]
    shares = [saturated[l] / (len(bs[l]) * n) for l in range(len(layers))]
    return speeds, shares


def one_hot(y, k):
    t = np.zeros((k, len(y)))
    t[y, np.arange(len(y))] = 1
    return t


def data(n=40, n_in=6, k=3, seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    return rng.normal(0, scale, (n_in, n)), rng.integers(0, k, n)


# --- the values ------------------------------------------------------------------------------------


@pytest.mark.parametrize("cost", [bp.QuadraticCost(), bp.CrossEntropyCost()], ids=repr)
def test_speeds_and_saturation_equal_a_per_example_computation(cost):
    X, y = data()
    net = bp.mlp([6, 5, 4, 3], rng=1)
    speeds, shares = LearningSpeed((X, y), cost, size=30).measure(net)
    want_speeds, want_shares = book_speeds(net, X[:, :30], one_hot(y[:30], 3), isinstance(cost, bp.CrossEntropyCost))
    np.testing.assert_allclose(speeds, want_speeds, rtol=1e-12)
    assert shares == want_shares
    assert shares[0] is not None and 0 < shares[0] < 1  # large inputs: some, not all, of layer 1 is saturated
    assert speeds[0] != speeds[1]


def test_the_default_probe_is_the_first_1000_examples():
    X, y = data(n=1100, seed=2)
    net = bp.mlp([6, 5, 3], rng=3)
    speeds, shares = LearningSpeed((X, y)).measure(net)
    want_speeds, want_shares = book_speeds(net, X[:, :1000], one_hot(y[:1000], 3))
    np.testing.assert_allclose(speeds, want_speeds, rtol=1e-12)
    assert shares == want_shares
    everything, _ = LearningSpeed((X, y), size=None).measure(net)
    np.testing.assert_allclose(everything, book_speeds(net, X, one_hot(y, 3))[0], rtol=1e-12)
    assert not np.allclose(everything, speeds, rtol=1e-6)


def test_a_probe_larger_than_a_chunk_gives_the_same_mean(monkeypatch):
    X, y = data(n=23)
    net = bp.mlp([6, 5, 4, 3], rng=4)
    speed = LearningSpeed((X, y), bp.CrossEntropyCost())
    whole = speed.measure(net)
    monkeypatch.setattr(callbacks_module, "_PROBE_CHUNK", 5)  # 5 + 5 + 5 + 5 + 3 examples
    chunked = speed.measure(net)
    np.testing.assert_allclose(chunked[0], whole[0], rtol=1e-12)
    assert chunked[1] == whole[1]


def test_targets_and_labels_give_the_same_speeds():
    X, y = data()
    net = bp.mlp([6, 5, 3], rng=5)
    by_labels = LearningSpeed((X, y)).measure(net)
    assert LearningSpeed((X, one_hot(y, 3))).measure(net) == by_labels
    assert LearningSpeed((X, y.astype(float))).measure(net) == by_labels  # labels stored as floats


def test_saturation_is_none_where_no_sigmoid_follows():
    X, y = data()
    rng = np.random.default_rng(0)
    net = bp.Sequential(
        bp.Dense(6, 5, rng=rng), bp.ReLU(), bp.Dense(5, 4, rng=rng), bp.Sigmoid(), bp.Dense(4, 3, rng=rng)
    )
    speeds, shares = LearningSpeed((X, y), bp.SoftmaxLogLikelihoodCost()).measure(net)
    assert len(speeds) == 3 and all(s > 0 for s in speeds)
    assert shares[0] is None and isinstance(shares[1], float) and shares[2] is None


def test_nested_sequentials_are_walked_in_network_order():
    X, y = data()
    flat = bp.mlp([6, 5, 4, 3], rng=6)
    nested = bp.Sequential(bp.Sequential(flat[0], flat[1]), bp.Sequential(flat[2], flat[3], flat[4], flat[5]))
    assert LearningSpeed((X, y)).measure(nested) == LearningSpeed((X, y)).measure(flat)


def test_measure_leaves_gradients_modes_and_generators_as_they_were():
    X, y = data()
    dropout = bp.Dropout(0.5, rng=7)
    net = bp.Sequential(bp.Dense(6, 5, rng=8), bp.Sigmoid(), dropout, bp.Dense(5, 3, rng=9), bp.Sigmoid())
    grads = [np.random.default_rng(i).normal(size=p.shape) for i, p in enumerate(net.parameters())]
    for p, g in zip(net.parameters(), grads):
        p.grad = g
    data_before = [p.data.copy() for p in net.parameters()]
    rng_before = dropout.rng.bit_generator.state
    net.train()
    net[4].eval()  # a mixed state is restored as it was
    LearningSpeed((X, y)).measure(net)
    for p, g, d in zip(net.parameters(), grads, data_before):
        np.testing.assert_array_equal(p.grad, g)
        np.testing.assert_array_equal(p.data, d)
    assert dropout.rng.bit_generator.state == rng_before
    assert [m.training for m in net.modules()] == [True, True, True, True, True, False]


def test_the_docstring_example_runs():
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in finder.find(LearningSpeed, "LearningSpeed", globs={"LearningSpeed": LearningSpeed}):
        runner.run(test)
    assert runner.failures == 0 and runner.tries > 0


class BlasThreads(bp.Module):
    """Passes its input on and records how many threads BLAS had during its forward pass."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        from threadpoolctl import threadpool_info

        self.seen.append(max(info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"))
        return x

    def backward(self, grad_output):
        return grad_output


def test_measuring_runs_blas_on_one_thread_unless_told_otherwise():
    """As train's stepping: on a busy machine threaded measurements of 1,000 examples took eight times as long."""
    from threadpoolctl import threadpool_limits

    X, y = data()
    spy = BlasThreads()
    net = bp.Sequential(bp.Dense(6, 4, rng=0), spy, bp.Sigmoid(), bp.Dense(4, 3, rng=1), bp.Sigmoid())
    with threadpool_limits(limits=2, user_api="blas"):
        one = LearningSpeed((X, y)).measure(net)
        unchanged = LearningSpeed((X, y), blas_threads=None).measure(net)
        two = LearningSpeed((X, y), blas_threads=2).measure(net)
    assert spy.seen == [1, 2, 2]
    # The same products on another number of threads: each sum may be split differently, a few ulp apart.
    for a, b in ((one, unchanged), (one, two)):
        np.testing.assert_allclose(a[0], b[0], rtol=1e-13)
        assert a[1] == b[1]


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda X, y: LearningSpeed((X, y), size=0), HyperparameterError, "size"),
        (lambda X, y: LearningSpeed((X, y), size=True), HyperparameterError, "size"),
        (lambda X, y: LearningSpeed((X, y), threshold=0.0), HyperparameterError, "threshold"),
        (lambda X, y: LearningSpeed((X, y), blas_threads=0), HyperparameterError, "blas_threads"),
        (lambda X, y: LearningSpeed((X, y), blas_threads=True), HyperparameterError, "blas_threads"),
        (lambda X, y: LearningSpeed((X, y), blas_threads=1.5), HyperparameterError, "blas_threads"),
        (lambda X, y: LearningSpeed((X, y[:-1])), ShapeError, "examples"),
        (lambda X, y: LearningSpeed((X[:, 0], y)), ShapeError, "n_in"),
        (lambda X, y: LearningSpeed((X[:, :0], y[:0])), ShapeError, "N >= 1"),
    ],
)
def test_bad_probes_and_settings_are_refused(make, error, match):
    X, y = data()
    with pytest.raises(error, match=match):
        make(X, y)


def test_a_probe_that_does_not_fit_the_network_is_refused_and_gradients_are_kept():
    X, y = data()
    net = bp.mlp([6, 5, 2], rng=10)
    for p in net.parameters():
        p.grad = np.ones(p.shape)
    with pytest.raises(LabelError, match="0..1"):
        LearningSpeed((X, y)).measure(net)  # labels 0..2 for two outputs
    assert all(np.all(p.grad == 1) for p in net.parameters())
    with pytest.raises(ShapeError, match="3 rows"):
        LearningSpeed((X, one_hot(y, 3))).measure(net)
    with pytest.raises(ValueError, match="no Dense"):
        LearningSpeed((X, y)).measure(bp.Sequential(bp.Sigmoid()))


# --- recording changes nothing ---------------------------------------------------------------------


def _run(net_factory, callbacks, fused, epochs=3, cost=None):
    X, y = data(n=60, n_in=20, seed=11, scale=1.0)
    net = net_factory()
    rng = np.random.default_rng(12)
    history = bp.train(net, (X, y), optimizer=bp.SGD(net.parameters(), eta=0.5), epochs=epochs, mini_batch_size=7,
                       cost=cost, evaluation_data=data(n=15, n_in=20, seed=13), rng=rng, verbose=False,
                       callbacks=callbacks, fused=fused)  # fmt: skip
    return net, rng, history


def _same_run(a, b):
    (net_a, rng_a, hist_a), (net_b, rng_b, hist_b) = a, b
    for p, q in zip(net_a.parameters(), net_b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
        assert not p.grad.any() and not q.grad.any()  # every gradient zeroed, as train leaves them
    assert rng_a.bit_generator.state == rng_b.bit_generator.state
    for name in ("epoch", "training_cost", "evaluation_cost", "evaluation_correct", "eta", "stop_reason"):
        assert getattr(hist_a, name) == getattr(hist_b, name), name


@pytest.mark.parametrize("fused", [True, False], ids=["fused path", "modules path"])
def test_training_is_bit_identical_with_and_without_the_callback(fused):
    X, y = data(n=60, n_in=20, seed=11, scale=1.0)
    cost = bp.QuadraticCost()  # shared by train and the callback
    speed = LearningSpeed((X, y), cost, size=50)
    with_it = _run(lambda: bp.mlp([20, 8, 8, 3], rng=14), [speed], fused, cost=cost)  # fused=True raises if not
    without = _run(lambda: bp.mlp([20, 8, 8, 3], rng=14), [], fused, cost=bp.QuadraticCost())
    _same_run(with_it, without)
    history = with_it[2]
    assert len(history.learning_speed) == len(history.saturation) == 3
    assert all(len(row) == 3 for row in history.learning_speed + history.saturation)
    assert speed.initial_speed is not None and len(speed.initial_speed) == 3
    assert history.initial_learning_speed == speed.initial_speed
    assert history.initial_saturation == speed.initial_saturation
    assert history.learning_speed[-1] == list(speed.measure(with_it[0])[0])  # measured on the trained network
    assert without[2].learning_speed == [] and without[2].initial_learning_speed is None


def test_dropout_draws_the_same_masks_with_and_without_the_callback():
    X, y = data(n=60, n_in=20, seed=11, scale=1.0)
    dropouts = []

    def net():
        dropouts.append(bp.Dropout(0.3, rng=15))
        return bp.Sequential(bp.Dense(20, 8, rng=16), bp.Sigmoid(), dropouts[-1], bp.Dense(8, 3, rng=17), bp.Sigmoid())

    with_it = _run(net, [LearningSpeed((X, y))], None)
    without = _run(net, [], None)
    _same_run(with_it, without)
    assert dropouts[0].rng.bit_generator.state == dropouts[1].rng.bit_generator.state
    assert all(m.training for m in with_it[0].modules())  # the callback gave training mode back


def test_an_epoch_the_callback_did_not_see_is_measured_at_the_end():
    X, y = data()
    net = bp.mlp([6, 5, 3], rng=18)
    speed = LearningSpeed((X, y))
    history = bp.History(epoch=[0, 1], learning_speed=[[1.0, 2.0]], saturation=[[0.5, 0.25]])
    speed.on_train_end(history, net, None)  # type: ignore[arg-type]  # as after a Ctrl-C in epoch 1
    assert history.learning_speed[1] == speed.measure(net)[0] and len(history.saturation) == 2
    speed.on_train_end(history, net, None)  # type: ignore[arg-type]
    assert len(history.learning_speed) == 2


# --- saved with the History ------------------------------------------------------------------------


def test_history_round_trip_keeps_the_new_fields(tmp_path):
    X, y = data(n=60, n_in=20, seed=11, scale=1.0)
    rng = np.random.default_rng(0)
    net = bp.Sequential(bp.Dense(20, 8, rng=rng), bp.ReLU(), bp.Dense(8, 3, rng=rng), bp.Sigmoid())
    history = bp.train(net, (X, y), optimizer=bp.SGD(net.parameters(), eta=0.5), epochs=2, mini_batch_size=10,
                       rng=0, verbose=False, callbacks=[LearningSpeed((X, y))])  # fmt: skip
    assert [row[0] for row in history.saturation] == [None, None]  # the ReLU layer
    path = tmp_path / "history.json"
    history.save(path)
    loaded = bp.History.load(path)
    assert loaded == history
    assert loaded.learning_speed == history.learning_speed and loaded.saturation[0][0] is None
    assert loaded.initial_learning_speed == history.initial_learning_speed
    assert bp.History.from_dict(history.to_dict()) == history
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert len(saved["learning_speed"]) == 2 and saved["saturation"][1][0] is None


def test_an_older_history_file_without_the_new_fields_loads(tmp_path):
    old = {  # what History.save wrote before learning_speed existed
        "epoch": [0, 1],
        "training_cost": [0.5, 0.25],
        "evaluation_cost": [None, None],
        "evaluation_correct": [None, None],
        "evaluation_accuracy": [None, None],
        "evaluation_size": 0,
        "seconds": [0.1, 0.1],
        "eta": [3.0, 3.0],
        "training_full_cost": [None, None],
        "training_correct": [None, None],
        "training_accuracy": [None, None],
        "training_size": 100,
        "stop_reason": None,
    }
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old), encoding="utf-8")
    loaded = bp.History.load(path)
    assert loaded.epoch == [0, 1] and loaded.training_size == 100
    assert loaded.learning_speed == [] and loaded.saturation == []
    assert loaded.initial_learning_speed is None and loaded.initial_saturation is None


# --- the how-to page -------------------------------------------------------------------------------


def _page_as_script() -> str:
    """The page's Python blocks, in page order, as the reader sees them (snippet sections, dedented)."""
    blocks = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(encoding="utf-8"), re.M | re.S)
    code = []
    for block in blocks:
        for path, section in re.findall(r'^--8<-- "([^":]+):([\w-]+)"$', block, re.M):
            text = (EXAMPLES / path).read_text(encoding="utf-8")
            body = text.split(f"# --8<-- [start:{section}]\n", 1)[1].split(f"# --8<-- [end:{section}]", 1)[0]
            code.append(textwrap.dedent(body))
    return "\n".join(code)


@pytest.mark.slow
def test_the_page_runs_as_shown_and_shows_earlier_layers_learning_slower(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    script = _page_as_script()
    assert "import minibp as bp" in script and "plot_speed(history" in script
    namespace: dict = {"__name__": "__page__"}
    exec(compile(script, str(PAGE), "exec"), namespace)
    history = namespace["history"]
    assert len(history.epoch) == len(history.learning_speed) == 500  # the book's 500 epochs
    assert history.training_size == 1000 and "L2(net, lmbda=5.0, n=1000)" in script and "mini_batch_size=1000" in script
    before = namespace["before"]
    assert before == history.initial_learning_speed
    assert before[0] < before[1] < before[2] < before[3]  # the book's observation, before training
    assert (tmp_path / "vanishing-gradient.png").stat().st_size > 10_000
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("||dC/db|| after epoch") and lines[0].endswith("output")
    assert lines[1].startswith("(before training)") and len(lines) == 14
    ordered = re.fullmatch(r"hidden 1 < hidden 2 < hidden 3 after (\d+) of 500 epochs", lines[-2])
    assert ordered and int(ordered.group(1)) == 500  # the page: the order holds in every epoch
    speeds = np.array(history.learning_speed)
    assert np.all(speeds[-1] < speeds[0] / 10)  # the page: every layer ends far slower than it started
    assert re.fullmatch(r"the 1,000 training digits classified correctly at the end: [\d.]+%", lines[-1])


@pytest.mark.slow
def test_the_docs_hook_runs_the_example_and_moves_its_figure(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    hooks = load_path("_docs_hooks_vanishing", ROOT / "docs" / "hooks.py")
    monkeypatch.setattr(hooks, "FIGURES", tmp_path / "figures")
    printed = hooks.run_example("howto_vanishing")
    assert printed.startswith("||dC/db|| after epoch")
    assert (tmp_path / "figures" / "vanishing-gradient.png").stat().st_size > 10_000
    assert not (ROOT / "vanishing-gradient.png").exists()  # drawn in an empty folder, not in the project
