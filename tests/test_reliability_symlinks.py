"""Reliability, round 3, for saves: a link another user planted in a shared directory is not followed.

In a sticky, world-writable directory such as ``/tmp`` anyone can create a
name, so a symbolic link there may have been planted by another user to have
a save replace a file of their choosing. Linux's ``fs.protected_symlinks``
makes ``open()`` refuse to follow such a link unless it belongs to the user
following it or to the directory's owner; every save of minibp (models,
histories, IDX files, downloads, figures: all go through
``_files.atomic_write``) applies the same rule to every link on the way, at
the end of the path or in the middle, alone or in a chain.

The shared directory is built under ``tmp_path`` (never ``/tmp`` itself),
and the foreign link is made with ``os.lchown``, which needs root; those
tests skip for other users.
"""

from __future__ import annotations

import itertools
import os
import stat
from pathlib import Path

import numpy as np
import pytest

import minibp as bp
from minibp import _files
from minibp import io as bpio
from minibp.data import write_idx

OLD = b"the victim's file\n"
NEW = b"what the save writes\n"
ME = os.geteuid() if hasattr(os, "geteuid") else 0
OTHER, THIRD = 54_321, 54_322  # two users that are not this one

WHO = {ME: "me", OTHER: "other", THIRD: "third"}
# sticky and world-writable, sticky and group-writable, world-writable only, sticky and world-writable without
# the group, neither: each with the directory mine or another user's, and the link mine, its owner's or a third's
CASES = list(itertools.product([0o1777, 0o1770, 0o0777, 0o1757, 0o0755], [ME, OTHER], [ME, OTHER, THIRD]))

root_only = pytest.mark.skipif(ME != 0, reason="making a link of another user takes os.lchown as root")


def kernel_protects() -> bool:
    try:
        return Path("/proc/sys/fs/protected_symlinks").read_text().strip() == "1"
    except OSError:
        return False


def kernel_rule(directory_mode: int, directory_owner: int, link_owner: int) -> bool:
    """Whether Linux with ``fs.protected_symlinks = 1`` follows the link, written from its documentation."""
    sticky_and_world_writable = directory_mode & stat.S_ISVTX and directory_mode & stat.S_IWOTH
    return not sticky_and_world_writable or link_owner in (ME, directory_owner)


def shared_directory(tmp_path: Path, mode: int = 0o1777, owner: int = ME) -> Path:
    directory = tmp_path / "shared"
    directory.mkdir()
    os.chmod(directory, mode)
    if owner != ME:
        os.chown(directory, owner, -1)
    return directory


def victim(tmp_path: Path) -> Path:
    (tmp_path / "home").mkdir()
    path = tmp_path / "home" / "precious.npz"
    path.write_bytes(OLD)
    return path


def plant(link: Path, target: Path | str, owner: int) -> Path:
    os.symlink(target, link)
    if owner != ME:
        os.lchown(link, owner, -1)
    return link


def save(path: Path) -> None:
    _files.atomic_write(path, lambda f: f.write(NEW))


@root_only
@pytest.mark.parametrize(
    ("mode", "directory_owner", "link_owner"),
    CASES,
    ids=[f"{mode:05o}-dir_{WHO[d]}-link_{WHO[link]}" for mode, d, link in CASES],
)
def test_a_link_is_followed_exactly_when_the_kernels_rule_allows_it(tmp_path, mode, directory_owner, link_owner):
    """Every combination of sticky, world-writable, the directory's owner and the link's owner."""
    target = victim(tmp_path)
    directory = shared_directory(tmp_path, mode, directory_owner)
    link = plant(directory / "model.npz", target, link_owner)
    follows = kernel_rule(mode, directory_owner, link_owner)
    if kernel_protects():  # the rule above is the kernel's own: open() answers the same
        try:
            with open(link, "rb"):
                pass
            assert follows
        except PermissionError:
            assert not follows
    if follows:
        save(link)
        assert target.read_bytes() == NEW and os.path.islink(link)
    else:
        with pytest.raises(PermissionError, match=rf"another user \(uid {link_owner}\) in the sticky, world-wr"):
            save(link)
        assert target.read_bytes() == OLD
    assert sorted(os.listdir(target.parent)) == ["precious.npz"]  # no temporary file left beside it
    assert os.listdir(directory) == ["model.npz"]


@root_only
def test_every_writer_refuses_a_planted_link(tmp_path):
    target = victim(tmp_path)
    directory = shared_directory(tmp_path)
    link = plant(directory / "model.npz", target, OTHER)
    with pytest.raises(PermissionError) as caught:
        bpio.save(bp.mlp([3, 2], rng=0), link)
    assert caught.value.filename == str(link)
    with pytest.raises(PermissionError):
        bp.History(epoch=[1]).save(link)
    with pytest.raises(PermissionError):
        write_idx(link, np.zeros(3, np.uint8))
    assert target.read_bytes() == OLD


@root_only
def test_a_planted_link_in_the_middle_of_the_path_or_of_a_chain_is_refused(tmp_path):
    target = victim(tmp_path)
    directory = shared_directory(tmp_path)
    plant(directory / "run", target.parent, OTHER)  # a directory link: shared/run/precious.npz is the victim
    with pytest.raises(PermissionError, match="uid 54321"):
        save(directory / "run" / "precious.npz")
    plant(directory / "planted.npz", target, OTHER)
    (tmp_path / "mine").mkdir()
    plant(tmp_path / "mine" / "model.npz", directory / "planted.npz", ME)  # my own link, to the planted one
    with pytest.raises(PermissionError, match="uid 54321"):
        save(tmp_path / "mine" / "model.npz")
    plant(directory / "relative.npz", "../home/precious.npz", OTHER)
    with pytest.raises(PermissionError):
        save(directory / "relative.npz")
    assert target.read_bytes() == OLD


@root_only
def test_a_planted_dangling_link_creates_nothing(tmp_path):
    directory = shared_directory(tmp_path)
    (tmp_path / "home").mkdir()
    plant(directory / "model.npz", tmp_path / "home" / "created.npz", OTHER)
    with pytest.raises(PermissionError):
        save(directory / "model.npz")
    assert os.listdir(tmp_path / "home") == []


def test_my_own_links_in_a_shared_directory_are_followed_and_kept(tmp_path):
    """The documented behaviour for one's own links holds in a sticky directory too, for any user."""
    target = victim(tmp_path)
    directory = shared_directory(tmp_path)
    plant(directory / "current.npz", target, ME)
    plant(directory / "chain.npz", "current.npz", ME)
    for name in ("current.npz", "chain.npz"):
        bpio.save(bp.mlp([3, 2], rng=1), directory / name)
        assert bpio.load(target)[0].w.data.tobytes() == bp.mlp([3, 2], rng=1)[0].w.data.tobytes()
        target.write_bytes(OLD)
    assert sorted(os.listdir(directory)) == ["chain.npz", "current.npz"]
    assert os.readlink(directory / "chain.npz") == "current.npz"


def test_the_path_walk_agrees_with_realpath_where_no_link_is_refused(tmp_path, monkeypatch):
    """Relative paths, ``..`` after a link (the target's parent, not the link's), chains, dangling ends."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "f").write_bytes(OLD)
    os.symlink("a/b", tmp_path / "to_b")
    os.symlink(tmp_path / "to_b", tmp_path / "abs")
    os.symlink("nowhere/x", tmp_path / "dangling")
    monkeypatch.chdir(tmp_path)
    for path in ["to_b/f", "to_b/../b/f", "abs/../../a/b/f", "./a/./b/f", "dangling", "to_b/missing/deeper", "to_b"]:
        assert _files._resolve(path) == Path(os.path.realpath(path)), path
        assert _files._resolve(tmp_path / path) == Path(os.path.realpath(tmp_path / path)), path
