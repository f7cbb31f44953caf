"""Put a pinned MathJax into ``docs/assets/mathjax/`` so the documentation renders equations offline.

The files come from the npm registry's ``mathjax`` package, fetched with
``npm pack`` (the registry's own client) and checked against the package's
published sha512 integrity string before anything is unpacked. Only what the
site uses is kept: ``tex-chtml.js``, the CHTML fonts and the TeX extensions
that MathJax loads on demand. The target folder is ignored by git; the mkdocs
hook (``docs/hooks.py``) calls `ensure_mathjax` before each build, and CI runs
this script once before the tests.

    python scripts/fetch_mathjax.py [--force]
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
STAMP = ".version"


class IntegrityError(RuntimeError):
    """The downloaded tarball does not match the pinned integrity string."""


def check_integrity(data: bytes, integrity: str = INTEGRITY) -> None:
    """Raise `IntegrityError` unless ``data`` hashes to the npm ``integrity`` string (``sha512-<base64>``)."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512" or not expected:
        raise IntegrityError(f"unsupported integrity string {integrity!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")
    if actual != expected:
        raise IntegrityError(f"mathjax tarball: sha512 is {actual}, expected {expected}; refusing to unpack it")


def extract(data: bytes, target: Path, keep: tuple[str, ...] = KEEP) -> int:
    """Unpack the kept members of the tarball ``data`` into ``target`` (replacing it); return the file count.

    The files go into a temporary folder beside ``target`` that is renamed
    only when complete, so an interrupted run leaves no half-filled folder.
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
        (tmp / STAMP).write_text(INTEGRITY + "\n", encoding="ascii")
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


def is_current(target: Path = TARGET) -> bool:
    """Whether ``target`` holds the pinned version."""
    stamp = target / STAMP
    return stamp.is_file() and stamp.read_text(encoding="ascii").strip() == INTEGRITY


def ensure_mathjax(target: Path = TARGET, force: bool = False) -> Path:
    """Fetch, verify and unpack the pinned MathJax into ``target`` unless it is already there."""
    if force or not is_current(target):
        data = npm_pack()
        check_integrity(data)
        extract(data, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="fetch again even if the pinned version is present")
    args = parser.parse_args(argv)
    path = ensure_mathjax(force=args.force)
    print(f"MathJax {VERSION} in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
