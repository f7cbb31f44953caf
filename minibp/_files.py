"""`atomic_write`: the one temp-file-and-rename of the project.

Every file minibp writes (model files, histories, IDX files, downloads,
figures) goes through `atomic_write`, so a reader never sees half a file and
a failed or killed write leaves the previous file as it was. On Linux the
temporary file has no name until it is complete (``O_TMPFILE``), so even a
killed process leaves nothing behind; elsewhere a named
``.<name>.<random>.tmp`` file beside the target is removed on any exception.

Deliberately left out: locking (two writers of one file each write a
complete file; the last rename wins).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, sync it, then rename it over ``path``.

    If ``write`` raises, or the process dies, ``path`` keeps its previous
    contents and no temporary file remains (on Linux even after ``SIGKILL``;
    elsewhere after any exception).

    Args:
        path: the file to create or replace.
        write: writes the whole contents to the binary file it is given.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not _write_anonymous(directory, path.name, write):
        _write_named(directory, path.name, write)


def _fsync_directory(dir_fd: int | None) -> None:
    if dir_fd is None:
        return
    try:
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover - some file systems cannot sync a directory
        pass


def _write_anonymous(directory: Path, name: str, write: Callable[[IO[bytes]], None]) -> bool:
    """Write via an unnamed ``O_TMPFILE`` (Linux), link it under a temporary name and rename it.

    Returns ``False`` (having changed nothing) when the system cannot do this.
    """
    if not (hasattr(os, "O_TMPFILE") and os.link in os.supports_dir_fd and os.path.isdir("/proc/self/fd")):
        return False
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        try:
            fd = os.open(directory, os.O_TMPFILE | os.O_WRONLY, 0o666)
        except OSError:
            return False
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
            tmp = f".{name}.{secrets.token_hex(6)}.tmp"
            try:
                os.link(f"/proc/self/fd/{fd}", tmp, dst_dir_fd=dir_fd, follow_symlinks=True)
            except OSError:
                return False
        try:
            os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            os.unlink(tmp, dir_fd=dir_fd)
            raise
        _fsync_directory(dir_fd)
        return True
    finally:
        os.close(dir_fd)


def _write_named(directory: Path, name: str, write: Callable[[IO[bytes]], None]) -> None:
    """Write to ``.<name>.<random>.tmp`` beside the target and rename it; remove it on any exception."""
    tmp = directory / f".{name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, directory / name)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if hasattr(os, "O_DIRECTORY"):
        try:
            dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:  # pragma: no cover
            return
        try:
            _fsync_directory(dir_fd)
        finally:
            os.close(dir_fd)
