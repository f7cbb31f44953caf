r"""Pictures of a network and of its training (needs matplotlib).

```
minibp train --save model.npz --history history.json
minibp plot history.json                    # training curves: history.png
minibp plot misclassified model.npz         # the test digits it gets wrong: model-misclassified.png
minibp plot weights model.npz               # each hidden neuron's weights as a 28 x 28 image
minibp plot confusion model.npz             # which digit it takes for which
minibp plot speed history.json              # learning speed and saturation per layer
```

From Python each picture is one function that returns the
`matplotlib.figure.Figure` and, given ``path``, also writes it (atomically,
through `minibp._files.atomic_write`; the format follows the suffix:
``.png``, ``.svg``, ``.pdf``):

- `plot_history`: cost and accuracy per epoch, from a `History`, its
  ``to_dict()`` or its JSON file. The left panel plots every ``*_cost``
  series (training and evaluation cost), the middle one every ``*_accuracy``
  series, in per cent; when a schedule changed the learning rate, a third
  panel shows $\eta$ per epoch (the first optimizer's, when `train` had a
  list of them: the others follow the same schedule). Series that were not recorded (empty or all
  ``None``) are left out. Given a list of histories, it draws the runs on
  one figure to compare them: one line per run and series, a colour per run,
  named in the legend (``labels=``, by default "run 1", "run 2", ...).
- `plot_misclassified`: the examples (columns of ``X``, drawn as square
  images) that the network gets wrong, with their label and its guess.
- `plot_weights`: the weights into each neuron of a `Dense` layer, row $j$ of
  $w$ (shape $(n_{out}, n_{in})$) drawn as a $\sqrt{n_{in}} \times
  \sqrt{n_{in}}$ image.
- `plot_filters`: the filters of a `Conv2d` layer, $w_{f,c}$ (shape
  $(F, C, k, k)$) drawn as one $k \times k$ image per filter and input channel.
- `plot_confusion`: how often each label was taken for each guess, and the
  share of each label recognised.
- `plot_speed`: the speed of learning of each layer, $\|\partial C / \partial
  b^l\|$, and the share of saturated sigmoid neurons, per epoch (the book's
  chapter 5), from a history that recorded them.

The network's guess is `minibp.train.predict`'s: the most active output.
Labels are integers ``(N,)``, or one-hot targets ``(n_out, N)`` read by
their arg-max.

Plotting is an optional extra: ``pip install minibp[plot]``. matplotlib is
imported only when a figure is drawn, and with its non-interactive Agg
renderer directly, so no window opens and pyplot's global state is never
touched. Deliberately left out: styling options; the returned figure can be
changed before it is saved again.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ._checks import T, check_count, check_finite, is_integer
from ._files import atomic_write
from .conv import Conv2d
from .data.targets import classes
from .errors import DataFormatError, LabelError, ShapeError
from .layers import Dense
from .module import Module, evaluation_mode
from .train import predict

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "plot_history",
    "plot_misclassified",
    "plot_weights",
    "plot_filters",
    "plot_confusion",
    "plot_speed",
    "load_history",
]

INSTALL_HINT = "plotting needs matplotlib: pip install minibp[plot]"


# ---------------------------------------------------------------- reading what is drawn


def _where(source: object) -> str:
    return f"history file {os.fspath(source)!r}" if isinstance(source, (str, os.PathLike)) else "history"


MAX_HISTORY_BYTES = 256 * 2**20  # a history of a million epochs takes about 100 MiB of JSON
MAX_EPOCHS = 1_000_000
MAX_SERIES = 64  # curves drawn from one history (keys ending in _cost or _accuracy)
MAX_LAYERS = 10_000  # values per epoch of learning_speed and saturation
_PER_LAYER = ("learning_speed", "saturation")


def load_history(source: object) -> dict[str, Any]:
    """Return a history as a dict of lists, from a `History`, a mapping or a JSON file.

    Whatever is drawn is checked here, so a history that loads can be drawn:
    ``epoch`` is a list of finite numbers; each series (a key ending in
    ``_cost`` or ``_accuracy``, and ``eta``) a list of one finite number or
    ``null`` per epoch, or empty (an ``eta`` may also be a list of them, one
    per optimizer, as `minibp.train` records with several); ``learning_speed`` and ``saturation`` a
    list of one row per epoch (or empty), each row ``null`` or a list of
    finite numbers or ``null`` (as are ``initial_learning_speed`` and
    ``initial_saturation``). Sizes are bounded: at most `MAX_EPOCHS` epochs,
    `MAX_SERIES` series, `MAX_LAYERS` values in a row, `MAX_HISTORY_BYTES` of file.

    Raises:
        DataFormatError: the history breaks any of these rules; the message
            names the field.
    """
    where = _where(source)
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            raw = f.read(MAX_HISTORY_BYTES + 1)
        if len(raw) > MAX_HISTORY_BYTES:
            raise DataFormatError(f"{where} is larger than {MAX_HISTORY_BYTES // 2**20} MiB: not a history")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
            raise DataFormatError(f"{where} is not JSON: {str(err) or type(err).__name__}") from None
    else:
        to_dict = getattr(source, "to_dict", None)
        data = to_dict() if callable(to_dict) else source
    if not isinstance(data, Mapping) or not isinstance(data.get("epoch"), list):
        raise DataFormatError(f"{where}: expected an object with an 'epoch' list, as History.save writes")
    n = len(data["epoch"])
    if n > MAX_EPOCHS:
        raise DataFormatError(f"{where}: 'epoch' lists {n:,} epochs, more than {MAX_EPOCHS:,}")
    if not all(_finite(e) for e in data["epoch"]):
        raise DataFormatError(f"{where}: 'epoch' must be a list of finite numbers")
    series = 0
    for key, value in data.items():
        if key.endswith(("_cost", "_accuracy")) or key == "eta":
            series += 1
            if not isinstance(value, list) or len(value) not in (0, n):
                raise DataFormatError(f"{where}: {key!r} must be a list of {n} values (one per epoch), or empty")
            if not all(v is None or _finite(v) or (key == "eta" and _rates(v)) for v in value):
                raise DataFormatError(f"{where}: {key!r} must hold finite numbers or null, one per epoch")
        elif key in _PER_LAYER or key.removeprefix("initial_") in _PER_LAYER:
            rows = [value] if key.startswith("initial_") else value
            if not isinstance(rows, list) or (not key.startswith("initial_") and len(rows) not in (0, n)):
                raise DataFormatError(f"{where}: {key!r} must be a list of {n} values (one per epoch), or empty")
            if not all(row is None or _layer_row(row) for row in rows):
                raise DataFormatError(
                    f"{where}: each entry of {key!r} must be a list of numbers (finite, or null; one per layer, "
                    f"at most {MAX_LAYERS:,}) or null"
                )
    if series > MAX_SERIES:
        raise DataFormatError(f"{where}: {series} series to draw (keys ending in _cost or _accuracy, and eta), "
                              f"more than {MAX_SERIES}")
    return dict(data)


def _finite(v: object) -> bool:
    """Whether ``v`` is a number (not a bool) that is a finite float (an int beyond a float's range is not)."""
    if not _number(v):
        return False
    try:
        return math.isfinite(float(v))  # type: ignore[arg-type]
    except OverflowError:
        return False


def _layer_row(row: object) -> bool:
    return isinstance(row, list) and len(row) <= MAX_LAYERS and all(v is None or _finite(v) for v in row)


def _rates(v: object) -> bool:
    """Whether ``v`` is an epoch's learning rates with several optimizers: a short list of finite numbers or null."""
    return isinstance(v, list) and 0 < len(v) <= MAX_SERIES and all(e is None or _finite(e) for e in v)


def _number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _per_layer(data: Mapping[str, Any], key: str, where: str) -> list[list[tuple[float, float]]] | None:
    """``data[key]`` (a list per epoch of a value per layer) as one list of ``(epochs trained, value)`` per layer.

    After epoch ``e``, ``e + 1`` epochs have been trained; ``initial_KEY``, if
    recorded, is the value before training (0 epochs). ``None`` if the history
    has no such field or it is empty; a layer whose values are all ``None``
    (not a sigmoid layer, for ``saturation``) has no points.
    """
    values = data.get(key) or []
    if not isinstance(values, list) or len(values) not in (0, len(data["epoch"])):
        n = len(data["epoch"])
        raise DataFormatError(f"{where}: {key!r} must be a list of {n} values (one per epoch), or empty")
    rows = [(float(e) + 1, row) for e, row in zip(data["epoch"], values) if row is not None]
    if data.get(f"initial_{key}") is not None:
        rows.insert(0, (0.0, data[f"initial_{key}"]))
    if not rows:
        return None
    layers: list[list[tuple[float, float]]] = []
    for trained, row in rows:
        if not isinstance(row, list) or not all(v is None or _number(v) for v in row):
            raise DataFormatError(
                f"{where}: each entry of {key!r} must be a list of numbers (one per layer), got {row!r}"
            )
        layers.extend([] for _ in range(len(row) - len(layers)))
        for layer, v in zip(layers, row):
            if v is not None and math.isfinite(v):
                layer.append((trained, float(v)))
    return layers


def _labels(y: object, m: int, what: str) -> NDArray[np.intp]:
    """Integer labels ``(m,)`` from labels ``(m,)`` or targets ``(n_out, m)`` (read as `classes` reads them)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == m and y.shape[0] >= 1:
        return classes(y)
    if y.ndim != 1 or y.shape[0] != m:
        raise ShapeError(f"{what}: X has {m} examples, so y must have shape ({m},) or (n_out, {m}); got {y.shape}")
    if y.dtype.kind not in "iu" and not (y.dtype.kind == "f" and np.all(np.isfinite(y) & (y == np.round(y)))):
        raise LabelError(f"{what}: labels must be integers, got {y.dtype} values such as {y[:3]}")
    if m and y.min() < 0:
        raise LabelError(f"{what}: labels must be >= 0, got {y.min()}")
    return y.astype(np.intp)


def _side(n_in: int, what: str) -> int:
    """The side of the square image that ``n_in`` pixels make."""
    side = math.isqrt(n_in)
    if side * side != n_in:
        raise ShapeError(f"{what}: {n_in} inputs do not make a square image (MNIST's 784 make 28 x 28)")
    return side


def _dense(net: Module, layer: int, what: str) -> Dense:
    """The ``layer``-th `Dense` layer of ``net`` (counted from 0, in the order of ``net.modules()``)."""
    return _nth(net, Dense, layer, what)


def _conv(net: Module, layer: int, what: str) -> Conv2d:
    """The ``layer``-th `Conv2d` of ``net``, from 0 in the order of ``net.modules()`` (``net`` itself counts)."""
    return _nth(net, Conv2d, layer, what)


def _nth(net: Module, kind: type[T], layer: int, what: str) -> T:
    """The ``layer``-th module of type ``kind`` in ``net.modules()``, or `ValueError` saying how many there are."""
    layers = [m for m in net.modules() if isinstance(m, kind)]
    if not is_integer(layer) or not 0 <= layer < len(layers):
        name = kind.__name__
        count = f"{len(layers)} {name} layers, numbered 0 to {len(layers) - 1}" if layers else f"no {name} layer"
        raise ValueError(f"{what}: layer {layer!r}: the network has {count}")
    return layers[layer]


# ---------------------------------------------------------------- figures


def _figure(width: float, height: float) -> Figure:
    """An empty figure with matplotlib's Agg canvas (no window, no pyplot)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ModuleNotFoundError(INSTALL_HINT, name="matplotlib") from err
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _write(fig: Figure, path: str | os.PathLike | None) -> Figure:
    """Save ``fig`` to ``path`` atomically if a path is given (the format follows the suffix); return it."""
    if path is not None:
        fmt = Path(path).suffix.lstrip(".").lower() or "png"
        atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=100))
    return fig


def _note(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.5")


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
            points = [(float(e), float(v)) for e, v in zip(history["epoch"], values) if _number(v)]
            if points:
                label = _LABELS.get(key, key.removesuffix(suffix).replace("_", " "))
                out[label.replace("$", r"\$")] = points  # a name from the file is text, never mathtext
    return out


def plot_history(
    history: object,
    path: str | os.PathLike | None = None,
    *,
    title: str | None = None,
    labels: Sequence[str] | None = None,
) -> Figure:
    """Draw the training curves of ``history``, or of several runs on one figure; save them to ``path`` if given.

    Args:
        history: a `minibp.history.History`, its ``to_dict()``, or the path of
            the JSON file written by ``History.save`` / ``minibp train --history``;
            or a list (or tuple) of these, one per run, to compare the runs.
        path: where to write the figure (the format follows the suffix:
            ``.png``, ``.svg``, ``.pdf``); ``None`` only returns it.
        title: a title over both panels.
        labels: the runs' names in the legend, one per history; by default
            "run 1", "run 2", ... for a list, and none for a single history.

    Returns:
        The `matplotlib.figure.Figure`: two axes (cost, accuracy), three when
        the learning rate changed (in any of the runs). Each recorded series
        of each run is one line; with several runs, a run's lines share a
        colour and each series has its own line style.

    Raises:
        ModuleNotFoundError: matplotlib is not installed (``pip install minibp[plot]``).
        DataFormatError: a history is malformed (the message names the run).
        ValueError: an empty list of histories, or ``labels`` that are not
            one string per history.

    Example:
        Two runs, the second with a larger learning rate, on one figure:

        ```python
        plot_history([h1, h2], "compare.png", labels=["eta = 0.5", "eta = 3.0"])
        ```
    """
    runs = _runs(history, labels)  # a malformed history is reported even without matplotlib
    costs = [(name, _series(data, "_cost")) for name, data in runs]
    accuracies = [(name, _series(data, "_accuracy")) for name, data in runs]
    # with several optimizers an epoch's eta is a list; all follow the first one's schedule, which is drawn
    first = [(name, [v[0] if isinstance(v, list) and v else v for v in data.get("eta") or []]) for name, data in runs]
    etas = [
        (name, [(float(e), float(v)) for e, v in zip(data["epoch"], values) if _number(v)])
        for (name, values), (_, data) in zip(first, runs)
    ]
    show_eta = any(len({v for _, v in points}) > 1 for _, points in etas)  # a schedule changed the learning rate
    fig = _figure(15 if show_eta else 10, 4)
    axes = fig.subplots(1, 3 if show_eta else 2)
    ax_cost, ax_acc = axes[0], axes[1]
    _draw(ax_cost, costs, 1.0)
    _draw(ax_acc, accuracies, 100.0)
    ax_cost.set(xlabel="epoch", ylabel="cost", title="Cost")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_cost, ax_acc):
        ax.grid(True, alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if ax.lines:
            ax.legend()
        else:
            _note(ax, "not recorded")
    if show_eta:
        for k, (name, points) in enumerate(etas):
            if points:
                color = f"C{k % 10}" if len(runs) > 1 else None
                axes[2].step(*zip(*points), where="post", marker="o", markersize=3, color=color, label=name)
        axes[2].set(xlabel="epoch", ylabel=r"$\eta$", title="Learning rate")
        axes[2].set_ylim(bottom=0)
        axes[2].grid(True, alpha=0.3)
        axes[2].xaxis.get_major_locator().set_params(integer=True)
        if len(runs) > 1:
            axes[2].legend()
    if title:
        fig.suptitle(title)
    return _write(fig, path)


_STYLES = ("-", "--", ":", "-.")  # a line style per series when several runs share a panel


def _runs(history: object, labels: Sequence[str] | None) -> list[tuple[str | None, dict[str, Any]]]:
    """``(name, data)`` of each run: one unnamed run for a single history unless ``labels`` names it."""
    several = isinstance(history, (list, tuple))
    sources = list(history) if isinstance(history, (list, tuple)) else [history]
    if not sources:
        raise ValueError("plot_history: an empty list of histories; give one history, or a list of one or more")
    if labels is None:
        names: list[str | None] = [f"run {k + 1}" for k in range(len(sources))] if several else [None]
    else:
        if isinstance(labels, str) or not isinstance(labels, Sequence) or not all(isinstance(x, str) for x in labels):
            raise ValueError(f"plot_history: labels must be a list of strings, one per history, got {labels!r}")
        if len(labels) != len(sources):
            raise ValueError(f"plot_history: {len(labels)} labels for {len(sources)} histories; give one per history")
        names = list(labels)
    runs = []
    for k, (name, source) in enumerate(zip(names, sources)):
        try:
            runs.append((name, load_history(source)))
        except DataFormatError as err:
            if not several:
                raise
            raise DataFormatError(f"plot_history: run {k + 1} of {len(sources)} ({name}): {err}") from None
    return runs


def _draw(ax: Any, runs: list[tuple[str | None, dict[str, list[tuple[float, float]]]]], scale: float) -> None:
    """Plot each run's series on ``ax``, values times ``scale``; several runs get a colour each, series a style."""
    several = len(runs) > 1
    every = dict.fromkeys(label for _, series in runs for label in series)  # each series once, in order of appearance
    styles = {label: _STYLES[k % len(_STYLES)] for k, label in enumerate(every)}
    for k, (name, series) in enumerate(runs):
        for label, points in series.items():
            epochs, values = zip(*points)
            ax.plot(
                epochs,
                [scale * v for v in values],
                marker="o",
                markersize=3,
                label=label if name is None else f"{name}: {label}",
                color=f"C{k % 10}" if several else None,
                linestyle=styles[label] if several else "-",
            )


def plot_misclassified(
    net: Module, X: NDArray, y: NDArray, *, n: int = 24, path: str | os.PathLike | None = None
) -> Figure:
    """Draw the first ``n`` examples that ``net`` gets wrong, each titled ``label → guess``.

    Args:
        net: a classifier.
        X: inputs, shape ``(n_in, N)``, one image per column; $n_{in}$ must be
            a square (784 = 28 × 28 for MNIST).
        y: labels ``(N,)``, or one-hot targets ``(n_out, N)``.
        n: at most this many examples are drawn, in the order of the columns.
        path: where to write the figure (``.png``, ``.svg``, ``.pdf``); ``None`` only returns it.

    Returns:
        The `matplotlib.figure.Figure`: one axes (and image) per example drawn,
        or a single empty axes saying so when every example is right.

    Raises:
        ModuleNotFoundError: matplotlib is not installed (``pip install minibp[plot]``).
        ShapeError: ``X`` does not fit ``net``, is not square images, or ``y`` does not match ``X``.
    """
    what = "plot_misclassified"
    n = check_count(what, "n", n)
    X = np.asarray(X)
    guesses = predict(net, X)  # checks X: (n_in, N), finite, fits the network
    labels = _labels(y, X.shape[1], what)
    side = _side(X.shape[0], what)
    wrong = np.flatnonzero(guesses != labels)
    shown = wrong[:n]
    cols = min(8, max(1, len(shown)))
    rows = max(1, -(-len(shown) // cols))
    fig = _figure(max(4.0, cols * 1.05), rows * 1.25 + 0.4)
    low, high = float(X.min()), float(X.max())
    for i, k in enumerate(shown):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(X[:, k].reshape(side, side), cmap="gray_r", vmin=low, vmax=high)
        ax.set_title(f"{labels[k]} → {guesses[k]}", fontsize=9)
        ax.set_axis_off()
    if not len(shown):
        ax = fig.add_subplot()
        ax.set_axis_off()
        _note(ax, "every example is classified correctly")
    first = f", the first {len(shown)} shown" if len(shown) < len(wrong) else ""
    fig.suptitle(f"{len(wrong)} of {X.shape[1]} examples misclassified{first} (label → guess)", fontsize=10)
    return _write(fig, path)


def plot_weights(
    net: Module,
    *,
    layer: int = 0,
    path: str | os.PathLike | None = None,
    relative_to: Module | NDArray | None = None,
) -> Figure:
    """Draw the weights into each neuron of a `Dense` layer as an image.

    Row $j$ of $w$ holds the weights $w_{jk}$ from every input $k$ into neuron
    $j$; with $n_{in}$ a square (784 pixels) it is drawn as a square image,
    red for positive weights, blue for negative ones, on one shared scale.

    Args:
        net: the network.
        layer: which `Dense` layer, counted from 0 in the order of
            ``net.modules()`` (0: the first, the one that sees the pixels).
        path: where to write the figure (``.png``, ``.svg``, ``.pdf``); ``None`` only returns it.
        relative_to: draw the change $w - w_0$ instead: ``w_0`` is the same
            layer of this network (say, a copy taken before training) or an
            array of shape ``(n_out, n_in)``.

    Returns:
        The `matplotlib.figure.Figure`: one axes (and image) per neuron, and
        the colour bar's axes.

    Raises:
        ModuleNotFoundError: matplotlib is not installed (``pip install minibp[plot]``).
        ValueError: ``net`` has no such layer.
        ShapeError: $n_{in}$ is not a square, or ``relative_to`` has another shape.
        NonFiniteError: a weight is NaN or infinite.
    """
    what = "plot_weights"
    w = _dense(net, layer, what).w.data
    if relative_to is not None:
        start = (
            _dense(relative_to, layer, f"{what}: relative_to").w.data
            if isinstance(relative_to, Module)
            else relative_to
        )
        start = np.asarray(start)
        if start.shape != w.shape:
            raise ShapeError(f"{what}: relative_to has shape {start.shape}, the layer's w {w.shape}")
        w = w - start
    check_finite(w, f"{what}: the weights of layer {layer}")
    side = _side(w.shape[1], what)
    n_out = w.shape[0]
    cols = min(10, n_out)
    rows = -(-n_out // cols)
    limit = float(np.abs(w).max()) or 1.0
    fig = _figure(max(4.0, cols * 0.9 + 1.0), rows * 0.95 + 0.6)
    axes = []
    for j in range(n_out):
        ax = fig.add_subplot(rows, cols, j + 1)
        image = ax.imshow(w[j].reshape(side, side), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(str(j), fontsize=8)
        ax.set_axis_off()
        axes.append(ax)
    change = relative_to is not None
    fig.colorbar(image, ax=axes, shrink=0.8, label="change of weight" if change else "weight")
    into = f"into each neuron of Dense layer {layer} ({side} × {side}, red positive, blue negative)"
    fig.suptitle(f"What training changed in the weights {into}" if change else f"The weights {into}", fontsize=10)
    return _write(fig, path)


def plot_filters(conv: Module, *, layer: int = 0, path: str | os.PathLike | None = None) -> Figure:
    r"""Draw the filters of a `Conv2d` layer, one small image per filter and input channel.

    Filter $f$ of a layer with $C$ input channels is $C$ arrays
    $w_{f,c}$ of $k \times k$ weights: the shared weights with which feature
    map $f$ looks at channel $c$ of each $k \times k$ window
    ($z_{f,i,j} = b_f + \sum_{c,p,q} w_{f,c,p,q}\, a_{c,\,i+p,\,j+q}$). Each is
    drawn as an image, red for positive weights, blue for negative ones, on
    one scale shared by every image and symmetric about 0, so white is 0 and
    equal colours are equal weights everywhere in the figure. With one input
    channel (the first layer, on grey images) the filters are laid out ten to
    a row; with several, filter $f$ is row $f$ and channel $c$ column $c$.

    Args:
        conv: a `Conv2d` layer, or a network holding one.
        layer: which `Conv2d` layer, counted from 0 in the order of
            ``conv.modules()`` (0: the first, the one that sees the pixels; a
            `Conv2d` passed itself is layer 0).
        path: where to write the figure (``.png``, ``.svg``, ``.pdf``); ``None`` only returns it.

    Returns:
        The `matplotlib.figure.Figure`: one axes (and image) per filter and
        input channel, $F \cdot C$ in all, filter-major, and the colour bar's axes.

    Raises:
        ModuleNotFoundError: matplotlib is not installed (``pip install minibp[plot]``).
        ValueError: ``conv`` has no such `Conv2d` layer.
        NonFiniteError: a weight is NaN or infinite.
    """
    what = "plot_filters"
    w = _conv(conv, layer, what).w.data
    check_finite(w, f"{what}: the filters of Conv2d layer {layer}")
    f_out, c_in, k, _ = w.shape
    limit = float(np.abs(w).max()) or 1.0
    if c_in == 1:
        cols = min(10, f_out)
        rows = -(-f_out // cols)
        places = [(f // cols, f % cols) for f in range(f_out)]
    else:
        rows, cols = f_out, c_in
        places = [(f, c) for f in range(f_out) for c in range(c_in)]
    tile = 0.8 if c_in == 1 else 0.45
    top = 0.9 if c_in == 1 else 1.05  # inches above the grid: the title, and the channel numbers
    width, height = max(5.0 if c_in == 1 else 6.0, cols * tile + 1.2), rows * tile + top + 0.2
    fig = _figure(width, height)
    fig.set_layout_engine("none")  # a constrained layout of hundreds of axes takes minutes; this grid is regular
    grid = fig.add_gridspec(
        rows,
        cols,
        left=0.6 / width,
        right=1 - 1.0 / width,
        bottom=0.2 / height,
        top=1 - top / height,
        wspace=0.15,
        hspace=0.35 if c_in == 1 else 0.15,
    )
    axes = []
    for n, (row, col) in enumerate(places):
        f, c = divmod(n, c_in)
        ax = fig.add_subplot(grid[row, col])
        image = ax.imshow(w[f, c], cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_xticks([])
        ax.set_yticks([])
        if c_in == 1:
            ax.set_title(str(f), fontsize=8)
        else:
            if row == 0:
                ax.set_title(str(c), fontsize=7)
            if col == 0:
                ax.set_ylabel(str(f), fontsize=7, rotation=0, ha="right", va="center")
        axes.append(ax)
    bar = fig.add_axes((1 - 0.85 / width, 0.2 / height, 0.15 / width, 1 - (top + 0.2) / height))
    fig.colorbar(image, cax=bar, label="weight")
    channels = "" if c_in == 1 else f" over {c_in} input channels"
    layout = "" if c_in == 1 else "row: filter, column: input channel; "
    fig.suptitle(
        f"The {f_out} filters of Conv2d layer {layer}, {k} × {k}{channels}\n"
        f"{layout}red positive, blue negative, one scale for all",
        fontsize=10,
    )
    return _write(fig, path)


def plot_confusion(net: Module, X: NDArray, y: NDArray, *, path: str | os.PathLike | None = None) -> Figure:
    """Draw the confusion matrix of ``net`` on ``(X, y)`` and the share of each label it gets right.

    Cell $(i, j)$ counts the examples of label $i$ that ``net`` guesses to be
    $j$: the diagonal holds the correct answers. Beside it, a bar per label:
    the diagonal divided by the row's sum.

    Args:
        net: a classifier.
        X: inputs, shape ``(n_in, N)``.
        y: labels ``(N,)``, or one-hot targets ``(n_out, N)``.
        path: where to write the figure (``.png``, ``.svg``, ``.pdf``); ``None`` only returns it.

    Returns:
        The `matplotlib.figure.Figure`: two axes, the matrix (an image of the
        counts, rows are labels) and the per-label accuracy (one bar per label, in per cent).

    Raises:
        ModuleNotFoundError: matplotlib is not installed (``pip install minibp[plot]``).
        ShapeError: ``X`` does not fit ``net``, or ``y`` does not match ``X``.
    """
    what = "plot_confusion"
    X = np.asarray(X)
    guesses = predict(net, X)  # checks X: (n_in, N), finite, fits the network
    labels = _labels(y, X.shape[1], what)
    with evaluation_mode(net), np.errstate(all="ignore"):
        n_out = int(np.shape(net(X[:, :1]))[0])
    k = max(n_out, int(labels.max()) + 1, int(guesses.max()) + 1)
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (labels, guesses), 1)
    totals = counts.sum(axis=1)
    right = np.diag(counts)
    share = np.divide(right, totals, out=np.full(k, np.nan), where=totals > 0)

    fig = _figure(4.0 + 0.45 * k, 1.0 + 0.4 * k)
    ax, bars = fig.subplots(1, 2, width_ratios=[k, 3])
    ax.imshow(counts, cmap="Blues", aspect="auto")
    if k <= 20:
        for (i, j), c in np.ndenumerate(counts):
            if c:
                dark = c > counts.max() / 2
                ax.text(j, i, str(c), ha="center", va="center", fontsize=8, color="white" if dark else "black")
    ax.set(xticks=range(k), yticks=range(k), xlabel="guess", ylabel="label")
    bars.barh(range(k), np.nan_to_num(100 * share), color="tab:blue", alpha=0.4)
    for i, s in enumerate(share):
        bars.text(2, i, "no examples" if np.isnan(s) else f"{s:.0%}", va="center", fontsize=8)
    bars.set(xlim=(0, 100), ylim=ax.get_ylim(), yticks=range(k), yticklabels=[], xlabel="correct (%)")
    bars.set_title("per label", fontsize=10)
    m = X.shape[1]
    fig.suptitle(f"Confusion matrix: {int(right.sum())} of {m} correct ({right.sum() / m:.1%})", fontsize=10)
    return _write(fig, path)


def _layer_name(l: int, count: int) -> str:
    return "output layer" if l == count - 1 else f"hidden layer {l + 1}"


def plot_speed(history: object, *, path: str | os.PathLike | None = None) -> Figure:
    r"""Draw the speed of learning and the saturation of each layer, per epoch.

    The speed of layer $l$ is the length of its bias gradient,
    $\|\partial C / \partial b^l\|$ (BP3), as the book measures it in
    chapter 5 to show that earlier layers learn more slowly; saturation is the
    share of a sigmoid layer's (neuron, example) pairs where $\sigma'(z)$ is
    close to 0. `minibp.callbacks.LearningSpeed` records both during training.
    The x axis counts the epochs trained: the values after epoch ``j`` are
    drawn at ``j + 1``, and those measured before training, if the history
    has them, at 0.

    Args:
        history: a `minibp.history.History`, its ``to_dict()``, or the path of
            its JSON file, with the fields ``learning_speed`` (per epoch, a
            list with a number per `Dense` layer, in the order of
            ``net.modules()``) and ``saturation`` (per epoch, a list with a
            share per `Dense` layer, ``None`` for a layer not followed by a
            sigmoid); optionally ``initial_learning_speed`` and
            ``initial_saturation``, one such list each, before training.
        path: where to write the figure (``.png``, ``.svg``, ``.pdf``); ``None`` only returns it.

    Returns:
        The `matplotlib.figure.Figure`: two axes, speed (one line per layer,
        on a log scale when every value is positive) and saturation (in per
        cent, one line per sigmoid layer).

    Raises:
        ModuleNotFoundError: matplotlib is not installed (``pip install minibp[plot]``).
        DataFormatError: the history is malformed, or recorded neither field.
    """
    data = load_history(history)
    where = _where(history)
    speed = _per_layer(data, "learning_speed", where)
    saturation = _per_layer(data, "saturation", where)
    if not any(speed or []) and not any(saturation or []):
        raise DataFormatError(
            f"{where} holds no learning speed or saturation ('learning_speed' and 'saturation' are missing "
            "or empty): train with the minibp.callbacks.LearningSpeed callback to record them"
        )
    fig = _figure(10, 4)
    ax_speed, ax_sat = fig.subplots(1, 2)
    panels = ((ax_speed, speed, 1.0, "not recorded"), (ax_sat, saturation, 100.0, "no sigmoid layer"))
    for ax, layers, scale, empty in panels:
        ax.grid(True, alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        for l, points in enumerate(layers or []):
            if points:
                epochs, values = zip(*points)
                label = _layer_name(l, len(layers or []))
                ax.plot(epochs, [scale * v for v in values], marker="o", markersize=3, label=label)
        if ax.lines:
            ax.legend()
        else:
            _note(ax, empty if layers else "not recorded")
    speeds = [v for points in speed or [] for _, v in points]
    if speeds and min(speeds) > 0:  # speeds of different layers differ by orders of magnitude
        ax_speed.set_yscale("log")
    ax_speed.set(xlabel="epochs trained", ylabel=r"$\|\partial C / \partial b^l\|$", title="Speed of learning")
    ax_sat.set(xlabel="epochs trained", ylabel="saturated neurons (%)", title="Saturation")
    ax_sat.set_ylim(0, 100)
    return _write(fig, path)
