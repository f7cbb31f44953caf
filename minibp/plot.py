r"""Training curves from a history: cost and accuracy per epoch (needs matplotlib).

```
minibp train --history history.json
minibp plot history.json -o curves.png
```

or from Python, ``plot_history(history, "curves.png")`` with a `History`,
its ``to_dict()`` or the path of its JSON file.

The left panel plots every ``*_cost`` series of the history (training and
evaluation cost), the middle one every ``*_accuracy`` series, in per cent;
when a schedule changed the learning rate, a third panel shows $\eta$ per
epoch. Series that were not recorded (empty or all ``None``) are left out.

Plotting is an optional extra: ``pip install minibp[plot]``. Figures are
drawn with matplotlib's non-interactive Agg renderer directly, so no
window opens and pyplot's global state is never touched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import DataFormatError

__all__ = ["plot_history", "load_history"]

INSTALL_HINT = "plotting needs matplotlib: pip install minibp[plot]"


def load_history(source: object) -> dict[str, Any]:
    """Return a history as a dict of lists, from a `History`, a mapping or a JSON file.

    Raises:
        DataFormatError: the file is not JSON, or has no ``epoch`` list, or a
            series' length differs from the number of epochs.
    """
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise DataFormatError(f"history file {str(path)!r} is not JSON: {err}") from None
        where = f"history file {str(path)!r}"
    else:
        to_dict = getattr(source, "to_dict", None)
        data = to_dict() if callable(to_dict) else source
        where = "history"
    if not isinstance(data, Mapping) or not isinstance(data.get("epoch"), list):
        raise DataFormatError(f"{where}: expected an object with an 'epoch' list, as History.save writes")
    n = len(data["epoch"])
    for key, value in data.items():
        if key.endswith(("_cost", "_accuracy")) or key == "eta":
            if not isinstance(value, list) or len(value) not in (0, n):
                raise DataFormatError(f"{where}: {key!r} must be a list of {n} values (one per epoch), or empty")
    return dict(data)


_LABELS = {
    "training_cost": "training (during the epoch)",
    "training_full_cost": "training (after the epoch)",
    "training_accuracy": "training",
    "evaluation_cost": "evaluation",
    "evaluation_accuracy": "evaluation",
}


def _series(history: Mapping[str, Any], suffix: str) -> dict[str, list[tuple[float, float]]]:
    out = {}
    for key, values in history.items():
        if key.endswith(suffix) and isinstance(values, list):
            points = [
                (float(e), float(v))
                for e, v in zip(history["epoch"], values)
                if isinstance(v, (int, float)) and not isinstance(v, bool)
            ]
            if points:
                out[_LABELS.get(key, key.removesuffix(suffix).replace("_", " "))] = points
    return out


def plot_history(history: object, path: str | os.PathLike | None = None, *, title: str | None = None):
    """Draw the training curves of ``history``; save them to ``path`` if given.

    Args:
        history: a `minibp.train.History`, its ``to_dict()``, or the path of
            the JSON file written by ``History.save`` / ``minibp train --history``.
        path: where to write the figure (the format follows the suffix:
            ``.png``, ``.svg``, ``.pdf``); ``None`` only returns it.
        title: a title over both panels.

    Returns:
        The `matplotlib.figure.Figure`.

    Raises:
        ModuleNotFoundError: matplotlib is not installed (``pip install minibp[plot]``).
        DataFormatError: the history is malformed.
    """
    data = load_history(history)  # a malformed history is reported even without matplotlib
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ModuleNotFoundError(INSTALL_HINT, name="matplotlib") from err

    costs, accuracies = _series(data, "_cost"), _series(data, "_accuracy")
    etas = [
        (float(e), float(v))
        for e, v in zip(data["epoch"], data.get("eta") or [])
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    ]
    show_eta = len({v for _, v in etas}) > 1  # a schedule changed the learning rate
    fig = Figure(figsize=(15 if show_eta else 10, 4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 3 if show_eta else 2)
    ax_cost, ax_acc = axes[0], axes[1]
    for label, points in costs.items():
        ax_cost.plot(*zip(*points), marker="o", markersize=3, label=label)
    for label, points in accuracies.items():
        epochs, values = zip(*points)
        ax_acc.plot(epochs, [100 * v for v in values], marker="o", markersize=3, label=label)
    ax_cost.set(xlabel="epoch", ylabel="cost", title="Cost")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax, series in ((ax_cost, costs), (ax_acc, accuracies)):
        ax.grid(True, alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if series:
            ax.legend()
        else:
            ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes, color="0.5")
    if show_eta:
        axes[2].step(*zip(*etas), where="post", marker="o", markersize=3)
        axes[2].set(xlabel="epoch", ylabel=r"$\eta$", title="Learning rate")
        axes[2].set_ylim(bottom=0)
        axes[2].grid(True, alpha=0.3)
        axes[2].xaxis.get_major_locator().set_params(integer=True)
    if title:
        fig.suptitle(title)
    if path is not None:
        from ._files import atomic_write

        fmt = Path(path).suffix.lstrip(".").lower() or "png"
        atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=100))
    return fig
