"""What a model file's header declares, checked against what its archive stores, before anything is built.

A small file must never cost a large allocation. The arrays of a model file
cannot: `minibp.io.format` has checked every ``.npy`` header against the
bytes the archive really holds. The JSON header could, through the sizes it
declares (``Dense(20000, 20000)`` is a 3.2 GB weight matrix, and
``Conv2d((5000, 28, 28), 5000, 28)`` a 157 GB one) and the dtypes
of a stored rng state; so `minibp.io.load_checkpoint` builds nothing before

- `check_fields` has checked the type of every header field that names entries
  (``parameters``, ``optimizer``, ``tied``) or is handed back as it is
  (``history``, ``metadata``, ``cost``);
- `check_sizes` has checked that each `Dense` and `Conv2d` layer of the
  architecture declares a weight and a bias of a shape and dtype that the archive stores,
  and that all of them together are no larger than the stored parameters
  (a place that holds a tied parameter counted as the largest one);
- `minibp.io.state.restore_rng` has checked an rng state against a fresh
  generator's (same keys, dtypes and lengths).

So what loading allocates is bounded by a small multiple of the file's size.

Deliberately left out: layers you register yourself. Their constructors run
with the configuration the file holds, so they should check it (as `Dense`
does) before they allocate.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .._checks import is_integer
from ..conv import Conv2d
from ..errors import ModelFormatError
from ..layers import Dense
from .format import PARAM
from .registry import MAX_DEPTH, registered_modules

__all__ = ["check_fields", "check_sizes"]


def check_fields(
    header: Mapping[str, Any], where: str
) -> tuple[list[str], dict[str, Any] | list[dict[str, Any]] | None, dict[str, str]]:
    """Check the types of the header's fields; return the parameter names, the optimizer entry and the ties."""
    names = header["parameters"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise ModelFormatError(f"{where}: 'parameters' must be a list of distinct names")
    optimizer = header["optimizer"]
    several = isinstance(optimizer, list) and header["format_version"] >= 3  # format 3: one entry per optimizer
    if optimizer is not None and not (
        all(_optimizer_entry(entry) for entry in optimizer) and bool(optimizer)
        if several
        else _optimizer_entry(optimizer)
    ):
        raise ModelFormatError(f"{where}: malformed optimizer state")
    ties = header.get("tied", {})
    if not isinstance(ties, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in ties.items()):
        raise ModelFormatError(f"{where}: 'tied' must be an object mapping parameter names to parameter names")
    if header["history"] is not None and not isinstance(header["history"], dict):
        raise ModelFormatError(f"{where}: 'history' must be an object")
    cost = header.get("cost")  # format 3
    if cost is not None and not (
        isinstance(cost, dict)
        and set(cost) == {"type", "takes"}
        and isinstance(cost["type"], str)
        and cost["takes"] in ("a", "z")
    ):
        raise ModelFormatError(f"{where}: 'cost' must be null or an object with a 'type' name and 'takes' 'a' or 'z'")
    if not isinstance(header["metadata"], dict):
        raise ModelFormatError(f"{where}: 'metadata' must be an object")
    if not isinstance(header["minibp_version"], str):
        raise ModelFormatError(f"{where}: 'minibp_version' must be a string")
    return names, optimizer, ties


def _optimizer_entry(entry: object) -> bool:
    """Whether ``entry`` is one optimizer's ``{"scalars": {...}, "arrays": [distinct names]}``."""
    return (
        isinstance(entry, dict)
        and set(entry) == {"scalars", "arrays"}
        and isinstance(entry["scalars"], dict)
        and isinstance(entry["arrays"], list)
        and all(isinstance(k, str) for k in entry["arrays"])
        and len(set(entry["arrays"])) == len(entry["arrays"])
        and not set(entry["arrays"]) & set(entry["scalars"])
    )


def check_sizes(
    tree: object,
    members: Mapping[str, tuple[tuple[int, ...], np.dtype]],
    names: list[str],
    ties: dict[str, str],
    where: str,
) -> None:
    """Refuse an architecture whose `Dense` or `Conv2d` layers declare parameters the archive does not store.

    Args:
        tree: the header's ``architecture``; malformed nodes are left for `minibp.io.registry.build` to refuse.
        members: ``shape, dtype`` of every entry (``"param/0.w"``, ...), from the ``.npy`` headers.
        names: the stored parameters (each has a ``param/<name>`` entry).
        ties: further name → stored name, for each further place of a tied parameter.
        where: how error messages name the file.
    """

    def nbytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
        return math.prod(shape) * dtype.itemsize

    stored = {members[PARAM + n] for n in names}
    largest = max((nbytes(*entry) for entry in stored), default=0)
    budget = sum(nbytes(*members[PARAM + n]) for n in names) + largest * len(ties)  # a tied place: at most the largest
    declared = 0
    layers = {name: klass for name, klass in registered_modules().items() if klass in _DECLARES}
    for path, klass, config in _parameter_nodes(tree, layers, f"{where}: architecture"):
        layer, dtype, shapes = _DECLARES[klass](config, path)
        for what, shape in shapes:
            if (shape, dtype) not in stored:
                listed = ", ".join(sorted({f"{t} {s}" for s, t in stored})[:8])
                raise ModelFormatError(
                    f"{path}: {layer} needs {what} of {dtype} {shape}, but the file stores no "
                    f"parameter of that shape and dtype (it stores {listed or 'none'})"
                )
            declared += nbytes(shape, dtype)
        if declared > budget:
            raise ModelFormatError(
                f"{path}: the Dense and Conv2d layers up to here need {declared} bytes of parameters, more than "
                f"the {budget} the file stores (counting each tied place as the largest parameter)"
            )


def _parameter_nodes(
    node: object, layers: dict[str, type], path: str, depth: int = 0
) -> list[tuple[str, type, object]]:
    """Return ``(path, class, config)`` of every node whose type names a class of ``layers``, depth first."""
    if depth > MAX_DEPTH or not isinstance(node, dict):
        return []
    found: list[tuple[str, type, object]] = []
    if isinstance(node.get("type"), str) and node["type"] in layers:
        found.append((path, layers[node["type"]], node.get("config")))
    children = node.get("modules")
    if isinstance(children, list):
        for i, child in enumerate(children):
            found += _parameter_nodes(child, layers, f"{path}[{i}]", depth + 1)
    return found


Declared = tuple[str, np.dtype, list[tuple[str, tuple[int, ...]]]]


def _dense_config(config: object, path: str) -> Declared:
    """Return the name, dtype and parameter shapes a `Dense` configuration declares, refusing a bad one."""
    if not isinstance(config, dict) or not {"n_in", "n_out"} <= set(config) <= {"n_in", "n_out", "dtype"}:
        raise ModelFormatError(
            f"{path}: cannot build Dense from config {config!r:.200}: its keys are n_in, n_out, dtype"
        )
    n_in, n_out = config["n_in"], config["n_out"]
    if not all(_positive(value) for value in (n_in, n_out)):
        raise ModelFormatError(f"{path}: cannot build Dense from config {config!r:.200}: sizes must be positive")
    dtype = _dtype(config, "Dense", path)
    return f"Dense({n_in}, {n_out})", dtype, [("w", (n_out, n_in)), ("b", (n_out, 1))]


def _conv_config(config: object, path: str) -> Declared:
    """Return the name, dtype and parameter shapes a `Conv2d` configuration declares, refusing a bad one."""
    keys = {"in_shape", "out_channels", "kernel_size"}
    if not isinstance(config, dict) or not keys <= set(config) <= keys | {"dtype"}:
        raise ModelFormatError(
            f"{path}: cannot build Conv2d from config {config!r:.200}: its keys are in_shape, out_channels, "
            "kernel_size, dtype"
        )
    in_shape, f, k = config["in_shape"], config["out_channels"], config["kernel_size"]
    if not (isinstance(in_shape, list) and len(in_shape) == 3 and all(map(_positive, [*in_shape, f, k]))):
        raise ModelFormatError(
            f"{path}: cannot build Conv2d from config {config!r:.200}: in_shape must be three positive "
            "integers, out_channels and kernel_size positive integers"
        )
    dtype = _dtype(config, "Conv2d", path)
    return f"Conv2d({tuple(in_shape)}, {f}, {k})", dtype, [("w", (f, in_shape[0], k, k)), ("b", (f, 1))]


def _positive(value: object) -> bool:
    return is_integer(value) and int(value) >= 1


def _dtype(config: dict, layer: str, path: str) -> np.dtype:
    dtype = config.get("dtype", "float64")
    if dtype not in ("float32", "float64"):
        raise ModelFormatError(f"{path}: cannot build {layer} from config {config!r:.200}: dtype must be a float")
    return np.dtype(dtype)


_DECLARES: dict[type, Callable[[object, str], Declared]] = {Dense: _dense_config, Conv2d: _conv_config}
"""The layers whose configuration declares their parameters' shapes, and how to read them."""
