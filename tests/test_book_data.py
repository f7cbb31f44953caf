"""`minibp.data.from_book`, and `train`/`evaluate` pointing to it when given the book's list of (x, y) pairs."""

from __future__ import annotations

import numpy as np
import pytest

import minibp as bp
from minibp.data import Splits, from_book
from minibp.errors import LabelError, NonFiniteError, ShapeError


def one_hot(k: int, n: int = 10) -> np.ndarray:
    """The book's vectorized_result: a (n, 1) column with 1.0 at row k."""
    e = np.zeros((n, 1))
    e[k] = 1.0
    return e


def book_lists(N: int = 30, n_in: int = 784, seed: int = 0):
    """What the book's loader gives: (x, one-hot y) pairs for training, (x, int label) pairs for testing."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, (n_in, N))
    labels = rng.integers(0, 10, N)
    columns = [X[:, k].reshape(n_in, 1).copy() for k in range(N)]
    training = [(x, one_hot(int(k))) for x, k in zip(columns, labels)]
    test = [(x, k) for x, k in zip(columns, labels)]  # numpy int64 labels, as iterating an array gives
    return X, labels, training, test


# --- conversion -----------------------------------------------------------------------------------


def test_one_hot_columns_become_labels():
    X, labels, training, _ = book_lists()
    X2, y2 = from_book(training)
    assert X2.shape == (784, 30) and X2.dtype == np.float64
    np.testing.assert_array_equal(X2, X)
    assert y2.shape == (30,) and y2.dtype == np.int64
    np.testing.assert_array_equal(y2, labels)
    assert X2.flags.f_contiguous  # each example contiguous, as minibp.data's loaders return


def test_int_labels_stay_labels():
    X, labels, _, test = book_lists()
    X2, y2 = from_book(test)
    np.testing.assert_array_equal(X2, X)
    assert y2.dtype == np.int64
    np.testing.assert_array_equal(y2, labels)
    _, y3 = from_book([(x, int(k)) for x, k in test])  # plain Python ints too
    np.testing.assert_array_equal(y3, labels)


def test_any_iterable_of_pairs_any_n_in_and_flat_vectors():
    pairs = [(np.full((3, 1), k, dtype=np.uint8), k) for k in range(4)]
    X, y = from_book(iter(pairs))  # a zip or generator, as Python 3 ports of the loader return
    np.testing.assert_array_equal(X, np.tile(np.arange(4.0), (3, 1)))
    X2, _ = from_book(tuple([x.ravel(), k] for x, k in pairs))  # (n_in,) vectors, [x, y] lists
    np.testing.assert_array_equal(X2, X)
    X3, _ = from_book(zip([x for x, _ in pairs], range(4)), dtype=np.float32)
    assert X3.dtype == np.float32
    with pytest.raises(TypeError, match="floating"):
        from_book(pairs, dtype=np.int64)


def test_columns_that_are_not_one_hot_stay_targets():
    soft = [(np.zeros((2, 1)), np.array([[0.2], [0.8]])), (np.ones((2, 1)), np.array([[1.0], [0.0]]))]
    X, y = from_book(soft)
    assert y.shape == (2, 2) and y.dtype == np.float64
    np.testing.assert_array_equal(y, [[0.2, 1.0], [0.8, 0.0]])
    zeros = [(np.zeros((2, 1)), np.zeros((3, 1))), (np.zeros((2, 1)), one_hot(1, 3))]
    assert from_book(zeros)[1].shape == (3, 2)  # an all-zero column is not one-hot
    two_ones = [(np.zeros((2, 1)), np.ones((3, 1)))]
    assert from_book(two_ones)[1].shape == (3, 1)
    single = [(np.zeros((2, 1)), np.array([[1.0]])), (np.zeros((2, 1)), np.array([[0.0]]))]
    X, y = from_book(single)  # one output neuron: its 0/1 targets, never an argmax
    np.testing.assert_array_equal(y, [[1.0, 0.0]])


def test_converted_data_trains_as_the_arrays_do():
    X, labels, training, test = book_lists(N=40, n_in=6)
    targets = np.zeros((10, 40))
    targets[labels, np.arange(40)] = 1.0

    def run(data, evaluation):
        net = bp.mlp([6, 5, 10], rng=0)
        history = bp.train(net, data, optimizer=bp.SGD(net.parameters(), eta=1.0), epochs=2, mini_batch_size=8,
                           rng=1, verbose=False, evaluation_data=evaluation)  # fmt: skip
        return net, history

    converted, h1 = run(from_book(training), from_book(test))
    arrays, h2 = run((X, targets), (X, labels))
    for p, q in zip(converted.parameters(), arrays.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert h1.evaluation_correct == h2.evaluation_correct
    assert bp.evaluate(converted, *from_book(test)) == bp.evaluate(arrays, X, labels)


# --- errors name the example ----------------------------------------------------------------------


def pairs_with(i: int, pair, n: int = 6) -> list:
    pairs: list = [(np.zeros((3, 1)), k % 2) for k in range(n)]
    pairs[i] = pair
    return pairs


@pytest.mark.parametrize(
    "pairs, error, message",
    [
        (
            pairs_with(3, (np.zeros((4, 1)), 0)),
            ShapeError,
            r"example 3: x must be a column \(3, 1\), got shape \(4, 1\)",
        ),
        (pairs_with(2, (np.zeros((1, 3)), 0)), ShapeError, r"example 2: x must be .* \(1, 3\) \(a row"),
        (pairs_with(1, (np.zeros((3, 1, 1)), 0)), ShapeError, "example 1: x must be a column"),
        (pairs_with(0, (np.zeros((0, 1)), 0)), ShapeError, "example 0: x must be a column"),
        (pairs_with(4, (np.array([["a"], ["b"], ["c"]]), 0)), TypeError, "example 4: x must hold real numbers"),
        (pairs_with(5, (np.array([[0.0], [np.nan], [0.0]]), 0)), NonFiniteError, "example 5: x holds NaN"),
        (pairs_with(2, (np.zeros((3, 1)), -1)), LabelError, "example 2: the label must be an integer >= 0, got -1"),
        (pairs_with(1, (np.zeros((3, 1)), 1.5)), LabelError, "example 1: the label must be an integer, got 1.5"),
        (pairs_with(3, (np.zeros((3, 1)), True)), LabelError, "example 3: the label must be an integer, got True"),
        (pairs_with(4, (np.zeros((3, 1)), "7")), LabelError, "example 4: the label must be an integer"),
        (pairs_with(2, (np.zeros((3, 1)), 2**70)), LabelError, "example 2: the label must be an integer"),
        (pairs_with(3, (np.zeros((3, 1)), one_hot(1, 2))), LabelError, "example 3: y is a target column but example 0"),
        (pairs_with(2, (np.zeros((3, 1)), 0, 1)), TypeError, r"example 2 is tuple, not an \(x, y\) pair"),
        (pairs_with(1, np.zeros((3, 1))), TypeError, r"example 1 is an array of shape \(3, 1\), not an \(x, y\) pair"),
    ],
)
def test_bad_examples_are_named_by_index(pairs, error, message):
    with pytest.raises(error, match=message):
        from_book(pairs)


def test_bad_target_columns_are_named_by_index():
    pairs = [(np.zeros((2, 1)), one_hot(k % 3, 3)) for k in range(5)]
    pairs[4] = (np.zeros((2, 1)), one_hot(0, 4))
    with pytest.raises(ShapeError, match=r"example 4: y must be a column \(3, 1\), got shape \(4, 1\)"):
        from_book(pairs)
    pairs[4] = (np.zeros((2, 1)), np.array([[0.0], [np.inf], [0.0]]))
    with pytest.raises(NonFiniteError, match="example 4: y holds NaN or infinity"):
        from_book(pairs)
    pairs[4] = (np.zeros((2, 1)), 2)
    with pytest.raises(LabelError, match="example 4: y is a label but example 0's y is a target column"):
        from_book(pairs)


def test_empty_data_arrays_and_minibp_pairs_are_refused():
    with pytest.raises(ValueError, match="no examples"):
        from_book([])
    with pytest.raises(TypeError, match=r"got an array of shape \(784, 5\)"):
        from_book(np.zeros((784, 5)))
    X, y = np.zeros((784, 5)), np.zeros(5, dtype=int)
    with pytest.raises(TypeError, match=r"looks like minibp's \(X, y\) already"):
        from_book((X, y))


# --- train and evaluate point to the converter ----------------------------------------------------


def small_net_and_lists():
    _, _, training, test = book_lists(N=12, n_in=4)
    net = bp.mlp([4, 10], rng=0)
    return net, training, test


def train(net, data, **kwargs):
    return bp.train(net, data, optimizer=bp.SGD(net.parameters(), eta=1.0), epochs=1, mini_batch_size=3,
                    verbose=False, **kwargs)  # fmt: skip


@pytest.mark.parametrize("n", [12, 2, 3, 1])
def test_train_names_the_converter_for_the_book_list(n):
    net, training, test = small_net_and_lists()
    before = [p.data.copy() for p in net.parameters()]
    with pytest.raises(TypeError, match=r"training_data looks like the book's list .* minibp\.data\.from_book\(data\)"):
        train(net, training[:n])  # two pairs, too: never unpacked as X and y
    with pytest.raises(TypeError, match=r"training_data looks like the book's list"):
        train(net, tuple(test[:n]))
    with pytest.raises(TypeError, match=r"training_data looks like the book's list"):
        train(net, zip(*from_book(training)))  # a zip, as Python 3 ports of the loader return
    assert all(np.array_equal(p.data, q) for p, q in zip(net.parameters(), before))


def test_train_names_the_converter_for_book_evaluation_data():
    net, training, test = small_net_and_lists()
    with pytest.raises(TypeError, match=r"evaluation_data looks like the book's list .*from_book"):
        train(net, from_book(training), evaluation_data=test)
    train(net, from_book(training), evaluation_data=from_book(test))


def test_other_wrong_containers_are_named():
    net, training, _ = small_net_and_lists()
    X, y = from_book(training)
    with pytest.raises(TypeError, match=r"training_data must be a pair \(X, y\), got 3 items; .*from_book"):
        train(net, (X, y, y))
    with pytest.raises(TypeError, match=r"training_data must be a pair \(X, y\), got a Splits: pass data.training"):
        train(net, Splits((X, y), (X, y), (X, y)))
    train(net, [X, y])  # a list of the two arrays is still a pair


def test_evaluate_accuracy_and_predict_name_the_converter():
    net, _, test = small_net_and_lists()
    X, y = from_book(test)
    for call in (lambda: bp.evaluate(net, test, y), lambda: bp.accuracy(net, test, y), lambda: bp.predict(net, test)):
        with pytest.raises(TypeError, match=r"X looks like the book's list .* minibp\.data\.from_book\(data\)"):
            call()
    assert 0 <= bp.evaluate(net, X, y) <= 12
