"""mkdocs hooks: keep the documentation tied to the code it describes.

Before each build (``on_config``):

* every tutorial script in ``docs/examples/`` that a page shows the output of
  is run, and what it prints is written to ``docs/examples/output/NAME.txt``,
  which the page includes: the output on the page is what the code printed
  (a script that needs an optional extra, such as PyTorch, leaves a note
  saying so where the extra is not installed);
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
# Pictures that are files of the package, shown on a page: the site's folder -> the package's folder.
PACKAGE_PICTURES = {"how-to/digits": ROOT / "minibp" / "data" / "digits"}

# Tutorial scripts whose printed output appears in the pages (run with their default settings).
# (first_network.py is run by scripts/make_figures.py, which also draws the pictures from that run.)
RUN_EXAMPLES = (
    "quickstart",
    "backprop_by_hand",
    "sgd_loop",
    "own_layer",
    "own_layer_contract",
    "own_cost",
    "own_optimizer",
    "own_callback",
    "own_regularizer",
    "own_container",
    "howto_seeds",
    "howto_float32",
    "howto_init",
    "howto_save_load",
    "howto_rows",
    "howto_chapter3",
    "howto_chapter3_more",
    "howto_optimizers",
    "howto_own_digit",
    "not_chains",
    "howto_pytorch",
)

# Scripts that need an optional extra. Where it is not installed, the page shows a note in place of
# their output (the extra's own tests skip there); the note is replaced once the extra is installed.
OPTIONAL_EXAMPLES = {"howto_pytorch": ("torch", 'pip install "minibp[torch]"')}

# Scripts that also draw pictures, with the PNG files each saves in its working folder.
FIGURE_EXAMPLES = {
    "howto_vanishing": ("vanishing-gradient.png",),
}


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


def _missing_extra(name: str) -> str | None:
    """The note to show in place of ``name``'s output if the extra it needs is not installed, else None."""
    import importlib.util

    if name not in OPTIONAL_EXAMPLES:
        return None
    module, install = OPTIONAL_EXAMPLES[name]
    try:
        if importlib.util.find_spec(module) is not None:
            return None
    except ValueError:  # sys.modules[module] is None: Python's way of marking a module unavailable
        pass
    return f"(Not shown: this copy of the site was built without {module}. Run {install} to see it.)\n"


def build_outputs() -> None:
    key = _fingerprint(*sorted(EXAMPLES.glob("*.py")))  # examples may import each other
    for name in (*RUN_EXAMPLES, *FIGURE_EXAMPLES):
        stamp = OUTPUT / f".{name}.key"
        out = OUTPUT / f"{name}.txt"
        pictures = [FIGURES / picture for picture in FIGURE_EXAMPLES.get(name, ())]
        note = _missing_extra(name)
        name_key = key if note is None else f"{key} without {OPTIONAL_EXAMPLES[name][0]}"
        if all(p.is_file() for p in (out, stamp, *pictures)) and stamp.read_text(encoding="ascii") == name_key:
            continue
        _write_if_changed(out, run_example(name) if note is None else note)
        _write_if_changed(stamp, name_key)


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
    key = _fingerprint(script, *sorted(PACKAGE_PICTURES["how-to/digits"].glob("*.png")))
    stamp, figure = FIGURES / ".own-digit.key", FIGURES / "own-digit.png"
    if figure.is_file() and stamp.is_file() and stamp.read_text(encoding="ascii") == key:
        return
    _run(script, "--figure", str(figure))
    _write_if_changed(stamp, key)


def on_config(config, **kwargs):
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

    return notebook_link(_SOURCE.sub(expand, markdown), page)


# --- Notebooks: every tutorial and how-to guide, to download and run ------------------------------
#
# ``on_files`` turns each page of ``NOTEBOOK_FOLDERS`` into a Jupyter notebook, added to the site
# beside the page (``tutorials/first-network.md`` gives ``tutorials/first-network.ipynb``), and
# ``on_page_markdown`` puts a link to it under the page's title. The notebook is made from the page
# as it renders, ``source()`` quotes and ``--8<--`` snippets expanded: its prose becomes markdown
# cells and each Python block a code cell, in page order. A block titled with a file of minibp
# (a ``source()`` quote) is shown, not run, so it stays in the markdown. Pictures travel inside the
# notebook as attachments; links to other pages point at their place in the site. The pictures of
# ``PACKAGE_PICTURES`` (the example photos minibp ships) are added to the site from the package.

NOTEBOOK_FOLDERS = ("tutorials/", "how-to/")

_notebooks: dict[str, str] = {}  # page -> its notebook, both as paths inside docs/


def snippets_config(config=None) -> dict:
    """The settings of ``pymdownx.snippets`` in mkdocs.yml, with its base paths made absolute."""
    if config is not None:
        settings, root = dict(config["mdx_configs"].get("pymdownx.snippets", {})), Path(config.config_file_path).parent
    else:
        import yaml

        class _Loader(yaml.SafeLoader):  # mkdocs.yml may hold tags (!ENV, !!python/name:); none matters here
            pass

        _Loader.add_multi_constructor("", lambda loader, suffix, node: None)
        settings, root = {}, ROOT
        mkdocs_yml = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=_Loader)
        for entry in mkdocs_yml["markdown_extensions"]:
            if isinstance(entry, dict) and "pymdownx.snippets" in entry:
                settings = dict(entry["pymdownx.snippets"] or {})
    base = settings.get("base_path", ["."])
    settings["base_path"] = [str(root / b) for b in ([base] if isinstance(base, str) else base)]
    return settings


def expand_page(markdown: str, snippets: dict | None = None) -> str:
    """A page's markdown as it is rendered: the ``source()`` quotes and the ``--8<--`` snippets expanded."""
    import markdown as md

    def expand(match: re.Match) -> str:
        block = source_block(match["path"], match["start"], match["end"], match["after"])
        return textwrap.indent(block, match["indent"])

    text = _SOURCE.sub(expand, markdown)
    parser = md.Markdown(
        extensions=["pymdownx.snippets"],
        extension_configs={"pymdownx.snippets": snippets if snippets is not None else snippets_config()},
    )
    return "\n".join(parser.preprocessors["snippet"].run(text.split("\n")))


_FENCE_OPEN = re.compile(r"^```(?P<lang>[\w+-]*)(?P<attrs>[^\n`]*)$")
_FENCE_CLOSE = re.compile(r"^```[ \t]*$")


def page_blocks(text: str) -> list[tuple[str, str]]:
    """Cut an expanded page into ``("markdown", text)`` and ``("code", python)`` pieces, in order.

    A ``code`` piece is a top-level fenced Python block without a title: what a reader runs. A
    ``source()`` quote (a Python block titled with its file) stays in the markdown, its title above it.
    """
    pieces: list[tuple[str, str]] = []
    prose: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        opening = _FENCE_OPEN.match(lines[i])
        if opening is None:
            prose.append(lines[i])
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not _FENCE_CLOSE.match(lines[j]):
            j += 1
        body, lang, attrs = lines[i + 1 : j], opening["lang"], opening["attrs"]
        title = re.search(r'title="([^"]*)"', attrs)
        if lang in ("python", "py") and title is None:
            pieces.append(("markdown", "\n".join(prose)))
            pieces.append(("code", "\n".join(body).strip("\n")))
            prose = []
        else:
            while body and not body[-1].strip():
                body.pop()  # printed output ends with a newline
            prose += [f"*{title[1]}:*", ""] if title is not None else []
            prose += [f"```{lang}", *body, "```"]
        i = j + 1
    pieces.append(("markdown", "\n".join(prose)))
    return [(kind, body) for kind, body in pieces if body.strip()]


def page_code(text: str) -> list[str]:
    """The Python blocks a reader runs, in page order, of an expanded page."""
    return [body for kind, body in page_blocks(text) if kind == "code"]


_ADMONITION = re.compile(r'^(?:!!!|\?\?\?\+?)[ \t]+(?P<kind>[\w-]+)(?:[ \t]+"(?P<title>[^"]*)")?[ \t]*$')
_IMAGE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)(?:\{[^}\n]*\})?")
_LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)\)(?:\{[^}\n]*\})?")


def _plain_markdown(text: str) -> str:
    """Admonitions as block quotes: Jupyter's markdown has none of the site's extensions."""
    out: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        match = _ADMONITION.match(lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        title = match["title"] if match["title"] is not None else match["kind"].capitalize()
        out += [f"> **{title}**", ">"] if title else []
        i += 1
        while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
            if not lines[i].strip() and (i + 1 == len(lines) or not lines[i + 1].startswith("    ")):
                break  # a blank line followed by unindented text ends the admonition
            out.append(f"> {lines[i][4:]}".rstrip())
            i += 1
    return "\n".join(out)


def _by_heading(text: str) -> list[str]:
    """Cut markdown before each heading that is not inside a fenced block: a notebook cell per section."""
    sections: list[list[str]] = [[]]
    fenced = False
    for line in text.split("\n"):
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and re.match(r"#{1,6} ", line) and any(x.strip() for x in sections[-1]):
            sections.append([])
        sections[-1].append(line)
    return [body for body in ("\n".join(lines).strip("\n") for lines in sections) if body.strip()]


def _attach(match: re.Match, picture_of, link, attachments: dict) -> str:
    """An image of the page as a notebook attachment (a picture that is not a file of the site stays a link)."""
    import base64
    import posixpath

    picture = None if "://" in match["src"] else picture_of(match["src"])
    if picture is None or not picture.is_file():
        return f"![{match['alt']}]({link(match['src'])})"
    name = posixpath.basename(match["src"])
    mime = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
    data = base64.b64encode(picture.read_bytes()).decode("ascii")
    attachments[name] = {mime.get(picture.suffix.lower(), "application/octet-stream"): data}
    return f"![{' '.join(match['alt'].split())}](attachment:{name})"


def page_notebook(markdown: str, page_dir: Path, link=lambda target: target, picture_of=None):
    """The notebook of a page: its prose as markdown cells, its Python blocks as code cells, in order.

    Args:
        markdown: the page's markdown as it is rendered (see `expand_page`).
        page_dir: the folder of the page's file, from which its pictures are read.
        link: maps a link target as written on the page to the one the notebook needs.
        picture_of: maps a picture's address as written on the page to its file (``None`` if it has
            none); by default the address is read relative to ``page_dir``.
    """

    def beside_the_page(src: str) -> Path:
        return page_dir / src

    picture_of = picture_of if picture_of is not None else beside_the_page
    import nbformat
    from nbformat import v4

    cells = []
    for kind, body in page_blocks(markdown):
        if kind == "code":
            cells.append(v4.new_code_cell(body))
            continue
        attachments: dict[str, dict[str, str]] = {}
        text = _LINK.sub(lambda m: f"[{m['text']}]({link(m['target'])})", _plain_markdown(body))
        text = _IMAGE.sub(lambda m, found=attachments: _attach(m, picture_of, link, found), text)
        for section in _by_heading(text):
            cell = v4.new_markdown_cell(section)
            used = {name: data for name, data in attachments.items() if f"attachment:{name})" in section}
            if used:
                cell["attachments"] = used
            cells.append(cell)
    notebook = v4.new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
    )
    nbformat.validate(notebook)
    return notebook


def _site_link(target: str, src_uri: str, files, config) -> str:
    """Where a link of the page ``src_uri`` points, seen from its notebook in the built site."""
    import posixpath

    path, hash_, anchor = target.partition("#")
    if not path or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", path):
        return target  # a place on the page itself, or a full address
    folder = posixpath.dirname(src_uri)
    file = files.get_file_from_path(posixpath.normpath(posixpath.join(folder, path)))
    if file is None:
        return target
    if config.get("site_url"):
        url = config["site_url"].rstrip("/") + "/" + file.url
    else:
        slash = "/" if file.url.endswith("/") or not file.url else ""
        url = posixpath.relpath(file.url or ".", folder or ".") + slash
    return url + hash_ + anchor


def _site_picture(src: str, src_uri: str, files) -> Path | None:
    """The file of a picture the page ``src_uri`` shows at ``src``, or ``None`` if the site has no such file."""
    import posixpath

    file = files.get_file_from_path(posixpath.normpath(posixpath.join(posixpath.dirname(src_uri), src)))
    return Path(file.abs_src_path) if file is not None and file.abs_src_path else None


def on_files(files, config, **kwargs):
    import nbformat
    from mkdocs.structure.files import File

    for folder, source in PACKAGE_PICTURES.items():
        for picture in sorted(source.glob("*.png")):
            files.append(File.generated(config, f"{folder}/{picture.name}", abs_src_path=str(picture)))
    snippets = snippets_config(config)
    _notebooks.clear()
    for page in list(files.documentation_pages()):
        if not page.src_uri.startswith(NOTEBOOK_FOLDERS):
            continue
        markdown = expand_page(Path(page.abs_src_path).read_text(encoding="utf-8"), snippets)
        notebook = page_notebook(
            markdown,
            Path(page.abs_src_path).parent,
            lambda target, uri=page.src_uri: _site_link(target, uri, files, config),
            lambda src, uri=page.src_uri: _site_picture(src, uri, files),
        )
        uri = page.src_uri[: -len(".md")] + ".ipynb"
        files.append(File.generated(config, uri, content=nbformat.writes(notebook) + "\n"))
        _notebooks[page.src_uri] = uri
    return files


def notebook_link(markdown: str, page) -> str:
    """Put a link to the page's notebook under its title (pages without a notebook are left as they are)."""
    uri = _notebooks.get(page.file.src_uri)
    if uri is None:
        return markdown
    name = uri.rsplit("/", 1)[-1]
    button = f'[Download this page as a Jupyter notebook]({name}){{ .md-button download="{name}" }}'
    title = re.search(r"^# .*$", markdown, re.M)
    at = title.end() if title is not None else 0
    return f"{markdown[:at]}\n\n{button}\n{markdown[at:]}"
