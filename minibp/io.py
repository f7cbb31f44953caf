r"""Save and load networks (and optimizer state) in one ``.npz`` file, without pickle.

```python
bp.io.save(net, "model.npz", optimizer=optimizer, history=history, rng=rng)
net = bp.io.load("model.npz")                      # just the network
ckpt = bp.io.load_checkpoint("model.npz")          # network, optimizer state, history, rng, metadata
```

**The file.** A model file is an ordinary numpy ``.npz`` archive (a zip of
``.npy`` arrays) that ``np.load(path, allow_pickle=False)`` can open. It holds:

| entry | contents |
|---|---|
| ``minibp.json`` | UTF-8 JSON in a ``uint8`` array: format and minibp versions, architecture, |
| | parameter names, optimizer scalars, history, rng state, your metadata |
| ``param/<name>`` | each parameter, named as ``net.named_parameters()`` does (``param/0.w``, ...) |
| ``optimizer/<key>`` | the arrays of ``optimizer.state_dict()`` (velocities, moment estimates) |

The architecture is a tree of ``{"type": name, "config": {...}}`` nodes (a
`Sequential` adds ``"modules": [...]``; a module holding a generator in its
``rng`` attribute, such as `Dropout`, adds its state as ``"rng"``). Types are looked up in an explicit
registry, never imported by name from the file: minibp's own modules are
registered, and your layers join with `register_module`.

**Safety.** Loading never unpickles anything and never imports code named by
the file. Before an array is read, its ``.npy`` header is checked: object
arrays (the only way an ``.npy`` file can carry a pickle) are refused, and
so are unknown layer types, missing or extra entries, parameters of the
wrong shape or dtype, NaN or infinite values, a newer format version and
truncated or corrupt archives. Each is a `ModelFormatError` that names the
file and what is wrong.

**Atomic writes.** `save` writes the whole archive to a temporary file in the
target's directory, flushes it to disk and renames it over the target. An
exception or a killed process part-way leaves the previous file untouched.
On Linux the temporary file has no name until it is complete (``O_TMPFILE``),
so even a killed process leaves nothing behind; elsewhere a named
``.<name>.<random>.tmp`` file is removed on any exception.

**Resuming training bit for bit.** Pass the generator that shuffles the
mini-batches as ``rng=``; its bit-generator state is stored as JSON and
`Checkpoint.rng` returns a generator in the same state. Then

```python
ckpt = bp.io.load_checkpoint("model.npz")
net = ckpt.net
optimizer = bp.SGD(net.parameters(), eta=3.0)     # same type as the one saved
optimizer.load_state_dict(ckpt.optimizer_state)  # restores eta, counters and buffers
bp.train(net, data, optimizer=optimizer, rng=ckpt.rng, ...)
```

continues exactly as an uninterrupted run would (tested to the last bit).

Deliberately left out: compression (trained float weights barely
compress), and saving modules that are not built from a registered type
and a JSON configuration.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import tokenize
import warnings
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from .errors import ModelFormatError, NonFiniteError
from .module import Module

__all__ = [
    "FORMAT_VERSION",
    "Checkpoint",
    "save",
    "load",
    "load_checkpoint",
    "register_module",
    "registered_modules",
    "module_config",
]

FORMAT_VERSION = 1
"""Version of the file layout written by `save`; `load` refuses files with a larger one."""

_FORMAT_NAME = "minibp-model"
_HEADER = "minibp.json"
_PARAM = "param/"
_OPTIM = "optimizer/"
_MAX_HEADER_BYTES = 64 << 20
_MAX_DEPTH = 64
_ALLOWED_KINDS = "fiub"  # float, signed and unsigned integers, bool: never objects, strings or structs
_RNG_CLASSES = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")

M = TypeVar("M", bound=type)

# ---------------------------------------------------------------------------------------------------
# Registry


_REGISTRY: dict[str, type[Module]] = {}


def register_module(cls: M | None = None, *, name: str | None = None) -> M | Callable[[M], M]:
    """Register a `Module` subclass so that `save` can write it and `load` can rebuild it.

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
        _builtins()
        existing = _REGISTRY.get(key)
        if existing is not None and existing is not klass:
            raise ValueError(
                f"register_module: the name {key!r} is already registered for {existing.__module__}."
                f"{existing.__qualname__}; pass name=... to choose another"
            )
        _REGISTRY[key] = klass
        return klass

    if cls is None:
        return decorate
    return decorate(cls)


_BUILTINS_DONE = False


def _builtins() -> None:
    """Register minibp's own modules: `Sequential` and every `Module` subclass in `minibp.layers`."""
    global _BUILTINS_DONE
    if _BUILTINS_DONE:
        return
    from . import layers, sequential

    candidates = [sequential.Sequential]
    for attr in getattr(layers, "__all__", dir(layers)):
        obj = getattr(layers, attr, None)
        if isinstance(obj, type) and issubclass(obj, Module) and obj is not Module:
            candidates.append(obj)
    for klass in candidates:
        _REGISTRY.setdefault(klass.__name__, klass)
    _BUILTINS_DONE = True


def registered_modules() -> dict[str, type[Module]]:
    """Return a copy of the registry: the name stored in files → the class."""
    _builtins()
    return dict(_REGISTRY)


def _type_name(module: Module) -> str:
    _builtins()
    klass = type(module)
    for key, value in _REGISTRY.items():
        if value is klass:
            return key
    raise TypeError(
        f"save: {klass.__module__}.{klass.__qualname__} is not registered; decorate it with "
        "@minibp.io.register_module (and give it a get_config() method if its __init__ takes arguments)"
    )


# ---------------------------------------------------------------------------------------------------
# Configuration


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
       default and no such attribute are left out.

    Raises:
        TypeError: a required argument cannot be found, or ``get_config``
            returned something that is not a JSON object.
    """
    from .layers import Dense

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
    import inspect

    config: dict[str, Any] = {}
    try:
        signature = inspect.signature(klass.__init__)
    except (TypeError, ValueError):  # pragma: no cover - builtin __init__
        return config
    for pname, param in list(signature.parameters.items())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or pname in ("rng", "init"):
            continue
        value = getattr(module, pname, param.default)
        if isinstance(value, np.generic):
            value = value.item()
        if value is not param.empty and _is_json_scalar(value):
            if value != param.default or param.default is param.empty:
                config[pname] = value
        elif param.default is param.empty:
            raise TypeError(
                f"save: cannot find the value of {klass.__name__}'s argument {pname!r}; give the class a "
                "get_config() method returning the arguments that rebuild it"
            )
    return config


def _zeros_init(n_in: int, n_out: int, rng: np.random.Generator, dtype: Any) -> tuple[NDArray, NDArray]:
    return np.zeros((n_out, n_in), dtype=dtype), np.zeros((n_out, 1), dtype=dtype)


def _architecture(module: Module, depth: int = 0) -> dict[str, Any]:
    from .sequential import Sequential

    if depth > _MAX_DEPTH:
        raise ValueError(f"save: modules nested more than {_MAX_DEPTH} deep")
    node: dict[str, Any] = {"type": _type_name(module)}
    if isinstance(module, Sequential) and type(module) is Sequential:
        node["config"] = {}
        node["modules"] = [_architecture(child, depth + 1) for child in module]
    else:
        node["config"] = module_config(module)
        rng = getattr(module, "rng", None)
        if isinstance(rng, np.random.Generator):  # e.g. Dropout's: resuming must draw the same masks
            node["rng"] = _rng_state(rng)
    return node


def _build(node: object, where: str, depth: int = 0) -> Module:
    """Rebuild a module from an architecture node, or raise `ModelFormatError` naming ``where``."""
    from .layers import Dense
    from .sequential import Sequential

    if depth > _MAX_DEPTH:
        raise ModelFormatError(f"{where}: modules nested more than {_MAX_DEPTH} deep")
    if not isinstance(node, dict) or not isinstance(node.get("type"), str) or not isinstance(node.get("config"), dict):
        raise ModelFormatError(
            f"{where}: expected an object with a string 'type' and an object 'config', got {node!r:.200}"
        )
    unknown_keys = set(node) - {"type", "config", "modules", "rng"}
    if unknown_keys:
        raise ModelFormatError(f"{where}: unexpected keys {sorted(unknown_keys)}")
    registry = registered_modules()
    name, config = node["type"], node["config"]
    klass = registry.get(name)
    if klass is None:
        raise ModelFormatError(
            f"{where}: unknown layer type {name!r:.100}; known types are {sorted(registry)}. "
            "Register your own layers with @minibp.io.register_module before loading."
        )
    if klass is Sequential:
        children = node.get("modules")
        if not isinstance(children, list) or not children or config or "rng" in node:
            raise ModelFormatError(f"{where}: a Sequential needs a non-empty 'modules' list and an empty config")
        return Sequential(*(_build(child, f"{where}[{i}]", depth + 1) for i, child in enumerate(children)))
    if "modules" in node:
        raise ModelFormatError(f"{where}: {name} cannot have child modules")
    try:
        if klass is Dense:
            unexpected = set(config) - {"n_in", "n_out", "dtype"}
            if unexpected:
                raise TypeError(f"unexpected arguments {sorted(unexpected)}")
            return Dense(**config, init=_zeros_init)
        from_config = getattr(klass, "from_config", None)
        module = from_config(config) if callable(from_config) else klass(**config)
    except ModelFormatError:
        raise
    except Exception as err:
        raise ModelFormatError(f"{where}: cannot build {name} from config {config!r:.200}: {err}") from err
    if not isinstance(module, klass):
        raise ModelFormatError(f"{where}: {name}.from_config returned {type(module).__name__}")
    if "rng" in node:
        if not isinstance(getattr(module, "rng", None), np.random.Generator):
            raise ModelFormatError(f"{where}: the file holds an rng state but {name} has no 'rng' generator")
        module.rng = _restore_rng(node["rng"], where)
    return module


# ---------------------------------------------------------------------------------------------------
# Optimizer state, history and rng as JSON + arrays


def _encode_state(state: Mapping, arrays: dict[str, NDArray]) -> dict[str, Any]:
    """Split an optimizer ``state_dict`` into JSON scalars and arrays stored as ``optimizer/<key>``."""
    scalars: dict[str, Any] = {}
    array_keys: list[str] = []
    for key, value in state.items():
        if not isinstance(key, str):
            raise TypeError(f"save: optimizer state keys must be strings, got {key!r}")
        if isinstance(value, np.bool_):
            value = bool(value)
        if isinstance(value, (np.ndarray, np.generic)):
            value = np.asarray(value)
            if value.dtype.kind not in _ALLOWED_KINDS:
                raise TypeError(f"save: optimizer state {key!r} has dtype {value.dtype}, not a number")
            arrays[_OPTIM + key] = value if value.flags.c_contiguous else np.array(value, order="C")  # keeps 0-d
            array_keys.append(key)
        elif isinstance(value, (bool, int, float, str)) or value is None:
            scalars[key] = value
        else:
            raise TypeError(
                f"save: optimizer state {key!r} is a {type(value).__name__}; expected a number, str or array"
            )
    return {"scalars": scalars, "arrays": array_keys}


def _optimizer_state(optimizer: object) -> dict[str, Any]:
    state_dict = getattr(optimizer, "state_dict", None)
    if callable(state_dict):
        return dict(state_dict())
    # An optimizer without state_dict: keep its class and its number-valued settings.
    state: dict[str, Any] = {"type": type(optimizer).__name__}
    for key, value in vars(optimizer).items():
        if not key.startswith("_") and isinstance(value, (int, float, str)) and not isinstance(value, bool):
            state[key] = value
    return state


def _rng_state(rng: np.random.Generator) -> dict[str, Any]:
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


def _restore_rng(state: Any, where: str) -> np.random.Generator:
    def arrays(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"__ndarray__", "dtype"}:
                return np.array(value["__ndarray__"], dtype=np.dtype(value["dtype"]))
            return {k: arrays(v) for k, v in value.items()}
        return value

    if not isinstance(state, dict) or state.get("bit_generator") not in _RNG_CLASSES:
        raise ModelFormatError(f"{where}: 'rng' is not the state of a known numpy bit generator")
    try:
        bit_generator = getattr(np.random, state["bit_generator"])()
        bit_generator.state = arrays(state)
    except (TypeError, ValueError, KeyError, OverflowError) as err:
        raise ModelFormatError(f"{where}: cannot restore the rng state: {err}") from err
    return np.random.Generator(bit_generator)


def _history_dict(history: object) -> dict[str, Any]:
    to_dict = getattr(history, "to_dict", None)
    d = to_dict() if callable(to_dict) else history
    if not isinstance(d, dict):
        raise TypeError(f"save: history must be a History or a dict, got {type(history).__name__}")
    return d


# ---------------------------------------------------------------------------------------------------
# Atomic writing


def _write_npz(f: IO[bytes], arrays: Mapping[str, NDArray]) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` with fixed timestamps: the same net gives the same bytes."""
    with zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(key + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            with archive.open(info, mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asarray(value), allow_pickle=False)


def _fsync_directory(dir_fd: int | None) -> None:
    if dir_fd is None:
        return
    try:
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover - some file systems cannot sync a directory
        pass


def _write_anonymous(directory: Path, name: str, write: Callable[[IO[bytes]], None]) -> bool:
    """Write via an unnamed ``O_TMPFILE`` (Linux), link it under a temporary name and rename it.

    Returns ``False`` (having changed nothing) when the system cannot do this.
    """
    if not (hasattr(os, "O_TMPFILE") and os.link in os.supports_dir_fd and os.path.isdir("/proc/self/fd")):
        return False
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        try:
            fd = os.open(directory, os.O_TMPFILE | os.O_WRONLY, 0o666)
        except OSError:
            return False
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            tmp = f".{name}.{secrets.token_hex(6)}.tmp"
            try:
                os.link(f"/proc/self/fd/{fd}", tmp, dst_dir_fd=dir_fd, follow_symlinks=True)
            except OSError:
                return False
        try:
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            os.unlink(tmp, dir_fd=dir_fd)
            raise
        _fsync_directory(dir_fd)
        return True
    finally:
        os.close(dir_fd)


def _write_named(directory: Path, name: str, write: Callable[[IO[bytes]], None]) -> None:
    """Write to ``.<name>.<random>.tmp`` beside the target and rename it; remove it on any exception."""
    tmp = directory / f".{name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, directory / name)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if hasattr(os, "O_DIRECTORY"):
        try:
            dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:  # pragma: no cover
            return
        try:
            _fsync_directory(dir_fd)
        finally:
            os.close(dir_fd)


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, sync it, then rename it over ``path``.

    If ``write`` raises, or the process dies, ``path`` keeps its previous
    contents and no temporary file remains (on Linux even after ``SIGKILL``;
    elsewhere after any exception).

    Args:
        path: the file to create or replace.
        write: writes the whole contents to the binary file it is given.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not _write_anonymous(directory, path.name, write):
        _write_named(directory, path.name, write)


# ---------------------------------------------------------------------------------------------------
# save


def save(
    net: Module,
    path: str | os.PathLike,
    *,
    optimizer: object | None = None,
    history: object | None = None,
    metadata: Mapping[str, Any] | None = None,
    rng: np.random.Generator | None = None,
) -> None:
    """Write ``net`` (and optionally its optimizer's state) to one ``.npz`` file, atomically.

    The file name is used exactly as given (no ``.npz`` is appended).

    Args:
        net: the network; every module in it must be registered (minibp's own are).
        path: the file to write; an existing file is replaced only once the new one is complete.
        optimizer: an optimizer whose ``state_dict()`` is stored (restore it
            with ``load_state_dict``).
        history: a `minibp.train.History` (or its ``to_dict()``).
        metadata: any JSON-serialisable mapping of your own (data set, seed, notes).
        rng: the generator that shuffles the mini-batches; its state is stored
            so that `Checkpoint.rng` can resume the same random stream.

    Raises:
        TypeError: a module is not registered or has no configuration, or a
            value cannot be stored without pickle.
        NonFiniteError: a parameter holds NaN or infinity (the old file is kept).
    """
    from . import __version__

    arrays: dict[str, NDArray] = {}
    architecture = _architecture(net)
    names = []
    for name, p in net.named_parameters():
        data = np.asarray(p.data)
        if not np.isfinite(data).all():
            raise NonFiniteError(f"save: parameter {name!r} {data.shape} holds NaN or infinity; not writing {path}")
        arrays[_PARAM + name] = np.ascontiguousarray(data)
        names.append(name)
    if len(set(names)) != len(names):
        raise ValueError(f"save: duplicate parameter names in {names}")
    header: dict[str, Any] = {
        "format": _FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "minibp_version": __version__,
        "architecture": architecture,
        "parameters": names,
        "optimizer": None if optimizer is None else _encode_state(_optimizer_state(optimizer), arrays),
        "history": None if history is None else _history_dict(history),
        "rng": None if rng is None else _rng_state(rng),
        "metadata": {} if metadata is None else dict(metadata),
    }
    try:
        text = json.dumps(header, allow_nan=True, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        raise TypeError(f"save: the metadata or history cannot be written as JSON: {err}") from None
    arrays = {_HEADER: np.frombuffer(text.encode("utf-8"), dtype=np.uint8), **arrays}
    atomic_write(path, lambda f: _write_npz(f, arrays))


# ---------------------------------------------------------------------------------------------------
# load


@dataclass
class Checkpoint:
    """Everything `save` wrote, as returned by `load_checkpoint`.

    Attributes:
        net: the rebuilt network, in training mode.
        optimizer_state: the optimizer's ``state_dict()`` (``None`` if none
            was saved); pass it to ``load_state_dict`` of an optimizer of the
            type named in ``optimizer_state["type"]``, built on ``net.parameters()``.
        history: the training history as `History.to_dict` returns it (or
            ``None``); ``History.from_dict(ckpt.history)`` rebuilds the object.
        rng: a generator in the state of the one given to `save` (or ``None``).
        metadata: the ``metadata`` mapping given to `save`.
        minibp_version: the minibp version that wrote the file.
        format_version: the file's format version.
    """

    net: Module
    optimizer_state: dict[str, Any] | None = None
    history: dict[str, Any] | None = None
    rng: np.random.Generator | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    minibp_version: str = ""
    format_version: int = FORMAT_VERSION


_READ_ERRORS = (
    ValueError,
    OSError,
    EOFError,
    KeyError,
    IndexError,
    TypeError,
    OverflowError,
    MemoryError,
    RuntimeError,  # zipfile's "encrypted, password required"; includes RecursionError
    NotImplementedError,
    UnicodeError,
    SyntaxError,  # numpy parses .npy headers with ast and tokenize
    tokenize.TokenError,
    zlib.error,
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    Warning,
)


def _check_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, archive_size: int, where: str) -> tuple:
    """Read and check the ``.npy`` header of one archive member; return ``(shape, dtype)``."""
    if info.flag_bits & 0x1:
        raise ModelFormatError(f"{where}: entry {info.filename!r} is encrypted")
    if info.compress_type != zipfile.ZIP_STORED:  # save never compresses; no decompressor ever runs
        raise ModelFormatError(f"{where}: entry {info.filename!r} is compressed; minibp model files are not")
    if info.compress_size > archive_size or info.file_size != info.compress_size:
        raise ModelFormatError(f"{where}: entry {info.filename!r} declares impossible sizes")
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ModelFormatError(f"{where}: entry {info.filename!r} has unsupported .npy version {version}")
        header_size = member.tell()
    if dtype.hasobject:
        raise ModelFormatError(
            f"{where}: entry {info.filename!r} is an object array, which can only be read by unpickling it; "
            "refusing to load it"
        )
    if dtype.kind not in _ALLOWED_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ModelFormatError(f"{where}: entry {info.filename!r} has dtype {dtype}, not a plain number type")
    nbytes = math.prod(shape) * dtype.itemsize
    if header_size + nbytes != info.file_size:
        raise ModelFormatError(
            f"{where}: entry {info.filename!r} is truncated or corrupt: its header promises {nbytes} bytes of "
            f"data for shape {shape}, but it holds {info.file_size - header_size}"
        )
    return shape, dtype


def _read(source: IO[bytes], where: str) -> Checkpoint:
    start = source.tell()
    magic = source.read(4)
    source.seek(start)
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):  # only a zip archive; never a bare .npy or a pickle
        raise ModelFormatError(f"{where} is not an .npz archive (it starts with {magic!r})")
    with np.load(source, allow_pickle=False) as npz:
        if not isinstance(npz, np.lib.npyio.NpzFile):  # pragma: no cover - np.load returned a plain array
            raise ModelFormatError(f"{where}: not an .npz archive")
        archive = npz.zip
        fp = archive.fp
        archive_size = fp.seek(0, os.SEEK_END) if fp is not None else 0
        infos = archive.infolist()
        members: dict[str, tuple] = {}
        for info in infos:
            if not info.filename.endswith(".npy"):
                raise ModelFormatError(f"{where}: unexpected entry {info.filename!r} (not an array)")
            key = info.filename[: -len(".npy")]
            if key in members:
                raise ModelFormatError(f"{where}: entry {info.filename!r} appears twice")
            members[key] = _check_member(archive, info, archive_size, where)

        # The header.
        if _HEADER not in members:
            raise ModelFormatError(f"{where}: no {_HEADER!r} entry; this is not a minibp model file")
        shape, dtype = members[_HEADER]
        if dtype != np.uint8 or len(shape) != 1 or shape[0] > _MAX_HEADER_BYTES:
            raise ModelFormatError(f"{where}: {_HEADER!r} must be a 1-D uint8 array, got {dtype} {shape}")
        header = json.loads(npz[_HEADER].tobytes().decode("utf-8"))
        if not isinstance(header, dict) or header.get("format") != _FORMAT_NAME:
            raise ModelFormatError(f"{where}: {_HEADER!r} does not describe a minibp model")
        version = header.get("format_version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ModelFormatError(f"{where}: invalid format version {version!r}")
        if version > FORMAT_VERSION:
            raise ModelFormatError(
                f"{where}: written in format version {version} by minibp {header.get('minibp_version')!r}; "
                f"this minibp reads format versions up to {FORMAT_VERSION}. Upgrade minibp to load it."
            )
        expected_keys = {
            "format",
            "format_version",
            "minibp_version",
            "architecture",
            "parameters",
            "optimizer",
            "history",
            "rng",
            "metadata",
        }
        if set(header) != expected_keys:
            raise ModelFormatError(
                f"{where}: header keys differ from format {version}: missing {sorted(expected_keys - set(header))}, "
                f"unexpected {sorted(set(header) - expected_keys)}"
            )

        # The network.
        net = _build(header["architecture"], f"{where}: architecture")
        names = header["parameters"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ModelFormatError(f"{where}: 'parameters' must be a list of names")
        named = list(net.named_parameters())
        if names != [n for n, _ in named]:
            raise ModelFormatError(
                f"{where}: the architecture has parameters {[n for n, _ in named]} but the file lists {names}"
            )
        optimizer = header["optimizer"]
        optim_arrays: list[str] = []
        if optimizer is not None:
            if (
                not isinstance(optimizer, dict)
                or set(optimizer) != {"scalars", "arrays"}
                or not isinstance(optimizer["scalars"], dict)
                or not isinstance(optimizer["arrays"], list)
                or not all(isinstance(k, str) for k in optimizer["arrays"])
            ):
                raise ModelFormatError(f"{where}: malformed optimizer state")
            optim_arrays = optimizer["arrays"]
        wanted = {_HEADER} | {_PARAM + n for n in names} | {_OPTIM + k for k in optim_arrays}
        if set(members) != wanted:
            missing, extra = sorted(wanted - set(members)), sorted(set(members) - wanted)
            raise ModelFormatError(f"{where}: missing entries {missing}, unexpected entries {extra}")

        for name, p in named:
            shape, dtype = members[_PARAM + name]
            if shape != p.data.shape or dtype != p.data.dtype:
                raise ModelFormatError(
                    f"{where}: parameter {name!r} is {dtype} {shape} in the file, but the architecture needs "
                    f"{p.data.dtype} {p.data.shape}"
                )
            value = npz[_PARAM + name]
            if not np.isfinite(value).all():
                bad = int(np.count_nonzero(~np.isfinite(value)))
                raise ModelFormatError(f"{where}: parameter {name!r} holds {bad} NaN or infinite values")
            p.data[...] = value

        optimizer_state = None
        if optimizer is not None:
            optimizer_state = dict(optimizer["scalars"])
            for key in optim_arrays:
                value = npz[_OPTIM + key]
                if value.dtype.kind == "f" and not np.isfinite(value).all():
                    raise ModelFormatError(f"{where}: optimizer state {key!r} holds NaN or infinite values")
                optimizer_state[key] = value

        history = header["history"]
        if history is not None and not isinstance(history, dict):
            raise ModelFormatError(f"{where}: 'history' must be an object")
        metadata = header["metadata"]
        if not isinstance(metadata, dict):
            raise ModelFormatError(f"{where}: 'metadata' must be an object")
        rng = None if header["rng"] is None else _restore_rng(header["rng"], where)
        minibp_version = header["minibp_version"]
        if not isinstance(minibp_version, str):
            raise ModelFormatError(f"{where}: 'minibp_version' must be a string")
    return Checkpoint(
        net=net,
        optimizer_state=optimizer_state,
        history=history,
        rng=rng,
        metadata=metadata,
        minibp_version=minibp_version,
        format_version=version,
    )


def load_checkpoint(path: str | os.PathLike | IO[bytes]) -> Checkpoint:
    """Read a file written by `save`: the network, the optimizer state, history, rng and metadata.

    Args:
        path: a file name, or a binary file object open for reading.

    Returns:
        A `Checkpoint`.

    Raises:
        FileNotFoundError: ``path`` does not exist (other errors opening it,
            such as ``PermissionError``, are raised as they are).
        ModelFormatError: the file is not a minibp model, is truncated or
            corrupt, carries an object (pickled) array, names an unregistered
            layer type, has a parameter of the wrong shape or dtype or with
            NaN/infinity, misses or adds entries, or has a newer format version.
    """
    where = f"model file {os.fspath(path)!r}" if isinstance(path, (str, os.PathLike)) else "model file"
    if isinstance(path, (str, os.PathLike)):
        try:
            f = open(path, "rb")  # np.load would leak its own handle on a corrupt archive
        except FileNotFoundError:
            raise FileNotFoundError(f"load: no such model file: {os.fspath(path)!r}") from None
        with f:
            return _read_checked(f, where)
    return _read_checked(path, where)


def _read_checked(f: IO[bytes], where: str) -> Checkpoint:
    """`_read`, with every failure of the parsers turned into `ModelFormatError`."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            return _read(f, where)
    except ModelFormatError:
        raise
    except _READ_ERRORS as err:
        raise ModelFormatError(f"{where} is corrupt or not a minibp model: {type(err).__name__}: {err}") from err


def load(path: str | os.PathLike | IO[bytes]) -> Module:
    """Read the network from a file written by `save` (see `load_checkpoint` for the rest).

    Args:
        path: a file name, or a binary file object open for reading.

    Returns:
        The network, in training mode, with the saved parameters.

    Raises:
        ModelFormatError: see `load_checkpoint`.

    Example:
        >>> import tempfile, os
        >>> from minibp import mlp
        >>> net = mlp([4, 3, 2], rng=0)
        >>> with tempfile.TemporaryDirectory() as d:
        ...     save(net, os.path.join(d, "net.npz"))
        ...     same = load(os.path.join(d, "net.npz"))
        >>> bool((same[0].w.data == net[0].w.data).all())
        True
    """
    return load_checkpoint(path).net
