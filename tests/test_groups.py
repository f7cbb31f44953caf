"""One optimizer per group of parameters: train(..., optimizer=[opt_a, opt_b])."""

import json

import numpy as np
import pytest

import minibp as bp
from minibp.cli import main
from minibp.data.batches import minibatch_indices
from minibp.errors import DivergedError
from minibp.io.format import write_npz
from minibp.regularization import L2, WeightDecay


def blobs(n=120, k=3, d=4, seed=5):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n)
    X = rng.standard_normal((d, k))[:, labels] * 3 + rng.standard_normal((d, n))
    targets = np.eye(k)[:, labels]  # (k, n) target vectors
    return np.asfortranarray(X), targets


def two_sgds(net, eta_a=0.5, eta_b=2.0):
    return [bp.SGD(net[0].parameters(), eta=eta_a), bp.SGD(net[2].parameters(), eta=eta_b)]


def hand_loop(net, X, Y, etas, epochs, m, seed, l2=None, wd=None):
    """The written-out loop: each layer's parameters stepped with its own eta, the L2 gradient added once."""
    cost, rng = bp.QuadraticCost(), np.random.default_rng(seed)
    groups = [(net[0].parameters(), etas[0]), (net[2].parameters(), etas[1])]
    for _ in range(epochs):
        for idx in minibatch_indices(X.shape[1], m, rng):
            x, y = X.T.take(idx, axis=0).T, Y.T.take(idx, axis=0).T
            cost(net(x), y)
            net.zero_grad()
            net.backward(cost.backward())
            for params, eta in groups:
                for p in params:
                    weight = p is net[0].w or p is net[2].w
                    if weight and l2 is not None:
                        p.grad += (l2[0] / l2[1]) * p.data  # (lambda / n) w, once
                    if weight and wd is not None:
                        p.data *= 1.0 - eta * wd  # each weight with its own optimizer's eta
                    p.data -= eta * p.grad


@pytest.mark.parametrize("regularizer", [None, "L2", "WeightDecay"])
def test_two_sgds_equal_the_hand_written_loop(regularizer):
    X, Y = blobs()
    net, reference = bp.mlp([4, 5, 3], rng=0), bp.mlp([4, 5, 3], rng=0)
    regularization = {None: None, "L2": L2(net, lmbda=3.0, n=120), "WeightDecay": WeightDecay(net, wd=0.05)}
    history = bp.train(
        net, (X, Y), optimizer=two_sgds(net), epochs=3, mini_batch_size=10, rng=7, verbose=False,
        regularization=regularization[regularizer],
    )
    hand_loop(
        reference, X, Y, (0.5, 2.0), 3, 10, 7,
        l2=(3.0, 120) if regularizer == "L2" else None, wd=0.05 if regularizer == "WeightDecay" else None,
    )
    for (name, p), q in zip(net.named_parameters(), reference.parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)  # the same operations in the same order
    assert history.eta == [[0.5, 2.0]] * 3


def test_overlap_is_refused_by_name_before_training():
    X, Y = blobs()
    net = bp.mlp([4, 5, 3], rng=0)
    before = net.state_dict()
    optimizers = [bp.SGD(net.parameters(), eta=0.5), bp.SGD([net[2].b], eta=1.0)]
    with pytest.raises(ValueError, match=r"parameter '2\.b' is in optimizer\[0\] and in optimizer\[1\]"):
        bp.train(net, (X, Y), optimizer=optimizers, epochs=1, mini_batch_size=10, verbose=False)
    for name, value in net.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_a_foreign_parameter_is_refused():
    X, Y = blobs()
    net, other = bp.mlp([4, 5, 3], rng=0), bp.mlp([4, 5, 3], rng=1)
    optimizers = [bp.SGD(net[0].parameters(), eta=0.5), bp.SGD(other[2].parameters(), eta=1.0)]
    with pytest.raises(ValueError, match=r"optimizer\[1\] .* parameter 0 \(3, 5\), which is not a parameter of"):
        bp.train(net, (X, Y), optimizer=optimizers, epochs=1, mini_batch_size=10, verbose=False)
    with pytest.raises(TypeError, match=r"optimizer\[1\] is str"):
        bp.train(net, (X, Y), optimizer=[optimizers[0], "sgd"], epochs=1, mini_batch_size=10, verbose=False)
    with pytest.raises(ValueError, match="empty list"):
        bp.train(net, (X, Y), optimizer=[], epochs=1, mini_batch_size=10, verbose=False)


def test_frozen_parameters_stay_unchanged_and_are_named_once(capsys):
    X, Y = blobs()
    net = bp.mlp([4, 5, 3], rng=0)
    frozen = net[2].w.data.copy(), net[2].b.data.copy()
    first = net[0].w.data.copy()
    history = bp.train(
        net, (X, Y), optimizer=[bp.SGD(net[0].parameters(), eta=0.5)], epochs=3, mini_batch_size=10, rng=0,
        evaluation_data=(X, Y), regularization=L2(net, lmbda=1.0, n=120),
    )
    np.testing.assert_array_equal(net[2].w.data, frozen[0])
    np.testing.assert_array_equal(net[2].b.data, frozen[1])
    assert not np.array_equal(net[0].w.data, first)
    out = capsys.readouterr().out
    assert out.count("Frozen (in no optimizer, not trained): 2.w, 2.b\n") == 1
    assert history.eta == [0.5, 0.5, 0.5]  # a float per epoch with one optimizer
    bp.train(net, (X, Y), optimizer=[bp.SGD(net.parameters(), eta=0.5)], epochs=1, mini_batch_size=10)
    assert "Frozen" not in capsys.readouterr().out


def test_halve_on_plateau_halves_every_optimizer(capsys):
    X, Y = blobs()
    net = bp.mlp([4, 5, 3], rng=0)
    a, b = 2.0**-30, 2.0**-28  # too small to change the accuracy: every epoch is a plateau
    history = bp.train(
        net, (X, Y), optimizer=two_sgds(net, a, b), epochs=4, mini_batch_size=10, rng=0,
        evaluation_data=(X, Y), schedule=bp.HalveOnPlateau(eta=a, patience=1),
    )
    assert len(set(history.evaluation_correct)) == 1
    assert history.eta[0] == [a, b]
    assert history.eta[-1][0] < a  # halved at least once
    for eta_a, eta_b in history.eta:
        assert eta_b == 4 * eta_a  # the ratio is kept: both scaled by the same factor
        assert np.log2(a / eta_a).is_integer()
    out = capsys.readouterr().out
    assert "eta = [4.656612873e-10, 1.862645149e-09] from epoch " in out  # a/2 and b/2, as typed (10 digits)
    assert "(was [9.313225746e-10, 3.725290298e-09])" in out


def test_callbacks_receive_the_list():
    X, Y = blobs()
    net = bp.mlp([4, 5, 3], rng=0)
    optimizers, seen = two_sgds(net), []

    class Spy:
        def on_train_begin(self, net, optimizer, history):
            seen.append(optimizer)

        def on_epoch_end(self, epoch, history, net, optimizer):
            seen.append(optimizer)

    bp.train(net, (X, Y), optimizer=optimizers, epochs=2, mini_batch_size=10, verbose=False, callbacks=[Spy()])
    assert len(seen) == 3 and all(o is optimizers for o in seen)


def test_a_refused_step_changes_no_group():
    X, Y = blobs()
    net = bp.mlp([4, 5, 3], rng=0)
    before = net.state_dict()

    class Exploding(bp.SGD):
        def update(self):
            super().update()
            self.parameters[0].data[0, 0] = np.inf

    optimizers = [bp.SGD(net[0].parameters(), eta=0.5), Exploding(net[2].parameters(), eta=1.0)]
    with pytest.raises(DivergedError, match=r"Exploding.step: the update of parameter 0 \(3, 5\) would overflow"):
        bp.train(net, (X, Y), optimizer=optimizers, epochs=1, mini_batch_size=10, verbose=False)
    for name, value in net.state_dict().items():  # the first optimizer's update was undone too
        np.testing.assert_array_equal(value, before[name], err_msg=name)


def test_fused_falls_back_with_a_reason(capsys):
    X, Y = blobs()
    net = bp.mlp([4, 5, 3], rng=0)
    bp.train(net, (X, Y), optimizer=two_sgds(net), epochs=1, mini_batch_size=10)
    assert "modules' forward and backward (a list of 2 optimizers (the fused epoch steps one SGD))" in (
        capsys.readouterr().out
    )
    with pytest.raises(ValueError, match=r"fused=True.*a list of 2 optimizers"):
        bp.train(net, (X, Y), optimizer=two_sgds(net), epochs=1, mini_batch_size=10, fused=True)


def momentum_and_adam(net):
    return [bp.Momentum(net[0].parameters(), eta=0.1, mu=0.9), bp.Adam(net[2].parameters(), eta=0.01)]


def test_checkpoint_of_two_optimizers_resumes_as_an_uninterrupted_run(tmp_path):
    X, Y = blobs()
    kwargs = dict(mini_batch_size=10, verbose=False, evaluation_data=(X, Y))
    net = bp.mlp([4, 5, 3], rng=0)
    bp.train(net, (X, Y), optimizer=momentum_and_adam(net), epochs=4, rng=np.random.default_rng(3), **kwargs)

    first, rng = bp.mlp([4, 5, 3], rng=0), np.random.default_rng(3)
    optimizers = momentum_and_adam(first)
    history = bp.train(first, (X, Y), optimizer=optimizers, epochs=2, rng=rng, **kwargs)
    bp.io.save(first, tmp_path / "ckpt.npz", optimizer=optimizers, history=history, rng=rng)
    ckpt = bp.io.load_checkpoint(tmp_path / "ckpt.npz")
    assert ckpt.format_version == 3
    assert [s["type"] for s in ckpt.optimizer_state] == ["Momentum", "Adam"] and ckpt.optimizer_state[1]["t"] == 24
    assert ckpt.history["eta"] == [[0.1, 0.01], [0.1, 0.01]]
    resumed = momentum_and_adam(ckpt.net)
    for optimizer, state in zip(resumed, ckpt.optimizer_state):
        optimizer.load_state_dict(state)
    for saved, restored in zip(optimizers, resumed):
        for key, value in saved.state_dict().items():
            np.testing.assert_array_equal(restored.state_dict()[key], value, err_msg=key)
    bp.train(ckpt.net, (X, Y), optimizer=resumed, epochs=2, rng=ckpt.rng, **kwargs)
    for (name, p), q in zip(net.named_parameters(), ckpt.net.parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)


def test_one_optimizer_files_keep_their_format(tmp_path):
    net = bp.mlp([4, 5, 3], rng=0)
    bp.io.save(net, tmp_path / "one.npz", optimizer=bp.Momentum(net.parameters(), eta=0.1))
    ckpt = bp.io.load_checkpoint(tmp_path / "one.npz")
    assert ckpt.format_version == 1 and ckpt.optimizer_state["type"] == "Momentum"
    with np.load(tmp_path / "one.npz", allow_pickle=False) as archive:
        names = sorted(k for k in archive.files if k.startswith("optimizer/"))
    assert names == [f"optimizer/velocity.{i}" for i in range(4)]
    bp.io.save(net, tmp_path / "two.npz", optimizer=momentum_and_adam(net))
    with np.load(tmp_path / "two.npz", allow_pickle=False) as archive:
        names = sorted(k for k in archive.files if k.startswith("optimizer/"))
    assert names[:2] == ["optimizer/0/velocity.0", "optimizer/0/velocity.1"] and "optimizer/1/first_moment.1" in names
    with pytest.raises(ValueError, match="empty list"):
        bp.io.save(net, tmp_path / "none.npz", optimizer=[])


def test_a_list_of_optimizer_states_needs_format_3(tmp_path):
    net = bp.mlp([4, 5, 3], rng=0)
    bp.io.save(net, tmp_path / "two.npz", optimizer=momentum_and_adam(net))
    with np.load(tmp_path / "two.npz", allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files}
    header = json.loads(arrays.pop("minibp.json").tobytes())
    assert header["format_version"] == 3 and header["cost"] is None  # format 3 for the list, the cost unknown
    for version, entry, pattern in [
        (2, header["optimizer"], "malformed optimizer state"),  # a list is not an optimizer entry before format 3
        (3, [], "malformed optimizer state"),
        (3, [{"scalars": {}, "arrays": ["velocity.0"], "extra": 1}], "malformed optimizer state"),
        (3, header["optimizer"][:1], r"unexpected.*optimizer/1/first_moment\.0"),  # entries the header does not name
    ]:
        doctored = {**header, "format_version": version, "optimizer": entry}
        if version == 2:
            del doctored["cost"]  # format 3's key, null here: the file is otherwise a valid format 2
        text = json.dumps(doctored).encode()
        with open(tmp_path / "bad.npz", "wb") as f:
            write_npz(f, {"minibp.json": np.frombuffer(text, dtype=np.uint8), **arrays})
        with pytest.raises(bp.ModelFormatError, match=pattern):
            bp.io.load_checkpoint(tmp_path / "bad.npz")


def test_info_lists_every_optimizer(tmp_path, capsys):
    net = bp.mlp([4, 5, 3], rng=0)
    bp.io.save(net, tmp_path / "two.npz", optimizer=momentum_and_adam(net))
    assert main(["info", str(tmp_path / "two.npz")]) == 0
    out = capsys.readouterr().out
    assert "format version 3" in out
    assert "Optimizer 0: Momentum (eta = 0.1, mu = 0.9)" in out and "Optimizer 1: Adam (eta = 0.01," in out
