"""The README's install commands: what CI runs, and a script saved beside the clone imports minibp.

A clone is a folder named ``minibp`` holding the package ``minibp/``. A script run from the folder
that holds the clone has that folder first on ``sys.path``, where the clone is a folder without an
``__init__.py``: a namespace package, which wins over an editable install that only adds an import
hook (``minibp.mlp`` is then missing). A regular package on any ``sys.path`` entry wins over a
namespace folder, so the README installs with ``--config-settings editable_mode=compat``, which
puts the checkout itself on ``sys.path``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMPAT = "--config-settings editable_mode=compat"


def editable_installs(text: str) -> list[str]:
    """The lines of ``text`` that run ``pip install -e``."""
    return [line for line in text.splitlines() if re.search(r"pip install (-q )?-e\b", line)]


def test_every_editable_install_shown_or_run_puts_the_checkout_on_sys_path():
    files = [ROOT / "README.md", ROOT / ".ci" / "run", *sorted((ROOT / "docs").rglob("*.md"))]
    commands = [(path, line) for path in files for line in editable_installs(path.read_text(encoding="utf-8"))]
    assert len(commands) >= 5  # the README's three, the documentation's two, CI's
    for path, line in commands:
        assert COMPAT in line, f"{path.relative_to(ROOT)}: {line.strip()!r} lacks {COMPAT}"


def test_ci_runs_the_readme_test_command_as_the_readme_shows_it():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_screen = readme.split("\n## ", 1)[0]
    commands = [line for line in editable_installs(first_screen) if line.startswith("python3 -m venv")]
    assert len(commands) == 2, "the README's first screen shows two commands: train, and run the tests"
    test_command = next(line for line in commands if "pytest" in line)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci, f".ci/run does not run the README's test command {test_command!r}"


def _why_not_a_compat_install_of_this_checkout() -> str | None:
    """``None`` if minibp is installed from this checkout with ``editable_mode=compat``; else why not."""
    # A checkout on sys.path shows its own minibp.egg-info too, which records no install: look at each.
    installs = [d for d in importlib.metadata.distributions(name="minibp") if d.read_text("direct_url.json")]
    if not installs:
        return "minibp is not installed here (it is imported from the source tree, through PYTHONPATH say)"
    dist = installs[0]
    direct_url = json.loads(dist.read_text("direct_url.json") or "{}")
    if not direct_url.get("dir_info", {}).get("editable"):
        return "the installed minibp is not an editable install of a checkout"
    source = Path(unquote(urlparse(direct_url.get("url", "")).path)).resolve()
    if source != ROOT:
        return f"the installed minibp is the editable install of {source}, not of this checkout ({ROOT})"
    entries = []
    for file in dist.files or []:
        if file.name.startswith("__editable__") and file.suffix == ".pth":
            lines = [line.strip() for line in Path(file.locate()).read_text(encoding="utf-8").splitlines()]
            entries += [Path(line).resolve() for line in lines if line and not line.startswith("import")]
    if ROOT not in entries:
        return f"minibp is installed from this checkout in editable mode, but without {COMPAT} (see README.md)"
    return None


def _import_from(folder: Path) -> subprocess.CompletedProcess:
    """``import minibp; minibp.mlp`` in a fresh Python started in ``folder``, as a script saved there would."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH", "PYTHONHOME")}
    code = "import minibp; minibp.mlp; print(minibp.__file__)"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )


def test_a_script_beside_the_clone_imports_the_package_not_the_clones_folder(tmp_path):
    why = _why_not_a_compat_install_of_this_checkout()
    if why is not None:
        pytest.skip(why)
    folders = [ROOT.parent]  # the folder that holds the checkout
    if ROOT.name != "minibp":  # a clone keeps the repository's name; make the folder such a clone sits in
        try:
            (tmp_path / "minibp").symlink_to(ROOT, target_is_directory=True)
            folders.append(tmp_path)
        except OSError:  # no symbolic links here (Windows without the privilege)
            pass
    for folder in folders:
        run = _import_from(folder)
        assert run.returncode == 0, f"from {folder}:\n{run.stderr}"
        assert Path(run.stdout.strip()).resolve() == ROOT / "minibp" / "__init__.py", run.stdout
