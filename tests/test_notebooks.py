"""Every tutorial and how-to guide runs, as its reader sees it, top to bottom in a fresh kernel.

The documentation build gives each page of docs/tutorials/ and docs/how-to/ a notebook, which the
page links to under its title (docs/hooks.py): the page's prose as markdown cells and its Python
blocks, in page order, as code cells. Here each notebook is taken from the built site and run with
nbclient, so a hidden set-up step, a test-only branch or a name the page never defines fails its
page's test. The page's code blocks are the notebook's code cells, and what the page shows as printed
output is what the notebook prints.

Nothing is run before a page's first cell. A page gets from its surroundings only what this table
lists; everything else it needs, it shows:

| page | set-up |
|---|---|
| every page | a new, empty working folder; Python warnings are errors (`PYTHONWARNINGS`) |
| how-to/mnist.md | `MINIBP_DATA` names a folder of small IDX files (`_docs_site.small_idx_files`) |
| how-to/rows-and-columns.md | PyTorch is installed (the page is skipped without it) |
| how-to/continue-in-pytorch.md | PyTorch is installed (the page is skipped without it) |

What a page shows as printed is compared line by line with what its notebook prints, except for the
seconds an epoch took, which `train` prints at the end of each epoch's line
(`Epoch 3: 452 / 500, cost 0.0921, 0.4 s`) and which differ from run to run: the comparison reads
them as `... s` on both sides (`_docs_site.masked`). Everything else on the line, the cost included, must match.

A reader of the MNIST guide has the real files where `MINIBP_DATA` or the user cache says; the
small ones have the same layout and format, 60 training and 12 test images of noise per data set.
Each page must run in less than two minutes.
"""

from __future__ import annotations

import os
import re
import time

import pytest
from _docs_site import ROOT, built_site, load_path, masked, small_idx_files

DOCS = ROOT / "docs"
PAGES = sorted(
    p.relative_to(DOCS).as_posix() for folder in ("tutorials", "how-to") for p in (DOCS / folder).glob("*.md")
)
SECONDS = 120  # the most a page may take

NEEDS = {"how-to/rows-and-columns.md": "torch", "how-to/continue-in-pytorch.md": "torch"}
WRITES = {"how-to/save-load.md": ["model.npz", "net.json"], "how-to/vanishing-gradient.md": ["vanishing-gradient.png"]}
# ipykernel's own shutdown request raises this one (ipykernel 7), in the kernel and not in any cell.
WARNINGS = "error,ignore::PendingDeprecationWarning:ipykernel.kernelbase"


def _python3_kernel() -> None:
    """Check that the kernel ``python3`` is this Python (jupyter_client runs a spec's "python" as this one)."""
    import sys

    from jupyter_client.kernelspec import KernelSpecManager

    argv = KernelSpecManager().get_kernel_spec("python3").argv
    this = {"python", f"python{sys.version_info[0]}", f"python{sys.version_info[0]}.{sys.version_info[1]}"}
    assert argv[0] in this or argv[0] == sys.executable, (
        f"the Jupyter kernel python3 runs {argv[0]}, not this Python ({sys.executable}): "
        "install ipykernel into this environment, and remove the other kernel spec named python3"
    )


def hooks():
    return load_path("_docs_hooks_notebooks", DOCS / "hooks.py")


def notebook_of(page: str):
    import nbformat

    site, _ = built_site()
    return nbformat.read(site / page.replace(".md", ".ipynb"), as_version=4)


def printed_on_the_page(page: str) -> list[str]:
    """The lines of the printed output the page shows, in page order (the ``output/`` snippets)."""
    lines: list[str] = []
    text = (DOCS / page).read_text(encoding="utf-8")
    for name, start, end in re.findall(r'^--8<-- "output/([\w-]+)\.txt(?::(\d*))?(?::(\d*))?"$', text, re.M):
        output = (DOCS / "examples" / "output" / f"{name}.txt").read_text(encoding="utf-8").splitlines()
        lines += output[int(start or 1) - 1 : int(end) if end else None]
    return lines


def is_subsequence(expected: list[str], lines: list[str]) -> bool:
    remaining = iter(masked(line) for line in lines)
    return all(any(line == masked(wanted) for line in remaining) for wanted in expected)


def test_every_tutorial_and_guide_has_a_notebook_linked_under_its_title():
    pytest.importorskip("nbformat", reason="the docs extra is not installed (pip install -e '.[docs]')")
    site, _ = built_site()
    assert PAGES and sorted(p.relative_to(site).as_posix() for p in site.glob("*/*.ipynb")) == [
        page.replace(".md", ".ipynb") for page in PAGES
    ]
    for page in PAGES:
        name = page.split("/")[1].replace(".md", ".ipynb")
        html = (site / page.replace(".md", "/index.html")).read_text(encoding="utf-8")
        title = html.index("<h1")
        link = html.index(f'href="../{name}"')
        assert title < link < html.index("</h1>", title) + 500, page  # right under the title
        assert f'download="{name}"' in html, page


@pytest.mark.parametrize("page", PAGES)
def test_the_notebook_is_the_page(page):
    """Its code cells are the page's Python blocks, as shown; the rest is the page's prose."""
    pytest.importorskip("nbformat", reason="the docs extra is not installed (pip install -e '.[docs]')")
    notebook = notebook_of(page)
    shown = hooks().page_code(hooks().expand_page((DOCS / page).read_text(encoding="utf-8")))
    assert [cell.source for cell in notebook.cells if cell.cell_type == "code"] == shown
    assert shown, f"{page} has no Python block to run"
    prose = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "markdown")
    assert prose.startswith("# ") and "--8<--" not in prose and "{{ source(" not in prose
    assert not re.search(r"\]\([^)]*\.md[)#]", prose), "links to pages point at the site, not at .md files"
    for cell in notebook.cells:
        for name in re.findall(r"\(attachment:([^)]+)\)", cell.source):
            assert name in cell.get("attachments", {}), (page, name)


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_the_page_runs_as_a_notebook(page, tmp_path):
    pytest.importorskip("nbclient", reason="the docs extra is not installed (pip install -e '.[docs]')")
    pytest.importorskip("ipykernel", reason="the docs extra is not installed (pip install -e '.[docs]')")
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    if page in NEEDS:
        pytest.importorskip(NEEDS[page], reason=f"{page} needs {NEEDS[page]}")
    _python3_kernel()
    notebook = notebook_of(page)
    folder = tmp_path / "work"
    folder.mkdir()
    env = dict(os.environ, PYTHONWARNINGS=WARNINGS)
    if page == "how-to/mnist.md":
        env["MINIBP_DATA"] = str(small_idx_files(tmp_path / "data"))
    client = NotebookClient(
        notebook, kernel_name="python3", timeout=SECONDS, resources={"metadata": {"path": str(folder)}}
    )
    start = time.perf_counter()
    try:
        client.execute(env=env)
    except CellExecutionError as error:
        pytest.fail(f"{page}, run as a notebook:\n{error}", pytrace=False)
    seconds = time.perf_counter() - start
    assert seconds < SECONDS, f"{page} took {seconds:.0f} s"

    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    errors = [output.get("text", "") for output in outputs if output.get("name") == "stderr"]
    assert not errors, f"{page} wrote to stderr:\n{''.join(errors)}"
    printed = "".join(output.get("text", "") for output in outputs if output.get("name") == "stdout").splitlines()
    expected = printed_on_the_page(page)
    assert is_subsequence(expected, printed), f"{page} shows output its code does not print:\n" + "\n".join(
        line for line in expected if masked(line) not in map(masked, printed)
    )
    written = sorted(p.name for p in folder.iterdir())
    assert written == WRITES.get(page, []), f"{page} wrote {written} into its working folder"
