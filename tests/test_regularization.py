"""L2 and L1 (the book's, coupled) and WeightDecay (decoupled): weights only, equations, PyTorch equivalents."""

import numpy as np
import pytest

import minibp as bp
from minibp.regularization import L1, L2, WeightDecay, weight_parameters


def test_only_weights_are_selected(rng):
    net = bp.mlp([4, 3, 2], rng=0)
    assert weight_parameters(net) == [net[0].w, net[2].w]
    l2 = L2(net, lmbda=2.0, n=10)
    for p in net.parameters():
        p.grad = np.zeros(p.shape)
    l2.add_gradient()
    np.testing.assert_array_equal(net[0].w.grad, 0.2 * net[0].w.data)
    assert not net[0].b.grad.any() and not net[2].b.grad.any()
    expected = 0.5 * 2.0 / 10 * (np.sum(net[0].w.data ** 2) + np.sum(net[2].w.data ** 2))
    assert l2.penalty() == pytest.approx(expected, rel=1e-14)


def test_weight_decay_shrinks_weights_only_and_adds_no_penalty():
    net = bp.mlp([4, 3], rng=0)
    w, b = net[0].w.data.copy(), net[0].b.data.copy()
    decay = WeightDecay(net, wd=0.1)
    decay.before_update(eta=2.0)
    np.testing.assert_array_equal(net[0].w.data, w * (1 - 0.2))
    np.testing.assert_array_equal(net[0].b.data, b)
    assert decay.penalty() == 0.0
    with pytest.raises(bp.HyperparameterError, match="eta \\* wd must be < 1"):
        decay.before_update(eta=10.0)


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda net: L2(net, lmbda=-1.0, n=10), bp.HyperparameterError),
        (lambda net: L2(net, lmbda=1.0, n=0), bp.HyperparameterError),
        (lambda net: L2(net, lmbda=float("inf"), n=10), bp.HyperparameterError),
        (lambda net: L1(net, lmbda=-1.0, n=10), bp.HyperparameterError),
        (lambda net: L1(net, lmbda=1.0, n=2.5), bp.HyperparameterError),
        (lambda net: L1(net, lmbda=float("nan"), n=10), bp.HyperparameterError),
        (lambda net: L1(bp.Sequential(bp.Sigmoid()), lmbda=1.0, n=10), ValueError),
        (lambda net: L1([net[0].w, "w"], lmbda=1.0, n=10), TypeError),
        (lambda net: WeightDecay(net, wd="a lot"), bp.HyperparameterError),
        (lambda net: L2(bp.Sequential(bp.Sigmoid()), lmbda=1.0, n=10), ValueError),
        (lambda net: WeightDecay([np.zeros(3)], wd=0.1), TypeError),
    ],
)
def test_bad_settings_are_refused(make, error):
    with pytest.raises(error):
        make(bp.mlp([2, 2], rng=0))


def test_explicit_parameter_lists_are_accepted():
    net = bp.mlp([3, 2], rng=0)
    decay = WeightDecay([net[0].b], wd=0.5)
    b = net[0].b.data.copy()
    decay.before_update(eta=1.0)
    np.testing.assert_array_equal(net[0].b.data, 0.5 * b)


TORCH_ROWS = {
    # name: (minibp optimizer, minibp regulariser, torch optimizer for the weights group, for the biases group)
    "SGD + L2 = SGD(weight_decay=lmbda/n)": (
        lambda ps: bp.SGD(ps, eta=0.3),
        lambda net: L2(net, lmbda=5.0, n=50),
        lambda t, w, b: t.optim.SGD([{"params": w, "weight_decay": 0.1}, {"params": b}], lr=0.3),
    ),
    "SGD + WeightDecay = SGD(weight_decay=wd)": (
        lambda ps: bp.SGD(ps, eta=0.3),
        lambda net: WeightDecay(net, wd=0.1),
        lambda t, w, b: t.optim.SGD([{"params": w, "weight_decay": 0.1}, {"params": b}], lr=0.3),
    ),
    "Momentum + L2 = SGD(momentum, weight_decay=lmbda/n)": (
        lambda ps: bp.Momentum(ps, eta=0.3, mu=0.9),
        lambda net: L2(net, lmbda=5.0, n=50),
        lambda t, w, b: t.optim.SGD([{"params": w, "weight_decay": 0.1}, {"params": b}], lr=0.3, momentum=0.9),
    ),
    "Adam + L2 = Adam(weight_decay=lmbda/n)": (
        lambda ps: bp.Adam(ps, eta=0.01),
        lambda net: L2(net, lmbda=5.0, n=50),
        lambda t, w, b: t.optim.Adam([{"params": w, "weight_decay": 0.1}, {"params": b}], lr=0.01),
    ),
    "Adam + WeightDecay = AdamW(weight_decay=wd)": (
        lambda ps: bp.Adam(ps, eta=0.01),
        lambda net: WeightDecay(net, wd=0.1),
        lambda t, w, b: t.optim.AdamW(
            [{"params": w, "weight_decay": 0.1}, {"params": b, "weight_decay": 0.0}], lr=0.01
        ),
    ),
}


@pytest.mark.parametrize("row", list(TORCH_ROWS))
def test_same_steps_as_torch(row, rng):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed: the equivalences cannot be checked")
    make_optimizer, make_regularizer, make_torch = TORCH_ROWS[row]
    net = bp.mlp([5, 4, 3], rng=rng)
    optimizer, regularizer = make_optimizer(net.parameters()), make_regularizer(net)
    w = [torch.tensor(net[i].w.data.copy(), requires_grad=True) for i in (0, 2)]
    b = [torch.tensor(net[i].b.data.copy(), requires_grad=True) for i in (0, 2)]
    topt = make_torch(torch, w, b)
    for _ in range(4):
        grads = [rng.standard_normal(p.shape) for p in net.parameters()]
        for p, g in zip(net.parameters(), grads):
            p.grad = g
        optimizer.step(regularizers=[regularizer])
        for t, g in zip([w[0], b[0], w[1], b[1]], grads):
            t.grad = torch.tensor(g)
        topt.step()
    for p, t in zip(net.parameters(), [w[0], b[0], w[1], b[1]]):
        np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)


# --- L1 (chapter 3, eq. 95-97) ------------------------------------------------------------------


def test_l1_takes_the_weights_l2_takes(rng):
    net = bp.mlp([4, 3, 2], rng=0)
    assert L1(net, lmbda=1.0, n=5).weights == L2(net, lmbda=1.0, n=5).weights == [net[0].w, net[2].w]

    class Filters(bp.Module):  # any module with a parameter named w, such as a convolution's (F, C, k, k)
        def __init__(self):
            super().__init__()
            self.w = bp.Parameter(rng.standard_normal((2, 1, 3, 3)))
            self.b = bp.Parameter(np.zeros((2, 1)))

    filters = Filters()
    assert L1(filters, lmbda=1.0, n=5).weights == L2(filters, lmbda=1.0, n=5).weights == [filters.w]


def test_l1_penalty_and_gradient_with_sgn_0_equal_to_0():
    net = bp.mlp([4, 3, 2], rng=0)
    net[0].w.data[0, :2] = [0.0, -0.0]
    l1 = L1(net, lmbda=2.0, n=10)
    expected = 2.0 / 10 * (np.abs(net[0].w.data).sum() + np.abs(net[2].w.data).sum())
    assert l1.penalty() == pytest.approx(expected, rel=1e-14)
    net.zero_grad()
    l1.add_gradient()
    np.testing.assert_array_equal(net[0].w.grad, 0.2 * np.sign(net[0].w.data))
    np.testing.assert_array_equal(net[2].w.grad, 0.2 * np.sign(net[2].w.data))
    assert net[0].w.grad[0, 0] == 0.0 and net[0].w.grad[0, 1] == 0.0  # sgn(0) = 0, as the book takes it
    assert not net[0].b.grad.any() and not net[2].b.grad.any()


def test_l1_gradient_is_the_numerical_derivative_of_its_penalty(rng):
    """Away from 0 the penalty is linear in each weight, so a central difference is exact but for rounding."""
    net = bp.mlp([5, 4, 3], rng=rng)
    for p in weight_parameters(net):
        p.data = np.clip(np.where(np.abs(p.data) < 0.01, 0.5, p.data), -3, 3)  # h < |w| < 4: no kink in [w - h, w + h]
    l1 = L1(net, lmbda=3.0, n=12)
    net.zero_grad()
    l1.add_gradient()
    h = 1e-4
    # The penalty P = (3/12) sum |w| (32 weights of |w| < 4: P < 32) is a sum of 32 rounded terms: its error is
    # below 32 * P * eps < 2.3e-13, so the difference quotient is off by less than 2.3e-13 / h = 2.3e-9.
    for p in weight_parameters(net):
        for index in np.ndindex(p.shape):
            w = p.data[index]
            p.data[index] = w + h
            up = l1.penalty()
            p.data[index] = w - h
            down = l1.penalty()
            p.data[index] = w
            assert (up - down) / (2 * h) == pytest.approx(p.grad[index], abs=1e-8)


def test_one_sgd_step_with_l1_is_the_book_update(rng):
    """w -> w - eta (lambda/n) sgn(w) - (eta/m) sum_x dC_x/dw; b -> b - (eta/m) sum_x dC_x/db."""
    net = bp.mlp([5, 4, 3], rng=rng)
    net[0].w.data[1, 2] = 0.0  # sgn(0) = 0: only the cost's gradient moves it
    X = rng.uniform(0, 1, (5, 8))
    y = rng.integers(0, 3, 8)
    eta, lmbda, n = 0.5, 0.8, 8
    cost = bp.QuadraticCost()
    net.zero_grad()
    cost(net(X), np.eye(3)[:, y])
    net.backward(cost.backward())  # (1/m) sum_x dC_x/dw, the mean over the mini-batch
    before = [p.data.copy() for p in net.parameters()]
    grads = [p.grad.copy() for p in net.parameters()]
    net.zero_grad()
    bp.train(
        net,
        (X, y),
        optimizer=bp.SGD(net.parameters(), eta=eta),
        regularization=L1(net, lmbda=lmbda, n=n),
        epochs=1,
        mini_batch_size=8,  # one step over the whole batch
        rng=0,
        verbose=False,
    )
    weights = {id(p) for p in weight_parameters(net)}
    # The shuffled batch sums its 8 examples in another order: each gradient differs by a few ulp of its terms.
    for p, w, g in zip(net.parameters(), before, grads):
        expected = w - eta * lmbda / n * np.sign(w) - eta * g if id(p) in weights else w - eta * g
        np.testing.assert_allclose(p.data, expected, rtol=0, atol=1e-14)
    assert net[0].w.data[1, 2] == -eta * grads[0][1, 2]


def _one_hot(y, k):
    return np.eye(k)[:, y]


def test_l1_penalty_in_the_history_uses_the_size_of_the_evaluated_set(rng):
    """As L2's in network2's total_cost: lambda/N sum_w |w|, N the examples the cost is measured on."""
    X, y = rng.uniform(0, 1, (6, 40)), rng.integers(0, 4, 40)
    Xe, ye = rng.uniform(0, 1, (6, 15)), rng.integers(0, 4, 15)
    lmbda = 4.0
    net = bp.mlp([6, 5, 4], rng=1)
    history = bp.train(
        net,
        (X, y),
        optimizer=bp.SGD(net.parameters(), eta=0.5),
        regularization=L1(net, lmbda=lmbda, n=1000),  # the gradient's n differs from both sets' sizes
        epochs=2,
        mini_batch_size=8,
        evaluation_data=(Xe, ye),
        monitor_training=True,
        rng=2,
        verbose=False,
    )
    absolute = sum(float(np.abs(p.data).sum()) for p in weight_parameters(net))

    def quadratic(X, y):  # QuadraticCost: the mean over the examples of 1/2 ||y - a||^2
        return 0.5 * float(np.sum((net(X) - _one_hot(y, 4)) ** 2)) / X.shape[1]

    assert history.evaluation_cost[-1] == pytest.approx(quadratic(Xe, ye) + lmbda / 15 * absolute, rel=1e-12)
    assert history.training_full_cost[-1] == pytest.approx(quadratic(X, y) + lmbda / 40 * absolute, rel=1e-12)


def test_l1_trains_on_the_module_path_and_says_why(rng, capsys):
    X, y = rng.uniform(0, 1, (5, 20)), rng.integers(0, 3, 20)

    def run(regularizer, fused=None):
        net = bp.mlp([5, 4, 3], rng=0)
        return bp.train(
            net,
            (X, y),
            optimizer=bp.SGD(net.parameters(), eta=0.5),
            regularization=regularizer(net),
            epochs=1,
            mini_batch_size=5,
            rng=0,
            fused=fused,
        )

    run(lambda net: L2(net, lmbda=1.0, n=20))  # the same run with L2 is fused
    assert capsys.readouterr().out.startswith("Training with the fused epoch")
    history = run(lambda net: L1(net, lmbda=1.0, n=20))
    assert len(history.epoch) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first == (
        "Training with the modules' forward and backward "
        "(the regulariser L1(lmbda=1.0, n=20) is not the book's L2 (one at most))"
    )
    with pytest.raises(ValueError, match=r"fused path does not accept this run: the regulariser L1\(lmbda=1.0"):
        run(lambda net: L1(net, lmbda=1.0, n=20), fused=True)
