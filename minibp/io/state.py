"""The state a model file carries besides the network: generators, optimizers and histories as plain values.

A generator's state becomes JSON (`rng_state`) and comes back as a new
generator in the same state (`restore_rng`), so that training resumed from a
file draws the same mini-batches and dropout masks as an uninterrupted run.
An optimizer's ``state_dict()`` is split into JSON scalars and arrays
(`split_optimizer_state`; the arrays go into the archive beside the
parameters). The cost the network was trained with is recorded by name
(`cost_record`).

Deliberately left out: bit generators other than numpy's own five, and
optimizer state other than numbers, strings and arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._checks import is_integer
from ..costs import Cost
from ..errors import ModelFormatError

__all__ = [
    "ALLOWED_KINDS",
    "rng_state",
    "restore_rng",
    "optimizer_state",
    "split_optimizer_state",
    "history_dict",
    "cost_record",
]

#: Array kinds a model file may hold: floats, signed and unsigned integers, bools; never objects, strings or structs.
ALLOWED_KINDS = "fiub"

_RNG_CLASSES = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


def cost_record(cost: object) -> dict[str, str]:
    """Return what a model file records of the cost a network was trained with: its class name and ``takes``.

    Raises:
        TypeError: ``cost`` is not a `minibp.costs.Cost`.
    """
    if not isinstance(cost, Cost):
        raise TypeError(f"save: cost must be a minibp Cost (such as SoftmaxLogLikelihoodCost()), got {cost!r:.100}")
    return {"type": type(cost).__name__, "takes": "z" if getattr(cost, "takes", "a") == "z" else "a"}


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """Return the bit-generator state of ``rng`` as JSON values (arrays become ``{"__ndarray__", "dtype"}``).

    Raises:
        TypeError: ``rng`` is not a generator, or its bit generator is not one of numpy's.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"save: rng must be a numpy.random.Generator, got {type(rng).__name__}")
    state = rng.bit_generator.state
    if state.get("bit_generator") not in _RNG_CLASSES:
        raise TypeError(f"save: cannot store the state of bit generator {state.get('bit_generator')!r}")

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, np.ndarray):
            return {"__ndarray__": value.tolist(), "dtype": str(value.dtype)}
        if isinstance(value, np.generic):
            return value.item()
        return value

    return plain(state)


def restore_rng(state: Any, where: str) -> np.random.Generator:
    """Return a new generator in the state `rng_state` recorded, or raise `ModelFormatError` naming ``where``.

    The stored state is checked against the state of a fresh bit generator of the named kind before
    anything is built from it: the same keys, the same scalar types, and arrays of the same dtype and
    length. A dtype string in the file never decides what is allocated.
    """
    if not isinstance(state, dict) or state.get("bit_generator") not in _RNG_CLASSES:
        raise ModelFormatError(f"{where}: 'rng' is not the state of a known numpy bit generator")
    bit_generator = getattr(np.random, state["bit_generator"])(0)
    decoded = _decode(state, bit_generator.state, f"{where}: rng state")
    try:
        bit_generator.state = decoded
    except (TypeError, ValueError, KeyError, OverflowError) as err:
        raise ModelFormatError(f"{where}: cannot restore the rng state: {err}") from err
    return np.random.Generator(bit_generator)


def _decode(value: Any, template: Any, where: str) -> Any:
    """Return ``value`` (JSON, as `rng_state` wrote it) shaped like ``template``, or raise `ModelFormatError`."""
    if isinstance(template, dict):
        if not isinstance(value, dict) or set(value) != set(template):
            raise ModelFormatError(f"{where}: expected the keys {sorted(template)}, got {str(value)[:100]}")
        return {key: _decode(value[key], template[key], f"{where}[{key!r}]") for key in template}
    if isinstance(template, np.ndarray):
        items = value.get("__ndarray__") if isinstance(value, dict) else None
        limit = int(np.iinfo(template.dtype).max)
        if (
            not isinstance(value, dict)
            or set(value) != {"__ndarray__", "dtype"}
            or value["dtype"] != str(template.dtype)
            or not isinstance(items, list)
            or len(items) != template.size
            or not all(is_integer(v) and 0 <= v <= limit for v in items)
        ):
            raise ModelFormatError(
                f"{where}: expected {{'__ndarray__': [{template.size} integers], 'dtype': '{template.dtype}'}}, "
                f"got {str(value)[:100]}"
            )
        return np.array(items, dtype=template.dtype).reshape(template.shape)
    if isinstance(template, str):
        if value != template:
            raise ModelFormatError(f"{where}: expected {template!r}, got {str(value)[:100]}")
        return value
    if not is_integer(value) or not 0 <= value < 1 << 128:
        raise ModelFormatError(f"{where}: expected an integer in [0, 2**128), got {str(value)[:100]}")
    return value


def optimizer_state(optimizer: object) -> dict[str, Any]:
    """Return ``optimizer.state_dict()``, or, for an optimizer without one, its class name and number settings."""
    state_dict = getattr(optimizer, "state_dict", None)
    if callable(state_dict):
        return dict(state_dict())
    state: dict[str, Any] = {"type": type(optimizer).__name__}
    for key, value in vars(optimizer).items():
        if not key.startswith("_") and isinstance(value, (int, float, str)) and not isinstance(value, bool):
            state[key] = value
    return state


def split_optimizer_state(state: Mapping) -> tuple[dict[str, Any], dict[str, NDArray]]:
    """Split an optimizer state into JSON scalars and C-ordered arrays (0-d arrays stay arrays).

    Raises:
        TypeError: a key is not a string, or a value is neither a number, a string, ``None`` nor a numeric array.
    """
    scalars: dict[str, Any] = {}
    arrays: dict[str, NDArray] = {}
    for key, value in state.items():
        if not isinstance(key, str):
            raise TypeError(f"save: optimizer state keys must be strings, got {key!r}")
        if isinstance(value, np.bool_):
            value = bool(value)
        if isinstance(value, (np.ndarray, np.generic)):
            value = np.asarray(value)
            if value.dtype.kind not in ALLOWED_KINDS:
                raise TypeError(f"save: optimizer state {key!r} has dtype {value.dtype}, not a number")
            arrays[key] = value if value.flags.c_contiguous else np.array(value, order="C")
        elif isinstance(value, (bool, int, float, str)) or value is None:
            scalars[key] = value
        else:
            raise TypeError(
                f"save: optimizer state {key!r} is a {type(value).__name__}; expected a number, str or array"
            )
    return scalars, arrays


def history_dict(history: object) -> dict[str, Any]:
    """Return ``history.to_dict()`` (a `minibp.history.History`), or ``history`` itself if it is a dict."""
    to_dict = getattr(history, "to_dict", None)
    d = to_dict() if callable(to_dict) else history
    if not isinstance(d, dict):
        raise TypeError(f"save: history must be a History or a dict, got {type(history).__name__}")
    return d
