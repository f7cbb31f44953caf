"""How-to: read and write the JSON files of the book's network2.py, and convert the book's (x, y) pairs.

python docs/examples/book_files.py
"""

from __future__ import annotations


def main(n_train: int = 1000, epochs: int = 1) -> bool:
    # --8<-- [start:network2-save]
    import os
    import tempfile

    import minibp as bp
    from minibp.data import load_sample

    data = load_sample()
    X, y = data.training[0][:, :n_train], data.training[1][:n_train]
    net = bp.mlp([784, 30, 10], init="scaled", rng=0)  # network2's default start
    optimizer = bp.SGD(net.parameters(), eta=0.5)
    bp.train(
        net, (X, y), optimizer=optimizer, cost=bp.CrossEntropyCost(), epochs=epochs, mini_batch_size=10, verbose=False
    )

    path = os.path.join(tempfile.mkdtemp(), "net.json")
    bp.io.save_network2(net, path, bp.CrossEntropyCost())  # network2.load(path) reads this file
    print(f"saved {os.path.basename(path)}: {os.path.getsize(path):,} bytes")
    # --8<-- [end:network2-save]

    # --8<-- [start:network2-load]
    book_net, cost = bp.io.load_network2(path)  # any file that network2's Network.save wrote
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
    os.remove(path)
    os.rmdir(os.path.dirname(path))
    return converted and loaded


if __name__ == "__main__":
    main()
