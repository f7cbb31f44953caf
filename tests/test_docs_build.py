"""Building the documentation takes pip's packages and nothing else, prints nothing but mkdocs' summary,
and gives a clean API reference.

MathJax is a copy kept in ``docs/assets/mathjax/`` (no npm, no network):
its files must be the ones ``SHA256SUMS`` records. The reference pages must
show each return value as one row and no ``$`` that arithmatex left behind.
"""

from __future__ import annotations

import hashlib
import html
import os
import re
import subprocess
import sys

import pytest
from _docs_site import ROOT, built_site, load_path

DOCS = ROOT / "docs"
MATHJAX = DOCS / "assets" / "mathjax"
# sha256 of docs/assets/mathjax/SHA256SUMS: changes only when the copy is replaced on purpose
# (scripts/fetch_mathjax.py --update), together with this line.
SUMS_SHA256 = "87356e4e62681dbf2853fe8c091b37b5f9c4875eec01c3b94d0ac28f21cc7e29"


def _fetch_mathjax():
    return load_path("_fetch_mathjax", ROOT / "scripts" / "fetch_mathjax.py")


# --- MathJax: in the repository, as recorded ------------------------------------------------------


def test_mathjax_copy_matches_its_recorded_sha256():
    fetch = _fetch_mathjax()
    assert fetch.problems(MATHJAX) == []
    sums = (MATHJAX / fetch.SUMS).read_bytes()
    assert hashlib.sha256(sums).hexdigest() == SUMS_SHA256
    listed = set(re.findall(r"^[0-9a-f]{64}  (.+)$", sums.decode("ascii"), re.M))
    assert {"tex-chtml.js", "LICENSE"} <= listed
    assert any(name.startswith("output/chtml/fonts/woff-v2/MathJax_Main-Regular") for name in listed)
    assert "input/tex/extensions/ams.js" in listed


def test_mathjax_copy_names_its_version_source_and_licence():
    fetch = _fetch_mathjax()
    note = (MATHJAX / "README.md").read_text(encoding="utf-8")
    assert f"MathJax {fetch.VERSION}" in note and fetch.INTEGRITY in note
    assert "Apache License 2.0" in note
    assert "Apache License" in (MATHJAX / "LICENSE").read_text(encoding="utf-8")


def test_the_build_needs_no_npm_and_hides_nothing():
    """The copy is tracked, the hook fetches nothing, and no setting silences the theme."""
    ignored = (DOCS / ".gitignore").read_text(encoding="utf-8")
    assert not re.search(r"^/?assets/mathjax/?$", ignored, re.M), "docs/.gitignore still ignores the MathJax copy"
    hooks = (DOCS / "hooks.py").read_text(encoding="utf-8")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for name, text in (("docs/hooks.py", hooks), ("mkdocs.yml", config)):
        assert "npm" not in text and "fetch_mathjax" not in text, name
        assert "NO_MKDOCS_2_WARNING" not in text, name
    assert "assets/mathjax/tex-chtml.js" in config


def test_fetch_mathjax_finds_a_changed_missing_or_extra_file(tmp_path):
    fetch = _fetch_mathjax()
    copy = tmp_path / "mathjax"
    (copy / "input").mkdir(parents=True)
    (copy / "tex-chtml.js").write_bytes(b"// mathjax")
    (copy / "input" / "ams.js").write_bytes(b"// ams")
    (copy / "README.md").write_text("notes, not checked\n", encoding="utf-8")
    assert fetch.problems(copy) == [f"{copy / fetch.SUMS} is missing"]
    (copy / fetch.SUMS).write_text(fetch.sha256_lines(copy), encoding="ascii")
    assert fetch.problems(copy) == [] and fetch.is_current(copy)
    (copy / "tex-chtml.js").write_bytes(b"// changed")
    (copy / "input" / "ams.js").unlink()
    (copy / "extra.js").write_bytes(b"")
    assert fetch.problems(copy) == [
        "input/ams.js: missing",
        f"extra.js: not listed in {fetch.SUMS}",
        "tex-chtml.js: sha256 differs",
    ]


def test_fetch_mathjax_checks_the_copy_offline(capsys):
    assert _fetch_mathjax().main([]) == 0
    assert "all as SHA256SUMS records" in capsys.readouterr().out


# --- the build prints mkdocs' summary and nothing else --------------------------------------------


# mkdocs' own summary of a build, the only lines it may print.
_SUMMARY = re.compile(
    r"INFO    -  (Cleaning site directory|Building documentation to directory: .+"
    r"|Documentation built in [\d.]+ seconds)"
)


@pytest.mark.slow
def test_the_strict_build_prints_only_mkdocs_summary(tmp_path):
    """``mkdocs build --strict``, with no environment variable to quiet anything, prints three INFO lines.

    (mkdocs-material 9.7.2 and later print an end-of-life banner on every build unless an environment
    variable silences it, and mkdocstrings says so when neither Black nor Ruff can format the long
    signatures: pyproject.toml's docs extra pins the theme before the banner and brings Ruff.)
    """
    built_site()  # the shared build: skips without the docs extra, and leaves the hook's outputs made
    env = {k: v for k, v in os.environ.items() if k not in ("NO_MKDOCS_2_WARNING", "DISABLE_MKDOCS_2_WARNING")}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    assert len(lines) == 3 and all(_SUMMARY.fullmatch(line) for line in lines), "\n".join(lines)


# --- the API reference, as built ------------------------------------------------------------------


def _reference_pages():
    site, _ = built_site()
    pages = sorted((site / "reference").glob("*/index.html"))
    assert len(pages) >= 15, pages
    return [(page.parent.name, page.read_text(encoding="utf-8")) for page in pages]


@pytest.mark.slow
def test_each_return_value_is_one_row():
    """A ``Returns:`` section is one value, however many lines its description takes."""
    split = []
    for name, page in _reference_pages():
        for table in re.finditer(r'doc-section-title">Returns:</span></p>\s*<table>(.*?)</table>', page, re.S):
            if table.group(1).count('<tr class="doc-section-item">') != 1:
                heading = re.findall(r'<h\d id="([\w.]+)"', page[: table.start()])
                split.append(heading[-1] if heading else name)
    assert split == [], f"return values split into several rows: {split}"


def _text_outside_math_and_code(page: str) -> tuple[str, list[str]]:
    """The article's text with code and math removed, and the TeX of every formula."""
    article = page[page.find("<article") : page.find("</article>")]
    article = re.sub(r"<(pre|code)\b.*?</\1>", " ", article, flags=re.S)
    formulas = [html.unescape(m[1]) for m in re.findall(r'<(span|div) class="arithmatex">(.*?)</\1>', article, re.S)]
    article = re.sub(r'<(span|div) class="arithmatex">.*?</\1>', " ", article, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", article)), formulas


@pytest.mark.slow
def test_no_dollar_is_left_around_an_equation():
    """Every ``$...$`` and ``$$...$$`` became a formula: no ``$`` in the text, none inside a formula."""
    stray = []
    for name, page in _reference_pages():
        text, formulas = _text_outside_math_and_code(page)
        stray += [f"{name}: {line.strip()[:80]}" for line in text.splitlines() if "$" in line]
        stray += [f"{name}: inside {tex[:80]!r}" for tex in formulas if re.search(r"(?<!\\)\$", tex)]
    assert stray == [], "\n".join(stray)
