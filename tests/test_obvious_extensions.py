"""Extensions written the obvious way keep working: a layer or an optimizer that holds ``p.data`` and ``p.grad``.

A `Parameter`'s ``data`` and ``grad`` are arrays that never move (see
`minibp.module`), so a layer may keep ``self.W = self.w.data`` and an
optimizer may keep the lists of ``p.data`` and ``p.grad`` it was given. Each
must train to exactly what the built-in `Dense` and `SGD` train to.
"""

from __future__ import annotations

import numpy as np
import pytest

import minibp as bp
from minibp.data import load_sample
from minibp.testing import check_module


class HeldDense(bp.Module):
    r"""$z = W x + B$ with ``W`` and ``B`` the parameters' own arrays, taken once in ``__init__``.

    Args:
        w: initial weights, shape ``(n_out, n_in)`` (copied into the parameter).
        b: initial biases, shape ``(n_out, 1)`` (copied into the parameter).
    """

    def __init__(self, w: np.ndarray, b: np.ndarray) -> None:
        self.w = bp.Parameter(w)
        self.b = bp.Parameter(b)
        self.W = self.w.data  # the parameter's array itself, not a copy: an optimizer updates it in place
        self.B = self.b.data

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        return self.W @ x + self.B  # eq. 17: z = w a + b

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        self.b.grad += grad_output.sum(axis=1, keepdims=True)  # BP3
        self.w.grad += grad_output @ self.x.T  # BP4
        return self.W.T @ grad_output  # BP2, first half


class HeldSGD(bp.Optimizer):
    """Plain SGD over the ``p.data`` and ``p.grad`` arrays it collected when it was built."""

    def __init__(self, parameters, eta: float) -> None:
        super().__init__(parameters)
        self.eta = eta
        self.datas = [p.data for p in self.parameters]
        self.grads = [p.grad for p in self.parameters]

    def update(self) -> None:
        for d, g in zip(self.datas, self.grads):
            d -= self.eta * g  # eq. 13-14: w -> w - eta dC/dw


def first_examples(n: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    X, y = load_sample().training
    return X[:, :n], y[:n]


def relative_max(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b| (0 when both are zero)."""
    scale = float(np.abs(b).max())
    return float(np.abs(a - b).max()) / scale if scale else float(np.abs(a).max())


def held_copy(net: bp.Sequential) -> bp.Sequential:
    """``net`` with each `Dense` replaced by a `HeldDense` starting from the same weights and biases."""
    layers = [HeldDense(m.w.data, m.b.data) if isinstance(m, bp.Dense) else type(m)() for m in net]
    return bp.Sequential(*layers)


def fit(net: bp.Module, optimizer: bp.Optimizer, epochs: int) -> None:
    bp.train(
        net,
        first_examples(),
        optimizer=optimizer,
        epochs=epochs,
        mini_batch_size=10,
        rng=0,
        verbose=False,
        progress=False,
        fused=False,
    )


def test_a_layer_holding_w_data_trains_like_dense():
    builtin = bp.mlp([784, 30, 10], rng=0)
    custom = held_copy(builtin)
    start = builtin.state_dict()
    assert all(np.array_equal(custom.state_dict()[k], v) for k, v in start.items())
    fit(builtin, bp.SGD(builtin.parameters(), eta=3.0), epochs=2)
    fit(custom, bp.SGD(custom.parameters(), eta=3.0), epochs=2)
    trained, ours = builtin.state_dict(), custom.state_dict()
    assert set(ours) == set(trained) == {"0.w", "0.b", "2.w", "2.b"}
    for key in trained:
        assert not np.array_equal(trained[key], start[key]), f"{key} did not train"
        assert relative_max(ours[key], trained[key]) <= 1e-12, key
    assert custom[0].W is custom[0].w.data and custom[2].B is custom[2].b.data


@pytest.mark.parametrize("sizes", [[784, 30, 10], [784, 100, 10]], ids=["30", "100"])
def test_an_optimizer_holding_data_and_grad_trains_like_sgd(sizes):
    reference = bp.mlp(sizes, rng=0)
    held = bp.mlp(sizes, rng=0)
    start = reference.state_dict()
    fit(reference, bp.SGD(reference.parameters(), eta=3.0), epochs=1)
    optimizer = HeldSGD(held.parameters(), eta=3.0)
    fit(held, optimizer, epochs=1)
    trained, ours = reference.state_dict(), held.state_dict()
    for key in trained:
        assert not np.array_equal(trained[key], start[key]), f"{key} did not train"
        assert relative_max(ours[key], trained[key]) <= 1e-12, key
    assert all(d is p.data and g is p.grad for d, g, p in zip(optimizer.datas, optimizer.grads, held.parameters()))


def test_the_layer_holding_w_data_passes_the_contract():
    rng = np.random.default_rng(0)
    layer = HeldDense(rng.standard_normal((3, 4)), rng.standard_normal((3, 1)))
    net = held_copy(bp.mlp([4, 5, 3], rng=0))
    for module in (layer, net):
        report = check_module(module, (4, 5), rng=0)
        assert len(report.results) == 13 and set(report.results.values()) == {"ok"}
        assert report.results["optimizer step moves the output as the gradient predicts"] == "ok"
        assert not report.notes
    assert layer.W is layer.w.data and layer.B is layer.b.data  # the kit restored the values, in place
