"""The book's network in a few lines: build, train for a few epochs, evaluate.

python docs/examples/quickstart.py
"""

from __future__ import annotations


def main(epochs: int = 5) -> int:
    # --8<-- [start:quickstart]
    import minibp as bp
    from minibp.data import load_sample

    data = load_sample()  # 5,000 real MNIST digits, split 4,000 / 500 / 500
    net = bp.mlp([784, 30, 10], rng=0)  # Dense(784, 30), Sigmoid(), Dense(30, 10), Sigmoid()
    optimizer = bp.SGD(net.parameters(), eta=3.0)
    bp.train(net, data.training, optimizer=optimizer, epochs=epochs, mini_batch_size=10,
             evaluation_data=data.validation, rng=0)  # fmt: skip
    correct = bp.evaluate(net, *data.test)
    print(f"test: {correct} / 500 digits correct")
    # --8<-- [end:quickstart]
    return correct


if __name__ == "__main__":
    main()
