import sys

import numpy as np
import pytest

import minibp as bp
from minibp.plot import load_history, plot_history

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
