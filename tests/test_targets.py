"""Labels, targets and predictions read by one rule (`minibp.data.targets`), a one-output network included."""

from pathlib import Path

import numpy as np
import pytest

import minibp as bp
from minibp.cli import main
from minibp.data.targets import classes, target_rows
from minibp.errors import LabelError

PHOTOS = Path(__file__).resolve().parents[1] / "minibp" / "data" / "digits"  # the example photos


def test_classes_is_the_arg_max_or_for_one_row_whether_it_exceeds_one_half():
    a = np.array([[0.1, 0.7, 0.3], [0.9, 0.2, 0.3], [0.0, 0.1, 0.4]])
    np.testing.assert_array_equal(classes(a), [1, 0, 2])
    np.testing.assert_array_equal(classes(np.array([[0.2, 0.5, 0.51, 0.9]])), [0, 0, 1, 1])
    assert classes(a).dtype == np.intp and classes(a[:1]).dtype == np.intp


def test_target_rows_of_labels_are_unit_vectors_and_for_one_output_the_labels_themselves():
    np.testing.assert_array_equal(target_rows(np.array([2, 0]), 2, 3, np.dtype(np.float64), "t"), np.eye(3)[[2, 0]])
    np.testing.assert_array_equal(target_rows(np.array([1, 0, 1]), 3, 1, np.dtype(np.float32), "t"), [[1], [0], [1]])
    with pytest.raises(LabelError, match="t: a network with one output takes labels 0 and 1"):
        target_rows(np.array([0, 2]), 2, 1, np.dtype(np.float64), "t")


def one_output(n_in=4, m=20, seed=0):
    """A network with one sigmoid output that answers 1 exactly where x_0 > x_1, and labels it gets partly wrong."""
    net = bp.Sequential(bp.Dense(n_in, 1, rng=0), bp.Sigmoid())
    net[0].w.data[:] = 0.0
    net[0].w.data[0, :2] = [4.0, -4.0]
    net[0].b.data[:] = 0.0
    X = np.random.default_rng(seed).random((n_in, m))
    right = (X[0] > X[1]).astype(np.int64)
    y = right.copy()
    y[:3] = 1 - y[:3]  # three examples it gets wrong
    return net, X, right, y


def test_a_one_output_network_predicts_what_evaluate_counts():
    net, X, right, y = one_output()
    assert 0 < right.sum() < len(right)  # both classes occur
    np.testing.assert_array_equal(bp.predict(net, X), right)
    assert bp.evaluate(net, X, y) == len(y) - 3
    assert bp.evaluate(net, X, right) == len(y)
    assert bp.evaluate(net, X, y[None, :].astype(float)) == len(y) - 3  # targets (1, N) read alike
    assert bp.accuracy(net, X, y) == pytest.approx((len(y) - 3) / len(y))


def test_the_plots_of_a_one_output_network_use_its_predictions():
    pytest.importorskip("matplotlib.figure", reason="the plot extra (matplotlib) is not installed")
    from minibp.plot import plot_confusion, plot_misclassified

    net, X, right, y = one_output()
    titles = [ax.get_title() for ax in plot_misclassified(net, X, y, n=100).axes]
    assert titles == [f"{y[k]} → {right[k]}" for k in range(3)]
    expected = np.zeros((2, 2), dtype=int)
    np.add.at(expected, (y, right), 1)
    matrix, _ = plot_confusion(net, X, y).axes
    np.testing.assert_array_equal(matrix.images[0].get_array(), expected)
    matrix, _ = plot_confusion(net, X, y[None, :]).axes  # targets (1, N): the same labels
    np.testing.assert_array_equal(matrix.images[0].get_array(), expected)


@pytest.mark.parametrize("bias, guess", [(3.0, 1), (-3.0, 0)])
def test_minibp_predict_answers_a_one_output_network_by_its_threshold(bias, guess, tmp_path, capsys):
    pytest.importorskip("PIL.Image", reason="Pillow is not installed (pip install minibp[image])")
    net = bp.Sequential(bp.Dense(784, 1, rng=0), bp.Sigmoid())
    net[0].w.data[:] = 0.0
    net[0].b.data[:] = bias  # the output is sigmoid(bias) for every image
    bp.save(net, tmp_path / "model.npz")
    photo = str(PHOTOS / "seven.png")
    assert main(["predict", str(tmp_path / "model.npz"), photo, "--top", "0"]) == 0
    assert capsys.readouterr().out == f"{photo}: {guess}\n"
