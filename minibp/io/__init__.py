r"""Save and load networks (and optimizer state) in one ``.npz`` file, without pickle.

```python
bp.io.save(net, "model.npz", optimizer=optimizer, history=history, rng=rng)
net = bp.io.load("model.npz")                      # just the network
ckpt = bp.io.load_checkpoint("model.npz")          # network, optimizer state, history, rng, metadata
```

**The file.** A model file is an ordinary numpy ``.npz`` archive (a zip of
``.npy`` arrays) that ``np.load(path, allow_pickle=False)`` can open: a JSON
header ``minibp.json`` (versions, architecture, parameter names, optimizer
scalars, history, rng state, the cost, your metadata), then ``param/<name>`` for each
parameter and ``optimizer/<key>`` for each array of the optimizer's state.
`minibp.io.format` describes the layout and its versions; `minibp.io.registry`
how the architecture is written and which layer types a file may name.

**Safety.** Loading never unpickles anything and never imports code named by
the file. Before an array is read, its ``.npy`` header is checked: object
arrays (the only way an ``.npy`` file can carry a pickle) are refused, and
so are unknown layer types, missing or extra entries, parameters of the
wrong shape or dtype, NaN or infinite values, a newer format version and
truncated or corrupt archives. Each is a `ModelFormatError` that names the
file and what is wrong. Nothing is built before the sizes the header
declares have been checked against the arrays the file stores
(`minibp.io.checks`): loading a file of at most 10 KB allocates at most
64 MB, whatever its bytes. `save` refuses, before writing, any file that
loading would refuse.

**Atomic writes.** `save` writes the whole archive to a temporary file in the
target's directory, flushes it to disk and renames it over the target. An
exception or a killed process part-way leaves the previous file untouched.
On Linux the temporary file has no name until it is complete (``O_TMPFILE``),
so even a killed process leaves nothing behind; elsewhere a named
``.<name>.<random>.tmp`` file is removed on any exception.

**Tied parameters.** A `Parameter` held by two modules (``d2.w = d.w``) is
stored once, and loading gives it back to both: ``net[2].w is net[0].w``
holds after ``load`` as before ``save`` (see `minibp.io.ties`).

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

**Several optimizers.** ``save(..., optimizer=[opt_a, opt_b])`` (one optimizer per group of
parameters, as `minibp.train` takes them) stores every one's state (format version 3);
``ckpt.optimizer_state`` is then the list of their ``state_dict()``, in the same order, to give
back one by one: ``for opt, state in zip(optimizers, ckpt.optimizer_state): opt.load_state_dict(state)``.

Deliberately left out: compression (trained float weights barely
compress), and saving modules that are not built from a registered type
and a JSON configuration.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np

from .._checks import check_network, without_tree_checks
from .._files import atomic_write
from .._version import __version__
from ..costs import Cost
from ..errors import ModelFormatError, ModelNestingError, NestingError, NonFiniteError
from ..module import Module, Parameter
from .checks import check_fields, check_sizes
from .format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    HEADER,
    OPTIM,
    PARAM,
    Archive,
    archive_of,
    header_for,
    open_archive,
    refusing_corrupt_files,
    write_npz,
)
from .network2 import load_network2, save_network2
from .registry import architecture, build, module_config, register_module, registered_modules
from .state import cost_record, history_dict, optimizer_state, restore_rng, rng_state, split_optimizer_state
from .ties import apply_ties, find_ties, named_modules

__all__ = [
    "FORMAT_VERSION",
    "Checkpoint",
    "save",
    "load",
    "load_checkpoint",
    "register_module",
    "registered_modules",
    "module_config",
    "load_network2",
    "save_network2",
]


def save(
    net: Module,
    path: str | os.PathLike,
    *,
    optimizer: object | None = None,
    history: object | None = None,
    metadata: Mapping[str, Any] | None = None,
    rng: np.random.Generator | None = None,
    cost: Cost | None = None,
) -> None:
    """Write ``net`` (and optionally its optimizer's state) to one ``.npz`` file, atomically.

    The file name is used exactly as given (no ``.npz`` is appended).

    Args:
        net: the network; every module in it must be registered (minibp's own are).
        path: the file to write; an existing file is replaced only once the new one is complete.
        optimizer: an optimizer whose ``state_dict()`` is stored (restore it
            with ``load_state_dict``), or a list of them (each one's state is stored).
        history: a `minibp.history.History` (or its ``to_dict()``).
        metadata: any JSON-serialisable mapping of your own (data set, seed, notes).
        rng: the generator that shuffles the mini-batches; its state is stored
            so that `Checkpoint.rng` can resume the same random stream.
        cost: the cost the network was trained with; its class name is
            stored (`Checkpoint.cost`), so that `minibp.predict_proba` and
            ``minibp predict`` know what turns the output into probabilities.

    Before writing anything, `save` checks what it would write exactly as
    `load_checkpoint` will (rebuilding the network from it once more), and
    raises instead of writing a file that would not load. On any exception
    the old file at ``path`` is left as it was.

    Raises:
        TypeError: a module is not registered or has no configuration, or a
            value cannot be stored without pickle.
        NonFiniteError: a parameter or an array of the optimizer state holds NaN or infinity.
        ValueError: loading would refuse the file for another reason, say a
            configuration its module's constructor rejects.
    """
    check_network(net, "save")
    tree = architecture(net)
    arrays, names = {}, []
    for name, p in net.named_parameters():  # each parameter once, a tied one under its first name
        data = np.asarray(p.data)
        if not np.isfinite(data).all():
            raise NonFiniteError(f"save: parameter {name!r} {data.shape} holds NaN or infinity; not writing {path}")
        arrays[PARAM + name] = np.ascontiguousarray(data)
        names.append(name)
    if len(arrays) != len(names):
        raise ValueError(f"save: duplicate parameter names in {names}")
    ties = find_ties(net)
    several = isinstance(optimizer, (list, tuple))  # one optimizer per group of parameters: format 3
    shared = [name for name, module in named_modules(net) if rng is not None and getattr(module, "rng", None) is rng]
    header: dict[str, Any] = {
        "format": FORMAT_NAME,
        "format_version": None,  # the oldest that holds the rest (header_for)
        "minibp_version": __version__,
        "architecture": tree,
        "parameters": names,
        **({"tied": ties} if ties else {}),
        "optimizer": None,
        "history": None if history is None else history_dict(history),
        "rng": None if rng is None else rng_state(rng),
        **({"rng_shared_with": shared} if shared else {}),  # modules drawing from the shuffling generator itself
        "metadata": {} if metadata is None else dict(metadata),
        **({} if cost is None else {"cost": cost_record(cost)}),
        **({"cost": None} if cost is None and several else {}),  # a list of optimizers needs format 3
    }
    header = header_for(header)
    if optimizer is not None:
        if several and not optimizer:
            raise ValueError("save: optimizer is an empty list")
        entries = []
        each: list[object] = list(optimizer) if several else [optimizer]  # type: ignore[call-overload]
        for k, one in enumerate(each):
            scalars, state_arrays = split_optimizer_state(optimizer_state(one))
            entries.append({"scalars": scalars, "arrays": list(state_arrays)})
            prefix = OPTIM + (f"{k}/" if several else "")
            for key, value in state_arrays.items():
                if value.dtype.kind == "f" and not np.isfinite(value).all():
                    what = f"optimizer state {prefix[len(OPTIM) :] + key!r}"
                    raise NonFiniteError(f"save: {what} holds NaN or infinity; not writing {path}")
                arrays[prefix + key] = value
        header["optimizer"] = entries if several else entries[0]
    try:
        text = json.dumps(header, allow_nan=True, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        raise TypeError(f"save: the metadata or history cannot be written as JSON: {err}") from None
    arrays = {HEADER: np.frombuffer(text.encode("utf-8"), dtype=np.uint8), **arrays}
    try:  # load what would be written, the way load_checkpoint will: a file save writes always loads
        with refusing_corrupt_files("save"):
            _checkpoint(archive_of(arrays, "save"))
    except ModelFormatError as err:
        raise ValueError(f"{err}; load would refuse the file, so {os.fspath(path)!r} was not written") from err
    atomic_write(path, lambda f: write_npz(f, arrays))


@dataclass
class Checkpoint:
    """Everything `save` wrote, as returned by `load_checkpoint`.

    Attributes:
        net: the rebuilt network, in training mode.
        optimizer_state: the optimizer's ``state_dict()`` (``None`` if none
            was saved); pass it to ``load_state_dict`` of an optimizer of the
            type named in ``optimizer_state["type"]``, built on ``net.parameters()``.
            If a list of optimizers was saved, the list of their states, in order.
        history: the training history as `History.to_dict` returns it (or
            ``None``); ``History.from_dict(ckpt.history)`` rebuilds the object.
        rng: a generator in the state of the one given to `save` (or ``None``).
        metadata: the ``metadata`` mapping given to `save`.
        minibp_version: the minibp version that wrote the file.
        format_version: the file's format version.
        cost: the class name of the cost the network was trained with, as
            given to `save` (``"SoftmaxLogLikelihoodCost"``); ``None`` if
            none was, and for files older than format version 3.
    """

    net: Module
    optimizer_state: dict[str, Any] | list[dict[str, Any]] | None = None
    history: dict[str, Any] | None = None
    rng: np.random.Generator | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    minibp_version: str = ""
    format_version: int = FORMAT_VERSION
    cost: str | None = None


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
    if not isinstance(path, (str, os.PathLike)):
        with refusing_corrupt_files("model file"):
            return _read(path, "model file")
    where = f"model file {os.fspath(path)!r}"
    try:
        f = open(path, "rb")  # np.load would leak its own handle on a corrupt archive
    except FileNotFoundError:
        raise FileNotFoundError(f"load: no such model file: {os.fspath(path)!r}") from None
    with f, refusing_corrupt_files(where):
        return _read(f, where)


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


def _read(source: IO[bytes], where: str) -> Checkpoint:
    with open_archive(source, where) as archive:
        return _checkpoint(archive)


def _checkpoint(archive: Archive) -> Checkpoint:
    """Check what the header declares against what the archive stores, then build; `load` and `save` share it."""
    header, where = archive.header, archive.where
    names, optimizer, ties = check_fields(header, where)
    several = isinstance(optimizer, list)  # format 3: one entry per optimizer, arrays under optimizer/<k>/
    entries = optimizer if isinstance(optimizer, list) else [] if optimizer is None else [optimizer]
    prefixes = [OPTIM + (f"{k}/" if several else "") for k in range(len(entries))]
    optim_keys = [prefix + key for prefix, entry in zip(prefixes, entries) for key in entry["arrays"]]
    archive.require_entries({HEADER} | {PARAM + n for n in names} | set(optim_keys))
    check_sizes(header["architecture"], archive.members, names, ties, where)  # before anything is allocated
    rng = None if header["rng"] is None else restore_rng(header["rng"], where)
    # containers check the tree below them as they are built; once, for the whole network, is enough
    net = without_tree_checks(build, header["architecture"], f"{where}: architecture")
    try:
        check_network(net, f"{where}: architecture")
    except NestingError as err:
        raise ModelNestingError(f"{err}") from err
    except ValueError as err:
        raise ModelFormatError(f"{err}") from err
    apply_ties(net, ties, where)
    _share_rng(net, header.get("rng_shared_with", []), rng, where)
    named = list(net.named_parameters())
    if names != [n for n, _ in named]:
        raise ModelFormatError(
            f"{where}: the architecture has parameters {[n for n, _ in named]} but the file lists {names}"
        )
    for name, p in named:
        _read_parameter(archive, name, p)
    states = []
    for prefix, entry in zip(prefixes, entries):
        state = dict(entry["scalars"])
        for key in entry["arrays"]:
            value = archive.read(prefix + key)
            if value.dtype.kind == "f" and not np.isfinite(value).all():
                what = f"optimizer state {prefix[len(OPTIM) :] + key!r}"
                raise ModelFormatError(f"{where}: {what} holds NaN or infinite values")
            state[key] = value
        states.append(state)
    optimizer_state = states if several else (states[0] if states else None)
    history, metadata, version = header["history"], header["metadata"], header["minibp_version"]
    cost = None if header.get("cost") is None else header["cost"]["type"]
    return Checkpoint(net, optimizer_state, history, rng, metadata, version, header["format_version"], cost)


def _share_rng(net: Module, shared: object, rng: np.random.Generator | None, where: str) -> None:
    """Give the modules that drew from the shuffling generator when saved that same generator object again.

    A `Dropout` built with ``rng=g`` and trained with ``train(..., rng=g)`` interleaves its draws with the
    shuffling; only one shared generator resumes that interleaving bit for bit.
    """
    if not isinstance(shared, list) or not all(isinstance(n, str) for n in shared) or (shared and rng is None):
        raise ModelFormatError(f"{where}: 'rng_shared_with' must list module names, with an 'rng' state")
    modules = dict(named_modules(net))
    for name in shared:
        if not isinstance(getattr(modules.get(name), "rng", None), np.random.Generator):
            raise ModelFormatError(f"{where}: 'rng_shared_with' names {name!r:.100}, which has no generator")
        setattr(modules[name], "rng", rng)  # noqa: B010 (any module may hold one)


def _read_parameter(archive: Archive, name: str, p: Parameter) -> None:
    """Check the entry of parameter ``name`` against ``p`` (shape and dtype first, then values) and copy it in."""
    shape, dtype = archive.members[PARAM + name]
    if shape != p.data.shape or dtype != p.data.dtype:
        raise ModelFormatError(
            f"{archive.where}: parameter {name!r} is {dtype} {shape} in the file, but the architecture needs "
            f"{p.data.dtype} {p.data.shape}"
        )
    value = archive.read(PARAM + name)
    if not np.isfinite(value).all():
        bad = int(np.count_nonzero(~np.isfinite(value)))
        raise ModelFormatError(f"{archive.where}: parameter {name!r} holds {bad} NaN or infinite values")
    p.data[...] = value
