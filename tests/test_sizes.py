"""The house stays readable: no function body over 80 lines, `train` a short story, no long training or CLI file."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "minibp"
FILES = sorted(PACKAGE.rglob("*.py"))


def body_lines(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of the body, from its first statement after the docstring to its last line."""
    body = function.body
    if len(body) > 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring is not the story
    return body[-1].end_lineno - body[0].lineno + 1


def functions(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


def test_the_package_has_files_to_measure():
    assert len(FILES) > 30 and PACKAGE / "train.py" in FILES and PACKAGE / "cli" / "__init__.py" in FILES


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_function_body_is_over_80_lines(path):
    long = {f"{f.name} (line {f.lineno})": body_lines(f) for f in functions(path) if body_lines(f) > 80}
    assert not long, f"{path.name}: function bodies over 80 lines: {long}"


def test_the_body_of_train_is_at_most_60_lines():
    (train,) = [f for f in functions(PACKAGE / "train.py") if f.name == "train"]
    assert body_lines(train) <= 60


@pytest.mark.parametrize("path", [PACKAGE / "train.py", *sorted((PACKAGE / "cli").glob("*.py"))], ids=lambda p: p.name)
def test_the_training_and_command_line_files_are_at_most_400_lines(path):
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 400
