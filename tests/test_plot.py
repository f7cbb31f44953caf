import json
import sys

import numpy as np
import pytest

import minibp as bp
from minibp import io as bpio
from minibp.cli import main
from minibp.plot import (
    load_history,
    plot_confusion,
    plot_filters,
    plot_history,
    plot_misclassified,
    plot_speed,
    plot_weights,
)

TRAINING = "training (during the epoch)"


def make_history(epochs=4, evaluation=True):
    return bp.History(
        epoch=list(range(epochs)),
        training_cost=[1.0 / (e + 1) for e in range(epochs)],
        evaluation_cost=[0.9 / (e + 1) for e in range(epochs)] if evaluation else [None] * epochs,
        evaluation_correct=[60 + e for e in range(epochs)] if evaluation else [None] * epochs,
        evaluation_accuracy=[(60 + e) / 100 for e in range(epochs)] if evaluation else [None] * epochs,
        evaluation_size=100 if evaluation else 0,
        seconds=[0.1] * epochs,
    )


def test_plot_draws_every_recorded_series(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    history = make_history()
    history.save(tmp_path / "h.json")
    for source in (history, history.to_dict(), tmp_path / "h.json"):
        cost, accuracy = plot_history(source).axes
        assert [line.get_label() for line in cost.lines] == [TRAINING, "evaluation"]
        assert [line.get_label() for line in accuracy.lines] == ["evaluation"]
        np.testing.assert_allclose(accuracy.lines[0].get_ydata(), [60, 61, 62, 63])
        np.testing.assert_allclose(cost.lines[0].get_xdata(), range(4))
        np.testing.assert_allclose(cost.lines[0].get_ydata(), history.training_cost)


def test_series_that_were_not_recorded_are_left_out(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    fig = plot_history(make_history(evaluation=False), tmp_path / "c.svg")
    cost, accuracy = fig.axes
    assert [line.get_label() for line in cost.lines] == [TRAINING]
    assert len(accuracy.lines) == 0 and accuracy.texts[0].get_text() == "not recorded"
    assert (tmp_path / "c.svg").read_text().lstrip().startswith("<?xml")
    assert [p.name for p in tmp_path.iterdir()] == ["c.svg"]


def test_missing_matplotlib_names_the_extra(monkeypatch):
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")] or ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install minibp\[plot\]"):
        plot_history(make_history())


def test_malformed_histories_are_data_format_errors():
    with pytest.raises(bp.DataFormatError, match="'epoch' list"):
        load_history({"training_cost": [1.0]})
    with pytest.raises(bp.DataFormatError, match="'evaluation_accuracy' must be a list of 2 values"):
        load_history({"epoch": [0, 1], "evaluation_accuracy": None})


def test_a_changing_learning_rate_gets_its_own_panel(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    history = make_history().to_dict()
    history["eta"] = [3.0, 3.0, 1.5, 0.75]
    history["training_full_cost"] = [0.8, 0.4, 0.3, 0.2]
    history["training_accuracy"] = [0.7, 0.8, 0.85, 0.9]
    cost, accuracy, eta = plot_history(history).axes
    assert [line.get_label() for line in cost.lines] == [TRAINING, "evaluation", "training (after the epoch)"]
    assert [line.get_label() for line in accuracy.lines] == ["evaluation", "training"]
    np.testing.assert_allclose(eta.lines[0].get_ydata(), [3.0, 3.0, 1.5, 0.75])
    history["eta"] = [3.0] * 4
    assert len(plot_history(history).axes) == 2  # a constant learning rate is not worth a panel


def test_several_runs_share_one_figure_one_line_per_run_and_series_with_a_legend(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    first, second = make_history(), make_history(epochs=3).to_dict()
    second["training_cost"] = [2.0, 1.5, 1.2]
    bp.History(**second).save(tmp_path / "second.json")
    for runs in ([first, second], (first.to_dict(), tmp_path / "second.json")):
        fig = plot_history(runs, tmp_path / "both.png")
        cost, accuracy = fig.axes
        assert [line.get_label() for line in cost.lines] == [
            f"run 1: {TRAINING}",
            "run 1: evaluation",
            f"run 2: {TRAINING}",
            "run 2: evaluation",
        ]
        assert [line.get_label() for line in accuracy.lines] == ["run 1: evaluation", "run 2: evaluation"]
        assert [t.get_text() for t in cost.get_legend().get_texts()] == [line.get_label() for line in cost.lines]
        assert [t.get_text() for t in accuracy.get_legend().get_texts()] == ["run 1: evaluation", "run 2: evaluation"]
        np.testing.assert_allclose(cost.lines[0].get_ydata(), first.training_cost)
        np.testing.assert_allclose(cost.lines[2].get_xdata(), range(3))
        np.testing.assert_allclose(cost.lines[2].get_ydata(), [2.0, 1.5, 1.2])
        np.testing.assert_allclose(accuracy.lines[1].get_ydata(), [60, 61, 62])
        colours = [line.get_color() for line in cost.lines]
        assert colours[0] == colours[1] != colours[2] == colours[3]  # a colour per run
        styles = [line.get_linestyle() for line in cost.lines]
        assert styles[0] == styles[2] != styles[1] == styles[3]  # a line style per series
        assert (tmp_path / "both.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_runs_are_named_by_labels_and_a_changing_learning_rate_of_any_run_gets_its_panel():
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    constant, halved = make_history().to_dict(), make_history().to_dict()
    constant["eta"], halved["eta"] = [3.0] * 4, [3.0, 3.0, 1.5, 1.5]
    cost, accuracy, eta = plot_history([constant, halved], labels=["sgd", "halving"]).axes
    assert [line.get_label() for line in accuracy.lines] == ["sgd: evaluation", "halving: evaluation"]
    assert [line.get_label() for line in eta.lines] == ["sgd", "halving"]
    np.testing.assert_allclose(eta.lines[1].get_ydata(), [3.0, 3.0, 1.5, 1.5])
    assert [t.get_text() for t in eta.get_legend().get_texts()] == ["sgd", "halving"]
    (alone,) = plot_history([make_history()]).axes[1].lines  # a list of one is a run like any other
    assert alone.get_label() == "run 1: evaluation"
    named = plot_history(make_history(), labels=["mine"]).axes[1].lines  # a single history may be named too
    assert [line.get_label() for line in named] == ["mine: evaluation"]


def test_lists_of_histories_that_cannot_be_drawn_are_refused_before_matplotlib_is_needed(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # the checks come first, with or without matplotlib
    with pytest.raises(ValueError, match="an empty list of histories"):
        plot_history([])
    with pytest.raises(ValueError, match="1 labels for 2 histories"):
        plot_history([make_history(), make_history()], labels=["one"])
    with pytest.raises(ValueError, match="labels must be a list of strings, one per history"):
        plot_history([make_history(), make_history()], labels="ab")
    with pytest.raises(ValueError, match="labels must be a list of strings"):
        plot_history([make_history()], labels=[1])
    with pytest.raises(bp.DataFormatError, match=r"run 2 of 2 \(slow\): history: 'evaluation_accuracy' must be"):
        plot_history([make_history(), {"epoch": [0, 1], "evaluation_accuracy": None}], labels=["fast", "slow"])


# ---------------------------------------------------------------- pictures of a network

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def matplotlib():
    """The matplotlib package, its `figure` module loaded; skips the test without the plot extra."""
    pytest.importorskip("matplotlib.figure", reason="the plot extra (matplotlib) is not installed")
    return sys.modules["matplotlib"]


def small_classifier(n_in=16, hidden=6, classes=4, m=60, seed=0):
    """A random network on random 4 x 4 "images", and labels it gets partly wrong."""
    rng = np.random.default_rng(seed)
    net = bp.mlp([n_in, hidden, classes], rng=seed)
    X = rng.random((n_in, m))
    y = rng.integers(0, classes, size=m)
    return net, X, y


def guesses_of(net, X):
    """The network's answers, computed here from its output rather than with `predict`."""
    return np.asarray(net(X)).argmax(axis=0)


def test_misclassified_shows_the_first_n_wrong_examples_with_label_and_guess(matplotlib):
    net, X, y = small_classifier()
    guesses = guesses_of(net, X)
    wrong = [k for k in range(X.shape[1]) if guesses[k] != y[k]]
    assert 5 < len(wrong) < X.shape[1]  # the test needs both kinds of example
    fig = plot_misclassified(net, X, y, n=5)
    assert len(fig.axes) == 5 and sum(len(ax.images) for ax in fig.axes) == 5
    for ax, k in zip(fig.axes, wrong[:5]):
        assert ax.get_title() == f"{y[k]} → {guesses[k]}"
        np.testing.assert_array_equal(ax.images[0].get_array(), X[:, k].reshape(4, 4))
    assert fig._suptitle.get_text().startswith(f"{len(wrong)} of {X.shape[1]} examples misclassified")

    everything = plot_misclassified(net, X, y, n=1000)
    assert [ax.get_title() for ax in everything.axes] == [f"{y[k]} → {guesses[k]}" for k in wrong]
    one_hot = np.eye(4)[:, y]  # targets (n_out, m) are read by their arg-max
    assert [ax.get_title() for ax in plot_misclassified(net, X, one_hot, n=1000).axes] == [
        ax.get_title() for ax in everything.axes
    ]


def test_misclassified_with_nothing_wrong_says_so(matplotlib):
    net, X, _ = small_classifier()
    fig = plot_misclassified(net, X, guesses_of(net, X))
    assert len(fig.axes) == 1 and not fig.axes[0].images
    assert fig.axes[0].texts[0].get_text() == "every example is classified correctly"


def test_misclassified_refuses_what_it_cannot_draw(matplotlib):
    net, X, y = small_classifier()
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        plot_misclassified(net, X, y, n=0)
    with pytest.raises(bp.ShapeError, match=r"y must have shape \(60,\)"):
        plot_misclassified(net, X, y[:-1])
    with pytest.raises(bp.LabelError, match="labels must be integers"):
        plot_misclassified(net, X, y + 0.5)
    with pytest.raises(bp.LabelError, match="labels must be integers"):
        plot_misclassified(net, X, np.where(y == 0, np.inf, y))
    net15 = bp.mlp([15, 3, 2], rng=0)
    with pytest.raises(bp.ShapeError, match="15 inputs do not make a square image"):
        plot_misclassified(net15, X[:15], y % 2)


def test_weights_draws_each_row_of_w_as_an_image(matplotlib):
    net = bp.mlp([9, 7, 3], rng=1)  # any square n_in: 3 x 3
    w = net[0].w.data
    fig = plot_weights(net)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 7 and len(fig.axes) == 8  # a neuron each, and the colour bar
    for j, image in enumerate(images):
        np.testing.assert_array_equal(image.get_array(), w[j].reshape(3, 3))
        assert image.get_clim() == (-np.abs(w).max(), np.abs(w).max())  # one scale, centred on 0

    start = bp.mlp([9, 7, 3], rng=2)
    for relative_to in (start, start[0].w.data):
        changes = [ax.images[0] for ax in plot_weights(net, relative_to=relative_to).axes if ax.images]
        for j, image in enumerate(changes):
            np.testing.assert_allclose(image.get_array(), (w - start[0].w.data)[j].reshape(3, 3))

    deeper = bp.mlp([4, 16, 2], rng=0)
    assert len([ax for ax in plot_weights(deeper, layer=1).axes if ax.images]) == 2  # layer 1: 16 = 4 x 4 inputs


def test_weights_refuses_a_missing_layer_or_a_non_square_one(matplotlib):
    net = bp.mlp([9, 7, 3], rng=1)
    with pytest.raises(ValueError, match="layer 2: the network has 2 Dense layers, numbered 0 to 1"):
        plot_weights(net, layer=2)
    with pytest.raises(ValueError, match="no Dense layer"):
        plot_weights(bp.Sequential(bp.Sigmoid()))
    with pytest.raises(bp.ShapeError, match="7 inputs do not make a square image"):
        plot_weights(net, layer=1)
    with pytest.raises(bp.ShapeError, match=r"relative_to has shape \(7, 4\)"):
        plot_weights(net, relative_to=np.zeros((7, 4)))


def filter_images(fig):
    """The images of a `plot_filters` figure, in the order drawn (the colour bar's axes holds none)."""
    return [ax.images[0] for ax in fig.axes if ax.images]


def test_filters_draws_each_filter_of_a_one_channel_layer_on_one_symmetric_scale(matplotlib):
    conv = bp.Conv2d((1, 8, 8), 12, 3, rng=0)
    conv.w.data[3, 0, 1, 2] = 5.0  # the largest weight sets the scale of every image
    fig = plot_filters(conv)
    images = filter_images(fig)
    assert len(images) == 12
    for f, image in enumerate(images):
        np.testing.assert_array_equal(image.get_array(), conv.w.data[f, 0])
        assert image.get_clim() == (-5.0, 5.0)
    titled = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in titled] == [str(f) for f in range(12)]
    rows = sorted({round(ax.get_position().y0, 6) for ax in titled})
    assert len(rows) == 2  # ten to a row
    conv.w.data[:] = -conv.w.data  # the scale is symmetric about 0 whichever sign is largest
    assert {image.get_clim() for image in filter_images(plot_filters(conv))} == {(-5.0, 5.0)}


def test_filters_of_several_channels_are_a_filter_by_channel_grid(matplotlib):
    net = bp.Sequential(
        bp.Conv2d((1, 10, 10), 3, 3, rng=0),
        bp.ReLU(),
        bp.Conv2d((3, 8, 8), 4, 5, rng=1),
    )
    second = net[2]
    fig = plot_filters(net, layer=1)
    titled = [ax for ax in fig.axes if ax.images]
    assert len(titled) == 4 * 3
    limit = float(np.abs(second.w.data).max())
    for n, ax in enumerate(titled):
        f, c = divmod(n, 3)
        np.testing.assert_array_equal(ax.images[0].get_array(), second.w.data[f, c])
        assert ax.images[0].get_clim() == (-limit, limit)
        assert ax.get_title() == (str(c) if f == 0 else "")
        assert ax.get_ylabel() == (str(f) if c == 0 else "")
    assert "4 filters of Conv2d layer 1, 5 × 5 over 3 input channels" in fig._suptitle.get_text()
    assert len(filter_images(plot_filters(net))) == 3  # layer 0: the first Conv2d, one channel


def test_filters_refuses_a_missing_layer_or_non_finite_weights(matplotlib):
    with pytest.raises(ValueError, match="layer 1: the network has 1 Conv2d layers, numbered 0 to 0"):
        plot_filters(bp.Conv2d((1, 6, 6), 2, 3, rng=0), layer=1)
    with pytest.raises(ValueError, match="the network has no Conv2d layer"):
        plot_filters(bp.mlp([4, 3, 2], rng=0))
    conv = bp.Conv2d((1, 6, 6), 2, 3, rng=0)
    conv.w.data[1, 0, 0, 0] = np.nan
    with pytest.raises(bp.NonFiniteError, match="plot_filters: the filters of Conv2d layer 0"):
        plot_filters(conv)


def test_confusion_counts_every_label_guess_pair(matplotlib):
    net, X, y = small_classifier(classes=5)
    y[y == 3] = 1  # label 3 has no examples: its share is not a number and its bar is empty
    guesses = guesses_of(net, X)
    expected = np.zeros((5, 5), dtype=int)
    for label, guess in zip(y.tolist(), guesses.tolist()):
        expected[label][guess] += 1
    fig = plot_confusion(net, X, y)
    matrix, bars = fig.axes
    np.testing.assert_array_equal(matrix.images[0].get_array(), expected)
    widths = [bar.get_width() for bar in bars.patches]
    for label in range(5):
        examples = sum(1 for v in y if v == label)
        right = sum(1 for v, g in zip(y, guesses) if v == g == label)
        assert widths[label] == pytest.approx(100 * right / examples if examples else 0)
    assert bars.texts[3].get_text() == "no examples"
    assert f"{sum(y == guesses)} of 60 correct" in fig._suptitle.get_text()


def speed_history(epochs=3):
    history = make_history(epochs).to_dict()
    history["learning_speed"] = [[0.01 * (e + 1), 0.2 * (e + 1), 0.5] for e in range(epochs)]
    history["saturation"] = [[0.5 - 0.1 * e, None, 0.25] for e in range(epochs)]
    return history


def test_speed_draws_a_line_per_layer_and_per_sigmoid_layer(matplotlib, tmp_path):
    history = speed_history()
    path = tmp_path / "h.json"
    path.write_text(json.dumps(history))
    for source in (history, path):
        speed, saturation = plot_speed(source).axes
        assert [line.get_label() for line in speed.lines] == ["hidden layer 1", "hidden layer 2", "output layer"]
        np.testing.assert_allclose(speed.lines[1].get_xdata(), [1, 2, 3])  # epochs trained
        np.testing.assert_allclose(speed.lines[1].get_ydata(), [0.2, 0.4, 0.6])
        assert speed.get_yscale() == "log"
        assert [line.get_label() for line in saturation.lines] == ["hidden layer 1", "output layer"]
        np.testing.assert_allclose(saturation.lines[0].get_ydata(), [50, 40, 30])  # per cent

    history["initial_learning_speed"] = [0.001, 0.1, 0.0]  # a zero: no log scale
    history["initial_saturation"] = [0.9, None, 0.1]
    speed, saturation = plot_speed(history).axes
    np.testing.assert_allclose(speed.lines[0].get_xdata(), [0, 1, 2, 3])
    np.testing.assert_allclose(speed.lines[0].get_ydata(), [0.001, 0.01, 0.02, 0.03])
    assert speed.get_yscale() == "linear"
    np.testing.assert_allclose(saturation.lines[1].get_ydata(), [10, 25, 25, 25])

    history["saturation"] = [[None, None, None]] * 3
    del history["initial_saturation"]
    _, saturation = plot_speed(history).axes
    assert not saturation.lines and saturation.texts[0].get_text() == "no sigmoid layer"


def test_speed_needs_a_history_that_recorded_it(matplotlib, tmp_path):
    path = tmp_path / "h.json"
    make_history().save(path)
    for source in (make_history(), make_history().to_dict(), path):
        with pytest.raises(bp.DataFormatError, match="no learning speed or saturation.*LearningSpeed"):
            plot_speed(source)
    history = speed_history()
    history["learning_speed"] = history["learning_speed"][:2]
    with pytest.raises(bp.DataFormatError, match="'learning_speed' must be a list of 3 values"):
        plot_speed(history)
    history = speed_history()
    history["saturation"][1] = "high"
    with pytest.raises(bp.DataFormatError, match="each entry of 'saturation' must be a list of numbers"):
        plot_speed(history)


def draw(which, path):
    """Draw the picture ``which`` of a small network or history, written to ``path``; return the figure."""
    net, X, y = small_classifier()
    if which == "history":
        return plot_history(make_history(), path)
    if which == "misclassified":
        return plot_misclassified(net, X, y, path=path)
    if which == "weights":
        return plot_weights(net, path=path)
    if which == "filters":
        return plot_filters(bp.Conv2d((1, 6, 6), 4, 3, rng=0), path=path)
    if which == "confusion":
        return plot_confusion(net, X, y, path=path)
    return plot_speed(speed_history(), path=path)


PLOTS = ["history", "misclassified", "weights", "filters", "confusion", "speed"]


@pytest.mark.parametrize("which", PLOTS)
def test_each_picture_is_written_as_a_png(matplotlib, tmp_path, which):
    path = tmp_path / "picture.png"
    fig = draw(which, path)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert path.read_bytes()[:8] == PNG
    assert [p.name for p in tmp_path.iterdir()] == ["picture.png"]


@pytest.mark.parametrize("which", PLOTS)
def test_a_failed_write_leaves_no_file_and_the_old_one_intact(matplotlib, tmp_path, monkeypatch, which):
    def half_then_fail(self, f, **kwargs):
        f.write(PNG)  # part of a picture ...
        raise OSError(28, "No space left on device")  # ... and then the disk is full

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", half_then_fail)
    path = tmp_path / "picture.png"
    with pytest.raises(OSError, match="No space left"):
        draw(which, path)
    assert list(tmp_path.iterdir()) == []
    path.write_bytes(b"the previous picture")
    with pytest.raises(OSError, match="No space left"):
        draw(which, path)
    assert [p.name for p in tmp_path.iterdir()] == ["picture.png"]
    assert path.read_bytes() == b"the previous picture"


@pytest.mark.parametrize("which", PLOTS)
def test_every_picture_names_the_extra_when_matplotlib_is_missing(monkeypatch, tmp_path, which):
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")] or ["matplotlib"]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install minibp\[plot\]"):
        draw(which, tmp_path / "picture.png")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- minibp plot KIND FILE


def exit_code(argv):
    """``main(argv)``'s exit status, whether it returns it or raises SystemExit (bad input)."""
    try:
        return main(argv)
    except SystemExit as exit:
        return exit.code


@pytest.fixture
def files(tmp_path):
    """A model for MNIST-sized digits, and a history with and without learning speed."""
    model = tmp_path / "model.npz"
    bpio.save(bp.mlp([784, 10, 10], rng=0), model)
    history = tmp_path / "history.json"
    make_history().save(history)
    speed = tmp_path / "speed.json"
    speed.write_text(json.dumps(speed_history(4)))
    return model, history, speed


def test_cli_draws_each_picture_to_its_default_file(matplotlib, files, tmp_path, capsys):
    model, history, speed = files
    runs = [
        (["plot", str(history)], "history.png"),  # a history alone: curves, as before
        (["plot", "curves", str(history), "--title", "run"], "history.png"),
        (["plot", "misclassified", str(model), "-n", "5"], "model-misclassified.png"),
        (["plot", "weights", str(model), "--layer", "0"], "model-weights.png"),
        (["plot", "confusion", str(model), "--data", "sample"], "model-confusion.png"),
        (["plot", "speed", str(speed)], "speed-speed.png"),
        (["plot", "weights", str(model), "-o", str(tmp_path / "w.png")], "w.png"),
    ]
    for argv, name in runs:
        (tmp_path / name).unlink(missing_ok=True)
        assert main(argv) == 0, argv
        assert capsys.readouterr().out == f"{tmp_path / name}\n"
        assert (tmp_path / name).read_bytes()[:8] == PNG


def test_cli_a_history_named_like_a_picture_is_still_drawn_as_curves(matplotlib, files, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files[1].rename(tmp_path / "speed")
    assert main(["plot", "speed"]) == 0  # an existing file alone: its curves
    assert (tmp_path / "speed.png").read_bytes()[:8] == PNG


def test_cli_bad_input_exits_2_before_any_work(files, tmp_path, monkeypatch, capsys):
    model, history, speed = files

    def forbidden(*args, **kwargs):
        pytest.fail("a file was read before every argument was checked")

    monkeypatch.setattr("minibp.io.load", forbidden)
    monkeypatch.setattr("minibp.data.load_dataset", forbidden)
    monkeypatch.setattr("minibp.plot.load_history", forbidden)
    cases = [
        (["plot", "pie", str(model)], "'pie' is not a picture; choose one of curves, misclassified"),
        (["plot", "weights"], "'minibp plot weights' needs a model file"),
        (["plot", "speed", str(tmp_path / "nope.json")], "no such history file"),
        (["plot", "confusion", str(tmp_path)], "is a directory, not a model file"),
        (["plot", "misclassified", str(model), "-n", "0"], "-n must be >= 1, got 0"),
        (["plot", "weights", str(model), "--layer", "-1"], "--layer must be >= 0, got -1"),
        (["plot", "weights", str(model), "--data", "sample"], "--data is only for the misclassified and confusion"),
        (["plot", str(history), "-n", "3"], "-n is only for the misclassified picture, not for curves"),
        (["plot", "speed", str(speed), "--title", "x"], "--title is only for the curves picture, not for speed"),
        (["plot", "confusion", str(model), "--data", "nope"], "--data nope: unknown data set"),
        (["plot", "weights", str(model), "-o", str(model)], "is the model file itself"),
        (["plot", "weights", str(model), "-o", str(tmp_path)], "is a directory"),
        (["plot", "speed", str(speed), "-o", str(tmp_path / "no" / "x.png")], "does not exist"),
    ]
    for argv, message in cases:
        assert exit_code(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.startswith("minibp plot: error: ") and "Traceback" not in err, (argv, err)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json", "model.npz", "speed.json"]


def test_cli_a_model_that_does_not_fit_the_request_exits_2(files, tmp_path, capsys):
    model = tmp_path / "small.npz"
    bpio.save(bp.mlp([16, 6, 3], rng=0), model)
    assert exit_code(["plot", "weights", str(files[0]), "--layer", "1"]) == 2
    assert "--layer 1: its 10 inputs do not make a square image" in capsys.readouterr().err
    assert exit_code(["plot", "weights", str(files[0]), "--layer", "2"]) == 2
    assert "--layer 2: the model has 2 Dense layers, numbered 0 to 1" in capsys.readouterr().err
    assert exit_code(["plot", "confusion", str(model)]) == 2
    assert "the model takes 16 inputs but the digits of --data sample have 784" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["history.json", "model.npz", "small.npz", "speed.json"]


def test_cli_failures_while_running_exit_1(matplotlib, files, tmp_path, monkeypatch, capsys):
    model, history, _ = files
    assert main(["plot", "speed", str(history)]) == 1  # a history without learning speed
    err = capsys.readouterr().err
    assert "holds no learning speed" in err and err.count("\n") == 1
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a model")
    assert main(["plot", "misclassified", str(bad)]) == 1
    assert capsys.readouterr().err.startswith("minibp: error: ")
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    assert main(["plot", "weights", str(model)]) == 1
    assert "pip install minibp[plot]" in capsys.readouterr().err
    assert not (tmp_path / "model-weights.png").exists() and not (tmp_path / "bad-misclassified.png").exists()


def test_several_optimizers_draw_the_first_ones_learning_rate(tmp_path):
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    history = make_history().to_dict()
    history["eta"] = [[2.0, 0.5], [2.0, 0.5], [1.0, 0.25], [0.5, 0.125]]  # train with a list of two optimizers
    eta = plot_history(history).axes[2]
    np.testing.assert_allclose(eta.lines[0].get_ydata(), [2.0, 2.0, 1.0, 0.5])
    history["eta"][0] = [2.0, float("nan")]
    with pytest.raises(bp.DataFormatError, match="'eta' must hold finite numbers or null"):
        plot_history(history)
