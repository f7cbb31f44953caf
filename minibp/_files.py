"""`atomic_write`: the one temp-file-and-rename of the project.

Every file minibp writes (model files, histories, IDX files, downloads,
figures) goes through `atomic_write`, so a reader never sees half a file and
a failed, interrupted or killed write leaves the previous file as it was.

What is already at the path decides what a save does, and it is decided
before ``write`` is called:

- nothing: the file is created with the usual mode, ``0o666`` less the umask
  (what ``open(path, "w")`` gives).
- a regular file: it is replaced, and the new file keeps its permission bits
  (``0o640`` stays ``0o640``). It is a new file: it belongs to whoever saves,
  and other names (hard links) of the old file keep the old contents.
- a symbolic link: it is followed, as ``open(path, "w")`` follows it. The file
  it points to is replaced (beside that file, in its own directory) and the
  link stays a link; a dangling link creates the file it names. A chain of
  links is followed to its end. As ``open`` does under Linux's
  ``fs.protected_symlinks`` (on by default), a link in a sticky,
  world-writable directory such as ``/tmp`` that belongs neither to the
  user saving nor to the directory's owner is refused
  (``PermissionError``): another user may have planted it there to have
  the save replace a file of its choosing.
- a directory, a FIFO, a socket, or a character or block device: refused
  (``IsADirectoryError``, or an ``OSError`` naming what it is) and left as it
  is; it is never opened.

The temporary file: on Linux it has no name until it is complete
(``O_TMPFILE``); then it is linked as ``.minibp-<random>.tmp`` beside the
target and at once renamed over it. Elsewhere that name is used from the
start. The name is short, so a target name up to the system's limit (255
bytes) still saves. Any exception at any moment, ``KeyboardInterrupt``
included, removes it and propagates unchanged: before the rename the old
file is intact, after it the new file is complete. (One change: an error
that ``write``'s own clean-up raises while handling Ctrl-C, as zipfile's
does, is reported as the ``KeyboardInterrupt`` it hides.) A killed process
(``SIGKILL``, power loss) leaves no temporary file on Linux except in the
microseconds between link and rename; elsewhere it can leave one.

Deliberately left out: locking (two writers of one file each write a
complete file; the last rename wins); keeping the old file's owner, ACLs or
extended attributes.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO

__all__ = ["atomic_write"]

# Linux: an unnamed file in the target's directory, given a name once complete through /proc/self/fd.
_ANONYMOUS = hasattr(os, "O_TMPFILE") and os.link in os.supports_dir_fd and os.path.isdir("/proc/self/fd")


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write(f)`` on a temporary file beside ``path``, sync it, then rename it over ``path``.

    If ``write`` raises, or the process is interrupted or dies, ``path`` keeps
    its previous contents and no temporary file remains (see the module
    docstring for symbolic links, permissions and special files).

    Args:
        path: the file to create or replace; a symbolic link is followed.
        write: writes the whole contents to the binary file it is given.

    Raises:
        IsADirectoryError: ``path`` is a directory.
        OSError: ``path`` is a FIFO, socket or device, or the write failed.
    """
    directory, name, mode = _target(path)
    try:
        if not _write_anonymous(directory, name, mode, write):
            _write_named(directory, name, mode, write)
    except BaseException as err:
        if isinstance(err, KeyboardInterrupt) or not _interrupted(err):
            raise
        # Ctrl-C in ``write``, whose own clean-up then failed (zipfile does): the caller sees the Ctrl-C.
        raise KeyboardInterrupt from err


def _interrupted(err: BaseException) -> bool:
    """Whether ``err`` was raised while a ``KeyboardInterrupt`` was being handled."""
    seen = set()
    context: BaseException | None = err
    while context is not None and id(context) not in seen:
        if isinstance(context, KeyboardInterrupt):
            return True
        seen.add(id(context))
        context = context.__context__
    return False


def _target(path: str | os.PathLike) -> tuple[Path, str, int | None]:
    """The directory and name of the file behind ``path`` (links followed), and the permission bits to keep."""
    real = _resolve(path)
    try:
        st = os.stat(real)
    except FileNotFoundError:
        st = os.stat(real.parent)  # a missing directory is named as such, not by a temporary file
        if not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "Not a directory", str(real.parent)) from None
        return real.parent, real.name, None
    if stat.S_ISREG(st.st_mode):
        return real.parent, real.name, stat.S_IMODE(st.st_mode)
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "Is a directory, not replacing it with a file", os.fspath(path))
    raise OSError(errno.EINVAL, f"Not a regular file but {_kind(st.st_mode)}, not replacing it", os.fspath(path))


def _resolve(path: str | os.PathLike) -> Path:
    """``os.path.realpath(path)``, but refusing the links the kernel's ``fs.protected_symlinks`` does not follow.

    Each component is looked at in turn, and each link met, at the end or in
    the middle, is read and its target walked in its place, as the kernel
    walks a path; a component that does not exist ends the walk, the rest
    appended as it is.

    Raises:
        PermissionError: a link in a sticky, world-writable directory (such
            as ``/tmp``) belongs neither to this user nor to the directory's
            owner: another user may have planted it there to have the save
            replace a file of this user's choosing. ``open()`` is refused
            the same (with ``fs.protected_symlinks = 1``, most systems' default).
        OSError: ``ELOOP``, more than 40 links in the walk.
    """
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    absolute = Path(os.path.join(os.getcwd(), path))  # not normalised: ".." after a link is the target's parent
    current, rest, links = Path(absolute.anchor), list(reversed(absolute.parts[1:])), 0
    while rest:
        part = rest.pop()
        if part == "..":
            current = current.parent
            continue
        candidate = current / part
        try:
            st = os.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            return candidate.joinpath(*reversed(rest))
        if not stat.S_ISLNK(st.st_mode):
            current = candidate
            continue
        links += 1
        if links > _MAX_LINKS:
            raise OSError(errno.ELOOP, "Too many levels of symbolic links", path)
        _check_link(candidate, st.st_uid, current)
        target = Path(os.readlink(candidate))
        if target.is_absolute():
            current = Path(target.anchor)
        rest.extend(reversed(target.parts[1:] if target.is_absolute() else target.parts))
    return current


_MAX_LINKS = 40  # as Linux's path walk


def _check_link(link: Path, owner: int, directory: Path) -> None:
    """Refuse a link another user planted in a sticky, world-writable directory (the kernel's rule)."""
    if not hasattr(os, "geteuid"):  # no owners to compare (Windows)
        return
    st = os.stat(directory)
    shared = st.st_mode & stat.S_ISVTX and st.st_mode & stat.S_IWOTH
    if shared and owner not in (os.geteuid(), st.st_uid):
        raise PermissionError(
            errno.EACCES,
            f"Not following a symbolic link of another user (uid {owner}) in the sticky, world-writable "
            f"directory {directory}: it could have been planted there to have the save replace another file",
            str(link),
        )


def _kind(mode: int) -> str:
    for test, kind in [
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ]:
        if test(mode):
            return kind
    return "a special file"


def _temporary_name() -> str:
    return f".minibp-{secrets.token_hex(8)}.tmp"


def _write_to(fd: int, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write`` on a file object over ``fd``, flush it and sync it; the caller closes ``fd``."""
    # closefd=False: a file object dropped by Ctrl-C before ``with`` takes it closes nothing and warns of nothing.
    with open(fd, "wb", closefd=False) as f:
        write(f)
    os.fsync(fd)


def _remove(name: str | Path, dir_fd: int | None = None) -> None:
    """Remove a temporary file while another exception propagates; never replace that exception."""
    try:
        os.unlink(name, dir_fd=dir_fd)
    except OSError:
        pass


def _fsync_directory(dir_fd: int) -> None:
    try:
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover - some file systems cannot sync a directory
        pass


def _write_anonymous(directory: Path, name: str, mode: int | None, write: Callable[[IO[bytes]], object]) -> bool:
    """Write via an unnamed ``O_TMPFILE`` (Linux), link it under a temporary name and rename it.

    Returns ``False`` (having changed nothing) when the system cannot do this.
    """
    if not _ANONYMOUS:
        return False
    try:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    tmp = None  # set before the name can exist, so that any interruption after that removes it
    try:
        try:
            fd = os.open(".", os.O_TMPFILE | os.O_WRONLY, 0o666, dir_fd=dir_fd)
        except OSError:
            return False
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            _write_to(fd, write)
            while tmp is None:
                tmp = _temporary_name()
                try:
                    os.link(f"/proc/self/fd/{fd}", tmp, dst_dir_fd=dir_fd, follow_symlinks=True)
                except FileExistsError:  # another file's name: never ours to remove
                    tmp = None
                except OSError:
                    tmp = None
                    return False
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        tmp = None
        _fsync_directory(dir_fd)
        return True
    except BaseException:
        if tmp is not None:
            _remove(tmp, dir_fd)
        raise
    finally:
        os.close(dir_fd)


def _write_named(directory: Path, name: str, mode: int | None, write: Callable[[IO[bytes]], object]) -> None:
    """Write to ``.minibp-<random>.tmp`` beside the target and rename it; remove it on any exception."""
    tmp = None
    try:
        while tmp is None:
            tmp = directory / _temporary_name()
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            except FileExistsError:  # another file's name: never ours to remove
                tmp = None
        try:
            if mode is not None:
                os.chmod(tmp, mode)
            _write_to(fd, write)
        finally:
            os.close(fd)
        os.replace(tmp, directory / name)
        tmp = None
    except BaseException:
        if tmp is not None:
            _remove(tmp)
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
