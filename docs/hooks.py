"""mkdocs hooks: keep the documentation tied to the code it describes.

Before each build (``on_config``):

* the pinned MathJax is fetched from the npm registry and verified, if it is
  not already in ``docs/assets/mathjax/`` (``scripts/fetch_mathjax.py``);
* every tutorial script in ``docs/examples/`` that a page shows the output of
  is run, and what it prints is written to ``docs/examples/output/NAME.txt``,
  which the page includes: the output on the page is what the code printed;
* the pictures are drawn by ``scripts/make_figures.py`` into
  ``docs/assets/figures/``, and by the scripts in ``FIGURE_EXAMPLES``, which
  are run in an empty folder: the PNG files they save there are moved into
  ``docs/assets/figures/``, so the page's code saves to a plain file name.

Outputs and pictures are cached, keyed on a hash of the script and of
minibp's sources, so ``mkdocs serve`` only reruns what changed.

While rendering (``on_page_markdown``) a line

    {{ source("minibp/layers.py", "BP3:", "BP4:") }}

becomes a code block holding the lines of that file from the first line
containing the first text to the next line containing the second one, with
their real line numbers. ``after="class SGD("`` starts the search below the
first line containing that text, for a method name that several classes
share. If the text is no longer there the build fails, so a page can never
show code that minibp no longer has.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
OUTPUT = EXAMPLES / "output"
FIGURES = DOCS / "assets" / "figures"

# Tutorial scripts whose printed output appears in the pages (run with their default settings).
# (first_network.py is run by scripts/make_figures.py, which also draws the pictures from that run.)
RUN_EXAMPLES = (
    "quickstart",
    "backprop_by_hand",
    "sgd_loop",
    "own_layer",
    "own_layer_contract",
    "own_cost",
    "howto_seeds",
    "howto_float32",
    "howto_init",
    "howto_save_load",
    "howto_rows",
    "howto_chapter3",
    "howto_optimizers",
    "howto_own_digit",  # reads docs/how-to/digits/, so it runs from the repository root
    "not_chains",
)

# Scripts that also draw pictures, with the PNG files each saves in its working folder.
FIGURE_EXAMPLES = {
    "howto_vanishing": ("vanishing-gradient.png",),
}


def _load_script(name: str):
    path = ROOT / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_minibp_docs_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fingerprint(*paths: Path) -> str:
    """A hash of the given files and of every minibp source file."""
    digest = hashlib.sha256()
    for path in [*paths, *sorted((ROOT / "minibp").rglob("*.py")), *sorted((ROOT / "minibp").rglob("*.npz"))]:
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def _write_if_changed(path: Path, text: str) -> None:
    """Write only when the contents differ, so ``mkdocs serve`` does not rebuild in a loop."""
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        from minibp._files import atomic_write

        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: f.write(text.encode("utf-8")))  # builds may run side by side


def _run(script: Path, *args: str, cwd: Path = ROOT) -> str:
    """Run a Python script in a fresh interpreter (warnings are errors) and return what it printed."""
    env = dict(os.environ, PYTHONHASHSEED="0", PYTHONWARNINGS="error")
    result = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{script.relative_to(ROOT)} failed (exit {result.returncode}):\n{result.stderr}")
    return result.stdout


def run_example(name: str) -> str:
    """Run ``docs/examples/NAME.py`` as a script and return what it printed."""
    if name not in FIGURE_EXAMPLES:
        return _run(EXAMPLES / f"{name}.py")
    from minibp._files import atomic_write

    with tempfile.TemporaryDirectory() as folder:
        printed = _run(EXAMPLES / f"{name}.py", cwd=Path(folder))
        for picture in FIGURE_EXAMPLES[name]:
            data = (Path(folder) / picture).read_bytes()  # FileNotFoundError: the script did not draw it
            FIGURES.mkdir(parents=True, exist_ok=True)
            atomic_write(FIGURES / picture, lambda f, data=data: f.write(data))  # builds may run side by side
    return printed


def build_outputs() -> None:
    key = _fingerprint(*sorted(EXAMPLES.glob("*.py")))  # examples may import each other
    for name in (*RUN_EXAMPLES, *FIGURE_EXAMPLES):
        stamp = OUTPUT / f".{name}.key"
        out = OUTPUT / f"{name}.txt"
        pictures = [FIGURES / picture for picture in FIGURE_EXAMPLES.get(name, ())]
        if all(p.is_file() for p in (out, stamp, *pictures)) and stamp.read_text(encoding="ascii") == key:
            continue
        _write_if_changed(out, run_example(name))
        _write_if_changed(stamp, key)


def build_figures() -> None:
    script = ROOT / "scripts" / "make_figures.py"
    key = _fingerprint(script, EXAMPLES / "first_network.py")
    stamp = FIGURES / ".key"
    if stamp.is_file() and (OUTPUT / "first_network.txt").is_file() and stamp.read_text(encoding="ascii") == key:
        return
    _run(script, "--out", str(FIGURES), "--output", str(OUTPUT / "first_network.txt"))
    _write_if_changed(stamp, key)


def build_digit_figure() -> None:
    """Draw the own-digit how-to's figure (the photos and what minibp makes of them) when they change."""
    script = ROOT / "scripts" / "make_digit_photos.py"
    key = _fingerprint(script, *sorted((DOCS / "how-to" / "digits").glob("*.png")))
    stamp, figure = FIGURES / ".own-digit.key", FIGURES / "own-digit.png"
    if figure.is_file() and stamp.is_file() and stamp.read_text(encoding="ascii") == key:
        return
    _run(script, "--figure", str(figure))
    _write_if_changed(stamp, key)


def on_config(config, **kwargs):
    _load_script("fetch_mathjax").ensure_mathjax()
    build_outputs()
    build_figures()
    build_digit_figure()
    return config


_SOURCE = re.compile(
    r'^(?P<indent>[ \t]*)\{\{\s*source\("(?P<path>[^"]+)",\s*"(?P<start>[^"]+)"'
    r'(?:,\s*"(?P<end>[^"]+)")?(?:,\s*after="(?P<after>[^"]+)")?\s*\)\s*\}\}[ \t]*$',
    re.M,
)


def source_block(path: str, start: str, end: str | None = None, after: str | None = None) -> str:
    """The fenced block for lines ``start``..``end`` (matched by content) of ``path``, below ``after`` if given."""
    lines = (ROOT / path).read_text(encoding="utf-8").splitlines()
    origin = 0
    if after is not None:
        try:
            origin = next(i for i, line in enumerate(lines) if after in line)
        except StopIteration:
            raise ValueError(
                f"source(): no line of {path} contains {after!r}; update the page that quotes it"
            ) from None
    try:
        first = next(i for i in range(origin, len(lines)) if start in lines[i])
    except StopIteration:
        where = f" after line {origin + 1}" if after is not None else ""
        raise ValueError(
            f"source(): no line of {path}{where} contains {start!r}; update the page that quotes it"
        ) from None
    last = first
    if end is not None:
        try:
            last = next(i for i in range(first, len(lines)) if end in lines[i])
        except StopIteration:
            raise ValueError(f"source(): no line of {path} after line {first + 1} contains {end!r}") from None
    code = textwrap.dedent("\n".join(lines[first : last + 1]))
    where = f"line {first + 1}" if first == last else f"lines {first + 1}–{last + 1}"
    return f'```python title="{path}, {where}" linenums="{first + 1}"\n{code}\n```'


def on_page_markdown(markdown, page, config, files, **kwargs):
    def expand(match: re.Match) -> str:
        block = source_block(match["path"], match["start"], match["end"], match["after"])
        return textwrap.indent(block, match["indent"])

    return _SOURCE.sub(expand, markdown)
