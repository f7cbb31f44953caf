"""Build the documentation site once per test run, and other helpers of the documentation's tests."""

from __future__ import annotations

import atexit
import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


_EPOCH_SECONDS = re.compile(r"^(Epoch .*, )\d+\.\d s$", re.M)  # the seconds at the end of train's epoch line


def masked(text: str) -> str:
    """``text`` with the seconds each epoch took, the one number `train` prints that differs between runs, as ``... s``.

    ``Epoch 3: 452 / 500, cost 0.0921, 0.4 s`` becomes ``Epoch 3: 452 / 500, cost 0.0921, ... s``; the
    pages' printed output is compared with what their code prints through this.
    """
    return _EPOCH_SECONDS.sub(r"\1... s", text)


def load_path(name: str, path: Path):
    """Import a Python file that is not part of a package (a docs example, a script, the mkdocs hook)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def require_docs_tools() -> None:
    """Skip unless the `docs` extra is installed; fail if the vendored MathJax does not match its checksums."""
    pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e '.[docs]')")
    pytest.importorskip("material", reason="the docs extra is not installed (pip install -e '.[docs]')")
    pytest.importorskip("mkdocstrings_handlers.python", reason="the docs extra is not installed")
    pytest.importorskip("nbformat", reason="the docs extra is not installed")  # the pages' notebooks
    fetch = load_path("_fetch_mathjax", ROOT / "scripts" / "fetch_mathjax.py")
    assert fetch.is_current(), "docs/assets/mathjax does not match its SHA256SUMS (see its README.md)"


@functools.cache
def _build() -> tuple[Path, float]:
    import time

    site = Path(tempfile.mkdtemp(prefix="minibp-site-"))
    atexit.register(shutil.rmtree, site, True)
    start = time.perf_counter()
    env = dict(os.environ)
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


def small_idx_files(folder: Path) -> Path:
    """A folder laid out as ``MINIBP_DATA`` is, ``mnist/`` and ``fashion-mnist/`` holding four small IDX files each.

    Each data set has 60 training and 12 test images of noise, with labels: the loaders split them
    50 / 10 / 12, as they split the real files 50,000 / 10,000 / 10,000.
    """
    import numpy as np

    from minibp.data import write_idx

    rng = np.random.default_rng(0)
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    for name in ("mnist", "fashion-mnist"):
        arrays = (
            rng.integers(0, 256, size=(60, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, size=60, dtype=np.uint8),
            rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8),
            rng.integers(0, 10, size=12, dtype=np.uint8),
        )
        (folder / name).mkdir(parents=True)
        for file, array in zip(names, arrays):
            write_idx(folder / name / f"{file}.gz", array)
    return folder
