"""The module registry: which classes a model file may name, and how a network becomes JSON and back.

The architecture is a tree of ``{"type": name, "config": {...}}`` nodes. A
registered *container* (`Sequential`, `Parallel`, `Residual`) adds ``"modules": [...]``, its
children as ``children()`` lists them, and is rebuilt as
``cls(*modules, **config)``; a module holding a generator in its ``rng``
attribute, such as `Dropout`, adds its state as ``"rng"``. Types are looked
up in this explicit registry, never imported by name from the file:
minibp's own modules are registered, and your layers join with
`register_module`.

Deliberately left out: parameters (they are arrays, stored beside the
architecture) and modules that cannot be rebuilt from a JSON configuration.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from .. import conv, layers
from .._checks import MAX_DEPTH
from ..conv import Conv2d
from ..errors import ModelFormatError, ModelNestingError, NestingError
from ..layers import Dense
from ..module import Module
from ..sequential import Sequential
from .state import restore_rng, rng_state

__all__ = ["MAX_DEPTH", "register_module", "registered_modules", "module_config", "architecture", "build"]

M = TypeVar("M", bound=type)

_REGISTRY: dict[str, type[Module]] = {}
_CONTAINERS: set[type[Module]] = set()


def register_module(cls: M | None = None, *, name: str | None = None, container: bool = False) -> M | Callable[[M], M]:
    """Register a `Module` subclass so that `minibp.io.save` can write it and `minibp.io.load` can rebuild it.

    Use it as a decorator, bare or with a name:

    ```python
    @bp.io.register_module
    class Scale(bp.Module):
        def __init__(self, factor: float = 2.0):
            self.factor = factor
        def get_config(self):
            return {"factor": self.factor}
        ...
    ```

    The configuration of a module is what `module_config` returns: its
    ``get_config()`` if it has one (a dict of JSON values that
    ``cls(**config)`` accepts, or ``cls.from_config(config)`` if the class
    defines that), otherwise the arguments of ``__init__`` read back from
    attributes of the same name. Parameters are not part of the
    configuration: they are stored as arrays and copied in after the module
    is built.

    Args:
        cls: the class (when used without parentheses).
        name: the name stored in files; default ``cls.__name__``.
        container: the class holds other modules given to its constructor,
            as `Sequential` does: its children are saved with it and it is
            rebuilt as ``cls(*children, **config)``. A layer that builds its
            own sub-modules from its configuration is not a container.

    Returns:
        The class itself, unchanged.

    Raises:
        TypeError: ``cls`` is not a `Module` subclass.
        ValueError: the name is already taken by another class.
    """

    def decorate(klass: M) -> M:
        if not (isinstance(klass, type) and issubclass(klass, Module)):
            raise TypeError(f"register_module: {klass!r} is not a subclass of minibp.Module")
        key = klass.__name__ if name is None else str(name)
        existing = _REGISTRY.get(key)
        if existing is not None and existing is not klass:
            raise ValueError(
                f"register_module: the name {key!r} is already registered for {existing.__module__}."
                f"{existing.__qualname__}; pass name=... to choose another"
            )
        _REGISTRY[key] = klass
        if container:
            _CONTAINERS.add(klass)
        return klass

    if cls is None:
        return decorate
    return decorate(cls)


def registered_modules() -> dict[str, type[Module]]:
    """Return a copy of the registry: the name stored in files → the class."""
    return dict(_REGISTRY)


def _type_name(module: Module) -> str:
    klass = type(module)
    for key, value in _REGISTRY.items():
        if value is klass:
            return key
    raise TypeError(
        f"save: {klass.__module__}.{klass.__qualname__} is not registered; decorate it with "
        "@minibp.io.register_module (and give it a get_config() method if its __init__ takes arguments)"
    )


def _is_json_scalar(value: object) -> bool:
    return value is None or isinstance(value, (bool, int, str)) or (isinstance(value, float) and math.isfinite(value))


def module_config(module: Module) -> dict[str, Any]:
    """Return the JSON configuration from which ``type(module)`` can be rebuilt (without its parameters).

    The rules, in order:

    1. a ``get_config()`` method, if the module has one;
    2. `Dense`: ``{"n_in", "n_out", "dtype"}`` (the initialiser and ``rng``
       do not matter: the parameters are loaded afterwards);
    3. otherwise each argument of ``__init__`` other than ``rng`` and
       ``init`` is read from the attribute of the same name, when that is a
       JSON scalar (a number, string, bool or ``None``); arguments with a
       default and no such attribute are left out, and so is ``*args``
       (a container's children).

    Raises:
        TypeError: a required argument cannot be found, or ``get_config``
            returned something that is not a JSON object.
    """
    klass = type(module)
    getter = getattr(module, "get_config", None)
    if callable(getter):
        config = getter()
        if not isinstance(config, dict) or not all(isinstance(k, str) for k in config):
            raise TypeError(f"{klass.__name__}.get_config() must return a dict with str keys, got {config!r}")
        try:
            json.dumps(config, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{klass.__name__}.get_config() returned a value JSON cannot hold: {err}") from None
        return dict(config)
    if isinstance(module, Dense) and klass is Dense:
        return {"n_in": module.n_in, "n_out": module.n_out, "dtype": str(module.w.data.dtype)}
    arguments: dict[str, Any] = {}
    try:
        signature = inspect.signature(klass.__init__)
    except (TypeError, ValueError):  # pragma: no cover - builtin __init__
        return arguments
    for pname, param in list(signature.parameters.items())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or pname in ("rng", "init"):
            continue
        value = getattr(module, pname, param.default)
        if isinstance(value, np.generic):
            value = value.item()
        if value is not param.empty and _is_json_scalar(value):
            if value != param.default or param.default is param.empty:
                arguments[pname] = value
        elif param.default is param.empty:
            raise TypeError(
                f"save: cannot find the value of {klass.__name__}'s argument {pname!r}; give the class a "
                "get_config() method returning the arguments that rebuild it"
            )
    return arguments


def architecture(module: Module, depth: int = 0) -> dict[str, Any]:
    """Return the architecture node of ``module``: type, configuration, children of a container, rng state.

    Raises:
        TypeError: a module is not registered or has no configuration.
        NestingError: containers are nested more than `MAX_DEPTH` (64) deep.
    """
    if depth > MAX_DEPTH:
        raise NestingError(f"save: modules nested more than MAX_DEPTH = {MAX_DEPTH} containers deep")
    node: dict[str, Any] = {"type": _type_name(module), "config": module_config(module)}
    if type(module) in _CONTAINERS:
        node["modules"] = [architecture(child, depth + 1) for child in module.children()]
    rng = getattr(module, "rng", None)
    if isinstance(rng, np.random.Generator):  # e.g. Dropout's: resuming must draw the same masks
        node["rng"] = rng_state(rng)
    return node


_ARGUMENTS = {Dense: {"n_in", "n_out", "dtype"}, Conv2d: {"in_shape", "out_channels", "kernel_size", "dtype"}}


def _zeros_init(n_in: int, n_out: int, rng: np.random.Generator, dtype: Any) -> tuple[NDArray, NDArray]:
    return np.zeros((n_out, n_in), dtype=dtype), np.zeros((n_out, 1), dtype=dtype)


def build(node: object, where: str, depth: int = 0) -> Module:
    """Rebuild a module (parameters not yet loaded) from an architecture node, or raise `ModelFormatError`."""
    if depth > MAX_DEPTH:
        raise ModelNestingError(f"{where}: modules nested more than MAX_DEPTH = {MAX_DEPTH} containers deep")
    if not isinstance(node, dict) or not isinstance(node.get("type"), str) or not isinstance(node.get("config"), dict):
        raise ModelFormatError(
            f"{where}: expected an object with a string 'type' and an object 'config', got {node!r:.200}"
        )
    unknown_keys = set(node) - {"type", "config", "modules", "rng"}
    if unknown_keys:
        raise ModelFormatError(f"{where}: unexpected keys {sorted(unknown_keys)}")
    name, config = node["type"], node["config"]
    klass = _REGISTRY.get(name)
    if klass is None:
        raise ModelFormatError(
            f"{where}: unknown layer type {name!r:.100}; known types are {sorted(_REGISTRY)}. "
            "Register your own layers with @minibp.io.register_module before loading."
        )
    children: list[Module] = []
    if klass in _CONTAINERS:
        nodes = node.get("modules")
        if not isinstance(nodes, list) or not nodes:
            raise ModelFormatError(f"{where}: a {name} needs a non-empty 'modules' list")
        children = [build(child, f"{where}[{i}]", depth + 1) for i, child in enumerate(nodes)]
    elif "modules" in node:
        raise ModelFormatError(f"{where}: {name} cannot have child modules")
    module: Module
    try:
        if klass is Dense or klass is Conv2d:  # zeros, not random numbers: the stored parameters come next
            unexpected = set(config) - _ARGUMENTS[klass]
            if unexpected:
                raise TypeError(f"unexpected arguments {sorted(unexpected)}")
            module = klass(**config, init=_zeros_init)
        elif klass in _CONTAINERS:
            module = klass(*children, **config)
        else:
            from_config = getattr(klass, "from_config", None)
            module = from_config(config) if callable(from_config) else klass(**config)
    except Exception as err:
        raise ModelFormatError(f"{where}: cannot build {name} from config {config!r:.200}: {err}") from err
    if not isinstance(module, klass):
        raise ModelFormatError(f"{where}: {name}.from_config returned {type(module).__name__}")
    if "rng" in node:
        if not isinstance(getattr(module, "rng", None), np.random.Generator):
            raise ModelFormatError(f"{where}: the file holds an rng state but {name} has no 'rng' generator")
        setattr(module, "rng", restore_rng(node["rng"], where))  # noqa: B010 (any module may hold one)
    return module


def _register_builtins() -> None:
    """Register minibp's own modules: the containers `Sequential`, `Parallel`, `Residual` and each layer (conv too)."""
    from ..containers import Parallel, Residual

    for container in (Sequential, Parallel, Residual):
        register_module(container, container=True)
    for klass in [getattr(layers, name, None) for name in layers.__all__] + [getattr(conv, n) for n in conv.__all__]:
        if isinstance(klass, type) and issubclass(klass, Module) and klass is not Module:
            register_module(klass)


_register_builtins()
