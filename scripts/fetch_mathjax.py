"""Check, or update, the copy of MathJax kept in ``docs/assets/mathjax/``.

The documentation typesets its equations with MathJax 3.2.2, which the
repository carries in ``docs/assets/mathjax/`` (Apache-2.0, its ``LICENSE``
beside it): building or serving the site needs nothing from the network and
nothing but pip's packages. This script is a maintenance tool: the build
never runs it, and the tests use only its offline parts.

With no option it checks the copy offline against ``SHA256SUMS`` in that
folder. With ``--update`` it replaces the copy from the npm registry's
``mathjax`` package at ``VERSION``, fetched with ``npm pack`` (the registry's
own client) and checked against the package's published sha512 integrity
string before anything is unpacked, and rewrites ``SHA256SUMS``. Only what
the site uses is kept: ``tex-chtml.js``, the CHTML fonts, the TeX extensions
that MathJax loads on demand and the licence. To move to another version,
change ``VERSION`` and ``INTEGRITY`` (``npm view mathjax@VERSION
dist.integrity``), run ``--update``, and update the folder's ``README.md``.

    python scripts/fetch_mathjax.py             # check the copy (no network)
    python scripts/fetch_mathjax.py --update    # fetch VERSION with npm and replace the copy
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "3.2.2"
# `npm view mathjax@3.2.2 dist.integrity`
INTEGRITY = "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw=="
TARGET = Path(__file__).resolve().parent.parent / "docs" / "assets" / "mathjax"
# Paths inside the tarball that the site needs (files, or folders ending in "/").
KEEP = (
    "package/es5/tex-chtml.js",
    "package/es5/output/chtml/fonts/woff-v2/",
    "package/es5/input/tex/extensions/",
    "package/LICENSE",
)
SUMS = "SHA256SUMS"
# Written by hand, not taken from the tarball: kept across an update.
NOTES = ("README.md",)


class IntegrityError(RuntimeError):
    """The downloaded tarball, or the copy in the repository, does not match its recorded digest."""


def check_integrity(data: bytes, integrity: str = INTEGRITY) -> None:
    """Raise `IntegrityError` unless ``data`` hashes to the npm ``integrity`` string (``sha512-<base64>``)."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512" or not expected:
        raise IntegrityError(f"unsupported integrity string {integrity!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")
    if actual != expected:
        raise IntegrityError(f"mathjax tarball: sha512 is {actual}, expected {expected}; refusing to unpack it")


def sha256_lines(folder: Path) -> str:
    """The ``SHA256SUMS`` text for the files of ``folder`` (``sha256sum``'s format, sorted by path)."""
    files = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).as_posix() not in (SUMS, *NOTES)
    )
    return "".join(f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}\n" for name in files)


def extract(data: bytes, target: Path, keep: tuple[str, ...] = KEEP) -> int:
    """Unpack the kept members of the tarball ``data`` into ``target`` (replacing it); return the file count.

    The files go into a temporary folder beside ``target`` that is renamed
    only when complete, so an interrupted run leaves no half-filled folder.
    ``SHA256SUMS`` is written for the new files; the hand-written ``README.md``
    of an existing ``target`` is carried over.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".mathjax-", dir=target.parent))
    count = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar.getmembers():
                name = member.name
                if not member.isfile() or not any(name == k or (k.endswith("/") and name.startswith(k)) for k in keep):
                    continue
                relative = Path(name.removeprefix("package/es5/").removeprefix("package/"))
                if relative.is_absolute() or ".." in relative.parts:
                    raise IntegrityError(f"mathjax tarball: unsafe member name {name!r}")
                out = tmp / relative
                out.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None  # a regular file always has contents
                out.write_bytes(source.read())
                count += 1
        if count == 0:
            raise IntegrityError("mathjax tarball: none of the expected files were found")
        (tmp / SUMS).write_text(sha256_lines(tmp), encoding="ascii")
        for note in NOTES:
            if (target / note).is_file():
                shutil.copyfile(target / note, tmp / note)
        tmp.chmod(0o755)  # mkdtemp's folder is private; the copy is not
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return count


def npm_pack(version: str = VERSION) -> bytes:
    """Download ``mathjax@version`` from the npm registry with ``npm pack`` and return the tarball's bytes."""
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to fetch MathJax from the npm registry (apt-get install npm)")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [npm, "pack", f"mathjax@{version}", "--pack-destination", tmp, "--silent"],
            check=True,
            cwd=tmp,
            stdout=subprocess.DEVNULL,
        )
        (tarball,) = Path(tmp).glob("mathjax-*.tgz")
        return tarball.read_bytes()


def _digests(sums: str) -> dict[str, str]:
    """``{path: sha256}`` from a ``SHA256SUMS`` text."""
    pairs = (line.split("  ", 1) for line in sums.splitlines() if line)
    return {name: digest for digest, name in pairs}


def problems(target: Path = TARGET) -> list[str]:
    """What is wrong with the copy in ``target``: missing, changed or unlisted files (empty if it is intact)."""
    sums = target / SUMS
    if not sums.is_file():
        return [f"{sums} is missing"]
    recorded = _digests(sums.read_text(encoding="ascii"))
    found = _digests(sha256_lines(target))
    wrong = [f"{name}: missing" for name in sorted(set(recorded) - set(found))]
    wrong += [f"{name}: not listed in {SUMS}" for name in sorted(set(found) - set(recorded))]
    wrong += [f"{name}: sha256 differs" for name in sorted(set(recorded) & set(found)) if recorded[name] != found[name]]
    return wrong


def is_current(target: Path = TARGET) -> bool:
    """Whether ``target`` holds the copy that ``SHA256SUMS`` records, file for file."""
    return not problems(target)


def update(target: Path = TARGET) -> int:
    """Fetch ``VERSION`` with npm, check its integrity and replace the copy in ``target``; return the file count."""
    data = npm_pack()
    check_integrity(data)
    return extract(data, target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help=f"replace the copy with mathjax@{VERSION} from npm")
    args = parser.parse_args(argv)
    if args.update:
        count = update()
        print(f"MathJax {VERSION}: {count} files in {TARGET}, {SUMS} rewritten")
        return 0
    wrong = problems()
    if wrong:
        print(f"The MathJax copy in {TARGET} differs from {SUMS}:", *wrong, sep="\n  ", file=sys.stderr)
        return 1
    count = len((TARGET / SUMS).read_text(encoding="ascii").splitlines())
    print(f"MathJax {VERSION}: {count} files in {TARGET}, all as {SUMS} records")
    return 0


if __name__ == "__main__":
    sys.exit(main())
