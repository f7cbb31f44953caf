"""Cross-entropy and log-likelihood costs of a and of z: values, gradients, stability, PyTorch equivalences."""

import numpy as np
import pytest

import minibp as bp
from minibp.costs import CrossEntropyCost, LogLikelihoodCost, SigmoidCrossEntropyCost, SoftmaxLogLikelihoodCost
from minibp.gradcheck import gradcheck
from minibp.layers import Softmax


class CostOfNetwork(bp.Module):
    """The scalar cost(net(x), y) as a module with a (1, 1) output, so that `gradcheck` can check it."""

    def __init__(self, net, cost, y):
        self.net, self.cost, self.y = net, cost, y

    def named_parameters(self):
        return self.net.named_parameters()

    def forward(self, x):
        return np.array([[self.cost.forward(self.net.forward(x), self.y)]])

    def backward(self, grad_output):
        scale = float(grad_output[0, 0])
        grad_input = self.net.backward(self.cost.backward())  # params were zeroed by gradcheck
        for p in self.net.parameters():
            p.grad *= scale
        return grad_input * scale


def one_hot(rng, k, m):
    return np.eye(k)[:, rng.integers(0, k, m)]


def sigmoid_net(rng):
    return bp.Sequential(bp.Dense(5, 4, rng=rng), bp.Sigmoid(), bp.Dense(4, 3, rng=rng), bp.Sigmoid())


CASES = {
    "cross-entropy after Sigmoid": (sigmoid_net, CrossEntropyCost),
    "log-likelihood after Softmax": (
        lambda rng: bp.Sequential(bp.Dense(5, 4, rng=rng), bp.Sigmoid(), bp.Dense(4, 3, rng=rng), Softmax()),
        LogLikelihoodCost,
    ),
    "sigmoid cross-entropy on z": (
        lambda rng: bp.Sequential(bp.Dense(5, 4, rng=rng), bp.Sigmoid(), bp.Dense(4, 3, rng=rng)),
        SigmoidCrossEntropyCost,
    ),
    "softmax log-likelihood on z": (
        lambda rng: bp.Sequential(bp.Dense(5, 4, rng=rng), bp.Sigmoid(), bp.Dense(4, 3, rng=rng)),
        SoftmaxLogLikelihoodCost,
    ),
    "quadratic after Sigmoid": (sigmoid_net, bp.QuadraticCost),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("targets", ["one-hot", "soft"])
def test_cost_and_network_gradients_match_finite_differences(case, targets, rng):
    make_net, make_cost = CASES[case]
    m = 6
    y = one_hot(rng, 3, m) if targets == "one-hot" else rng.dirichlet(np.ones(3), m).T
    result = gradcheck(CostOfNetwork(make_net(rng), make_cost(), y), rng.standard_normal((5, m)))
    assert result.ok, str(result)
    assert set(result.errors) == {"input", "0.w", "0.b", "2.w", "2.b"}


def test_cross_entropy_value_and_reduction(rng):
    a, y = rng.uniform(0.01, 0.99, (4, 5)), rng.random((4, 5))
    per_example = [-np.sum(y[:, x] * np.log(a[:, x]) + (1 - y[:, x]) * np.log(1 - a[:, x])) for x in range(5)]
    assert CrossEntropyCost()(a, y) == pytest.approx(np.mean(per_example), rel=1e-13)


def test_log_likelihood_values(rng):
    z = rng.standard_normal((4, 5)) * 3
    labels = rng.integers(0, 4, 5)
    y = np.eye(4)[:, labels]
    a = np.exp(z) / np.exp(z).sum(axis=0)
    expected = np.mean(-np.log(a[labels, np.arange(5)]))  # eq. 80: C = -ln a_y
    assert LogLikelihoodCost()(a, y) == pytest.approx(expected, rel=1e-13)
    assert SoftmaxLogLikelihoodCost()(z, y) == pytest.approx(expected, rel=1e-13)


def test_cross_entropy_after_sigmoid_gives_a_minus_y_over_m_and_the_z_cost_gives_it_exactly(rng):
    net = sigmoid_net(rng)
    x, y = rng.standard_normal((5, 7)), one_hot(rng, 3, 7)
    cost = CrossEntropyCost()
    a = net(x)
    cost(a, y)
    g = cost.backward()
    assert type(g) is np.ndarray  # an honest grad_a C, nothing attached
    np.testing.assert_allclose(g, (a - y) / (7 * a * (1 - a)), rtol=1e-14)
    np.testing.assert_allclose(net[3].backward(g), (a - y) / 7, rtol=1e-12, atol=1e-16)  # BP1: sigma' cancels
    z = net[:3](x)
    on_z = SigmoidCrossEntropyCost()
    assert on_z(z, y) == pytest.approx(cost(a, y), rel=1e-13)
    np.testing.assert_array_equal(on_z.backward(), (a - y) / 7)  # delta^L = (sigma(z) - y)/m, bit for bit


def test_log_likelihood_delta_after_softmax_is_a_minus_y_over_m(rng):
    z, y = rng.standard_normal((4, 6)), one_hot(rng, 4, 6)
    softmax, cost = Softmax(), LogLikelihoodCost()
    a = softmax(z)
    cost(a, y)
    np.testing.assert_allclose(softmax.backward(cost.backward()), (a - y) / 6, rtol=1e-12, atol=1e-16)
    on_z = SoftmaxLogLikelihoodCost()
    assert on_z(z, y) == pytest.approx(cost(a, y), rel=1e-14)
    np.testing.assert_allclose(on_z.backward(), (a - y) / 6, rtol=1e-14, atol=1e-17)


def test_costs_say_what_they_take():
    assert [c.takes for c in (bp.QuadraticCost(), CrossEntropyCost(), LogLikelihoodCost())] == ["a"] * 3
    assert [c.takes for c in (SigmoidCrossEntropyCost(), SoftmaxLogLikelihoodCost())] == ["z"] * 2


def test_only_a_cost_of_z_still_learns_where_the_sigmoid_saturates():
    z = np.array([[40.0, -800.0], [-800.0, 800.0]])  # sigma rounds to exactly 1 or 0 here
    sigmoid = bp.Sigmoid()
    a = sigmoid(z)
    y = np.array([[0.0, 1.0], [1.0, 0.0]])  # every output maximally wrong
    assert set(np.unique(a)) == {0.0, 1.0}
    ce = CrossEntropyCost()
    value = ce(a, y)
    assert np.isfinite(value) and value > 30  # clipped at ln(2^-53) per output, no log(0), no warning
    assert not sigmoid.backward(ce.backward()).any()  # sigma'(z) = 0 in floating point: the cancellation is lost
    on_z = SigmoidCrossEntropyCost()
    assert on_z(z, y) == pytest.approx((40 + 800 + 800 + 800) / 2)  # ln(1 + e^|z|) = |z| here
    np.testing.assert_array_equal(on_z.backward(), (a - y) / 2)  # the full error, still learning
    quadratic = bp.QuadraticCost()
    quadratic(a, y)
    assert not sigmoid.backward(quadratic.backward()).any()  # the learning slowdown of chapter 3


def test_cost_gradients_are_finite_and_quiet_at_the_extremes():
    a = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 1e-300]])
    y = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    for cost in (CrossEntropyCost(), LogLikelihoodCost()):
        assert np.isfinite(cost(a, y))
        assert np.isfinite(np.asarray(cost.backward())).all()
    z = np.array([[1e4, -1e4], [-1e4, 1e4], [0.0, 0.0]])
    for on_z, expected in ((SoftmaxLogLikelihoodCost(), (2e4 + 0.0) / 2), (SigmoidCrossEntropyCost(), None)):
        value = on_z(z, np.eye(3)[:, [1, 1]])
        assert np.isfinite(value) and (expected is None or value == pytest.approx(expected))
        assert np.isfinite(on_z.backward()).all()


def test_backward_before_forward_and_shape_errors():
    for make in (CrossEntropyCost, LogLikelihoodCost, SigmoidCrossEntropyCost, SoftmaxLogLikelihoodCost):
        with pytest.raises(RuntimeError, match="before forward"):
            make().backward()
        with pytest.raises(bp.ShapeError, match=r"\(3, 2\).*\(2, 3\)"):
            make()(np.zeros((3, 2)), np.zeros((2, 3)))


def test_float32_costs_stay_float32(rng):
    a = rng.uniform(0.1, 0.9, (3, 4)).astype(np.float32)
    y = one_hot(rng, 3, 4).astype(np.float32)
    for cost in (CrossEntropyCost(), LogLikelihoodCost(), SigmoidCrossEntropyCost(), SoftmaxLogLikelihoodCost()):
        cost(a, y)
        assert np.asarray(cost.backward()).dtype == np.float32


# PyTorch equivalences: one SGD step with the minibp cost and learning rate eta must equal one torch.optim.SGD
# step with the torch loss and learning rate of docs/snippets/cost_equivalences.md.


def torch_step(torch, net, x, y, loss_fn, lr, output):
    layers = [(net[i].w.data.copy(), net[i].b.data.copy()) for i in (0, 2)]
    params = []
    for w, b in layers:
        params += [torch.tensor(w, requires_grad=True), torch.tensor(b[:, 0], requires_grad=True)]
    h = torch.sigmoid(torch.tensor(x.T) @ params[0].T + params[1])
    z = h @ params[2].T + params[3]  # rows: torch's layout is (m, n_L)
    out = {"sigmoid": torch.sigmoid(z), "softmax": torch.softmax(z, dim=1), "logits": z}[output]
    loss = loss_fn(out, torch.tensor(y.T))
    optimizer = torch.optim.SGD(params, lr=lr)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return [
        params[0].detach().numpy(),
        params[1].detach().numpy()[:, None],
        params[2].detach().numpy(),
        params[3].detach().numpy()[:, None],
    ]


EQUIVALENCES = {
    # name: (minibp cost, output activation, torch loss factory, torch lr as a function of eta, n_L, m)
    "quadratic = MSELoss(sum) / 2m": (
        bp.QuadraticCost,
        "sigmoid",
        lambda nn, m: lambda a, y: nn.MSELoss(reduction="sum")(a, y) / (2 * m),
        lambda eta, n_L: eta,
    ),
    "quadratic = MSELoss(mean), lr n_L/2": (
        bp.QuadraticCost,
        "sigmoid",
        lambda nn, m: nn.MSELoss(),
        lambda eta, n_L: eta * n_L / 2,
    ),
    "cross-entropy = BCELoss(sum) / m": (
        CrossEntropyCost,
        "sigmoid",
        lambda nn, m: lambda a, y: nn.BCELoss(reduction="sum")(a, y) / m,
        lambda eta, n_L: eta,
    ),
    "cross-entropy = BCELoss(mean), lr n_L": (
        CrossEntropyCost,
        "sigmoid",
        lambda nn, m: nn.BCELoss(),
        lambda eta, n_L: eta * n_L,
    ),
    "sigmoid cross-entropy = BCEWithLogitsLoss(mean), lr n_L": (
        SigmoidCrossEntropyCost,
        "logits",
        lambda nn, m: nn.BCEWithLogitsLoss(),
        lambda eta, n_L: eta * n_L,
    ),
    "log-likelihood = NLLLoss(log a)": (
        LogLikelihoodCost,
        "softmax",
        lambda nn, m: lambda a, y: nn.NLLLoss()(a.log(), y.argmax(dim=1)),
        lambda eta, n_L: eta,
    ),
    "softmax log-likelihood = CrossEntropyLoss": (
        SoftmaxLogLikelihoodCost,
        "logits",
        lambda nn, m: lambda z, y: nn.CrossEntropyLoss()(z, y.argmax(dim=1)),
        lambda eta, n_L: eta,
    ),
    "softmax log-likelihood = CrossEntropyLoss, soft targets": (
        SoftmaxLogLikelihoodCost,
        "logits",
        lambda nn, m: nn.CrossEntropyLoss(),
        lambda eta, n_L: eta,
    ),
}


@pytest.mark.parametrize("row", list(EQUIVALENCES))
def test_pytorch_equivalence_table(row, rng):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the equivalence table cannot be checked")
    (
        make_cost,
        output,
        make_loss,
        lr_of,
    ) = EQUIVALENCES[row]
    n_L, m, eta = 4, 6, 0.7
    x = rng.standard_normal((5, m))
    y = rng.dirichlet(np.ones(n_L), m).T if "soft targets" in row else one_hot(rng, n_L, m)
    layers = [bp.Dense(5, 3, rng=rng), bp.Sigmoid(), bp.Dense(3, n_L, rng=rng)]
    if output == "sigmoid":
        layers.append(bp.Sigmoid())
    elif output == "softmax":
        layers.append(Softmax())
    net = bp.Sequential(*layers)
    expected = torch_step(torch, net, x, y, make_loss(torch.nn, m), lr_of(eta, n_L), output)
    cost = make_cost()
    optimizer = bp.SGD(net.parameters(), eta=eta)
    cost(net(x), y)
    optimizer.zero_grad()
    net.backward(cost.backward())
    optimizer.step()
    for p, e in zip(net.parameters(), expected):
        np.testing.assert_allclose(p.data, e, rtol=1e-12, atol=1e-14)
