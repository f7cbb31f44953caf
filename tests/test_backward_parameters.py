"""``backward_parameters``: ``backward`` without the input's gradient, and who gets it.

`train` needs the gradients of the parameters, never the gradient with respect to the data, so it
calls `parameters_only(net, ...)`, and containers pass that on to the modules their input goes
to: a first `Dense` (or `Conv2d`) skips $w^T\\delta$. A ``backward`` changed after the class that
wrote ``backward_parameters`` (in a subclass, by a mixin, on the instance) is never bypassed.
"""

from __future__ import annotations

import numpy as np
import pytest

import minibp as bp
from minibp.conv import Conv2d, MaxPool2d
from minibp.module import parameters_only


def _grads(net, x, g, verb):
    net.zero_grad()
    net(x)
    result = verb(net, g)
    return result, [p.grad.copy() for p in net.parameters()]


NETWORKS = {
    "mlp": lambda d: bp.mlp([6, 5, 3], rng=0, dtype=d),
    "sigmoid first": lambda d: bp.Sequential(bp.Sigmoid(), bp.Dense(6, 3, rng=0, dtype=d)),
    "one Dense": lambda d: bp.Dense(6, 3, rng=0, dtype=d),
    "parallel": lambda d: bp.Sequential(
        bp.Parallel(bp.Dense(6, 2, rng=0, dtype=d), bp.Dense(6, 3, rng=1, dtype=d)), bp.Sigmoid()
    ),
    "residual": lambda d: bp.Sequential(
        bp.Residual(bp.Sequential(bp.Dense(6, 6, rng=0, dtype=d), bp.Tanh())), bp.Dense(6, 3, dtype=d)
    ),
    "conv": lambda d: bp.Sequential(
        Conv2d((1, 4, 4), 2, 3, rng=0, dtype=d), bp.ReLU(), MaxPool2d((2, 2, 2)), bp.Dense(2, 3, rng=1, dtype=d)
    ),
}


@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_backward_parameters_adds_exactly_what_backward_adds(name, dtype):
    net = NETWORKS[name](dtype)
    assert {p.data.dtype for p in net.parameters()} == {np.dtype(dtype)}
    data = np.random.default_rng(3)
    n_in = 16 if name == "conv" else 6
    x = data.standard_normal((n_in, 7)).astype(dtype)
    g = data.standard_normal(net(x).shape).astype(dtype)
    _, full = _grads(net, x, g, lambda n, u: n.backward(u))
    returned, only = _grads(net, x, g, parameters_only)
    assert returned is None
    for a, b in zip(full, only):
        np.testing.assert_array_equal(a, b)  # the same operations on the same arrays: bit for bit


class Spy(bp.Dense):
    """A Dense that counts which verb it gets (both written here, so `parameters_only` may use the short one)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = {"backward": 0, "backward_parameters": 0}

    def backward(self, grad_output):
        self.calls["backward"] += 1
        return super().backward(grad_output)

    def backward_parameters(self, grad_output):
        self.calls["backward_parameters"] += 1
        super().backward_parameters(grad_output)


def test_train_never_asks_the_first_layer_for_the_datas_gradient(rng):
    first, second = Spy(4, 5, rng=0), Spy(5, 3, rng=1)
    net = bp.Sequential(first, bp.Sigmoid(), second, bp.Sigmoid())
    X, y = rng.standard_normal((4, 30)), rng.integers(0, 3, 30)
    bp.train(net, (X, y), epochs=1, mini_batch_size=10, optimizer=bp.SGD(net.parameters(), 1.0), verbose=False)
    # three mini-batches; Dense.backward calls backward_parameters itself for BP3 and BP4
    assert first.calls == {"backward": 0, "backward_parameters": 3}
    assert second.calls == {"backward": 3, "backward_parameters": 3}


class FrozenDense(bp.Dense):
    """A subclass that writes ``backward`` alone: its parameters get no gradient (a frozen layer)."""

    def backward(self, grad_output):
        return self.w.data.T @ grad_output


class Logging:
    """A mixin whose ``backward`` comes before Dense's in the method resolution order."""

    def backward(self, grad_output):
        self.seen = True
        return self.w.data.T @ grad_output  # and no gradient for the parameters


class MixedDense(Logging, bp.Dense):
    pass


class Counting:
    """A mixin that writes both methods and passes both on with ``super()``."""

    def backward(self, grad_output):
        self.seen = True
        return super().backward(grad_output)

    def backward_parameters(self, grad_output):
        self.seen = True
        super().backward_parameters(grad_output)


class CountedFrozen(Counting, FrozenDense):
    pass


class OwnVerbDense(bp.Dense):
    """A subclass that writes ``backward_parameters`` alone: ``Dense.backward`` calls it, so both agree."""

    def backward_parameters(self, grad_output):
        pass  # frozen, for both verbs


def _frozen_first(kind):
    if kind == "instance":
        layer = bp.Dense(4, 5, rng=0)
        layer.backward = lambda grad_output: layer.w.data.T @ grad_output  # replaced on the instance
        return layer
    kinds = {"subclass": FrozenDense, "mixin": MixedDense, "super mixin": CountedFrozen, "own verb": OwnVerbDense}
    return kinds[kind](4, 5, rng=0)


@pytest.mark.parametrize("kind", ["subclass", "mixin", "super mixin", "instance", "own verb"])
@pytest.mark.parametrize("fused", [None, False])
def test_a_backward_changed_after_backward_parameters_is_never_bypassed(kind, fused, rng):
    first = _frozen_first(kind)
    before = first.w.data.copy()
    net = bp.Sequential(first, bp.Sigmoid(), bp.Dense(5, 3, rng=1), bp.Sigmoid())
    X, y = rng.standard_normal((4, 30)), rng.integers(0, 3, 30)
    optimizer = bp.SGD(net.parameters(), 1.0)
    bp.train(net, (X, y), epochs=2, mini_batch_size=10, optimizer=optimizer, fused=fused, verbose=False)
    np.testing.assert_array_equal(first.w.data, before)  # the frozen layer stayed frozen
    assert not np.array_equal(net[2].w.data, bp.Dense(5, 3, rng=1).w.data)  # the rest trained
    if kind in ("mixin", "super mixin"):
        assert first.seen


def test_an_instance_may_replace_both_verbs(rng):
    layer = bp.Dense(4, 3, rng=0)
    calls = []
    layer.backward = lambda g: calls.append("backward") or layer.w.data.T @ g
    layer.backward_parameters = lambda g: calls.append("backward_parameters")
    layer(rng.standard_normal((4, 2)))
    parameters_only(layer, rng.standard_normal((3, 2)))
    assert calls == ["backward_parameters"]


def test_backward_parameters_before_forward_names_the_module():
    for module in (bp.Dense(3, 2), bp.mlp([3, 2]), Conv2d((1, 3, 3), 1, 2)):
        with pytest.raises(RuntimeError, match="backward called before forward"):
            parameters_only(module, np.zeros((2, 1)))


def test_a_wrong_gradient_into_a_container_is_named_on_this_path_too(rng):
    net = bp.Sequential(bp.Parallel(bp.Dense(4, 2, rng=0), bp.Dense(4, 3, rng=1)), bp.Sigmoid())
    net(rng.standard_normal((4, 6)))
    with pytest.raises(bp.ShapeError, match="Sequential"):
        parameters_only(net, np.zeros((4, 6)))
    net[0](rng.standard_normal((4, 6)))
    with pytest.raises(bp.ShapeError, match="Parallel"):
        parameters_only(net[0], np.zeros((4, 6)))
