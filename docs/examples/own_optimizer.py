"""Write your own optimizer: RMSprop as a subclass with only update() and its declarations.

python docs/examples/own_optimizer.py

The sections between the markers are the tutorial's Python blocks. On the page they run in the
order rule, by-hand, train, overflow, state.
"""

from __future__ import annotations

# --8<-- [start:rule]
import math

import numpy as np

import minibp as bp


def positive(owner, name, value):
    """A hyper-parameter check: return the value as a float, or raise naming what is wrong."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
        raise bp.HyperparameterError(f"{owner}: {name} must be a finite number > 0, got {value!r}")
    return float(value)


def fraction(owner, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 <= value < 1):
        raise bp.HyperparameterError(f"{owner}: {name} must be in [0, 1), got {value!r}")
    return float(value)


class RMSprop(bp.Optimizer):
    r"""RMSprop (Hinton, 2012): divide each step by a running root mean square of the gradient.

    $$v \to \rho v + (1 - \rho)\, g \odot g, \qquad w \to w - \frac{\eta\, g}{\sqrt{v} + \epsilon}$$
    """

    hyperparameters = {"eta": positive, "rho": fraction, "epsilon": positive}  # checked on every assignment
    buffers = ("square_average",)  # one array per parameter: saved, loaded and guarded by Optimizer

    def __init__(self, parameters, eta=1e-3, rho=0.9, epsilon=1e-8):
        super().__init__(parameters)
        self.eta, self.rho, self.epsilon = eta, rho, epsilon
        self.square_average = [np.zeros_like(p.data) for p in self.parameters]

    def update(self):
        for p, v in zip(self.parameters, self.square_average):
            v *= self.rho
            v += (1 - self.rho) * p.grad**2  # v -> rho v + (1 - rho) g*g
            p.data -= self.eta * p.grad / (np.sqrt(v) + self.epsilon)  # w -> w - eta g / (sqrt(v) + eps)


# --8<-- [end:rule]


def main() -> float:
    # --8<-- [start:by-hand]
    w = bp.Parameter(np.array([[1.0, -2.0]]))
    optimizer = RMSprop([w], eta=0.1, rho=0.5)
    gradients = [[0.5, -4.0], [-1.0, 2.0]]  # the gradient of each weight at step 1 and at step 2

    by_hand = []
    for w0, g1, g2 in zip([1.0, -2.0], *gradients):  # one weight at a time, in plain floats
        v1 = 0.5 * 0.0 + 0.5 * g1**2
        w1 = w0 - 0.1 * g1 / (math.sqrt(v1) + 1e-8)
        v2 = 0.5 * v1 + 0.5 * g2**2
        by_hand.append(w1 - 0.1 * g2 / (math.sqrt(v2) + 1e-8))

    for g in gradients:
        optimizer.zero_grad()
        w.grad += np.array([g])  # what a backward pass would add
        optimizer.step()
    print("RMSprop:", w.data[0].tolist())
    print("by hand:", by_hand)
    # --8<-- [end:by-hand]

    # --8<-- [start:train]
    from minibp.data import load_sample

    data = load_sample()
    net = bp.mlp([784, 30, 10], init="scaled", rng=0)
    optimizer = RMSprop(net.parameters(), eta=1e-3)
    history = bp.train(
        net,
        data.training,
        optimizer=optimizer,
        epochs=5,
        mini_batch_size=10,
        evaluation_data=data.validation,
        rng=0,
        verbose=False,
    )
    for epoch, accuracy in zip(history.epoch, history.evaluation_accuracy):
        print(f"epoch {epoch}: validation accuracy {accuracy:.1%}")
    # --8<-- [end:train]

    # --8<-- [start:overflow]
    before = [p.data.copy() for p in net.parameters()]
    averages = [v.copy() for v in optimizer.square_average]
    net.parameters()[0].grad[0, 0] = 1e200  # finite, but its square is not
    try:
        optimizer.step()
    except bp.NonFiniteError as err:
        print(err)
    print("parameters unchanged:", all(np.array_equal(a, p.data) for a, p in zip(before, net.parameters())))
    print("square averages unchanged:", all(np.array_equal(a, v) for a, v in zip(averages, optimizer.square_average)))
    optimizer.zero_grad()
    # --8<-- [end:overflow]

    # --8<-- [start:state]
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **optimizer.state_dict())  # a flat dict of numbers and arrays: no pickle needed
    buffer.seek(0)
    state = dict(np.load(buffer, allow_pickle=False))
    print(sorted(state)[:4], "...", len(state), "entries")

    twin = RMSprop(net.parameters())  # fresh: eta=0.001, zero averages
    twin.load_state_dict(state)
    print("square averages restored:", all(np.array_equal(a, b) for a, b in zip(twin.square_average, averages)))
    try:
        twin.load_state_dict({**state, "rho": 1.5})
    except bp.HyperparameterError as err:
        print(err)
    # --8<-- [end:state]
    return float(history.evaluation_accuracy[-1])


if __name__ == "__main__":
    main()
