"""Build the documentation site once per test run (shared by test_docs.py and test_docs_browser.py)."""

from __future__ import annotations

import atexit
import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def load_path(name: str, path: Path):
    """Import a Python file that is not part of a package (a docs example, a script, the mkdocs hook)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def require_docs_tools() -> None:
    """Skip unless the `docs` extra is installed and the pinned MathJax has been fetched."""
    pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e '.[docs]')")
    pytest.importorskip("material", reason="the docs extra is not installed (pip install -e '.[docs]')")
    pytest.importorskip("mkdocstrings_handlers.python", reason="the docs extra is not installed")
    fetch = load_path("_fetch_mathjax", ROOT / "scripts" / "fetch_mathjax.py")
    if not fetch.is_current():
        # Fetching means the npm registry: the build step does it (CI runs the script before the tests).
        pytest.skip("MathJax is not in docs/assets/mathjax: run `python scripts/fetch_mathjax.py` first")


@functools.cache
def _build() -> tuple[Path, float]:
    import time

    site = Path(tempfile.mkdtemp(prefix="minibp-site-"))
    atexit.register(shutil.rmtree, site, True)
    start = time.perf_counter()
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        shutil.rmtree(site, ignore_errors=True)
        raise AssertionError(f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}")
    return site, seconds


def built_site() -> tuple[Path, float]:
    """The folder of the built site and the seconds the build took (built at most once per test run)."""
    require_docs_tools()
    return _build()
