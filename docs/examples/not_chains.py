"""Networks that are not chains: a fork adds gradients, checked by hand and by gradcheck, then trained.

python docs/examples/not_chains.py

The sections between the markers are the page's Python blocks, which run in order as one script;
training takes a few seconds, so the tests run it as it is shown.
"""

from __future__ import annotations


def main() -> float:
    # --8<-- [start:fork]
    import numpy as np

    import minibp as bp
    from minibp.containers import Parallel, Residual

    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))  # 3 features, 4 examples (columns)
    upper, lower = bp.Dense(3, 2, rng=rng), bp.Dense(3, 1, rng=rng)
    fork = Parallel(upper, lower)  # x feeds both; their outputs are stacked: 2 rows above 1
    a = fork(x)
    grad_output = rng.standard_normal(a.shape)  # any dC/da, shape (3, 4)
    grad_x = fork.backward(grad_output)

    delta_upper, delta_lower = grad_output[:2], grad_output[2:]  # each branch's rows of dC/da
    by_hand = upper.w.data.T @ delta_upper + lower.w.data.T @ delta_lower  # one term per path
    print("dC/dx = sum over the two paths:", np.allclose(grad_x, by_hand))
    # --8<-- [end:fork]

    # --8<-- [start:stacked]
    both = bp.Dense(3, 3)
    both.w.data = np.vstack([upper.w.data, lower.w.data])  # the branches' weights, one above the other
    both.b.data = np.vstack([upper.b.data, lower.b.data])
    print("same output as one Dense(3, 3):", np.allclose(both(x), a))
    print("same dC/dx as one Dense(3, 3):", np.allclose(both.backward(grad_output), grad_x))
    # --8<-- [end:stacked]

    # --8<-- [start:check]
    from minibp.gradcheck import gradcheck

    block = bp.Sequential(
        Parallel(bp.Dense(3, 2, rng=rng), Residual(bp.Sequential(bp.Dense(3, 3, rng=rng), bp.Tanh()))),
        bp.Sigmoid(),
    )
    print(gradcheck(block, x))
    # --8<-- [end:check]

    # --8<-- [start:train]
    from minibp.data import load_sample
    from minibp.summary import summary

    data = load_sample()
    net = bp.Sequential(
        Parallel(  # two views of the pixels, side by side
            bp.Sequential(bp.Dense(784, 20, init="scaled", rng=rng), bp.Sigmoid()),
            bp.Sequential(bp.Dense(784, 20, init="scaled", rng=rng), bp.ReLU()),
        ),
        Residual(bp.Sequential(bp.Dense(40, 40, init="scaled", rng=rng), bp.Tanh())),  # x + tanh(w x + b)
        bp.Dense(40, 10, init="scaled", rng=rng),
        bp.Sigmoid(),
    )
    print(summary(net, 784))
    optimizer = bp.SGD(net.parameters(), eta=0.5)
    bp.train(
        net, data.training, optimizer=optimizer, epochs=5, mini_batch_size=10, evaluation_data=data.validation, rng=0
    )
    accuracy = bp.accuracy(net, *data.test)
    print(f"test accuracy: {accuracy:.1%}")
    # --8<-- [end:train]
    return accuracy


if __name__ == "__main__":
    main()
