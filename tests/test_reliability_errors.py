"""The exception hierarchy, and every ``raise`` in the package: a library error or a fitting built-in, with a message.

The raise sites are read from the source with `ast`, so a new ``raise`` of an
unexpected type, or without a message, fails here until it is looked at.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import minibp
from minibp import errors
from minibp.data import DataNotFoundError

PACKAGE = Path(minibp.__file__).parent

VALUE_ERRORS = [
    "ShapeError",
    "NonFiniteError",
    "LabelError",
    "HyperparameterError",
    "DataFormatError",
    "ModelFormatError",
]
OS_ERRORS = ["DownloadError", "ChecksumError"]

#: Built-in exceptions minibp may raise, and what for.
BUILTINS = {
    "TypeError": "an argument of the wrong kind",
    "ValueError": "another bad argument",
    "RuntimeError": "backward called before forward",
    "KeyError": "a state_dict with missing or unexpected names",
    "KeyboardInterrupt": "Ctrl-C passed on (a second Ctrl-C in train; one that interrupted a save)",
    "IsADirectoryError": "a save aimed at a directory",
    "NotADirectoryError": "a save aimed below a regular file",
    "UsageError": "cli: the SystemExit(2) of bad command-line input",
    "NotImplementedError": "an abstract method",
    "OSError": "a failed read or write",
    "FileNotFoundError": "a missing file",
    "PermissionError": "a save through a link another user planted in a sticky directory, refused as open() does",
    "ModuleNotFoundError": "an optional dependency (matplotlib) is missing",
    "SystemExit": "the command line's exit status",
    "AssertionError": "minibp.testing reports a broken contract, as test kits do",
}

#: Names raised that are not classes: each is checked below to produce an allowed exception.
INDIRECT = {
    "_Failure": "testing: internal, caught and turned into the AssertionError report",
    "_Mismatch": "data.remote: internal, caught and turned into a ChecksumError",
    "cls": "data.remote: ChecksumError or DownloadError",
    "DivergedError.at": "errors: the DivergedError of a diverging mini-batch, one message for both training paths",
}


def library_errors() -> set[str]:
    return set(errors.__all__) | {"DataNotFoundError"}


def test_hierarchy():
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, errors.MinibpError)
        assert getattr(minibp, name) is cls, f"{name} is not exported by minibp"
        assert cls.__doc__ and cls.__doc__.strip(), f"{name} has no docstring"
    for name in VALUE_ERRORS:
        assert issubclass(getattr(errors, name), ValueError)
        assert not issubclass(getattr(errors, name), OSError)
    for name in OS_ERRORS:
        assert issubclass(getattr(errors, name), OSError)
    assert issubclass(errors.DivergedError, errors.NonFiniteError)
    assert issubclass(errors.ChecksumError, errors.DownloadError)
    assert issubclass(DataNotFoundError, FileNotFoundError) and issubclass(DataNotFoundError, errors.MinibpError)
    # One except clause catches everything minibp raises on purpose, and the built-in one still works.
    with pytest.raises(errors.MinibpError):
        raise errors.ChecksumError("x")
    with pytest.raises(ValueError):
        raise errors.DivergedError("x")


def test_the_documented_tree_lists_every_error():
    for name in [*errors.__all__, "DataNotFoundError"]:
        assert name in errors.__doc__, f"{name} missing from the hierarchy in minibp.errors' docstring"


def raise_sites():
    """Yield ``(file:line, raised name, message node or None, call)`` for every ``raise X(...)`` in the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None:
                exc = node.exc
                call = exc if isinstance(exc, ast.Call) else None
                name = ast.unparse(call.func if call else exc)
                message = call.args[0] if call and call.args else None
                yield f"{path.relative_to(PACKAGE.parent)}:{node.lineno}", name, message, call


def defined_names() -> set[str]:
    names = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                names.add(node.name)
    return names


SITES = list(raise_sites())


def test_raise_sites_were_found():
    assert len(SITES) > 100  # the scan sees the package (about 200 sites when written)


def test_every_raise_is_a_library_error_or_a_fitting_builtin():
    allowed = library_errors() | set(BUILTINS) | set(INDIRECT)
    bad = [f"{where}: raise {name}" for where, name, _, _ in SITES if name not in allowed]
    assert not bad, "unexpected exception types:\n" + "\n".join(bad)


def test_every_message_names_what_is_at_fault():
    """A message interpolates values (an f-string) or starts with the name of the class or function at fault."""
    names = defined_names()
    bad = []
    for where, name, message, call in SITES:
        if name in ("NotImplementedError", "SystemExit", "KeyboardInterrupt") or name in INDIRECT:
            continue  # abstract methods; helpers checked below; the CLI's exit status; Ctrl-C passed on
        if call is None:
            bad.append(f"{where}: raise {name} without a call (no message)")
        elif message is None:
            bad.append(f"{where}: raise {name}() without a message")
        elif isinstance(message, ast.JoinedStr):
            if not any(isinstance(v, ast.FormattedValue) for v in message.values):
                bad.append(f"{where}: {name} message is an f-string without values")
        elif isinstance(message, ast.Constant) and isinstance(message.value, str):
            first = re.split(r"[\s:.(]", message.value, maxsplit=1)[0]
            if first not in names:
                bad.append(f"{where}: {name}({message.value!r}) does not start with the name at fault")
        elif not isinstance(message, (ast.Name, ast.BinOp, ast.Call, ast.Attribute)):
            bad.append(f"{where}: {name} message is {ast.dump(message)[:60]}")
    assert not bad, "\n".join(bad)


def test_library_errors_always_carry_values():
    """Library errors in particular interpolate the values involved (shapes, names, files)."""
    bad = [
        f"{where}: {name}"
        for where, name, message, _ in SITES
        if name in library_errors() and not isinstance(message, (ast.JoinedStr, ast.BinOp, ast.Name))
    ]
    assert not bad, "\n".join(bad)


def test_indirect_raises_produce_allowed_exceptions():
    from minibp import testing
    from minibp.data import remote
    from minibp.module import saved

    with pytest.raises(RuntimeError, match=r"Sigmoid\(\): backward called before forward"):
        saved(minibp.Sigmoid(), None)
    # The internal exceptions never escape: each is raised and caught in the same function.
    for module, name, catcher in [(testing, "_Failure", "check"), (remote, "_Mismatch", "_download_file")]:
        source = Path(module.__file__).read_text(encoding="utf-8")
        assert issubclass(getattr(module, name), Exception)
        assert catcher in source
    source = Path(remote.__file__).read_text(encoding="utf-8")
    assert "cls = ChecksumError if mismatch else DownloadError" in source


def test_backward_before_forward_names_the_module():
    for cls in [minibp.Sigmoid, minibp.Tanh, minibp.ReLU, minibp.Identity, minibp.Softmax]:
        with pytest.raises(RuntimeError, match=rf"{cls.__name__}.*backward called before forward"):
            cls().backward([[1.0]])
    with pytest.raises(RuntimeError, match=r"Dense\(2, 1\).*before forward"):
        minibp.Dense(2, 1, rng=0).backward([[1.0]])
    for cls in [minibp.QuadraticCost, minibp.CrossEntropyCost, minibp.LogLikelihoodCost]:
        with pytest.raises(RuntimeError, match=rf"{cls.__name__}\(\): backward called before forward"):
            cls().backward()
