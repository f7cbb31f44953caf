import numpy as np
import pytest
from _moving import MovingParameter

import minibp as bp
from minibp import io as bpio
from minibp.testing import check_module

# Modules whose constructor needs arguments; every other registered module is built with no arguments.
FACTORIES = {
    "Dense": lambda: bp.Dense(4, 3, rng=0),
    "Sequential": lambda: bp.mlp([4, 5, 3], rng=0),
    "Dropout": lambda: bp.layers.Dropout(0.4, rng=0),
    "Parallel": lambda: bp.containers.Parallel(bp.Dense(4, 2, rng=0), bp.Sequential(bp.Dense(4, 3, rng=1), bp.Tanh())),
    "Residual": lambda: bp.containers.Residual(bp.Sequential(bp.Dense(4, 4, rng=0), bp.Tanh())),
    "Conv2d": lambda: bp.Conv2d((1, 2, 2), 3, 2, rng=0),
    "MaxPool2d": lambda: bp.MaxPool2d((1, 2, 2)),
}

CHECKS = [
    "parameters registered",
    "forward output",
    "backward output",
    "inputs not mutated",
    "backward adds into grad",
    "backward_parameters adds what backward adds",
    "backward repeatable",
    "backward linear in grad_output",
    "zero grad_output gives zero gradients",
    "Fortran, non-contiguous and read-only inputs",
    "batching and column order",
    "gradient check (float64)",
    "optimizer step moves the output as the gradient predicts",
]
NEEDS_PARAMETERS = {
    "backward adds into grad",
    "backward_parameters adds what backward adds",
    "optimizer step moves the output as the gradient predicts",
}
STEP = "optimizer step moves the output as the gradient predicts"


def builtin_modules():
    return sorted(name for name, cls in bpio.registered_modules().items() if cls.__module__.startswith("minibp."))


def test_the_builtin_modules_are_all_checked():
    assert {"Dense", "Sigmoid", "Tanh", "ReLU", "Identity", "Softmax", "Dropout", "Sequential"} <= set(
        builtin_modules()
    )


@pytest.mark.parametrize("name", builtin_modules())
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_every_builtin_module_passes_the_contract(name, mode):
    cls = bpio.registered_modules()[name]
    module = FACTORIES[name]() if name in FACTORIES else cls()
    module.train(mode == "train")
    state = module.state_dict()
    report = check_module(module, (4, 5), rng=1)
    expected = CHECKS if module.parameters() else [c for c in CHECKS if c not in NEEDS_PARAMETERS]
    assert list(report.results) == expected
    assert all(result == "ok" for result in report.results.values())
    assert set(report.gradcheck_errors) == {"input", *(n for n, _ in module.named_parameters())}
    assert max(report.gradcheck_errors.values()) < 1e-7
    assert module.training == (mode == "train")  # the kit leaves the mode as it found it
    for key, values in module.state_dict().items():  # ... and the parameters' values, bit for bit
        assert np.array_equal(values, state[key]), key
    assert all(not p.grad.any() for p in module.parameters())


def test_a_sequential_with_dropout_in_training_mode_passes():
    net = bp.Sequential(bp.Dense(4, 6, rng=0), bp.Tanh(), bp.Dropout(0.3, rng=1), bp.Dense(6, 3, rng=2), bp.Softmax())
    report = check_module(net, (4, 5), rng=2)
    assert report.results[STEP] == "ok" and report.ok
    assert any("layers[2].rng" in note for note in report.notes)


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
    for check in CHECKS:
        assert f"  - {check}: ok" in text
    assert text.startswith(f"Dense(3, 2) passes all {len(CHECKS)} contract checks")


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


class ForgetsBP4(bp.Dense):
    """A right ``backward`` of its own beside a ``backward_parameters`` that adds BP3 and forgets BP4."""

    def backward(self, grad_output):
        self.b.grad += grad_output.sum(axis=1, keepdims=True)
        self.w.grad += grad_output @ self.x.T
        return self.w.data.T @ grad_output

    def backward_parameters(self, grad_output):
        self.b.grad += grad_output.sum(axis=1, keepdims=True)


def test_a_backward_parameters_that_adds_less_than_backward_is_reported():
    message = failure(ForgetsBP4(4, 3, rng=0))
    assert "backward_parameters adds what backward adds: parameter 'w': two backward_parameters calls" in message
    assert "gradient check (float64): ok" in message  # backward itself is right


class AssignsInBackwardParameters(ForgetsBP4):
    """``backward_parameters`` with ``=`` where ``+=`` belongs: right after zero_grad, wrong when gradients add up."""

    def backward_parameters(self, grad_output):
        self.b.grad[...] = grad_output.sum(axis=1, keepdims=True)
        self.w.grad[...] = grad_output @ self.x.T


class ScalesItsGradOutput(ForgetsBP4):
    def backward_parameters(self, grad_output):
        grad_output *= 1.0 + 1e-3  # in place: the caller's array
        self.b.grad += grad_output.sum(axis=1, keepdims=True)
        self.w.grad += grad_output @ self.x.T


def test_a_backward_parameters_that_assigns_or_changes_its_argument_is_reported():
    assert "'w': two backward_parameters calls" in failure(AssignsInBackwardParameters(4, 3, rng=0))
    assert "backward_parameters changed its grad_output" in failure(ScalesItsGradOutput(4, 3, rng=0))


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


# -- layers written the way users write them ---------------------------------------------------------


class HeldData(bp.Module):
    """A dense layer that keeps the parameters' arrays (not copies) under short names: must pass everything."""

    def __init__(self, n_in, n_out, rng):
        rng = np.random.default_rng(rng)
        self.w = bp.Parameter(rng.standard_normal((n_out, n_in)))
        self.b = bp.Parameter(rng.standard_normal((n_out, 1)))
        self.W, self.B = self.w.data, self.b.data  # the same arrays for the parameters' whole life

    def forward(self, x):
        self.x = x
        return self.W @ x + self.B

    def backward(self, grad_output):
        self.w.grad += grad_output @ self.x.T
        self.b.grad += grad_output.sum(axis=1, keepdims=True)
        return self.W.T @ grad_output


class CopiedWeights(HeldData):
    """Copies the parameters' values in __init__ and computes with the copies: training cannot change it."""

    def __init__(self, n_in, n_out, rng):
        super().__init__(n_in, n_out, rng)
        self.W, self.B = self.w.data.copy(), self.b.data.copy()


class DictParameters(bp.Module):
    """Keeps its parameters in a dict, where Module does not look for them."""

    def __init__(self, n_in, n_out):
        rng = np.random.default_rng(0)
        self.params = {"w": bp.Parameter(rng.standard_normal((n_out, n_in))), "b": bp.Parameter(np.zeros((n_out, 1)))}

    def forward(self, x):
        self.x = x
        return self.params["w"].data @ x + self.params["b"].data

    def backward(self, grad_output):
        self.params["w"].grad += grad_output @ self.x.T
        self.params["b"].grad += grad_output.sum(axis=1, keepdims=True)
        return self.params["w"].data.T @ grad_output


class ListParameters(bp.Module):
    """A registered weight and a list of per-row scales, which Module does not look into."""

    def __init__(self, n):
        self.w = bp.Parameter(np.eye(n))
        self.scales = [bp.Parameter(np.ones((n, 1))), bp.Parameter(np.ones((n, 1)))]

    def forward(self, x):
        self.x = x
        return self.w.data @ x

    def backward(self, grad_output):
        self.w.grad += grad_output @ self.x.T
        return self.w.data.T @ grad_output


class DictOfModules(bp.Module):
    """Keeps a sub-module in a dict: it is not a child, so its parameters are not registered."""

    def __init__(self):
        self.blocks = {"first": bp.Dense(4, 3, rng=0)}

    def forward(self, x):
        return self.blocks["first"].forward(x)

    def backward(self, grad_output):
        return self.blocks["first"].backward(grad_output)


class FreshParameters(HeldData):
    """Overrides named_parameters to build new Parameter objects on each call: an optimizer updates copies."""

    def named_parameters(self, prefix=""):
        yield prefix + "w", bp.Parameter(self.W)
        yield prefix + "b", bp.Parameter(self.B)


class MovingDense(bp.Dense):
    def __init__(self, n_in, n_out, rng):
        super().__init__(n_in, n_out, rng=rng)
        self.w, self.b = MovingParameter(self.w.data), MovingParameter(self.b.data)


def test_a_layer_holding_the_parameters_arrays_passes_everything():
    layer = HeldData(4, 3, rng=0)
    state = layer.state_dict()
    report = check_module(layer, (4, 5), rng=0)
    assert list(report.results) == CHECKS and report.ok
    assert layer.W is layer.w.data and layer.B is layer.b.data
    for key, values in layer.state_dict().items():
        assert np.array_equal(values, state[key]), key


def test_copied_weights_fail_the_optimizer_step_and_are_left_as_found():
    layer = CopiedWeights(4, 3, rng=0)
    state = layer.state_dict()
    message = failure(layer)
    assert f"{STEP}: parameter 'w': SGD steps of it alone down and up its gradient (eta=" in message
    assert "parameter 'b': SGD steps of it alone" in message
    assert "did not change the output at all" in message and "self.w.data.copy()" in message
    for key, values in layer.state_dict().items():  # the steps were undone
        assert np.array_equal(values, state[key]), key
    assert np.array_equal(layer.W, state["w"])


def test_the_optimizer_step_check_is_what_catches_copied_weights():
    report = check_module(CopiedWeights(4, 3, rng=0), (4, 5), rng=0, raise_on_failure=False)
    assert report.results["parameters registered"] == "ok"
    assert report.results["backward adds into grad"] == "ok"
    assert report.results[STEP].startswith("parameter 'w': SGD steps of it alone")


def test_a_copy_of_one_parameter_is_caught_even_when_the_others_dominate():
    """Tiny inputs make the bias gradient dwarf the weight gradient: the weight copy is still named."""
    layer = HeldData(4, 3, rng=0)
    layer.W = layer.w.data.copy()
    report = check_module(layer, 1e-3 * np.random.default_rng(0).standard_normal((4, 5)), raise_on_failure=False)
    assert report.results[STEP].startswith("parameter 'w': SGD steps of it alone")
    assert "parameter 'b'" not in report.results[STEP]


def test_a_parameter_whose_array_moves_fails_the_optimizer_step():
    report = check_module(MovingDense(4, 3, rng=0), (4, 5), rng=0, raise_on_failure=False)
    assert report.results[STEP] == "after SGD.step, parameter 'w' holds a new data array; it must stay the same object"
    assert report.results["gradient check (float64)"] == "ok"


@pytest.mark.parametrize(
    ("module", "where"),
    [
        (DictParameters(4, 3), "params['w'] (3, 4), params['b'] (3, 1)"),
        (ListParameters(4), "scales[0] (4, 1), scales[1] (4, 1)"),
        (DictOfModules(), "blocks['first'].w (3, 4), blocks['first'].b (3, 1)"),
    ],
    ids=["dict", "list", "module-in-dict"],
)
def test_unregistered_parameters_are_named_by_their_attribute(module, where):
    message = failure(module)
    assert f"parameters registered: Parameter not in module.parameters(): {where}. No optimizer" in message
    assert "self.w = Parameter(...)" in message


def test_unregistered_parameters_are_the_only_failure_of_a_dict_layer():
    report = check_module(DictParameters(4, 3), (4, 5), rng=0, raise_on_failure=False)
    assert list(report.failures) == ["parameters registered"]


def test_fresh_parameter_objects_on_each_call_are_reported():
    message = failure(FreshParameters(4, 3, rng=0))
    assert "parameters registered: named_parameters() yields different Parameter objects on each call" in message


def test_the_step_check_passes_curved_networks_and_a_layer_with_zero_output():
    # Book-initialised weights saturate a deep tanh chain; a zero-initialised layer's output is exactly 0; and
    # for the sigmoid network, curvature spoils the first step size tried: a ten times smaller one must be tried.
    deep = bp.mlp([4, 8, 8, 8, 3], activation=bp.Tanh, rng=3)
    zero = bp.Dense(4, 3, init=lambda n_in, n_out, rng, dtype: (np.zeros((n_out, n_in)), np.zeros((n_out, 1))))
    curved = bp.mlp([3, 4, 3], rng=78)
    rng = np.random.default_rng(78)
    x_curved = rng.standard_normal((3, 4)) * 10 ** rng.uniform(0, 1.5)
    for module, x, seed in [
        (deep, 3 * np.random.default_rng(0).standard_normal((4, 5)), 0),
        (zero, (4, 5), 0),
        (curved, x_curved, 78),
    ]:
        report = check_module(module, x, rng=seed, raise_on_failure=False)
        assert report.results[STEP] == "ok", report.results[STEP]
        assert not report.notes, report.notes  # each step was checked, none set aside as unresolvable
