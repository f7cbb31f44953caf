"""How-to: read and write the JSON files of the book's network2.py, and convert the book's (x, y) pairs.

python docs/examples/book_files.py

The sections network2-save and network2-load are the last two Python blocks of the save-and-load
guide, which write net.json into the working folder (this script works in a temporary one); the
section from-book is the Python block of "From network.py to minibp".
"""

from __future__ import annotations

import contextlib
import os
import tempfile


@contextlib.contextmanager
def _in_a_temporary_folder():
    """Run in an empty working folder, removed afterwards, as the tests run the guide."""
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            yield
        finally:
            os.chdir(here)


def main() -> bool:
    with _in_a_temporary_folder():
        # --8<-- [start:network2-save]
        from pathlib import Path

        import minibp as bp
        from minibp.data import load_sample

        data = load_sample()
        net = bp.mlp([784, 30, 10], init="scaled", rng=0)  # network2's default start
        optimizer = bp.SGD(net.parameters(), eta=0.5)
        bp.train(
            net,
            data.training,
            optimizer=optimizer,
            cost=bp.CrossEntropyCost(),
            epochs=1,
            mini_batch_size=10,
            verbose=False,
        )

        bp.io.save_network2(net, "net.json", bp.CrossEntropyCost())  # network2's load("net.json") reads this file
        print(f"saved net.json: {Path('net.json').stat().st_size:,} bytes")
        # --8<-- [end:network2-save]

        # --8<-- [start:network2-load]
        book_net, cost = bp.io.load_network2("net.json")  # any file that network2's Network.save wrote
        print(book_net)
        print("cost:", cost)
        X_test, y_test = data.test
        print(f"test: {bp.evaluate(book_net, X_test, y_test)} / {X_test.shape[1]} digits correct")
        # --8<-- [end:network2-load]
    saved = net.parameters()  # for the check at the end

    # --8<-- [start:from-book]
    import numpy as np

    import minibp as bp
    from minibp.data import from_book, load_sample

    # The book's mnist_loader gives lists of (x, y) pairs: x a (784, 1) column, y a one-hot
    # (10, 1) column in the training data and an int label in the test data. Build such lists:
    digits = load_sample()
    (X, y), (X_test, y_test) = digits.training, digits.test
    book_training_data = [(X[:, [k]], np.eye(10)[:, [y[k]]]) for k in range(X.shape[1])]
    book_test_data = [(X_test[:, [k]], int(y_test[k])) for k in range(X_test.shape[1])]

    X_train, y_train = from_book(book_training_data)  # (784, N) inputs, (N,) labels
    print("training:", X_train.shape, y_train.shape, y_train.dtype)
    net = bp.mlp([784, 30, 10], rng=1)
    optimizer = bp.SGD(net.parameters(), eta=3.0)
    evaluation_data = from_book(book_test_data)
    bp.train(
        net, (X_train, y_train), optimizer=optimizer, epochs=1, mini_batch_size=10, evaluation_data=evaluation_data
    )
    # --8<-- [end:from-book]
    converted = bool(np.array_equal(X_train, X) and np.array_equal(y_train, y))
    loaded = all(np.array_equal(p.data, q.data) for p, q in zip(book_net.parameters(), saved))
    return converted and loaded


if __name__ == "__main__":
    main()
