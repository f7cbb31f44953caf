r"""Read and write the JSON files of the book's chapter 3 program, ``network2.py``.

``network2.py`` saves a network as one JSON object with four keys:

```text
{"sizes":   [784, 30, 10],                  neurons per layer, input first
 "weights": [[[...], ...], [[...], ...]],   one nested list per layer, (n_out, n_in)
 "biases":  [[[...], ...], [[...], ...]],   one nested list per layer, (n_out, 1)
 "cost":    "CrossEntropyCost"}             or "QuadraticCost"
```

`load_network2` turns such a file into ``Sequential(Dense, Sigmoid, Dense,
Sigmoid, ...)`` holding exactly those numbers, together with the matching
minibp cost (both of ``network2``'s costs are costs of the sigmoid output
$a$). `save_network2` writes the same layout, so ``network2.load`` reads what
minibp saves.

```python
net, cost = bp.io.load_network2("net.json")
bp.train(net, data, optimizer=bp.SGD(net.parameters(), eta=0.5), cost=cost, ...)
```

**Limits.** The file is checked as strictly as a minibp model file, and
nothing is built from it before the check is done:

- at most ``max_bytes`` bytes are read (by default [`MAX_BYTES`][minibp.io.network2.MAX_BYTES],
  16 MiB: about 700,000 parameters written at full precision, thirty times
  the book's ``[784, 30, 10]`` network);
- ``sizes`` must be at least two positive integers declaring at most
  ``max_bytes // 2`` weights and biases in all, since each number takes at
  least two bytes of JSON (a digit and a comma or bracket). So a tiny file
  declaring ``[100000, 100000]`` is refused at once, without allocating;
- every nested list must have exactly the shape ``sizes`` declares, and
  every entry must be a finite real number (not a string, a boolean,
  ``null``, ``NaN`` or ``Infinity``);
- the cost must be one of the two names above; no code named by the file is
  ever looked up.

Each refusal is a `ModelFormatError` naming the file and what is wrong.
Reading and parsing a file of $B$ bytes takes less than $30B$ bytes of memory.

Deliberately left out: ``network2.py``'s other settings (the regularisation
parameter and the monitors are not saved by the book either), and networks
other than sigmoid layers (``save_network2`` refuses them).
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .._checks import is_integer
from .._files import atomic_write
from ..costs import Cost, CrossEntropyCost, QuadraticCost
from ..errors import ModelFormatError, NonFiniteError, ShapeError
from ..init import Initializer
from ..layers import Dense, Sigmoid
from ..module import Module
from ..sequential import Sequential

__all__ = ["MAX_BYTES", "load_network2", "save_network2"]

#: The largest ``network2.py`` file `load_network2` reads unless told otherwise: 16 MiB (16,777,216 bytes).
MAX_BYTES = 16 << 20

_COSTS: dict[str, type[Cost]] = {"CrossEntropyCost": CrossEntropyCost, "QuadraticCost": QuadraticCost}
_KEYS = ("sizes", "weights", "biases", "cost")
_FLOAT_MAX = float(np.finfo(np.float64).max)


def load_network2(path: str | os.PathLike, *, max_bytes: int = MAX_BYTES) -> tuple[Sequential, Cost]:
    r"""Read a network saved by the book's ``network2.py`` (``Network.save``).

    Layer $l$ of the file becomes ``Dense(sizes[l-1], sizes[l])`` followed by
    `Sigmoid`, so the network computes $a^l = \sigma(w^l a^{l-1} + b^l)$ with
    the file's $w^l$ ``(n_out, n_in)`` and $b^l$ ``(n_out, 1)``, in float64,
    as ``network2``'s ``feedforward`` does.

    Args:
        path: the JSON file.
        max_bytes: refuse a file larger than this many bytes (default `MAX_BYTES`, 16 MiB);
            it also bounds the parameters ``sizes`` may declare, to ``max_bytes // 2``.

    Returns:
        ``(net, cost)``: the `Sequential` network, and `CrossEntropyCost()` or
        `QuadraticCost()` as the file names.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ModelFormatError: the file is too large, is not JSON, is not an object
            with exactly the keys ``sizes``, ``weights``, ``biases`` and
            ``cost``, declares bad or too many sizes, holds lists of other
            shapes or entries that are not finite numbers, or names another cost.

    Example:
        >>> import os, tempfile
        >>> import minibp as bp
        >>> with tempfile.TemporaryDirectory() as d:
        ...     path = os.path.join(d, "net.json")
        ...     save_network2(bp.mlp([3, 2], rng=0), path, bp.QuadraticCost())
        ...     net, cost = load_network2(path)
        >>> net[0].w.shape, type(cost).__name__
        ((2, 3), 'QuadraticCost')
    """
    if not is_integer(max_bytes) or max_bytes < 1:
        raise ValueError(f"load_network2: max_bytes must be a positive integer, got {max_bytes!r}")
    where = f"network2 file {os.fspath(path)!r}"
    data = _read_json(path, where, int(max_bytes))
    sizes, cost = _check_header(data, where, int(max_bytes) // 2)
    pairs = []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):  # every layer checked before any is built
        w = _matrix(data["weights"][l], (n_out, n_in), f"{where}: weights[{l}]")
        b = _matrix(data["biases"][l], (n_out, 1), f"{where}: biases[{l}]")
        pairs.append((w, b))
    modules: list[Module] = []
    for w, b in pairs:
        modules += [Dense(w.shape[1], w.shape[0], init=_given(w, b), rng=0), Sigmoid()]
    return Sequential(*modules), cost()


def save_network2(net: Module, path: str | os.PathLike, cost: Cost | type[Cost]) -> None:
    """Write ``net`` as the book's ``network2.py`` saves a network, atomically.

    ``network2.load`` (and `load_network2`) read the file back. Numbers are
    written as JSON floats in their shortest exact form, so loading gives
    back bit-identical float64 arrays (a float32 network comes back as
    float64 with the same values). A file larger than `MAX_BYTES` needs
    ``load_network2(path, max_bytes=...)``.

    Args:
        net: a `Sequential` of `Dense` and `Sigmoid` layers, alternating and
            starting with a `Dense`, as `minibp.mlp` builds it (exactly these
            types: subclasses compute something else).
        path: the file to write; an existing file is replaced only once the new one is complete.
        cost: `QuadraticCost` or `CrossEntropyCost` (an instance or the class), whose name is stored.

    Raises:
        TypeError: ``net`` or ``cost`` is of another kind.
        ShapeError: a layer's ``n_in`` differs from the previous layer's ``n_out``.
        NonFiniteError: a parameter holds NaN or infinity.
    """
    cost_type = cost if isinstance(cost, type) else type(cost)
    names = {c: name for name, c in _COSTS.items()}
    if cost_type not in names:
        raise TypeError(f"save_network2: network2 files know only QuadraticCost and CrossEntropyCost, got {cost!r}")
    dense = _book_layers(net)
    for l, layer in enumerate(dense[1:], start=1):
        if layer.n_in != dense[l - 1].n_out:
            raise ShapeError(
                f"save_network2: layer {2 * l} takes {layer.n_in} inputs "
                f"but layer {2 * l - 2} gives {dense[l - 1].n_out}"
            )
    for l, layer in enumerate(dense):
        for name, p in (("w", layer.w), ("b", layer.b)):
            if not np.isfinite(p.data).all():
                raise NonFiniteError(f"save_network2: layer {2 * l} {name} holds NaN or infinity; not writing {path}")
    data = {
        "sizes": [dense[0].n_in] + [layer.n_out for layer in dense],
        "weights": [np.asarray(layer.w.data, dtype=np.float64).tolist() for layer in dense],
        "biases": [np.asarray(layer.b.data, dtype=np.float64).tolist() for layer in dense],
        "cost": names[cost_type],
    }
    text = json.dumps(data, allow_nan=False).encode("ascii")
    atomic_write(path, lambda f: f.write(text))


def _book_layers(net: Module) -> list[Dense]:
    """Return the `Dense` layers of ``net`` if it is ``Sequential(Dense, Sigmoid, Dense, Sigmoid, ...)``."""
    if type(net) is not Sequential:
        raise TypeError(
            f"save_network2: network2 files hold a Sequential of Dense and Sigmoid layers, got {type(net).__name__}"
        )
    layers = net.layers
    for i, layer in enumerate(layers):
        wanted = Dense if i % 2 == 0 else Sigmoid
        if type(layer) is not wanted:
            raise TypeError(
                f"save_network2: layer {i} is {layer!r}, but network2 files hold Dense layers each followed by "
                f"Sigmoid (layer {i} must be {wanted.__name__})"
            )
    if len(layers) % 2:
        raise TypeError(f"save_network2: the last layer {layers[-1]!r} must be followed by Sigmoid")
    return [layer for layer in layers[0::2] if isinstance(layer, Dense)]


def _read_json(path: str | os.PathLike, where: str, max_bytes: int) -> Any:
    """Read at most ``max_bytes`` bytes of ``path`` and parse them as JSON, refusing ``NaN`` and ``Infinity``."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"load_network2: no such file: {os.fspath(path)!r}") from None
    chunks, size = [], 0
    with f:  # in pieces: one read(max_bytes + 1) would allocate max_bytes even for a tiny file
        while size <= max_bytes and (chunk := f.read(min(1 << 16, max_bytes + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
    raw = b"".join(chunks)
    if len(raw) > max_bytes:
        raise ModelFormatError(
            f"{where} is larger than max_bytes={max_bytes:,} bytes; pass a larger max_bytes if the file is meant"
        )

    def refuse(constant: str) -> float:  # json calls it for NaN, Infinity and -Infinity
        raise ModelFormatError(
            f"{where} holds {constant} (network2 writes it when training diverged); parameters must be finite"
        )

    try:
        return json.loads(raw, parse_constant=refuse)
    except ModelFormatError:
        raise
    except RecursionError:
        raise ModelFormatError(f"{where}: lists nested too deeply to be a network") from None
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError, an integer of too many digits
        raise ModelFormatError(f"{where} is not a JSON file: {err}") from None


def _check_header(data: Any, where: str, max_parameters: int) -> tuple[list[int], type[Cost]]:
    """Check the keys, ``cost`` and ``sizes`` (and the number of layers listed) before any array is made."""
    if not isinstance(data, dict):
        raise ModelFormatError(f"{where} must hold a JSON object with keys {list(_KEYS)}, got {type(data).__name__}")
    missing = [k for k in _KEYS if k not in data]
    extra = sorted(k for k in data if k not in _KEYS)
    if missing or extra:
        raise ModelFormatError(f"{where}: missing keys {missing}, unexpected keys {extra}; expected {list(_KEYS)}")
    cost = data["cost"]
    if not isinstance(cost, str) or cost not in _COSTS:
        raise ModelFormatError(f"{where}: unknown cost {cost!r}; network2 files name one of {sorted(_COSTS)}")
    sizes = data["sizes"]
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or not all(type(n) is int and n >= 1 for n in sizes)  # exactly int: a bool or a float is no size
    ):
        raise ModelFormatError(f"{where}: 'sizes' must be a list of at least two positive integers, got {sizes!r:.200}")
    count = sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    if count > max_parameters:
        raise ModelFormatError(
            f"{where}: sizes {sizes!r:.200} declare {count:,} weights and biases, more than the {max_parameters:,} "
            f"that a file of at most max_bytes={2 * max_parameters:,} bytes can hold"
        )
    for key in ("weights", "biases"):
        value = data[key]
        if not isinstance(value, list) or len(value) != len(sizes) - 1:
            got = f"a list of {len(value)}" if isinstance(value, list) else type(value).__name__
            raise ModelFormatError(f"{where}: '{key}' must be a list of {len(sizes) - 1} layers, got {got}")
    return sizes, _COSTS[cost]


def _matrix(rows: Any, shape: tuple[int, int], what: str) -> NDArray[np.float64]:
    """Return nested lists of exactly ``shape`` (rows of numbers) as a float64 array, or raise naming ``what``."""
    n_rows, n_cols = shape
    if not isinstance(rows, list) or len(rows) != n_rows:
        got = f"{len(rows)} rows" if isinstance(rows, list) else type(rows).__name__
        raise ModelFormatError(f"{what} must be {n_rows} rows of {n_cols} numbers, shape {shape}, got {got}")
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != n_cols:
            got = f"{len(row)} entries" if isinstance(row, list) else repr(row)[:50]
            raise ModelFormatError(f"{what}[{i}] must be a row of {n_cols} numbers (shape {shape}), got {got}")
        if not all(type(v) is float or type(v) is int for v in row):  # exactly: a bool is not a number here
            j = next(j for j, v in enumerate(row) if type(v) is not float and type(v) is not int)
            raise ModelFormatError(f"{what}[{i}][{j}] must be a number, got {row[j]!r:.50}")
    try:
        array = np.array(rows, dtype=np.float64)
    except OverflowError:  # an integer beyond the float range
        array = None
    if array is None or not np.isfinite(array).all():
        i, j = next((i, j) for i, row in enumerate(rows) for j, v in enumerate(row) if not _finite(v))
        raise ModelFormatError(f"{what}[{i}][{j}] is not a finite float64 (read as {rows[i][j]!r:.50})")
    return array


def _finite(v: int | float) -> bool:
    """Whether the JSON number ``v`` is a finite float64 (``1e400`` parses as infinity, ``10**400`` does not fit)."""
    return abs(v) <= _FLOAT_MAX if type(v) is int else math.isfinite(v)


def _given(w: NDArray, b: NDArray) -> Initializer:
    """An initialiser (see `minibp.init`) that returns ``w`` and ``b`` themselves."""

    def init(n_in: int, n_out: int, rng: np.random.Generator, dtype: DTypeLike) -> tuple[NDArray, NDArray]:
        return w, b

    return init
