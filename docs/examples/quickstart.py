"""The book's network in a few lines: build, train for five epochs, evaluate.

python docs/examples/quickstart.py

The section between the markers is the home page's Python block, as it runs.
"""

from __future__ import annotations


def main() -> int:
    # --8<-- [start:quickstart]
    import minibp as bp
    from minibp.data import load_sample

    data = load_sample()  # 5,000 real MNIST digits, split 4,000 / 500 / 500
    net = bp.mlp([784, 30, 10], rng=0)  # Dense(784, 30), Sigmoid(), Dense(30, 10), Sigmoid()
    optimizer = bp.SGD(net.parameters(), eta=3.0)
    bp.train(
        net, data.training, optimizer=optimizer, epochs=5, mini_batch_size=10, evaluation_data=data.validation, rng=0
    )
    correct = bp.evaluate(net, *data.test)
    print(f"test: {correct} / 500 digits correct")
    # --8<-- [end:quickstart]
    return correct


if __name__ == "__main__":
    main()
