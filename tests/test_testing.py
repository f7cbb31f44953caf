import numpy as np
import pytest

import minibp as bp
from minibp import io as bpio
from minibp.testing import check_module

# Modules whose constructor needs arguments; every other registered module is built with no arguments.
FACTORIES = {
    "Dense": lambda: bp.Dense(4, 3, rng=0),
    "Sequential": lambda: bp.mlp([4, 5, 3], rng=0),
    "Dropout": lambda: bp.layers.Dropout(0.4, rng=0),
}


def builtin_modules():
    return sorted(name for name, cls in bpio.registered_modules().items() if cls.__module__.startswith("minibp."))


@pytest.mark.parametrize("name", builtin_modules())
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_every_builtin_module_passes_the_contract(name, mode):
    cls = bpio.registered_modules()[name]
    module = FACTORIES[name]() if name in FACTORIES else cls()
    module.train(mode == "train")
    report = check_module(module, (4, 5), rng=1)
    assert report.ok and len(report.results) >= 9
    assert set(report.gradcheck_errors) == {"input", *(n for n, _ in module.named_parameters())}
    assert max(report.gradcheck_errors.values()) < 1e-7
    assert module.training == (mode == "train")  # the kit leaves the mode as it found it


def test_random_module_is_replayed_and_its_generator_left_alone():
    if not hasattr(bp.layers, "Dropout"):
        pytest.skip("no Dropout module")
    layer = bp.layers.Dropout(0.5, rng=3)
    state = layer.rng.bit_generator.state
    report = check_module(layer, (6, 4))
    assert any("replayed" in note for note in report.notes)
    assert layer.rng.bit_generator.state == state


def test_report_lists_every_check():
    text = str(check_module(bp.Dense(3, 2, rng=0), np.ones((3, 4)) / 3))
    for check in [
        "forward output",
        "inputs not mutated",
        "backward adds into grad",
        "backward repeatable",
        "backward linear",
        "zero grad_output",
        "read-only",
        "column order",
        "gradient check",
    ]:
        assert check in text
    assert text.startswith("Dense(3, 2) passes all 10 contract checks")


# -- deliberately wrong layers ----------------------------------------------------------------------


class WrongGradient(bp.Dense):
    """Forgets the bias gradient's sum over the batch: BP3 applied to the first example only."""

    def backward(self, grad_output):
        grad_input = super().backward(grad_output)
        self.b.grad = grad_output[:, :1]
        return grad_input


class WrongInputGradient(bp.Sigmoid):
    def backward(self, grad_output):
        return 2 * super().backward(grad_output)


class MutatesInput(bp.Module):
    def forward(self, x):
        x *= 2  # overwrites the caller's array
        return x.copy()

    def backward(self, grad_output):
        return 2 * grad_output


class Assigns(bp.Dense):
    """Assigns into grad instead of adding: right after zero_grad, wrong when gradients accumulate."""

    def backward(self, grad_output):
        self.b.grad = grad_output.sum(axis=1, keepdims=True)
        self.w.grad = grad_output @ self.x.T
        return self.w.data.T @ grad_output


class NotRepeatable(bp.Module):
    def __init__(self):
        self.calls = 0

    def forward(self, x):
        return 3 * x

    def backward(self, grad_output):
        self.calls += 1
        return 3 * grad_output * (1 + 1e-3 * self.calls)


class Nonlinear(bp.Module):
    def forward(self, x):
        self.x = x
        return x.copy()

    def backward(self, grad_output):
        return grad_output + 0.1 * grad_output**2


class BadShape(bp.Module):
    def forward(self, x):
        return x.sum(axis=0)

    def backward(self, grad_output):
        return grad_output


def failure(module, x=(4, 5)):
    with pytest.raises(AssertionError) as info:
        check_module(module, x, rng=0)
    return str(info.value)


def test_wrong_parameter_gradient_is_reported_by_parameter():
    message = failure(WrongGradient(4, 3, rng=0))
    assert "Dense(4, 3) fails" in message
    assert "gradient check (float64): analytic and numerical gradients disagree: parameter 'b'" in message
    assert "parameter 'w'" not in message.split("gradient check (float64):")[1].splitlines()[0]
    assert "batching and column order: grad of parameter 'b'" in message


def test_wrong_input_gradient_is_reported():
    message = failure(WrongInputGradient())
    assert "gradient check (float64): analytic and numerical gradients disagree: input" in message


def test_mutating_the_input_is_reported():
    message = failure(MutatesInput())
    assert "inputs not mutated: forward or backward mutated its input x (20 entries changed)" in message


def test_assigning_instead_of_adding_is_reported():
    message = failure(Assigns(4, 3, rng=0))
    assert "backward adds into grad: parameter 'w': after two backward calls without zero_grad" in message
    assert "+=" in message
    assert "gradient check (float64): ok" in message  # a single backward is right: only accumulation is wrong


def test_non_repeatable_backward_is_reported():
    message = failure(NotRepeatable())
    assert "backward repeatable: grad_input of a second identical backward: relative difference" in message


def test_nonlinear_backward_is_reported():
    message = failure(Nonlinear())
    assert "backward linear in grad_output: grad_input: b(αg1+βg2) vs αb(g1)+βb(g2)" in message


def test_wrong_output_shape_stops_early_with_the_shapes():
    message = failure(BadShape())
    assert "forward output: forward returned shape (5,) for input (4, 5); expected (n_out, 5)" in message


def test_non_float64_parameters_are_refused_up_front():
    with pytest.raises(TypeError, match="checks in float64.*dtype=np.float64"):
        check_module(bp.Dense(3, 2, rng=0, dtype=np.float32), (3, 2))


def test_report_without_raising():
    report = check_module(Assigns(3, 2, rng=0), (3, 4), raise_on_failure=False)
    assert not report and "backward adds into grad" in report.failures
    assert report.results["gradient check (float64)"] == "ok"
