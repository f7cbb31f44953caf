"""Tied parameters: one `Parameter` held by two modules survives saving and loading.

``d2.w = d.w`` makes two modules share one weight matrix (weight tying): an
update through either is an update of both. `Module.named_parameters` lists
such a parameter once, under its first name, and a model file stores its
array once. `find_ties` records every further name under which it is held
(``{"2.w": "0.w"}``); after the modules are rebuilt, `apply_ties` puts the
first name's `Parameter` object into each further place, so that
``net[2].w is net[0].w`` again.

A place is found by walking ``named_children()`` along the dotted name; the
parameter is the attribute named by what is left (``"w"``).

Deliberately left out: modules shared as a whole (``Sequential(d, s, d)``).
Their parameters are tied again on loading, but the two places hold two
module objects.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import ModelFormatError
from ..module import Module, Parameter

__all__ = ["find_ties", "apply_ties", "named_modules"]


def named_modules(net: Module) -> Iterator[tuple[str, Module]]:
    """Yield ``(dotted name, module)`` for ``net`` (named ``""``) and every module below it, depth first.

    A loop over a stack, not a recursion: each module costs the same however deep it sits.
    """
    stack: list[tuple[str, Module]] = [("", net)]
    while stack:
        name, module = stack.pop()
        yield name, module
        prefix = f"{name}." if name else ""
        stack.extend((prefix + child_name, child) for child_name, child in reversed(list(module.named_children())))


def _places(net: Module) -> Iterator[tuple[str, Module, str, Parameter]]:
    """Yield ``(dotted name, owner, attribute, parameter)`` for every place that holds a parameter, duplicates too.

    The order and the names are those of `Module.named_parameters` before it drops repeated parameters.
    """
    for name, module in named_modules(net):
        for attr, value in vars(module).items():
            if isinstance(value, Parameter):
                yield f"{name}.{attr}" if name else attr, module, attr, value


def find_ties(net: Module) -> dict[str, str]:
    """Return ``{further name: first name}`` for every parameter held in more than one place.

    Raises:
        ValueError: ``net.named_parameters()`` names its parameters differently from what walking
            ``named_children()`` finds, so the ties could not be rebuilt.
    """
    first: dict[int, str] = {}
    ties: dict[str, str] = {}
    for name, _, _, p in _places(net):
        if id(p) in first:
            ties[name] = first[id(p)]
        else:
            first[id(p)] = name
    if ties and list(first.values()) != [name for name, _ in net.named_parameters()]:
        raise ValueError(
            f"save: {type(net).__name__}.named_parameters() does not list the parameters found through "
            "named_children(), so its tied parameters cannot be saved"
        )
    return ties


def apply_ties(net: Module, ties: object, where: str) -> None:
    """Make each further name of ``ties`` hold the `Parameter` of its first name, or raise `ModelFormatError`.

    Both names must be places of the rebuilt network, the first name must not itself be tied to another,
    and the two parameters must have the same shape and dtype.
    """
    if not isinstance(ties, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in ties.items()):
        raise ModelFormatError(f"{where}: 'tied' must be an object mapping parameter names to parameter names")
    places = {name: (owner, attr, p) for name, owner, attr, p in _places(net)}
    for alias, canonical in ties.items():
        if alias not in places or canonical not in places or canonical in ties or alias == canonical:
            raise ModelFormatError(f"{where}: cannot tie parameter {alias!r:.100} to {canonical!r:.100}")
        owner, attr, p = places[alias]
        target = places[canonical][2]
        if p.data.shape != target.data.shape or p.data.dtype != target.data.dtype:
            raise ModelFormatError(
                f"{where}: cannot tie parameter {alias!r} ({p.data.dtype} {p.data.shape}) to {canonical!r} "
                f"({target.data.dtype} {target.data.shape})"
            )
        setattr(owner, attr, target)
