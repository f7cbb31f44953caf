"""The checks at the edges of the Module protocol: a layer written like the tutorial's, with no checks of its
own, gets what the built-in layers get from `Module.__call__`, `Cost.__call__` and the containers."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap

import numpy as np
import pytest

import minibp as bp
from minibp.containers import Parallel, Residual
from minibp.module import saved


class Tanh(bp.Module):
    """The tutorial's layer: the mathematics and `saved`, nothing else."""

    def __init__(self) -> None:
        self.a = None

    def forward(self, x):
        self.a = np.tanh(x)
        return self.a

    def backward(self, grad_output):
        return grad_output * (1.0 - saved(self, self.a) ** 2)


class Scale(bp.Module):
    """A layer with ``n_in`` and a float32 parameter, and no checks."""

    def __init__(self, n: int) -> None:
        self.n_in = n
        self.s = bp.Parameter(np.full((n, 1), 2.0, dtype=np.float32))
        self.x = None

    def forward(self, x):
        self.x = x
        return self.s.data * x

    def backward(self, grad_output):
        self.s.grad += (grad_output * saved(self, self.x)).sum(axis=1, keepdims=True)
        return grad_output * self.s.data


class Squashing(Tanh):
    """A broken layer: its gradient has one row, whatever its input had."""

    def backward(self, grad_output):
        return grad_output.sum(axis=0, keepdims=True)


class Transposing(Tanh):
    def backward(self, grad_output):
        return grad_output.T


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4), (3, 0), ()])
def test_a_layer_without_checks_is_refused_a_batch_that_is_not_2d(shape):
    with pytest.raises(bp.ShapeError, match=r"Tanh\(\) expected input of shape \(n, m\), got " + re.escape(str(shape))):
        Tanh()(np.ones(shape))
    with pytest.raises(bp.ShapeError, match=r"(?s)Sequential\(.*\) expected input of shape \(n, m\)"):
        bp.Sequential(Scale(3), Tanh())(np.ones(shape))  # a chain's modules only ever see 2-D batches


def test_a_single_example_and_rows_get_their_hints():
    with pytest.raises(bp.ShapeError, match=r"a single example must be a column: use x.reshape\(-1, 1\)"):
        Tanh()(np.ones(3))
    with pytest.raises(bp.ShapeError, match=r"Scale\(\) expected input of shape \(4, m\), got \(7, 4\).*use x.T"):
        Scale(4)(np.ones((7, 4)))
    with pytest.raises(bp.ShapeError, match=r"\(4, m\), got \(3, 2\)"):
        bp.Sequential(Scale(4))(np.ones((3, 2)))


def test_a_layer_gets_real_input_in_its_parameters_dtype():
    layer = Scale(2)
    assert layer(np.ones((2, 3))).dtype == np.float32  # float64 in, converted to s's dtype
    assert layer.x.dtype == np.float32
    assert Tanh()(np.ones((2, 3), dtype=int)).dtype == np.float64  # no parameters: integers become float64
    assert Tanh()(np.ones((2, 3), dtype=np.float32)).dtype == np.float32
    with pytest.raises(TypeError, match=r"Tanh\(\) expected a real numeric array, got dtype complex128"):
        Tanh()(np.ones((2, 3), dtype=complex))


def test_a_direct_forward_call_skips_the_checks_as_in_pytorch():
    assert Tanh().forward(np.zeros(3)).shape == (3,)  # documented: only module(x) checks


@pytest.mark.parametrize("bad", [Squashing, Transposing])
@pytest.mark.parametrize("wrap", ["Sequential", "Parallel", "Residual"])
def test_a_layer_returning_a_wrongly_shaped_gradient_is_named(bad, wrap):
    layer = bad()
    net = {
        "Sequential": lambda: bp.Sequential(bp.Dense(3, 3, rng=0), layer, bp.Sigmoid()),
        "Parallel": lambda: Parallel(bp.Identity(), layer),
        "Residual": lambda: Residual(layer),
    }[wrap]()
    index = {"Sequential": 1, "Parallel": 1, "Residual": 0}[wrap]
    out = net(np.ones((3, 4)))
    message = rf"{wrap}: module {index} \({type(layer).__name__}\(\)\)\.backward returned"
    with pytest.raises(bp.ShapeError, match=message):
        net.backward(np.ones(out.shape))


def test_a_gradient_handed_to_a_chain_is_checked_against_its_output():
    net = bp.Sequential(Scale(3), Tanh())
    net(np.ones((3, 4)))
    with pytest.raises(bp.ShapeError, match=r"expected grad_output of shape \(3, 4\), got \(4, 3\)"):
        net.backward(np.ones((4, 3)))
    with pytest.raises(TypeError, match=r"real numeric grad_output"):
        net.backward(np.ones((3, 4), dtype=complex))
    grad = net.backward(np.ones((3, 4), dtype=int))  # integers are real: converted
    assert grad.shape == (3, 4) and grad.dtype.kind == "f"


def test_a_layer_returning_complex_numbers_is_named():
    class Complex(Tanh):
        def backward(self, grad_output):
            return grad_output.astype(complex)

    net = bp.Sequential(Complex(), Tanh())
    net(np.ones((2, 3)))
    with pytest.raises(TypeError, match=r"Sequential: module 0 \(Complex\(\)\)\.backward returned dtype complex128"):
        net.backward(np.ones((2, 3)))


def test_saved_is_the_one_backward_before_forward_error():
    for module in (Tanh(), Scale(2), bp.Sequential(Tanh()), Parallel(Tanh()), Residual(Tanh()), bp.Dense(2, 2, rng=0)):
        with pytest.raises(RuntimeError, match=rf"(?s){type(module).__name__}\(.*backward called before forward"):
            module.backward(np.ones((2, 3)))
    assert saved(Tanh(), 0) == 0  # only None means "not yet"


def test_a_cost_without_checks_is_refused_a_bad_pair():
    class Half(bp.Cost):
        def forward(self, a, y):
            self.diff = a - y
            return 0.5 * float(np.sum(self.diff**2))

        def backward(self):
            return self.diff

    with pytest.raises(bp.ShapeError, match=r"Half\(\): output a \(2, 3\) and target y \(3, 2\)"):
        Half()(np.ones((2, 3)), np.ones((3, 2)))
    with pytest.raises(bp.ShapeError, match=r"m >= 1"):
        Half()(np.ones(3), np.ones(3))
    with pytest.raises(TypeError, match=r"Half\(\): a and y must be real numeric arrays"):
        Half()(np.ones((2, 3)), np.ones((2, 3), dtype=complex))
    assert Half()(np.ones((2, 3), dtype=int), np.zeros((2, 3), dtype=int)) == 3.0


def _statements(function) -> int:
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    return sum(1 for node in body for _ in ast.walk(node) if isinstance(_, ast.stmt))


def test_the_built_in_layers_read_like_the_tutorials():
    assert _statements(bp.Dense.forward) + _statements(bp.Dense.backward) <= 6
    for cls in (bp.Sigmoid, bp.Tanh):
        assert _statements(cls.__init__) + _statements(cls.forward) + _statements(cls.backward) <= 5, cls


def test_the_library_calls_modules_through_their_checks():
    """train, summary and the probes call net(x), so a bare layer's wrong input is still a ShapeError."""
    layer = bp.Dense(4, 2, rng=0)
    with pytest.raises(bp.ShapeError, match=r"does not fit the network: Dense\(4, 2\) expected input of shape"):
        bp.train(layer, (np.ones((3, 20)), np.zeros((2, 20))), optimizer=bp.SGD(layer.parameters(), eta=1.0),
                 epochs=1, mini_batch_size=5, verbose=False)  # fmt: skip
    net32 = bp.Sequential(Scale(4), Tanh())
    assert "(4, m)" in bp.summary(net32, 4)  # through Scale(4)(x): checked, in float32
