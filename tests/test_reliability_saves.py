"""Saves: Ctrl-C at any moment, and targets that are not plain files (special files, links, permissions, long names).

Every file minibp writes goes through `minibp._files.atomic_write`; these tests drive it directly and through
`minibp.io.save` and `History.save`, on both of its paths: Linux's unnamed ``O_TMPFILE`` and the named
temporary file used elsewhere (forced here by switching the first off).

Safe as root: FIFOs and sockets are made in ``tmp_path``; devices are never created or touched (a faked
``os.stat`` stands in for them); unwritable places are a path under a regular file or under ``/proc``.

Proven elsewhere and not repeated here (``tests/test_io.py``): an ``OSError`` in the middle of a model save
keeps the old file, and ``SIGKILL`` at random moments leaves a loadable file.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import stat
import threading
import time
import types

import numpy as np
import pytest

import minibp as bp
from minibp import _files
from minibp import io as bpio

OLD = b"old contents\n" * 1000
NEW = bytes(range(256)) * 200  # 51200 bytes: several of the file object's 8 KiB buffers


@pytest.fixture(params=["O_TMPFILE", "named-temporary"])
def path_kind(request, monkeypatch):
    """Run the test on each of atomic_write's two paths, and check that the one meant is the one taken."""
    if request.param == "O_TMPFILE":
        if not _files._ANONYMOUS:
            pytest.skip("no O_TMPFILE here")
        real, used = _files._write_anonymous, []

        def spy(*args):
            used.append(real(*args))
            return used[-1]

        monkeypatch.setattr(_files, "_write_anonymous", spy)
        yield request.param
        assert False not in used  # never fell back to the named path
    else:
        monkeypatch.setattr(_files, "_write_anonymous", lambda *args: False)
        yield request.param


def leftovers(directory, *expected) -> list[str]:
    return sorted(set(os.listdir(directory)) - set(expected))


def writes(data: bytes):
    return lambda f: f.write(data)


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def open_fds_under(directory) -> set[int]:
    """The descriptors of this process that point into ``directory`` (Linux)."""
    found = set()
    for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []:
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith(str(directory)):
                found.add(int(name))
        except OSError:  # the descriptor listdir itself used
            pass
    return found


# -- Ctrl-C -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("existing", [True, False], ids=["replacing", "creating"])
@pytest.mark.parametrize("after", [0, 1, 4095, 8192, 8193, 30000, len(NEW)])
def test_ctrl_c_in_write_after_k_bytes(tmp_path, path_kind, existing, after):
    path = tmp_path / "file.bin"
    if existing:
        path.write_bytes(OLD)

    def write(f):
        f.write(NEW[:after])
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _files.atomic_write(path, write)
    assert (path.read_bytes() == OLD) if existing else not path.exists()
    assert leftovers(tmp_path, "file.bin") == []
    assert open_fds_under(tmp_path) == set()  # nothing leaks either


class InterruptingOs(types.SimpleNamespace):
    """Stands in for the ``os`` module inside `minibp._files`: counts the calls, and raises ``KeyboardInterrupt``
    just before (the call never happens) or just after (it returned or failed, then Ctrl-C came) call number ``at``."""

    def __init__(self, at: int | None = None, when: str = "before") -> None:
        super().__init__(calls=[], at=at, when=when)

    def __getattr__(self, name):
        real = getattr(os, name)
        if not callable(real):
            return real

        def call(*args, **kwargs):
            number = len(self.calls)
            self.calls.append(name)
            if number == self.at and self.when == "before":
                raise KeyboardInterrupt
            try:
                return real(*args, **kwargs)
            finally:  # whether the call returned or raised
                if number == self.at and self.when == "after":
                    raise KeyboardInterrupt  # noqa: B012

        return call


@pytest.mark.parametrize("existing", [True, False], ids=["replacing", "creating"])
def test_ctrl_c_before_or_after_every_system_call(tmp_path, monkeypatch, path_kind, existing):
    """Old file intact before the rename, new file complete after it; KeyboardInterrupt and no temporary file always."""
    path = tmp_path / "file.bin"
    if existing:
        path.write_bytes(OLD)
        os.chmod(path, 0o640)
    record = InterruptingOs()
    monkeypatch.setattr(_files, "os", record)
    _files.atomic_write(path, writes(NEW))
    calls = record.calls
    assert path.read_bytes() == NEW and (mode_of(path) == 0o640 or not existing)
    expected = {"stat", "open", "fsync", "replace", "close"} | ({"link"} if path_kind == "O_TMPFILE" else set())
    expected |= {"fchmod" if path_kind == "O_TMPFILE" else "chmod"} if existing else set()
    assert expected <= set(calls), calls
    rename = calls.index("replace")
    fds = open_fds_under(tmp_path)

    for at in range(len(calls)):
        for when in ["before", "after"]:
            if existing:
                path.write_bytes(OLD)
            else:
                path.unlink(missing_ok=True)
            interrupting = InterruptingOs(at, when)
            monkeypatch.setattr(_files, "os", interrupting)
            with pytest.raises(KeyboardInterrupt):
                _files.atomic_write(path, writes(NEW))
            assert interrupting.calls[at] == calls[at]  # the same sequence of calls up to there
            where = f"Ctrl-C {when} call {at} ({calls[at]}) of {calls}"
            if at > rename or (at == rename and when == "after"):
                assert path.read_bytes() == NEW, where
            elif existing:
                assert path.read_bytes() == OLD, where
            else:
                assert not path.exists(), where
            assert leftovers(tmp_path, "file.bin") == [], where
            for fd in open_fds_under(tmp_path) - fds:  # "after open" and "before close" leave a descriptor open
                os.close(fd)


def test_ctrl_c_behind_a_failing_clean_up_is_still_ctrl_c(tmp_path, path_kind):
    """zipfile, interrupted in a member, raises ValueError from its own ``__exit__``: the caller still sees Ctrl-C."""
    path = tmp_path / "file.bin"
    path.write_bytes(OLD)

    def write(f):
        try:
            f.write(NEW[:100])
            raise KeyboardInterrupt
        finally:
            raise ValueError("Can't close the ZIP file while there is an open writing handle on it")

    with pytest.raises(KeyboardInterrupt) as caught:
        _files.atomic_write(path, write)
    assert isinstance(caught.value.__cause__, ValueError)  # what really happened is kept in the traceback

    def fails(f):
        raise ValueError("a plain failure")

    with pytest.raises(ValueError, match="a plain failure"):  # without Ctrl-C, an exception passes unchanged
        _files.atomic_write(path, fails)
    assert path.read_bytes() == OLD and leftovers(tmp_path, "file.bin") == []


def ctrl_c_at_random_moments(directory, save, n: int, seed: int) -> dict[str, int]:
    """Save ``n`` times, each with a real SIGALRM as Ctrl-C (`signal.default_int_handler`) at a random moment."""
    path = directory / "target"
    save(path)  # warm up, and time one save
    start = time.perf_counter()
    save(path)
    duration = time.perf_counter() - start
    outcomes = {"interrupted": 0, "finished": 0}
    previous = signal.signal(signal.SIGALRM, signal.default_int_handler)
    try:
        for delay in np.random.default_rng(seed).uniform(1e-6, 1.2 * duration, n):
            try:
                try:
                    signal.setitimer(signal.ITIMER_REAL, delay)
                    save(path)
                    outcome = "finished"
                finally:
                    signal.setitimer(signal.ITIMER_REAL, 0)
            except KeyboardInterrupt:
                outcome = "interrupted"
            outcomes[outcome] += 1
            assert leftovers(directory, "target") == [], outcomes
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    return outcomes


needs_sigalrm = pytest.mark.skipif(
    not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread(),
    reason="needs setitimer in the main thread",
)


@needs_sigalrm
def test_real_ctrl_c_at_random_moments_of_atomic_write(tmp_path, path_kind):
    def save(path):
        _files.atomic_write(path, lambda f: [f.write(NEW) for _ in range(8)])

    outcomes = ctrl_c_at_random_moments(tmp_path, save, 150, seed=0)
    assert outcomes["interrupted"] >= 10, outcomes  # any other exception would have failed the test
    assert (tmp_path / "target").read_bytes() == NEW * 8


# zipfile's ``__del__`` complains ("Exception ignored") about the archive that Ctrl-C left half-closed.
ZIPFILE_DEL = r"ignore:Exception ignored in. <function ZipFile\.__del__:pytest.PytestUnraisableExceptionWarning"


@pytest.mark.filterwarnings(ZIPFILE_DEL)
@needs_sigalrm
def test_real_ctrl_c_at_random_moments_of_a_model_save(tmp_path, path_kind):
    net = bp.mlp([784, 30, 10], rng=0)
    outcomes = ctrl_c_at_random_moments(tmp_path, lambda path: bpio.save(net, path), 150, seed=1)
    assert outcomes["interrupted"] >= 10, outcomes
    assert bpio.load(tmp_path / "target")[0].w.data.tobytes() == net[0].w.data.tobytes()


# -- special files ----------------------------------------------------------------------------------


def special_file(kind: str, directory, monkeypatch):
    if kind == "fifo":
        os.mkfifo(directory / "special")
    else:
        monkeypatch.chdir(directory)  # a Unix socket's path must be short
        sock = socket.socket(socket.AF_UNIX)
        sock.bind("special")
        sock.close()
    return directory / "special"


SAVES = {
    "atomic_write": lambda path: _files.atomic_write(path, writes(NEW)),
    "model": lambda path: bpio.save(bp.mlp([3, 2], rng=0), path),
    "history": lambda path: bp.History(epoch=[0], training_cost=[1.0]).save(path),
}


@pytest.mark.parametrize("how", SAVES)
@pytest.mark.parametrize("kind", ["fifo", "socket"])
def test_a_fifo_or_socket_is_refused_and_left_as_it_is(tmp_path, monkeypatch, path_kind, kind, how):
    if kind == "socket" and not hasattr(socket, "AF_UNIX"):
        pytest.skip("no Unix sockets")
    path = special_file(kind, tmp_path, monkeypatch)
    before = os.lstat(path)
    refused = r"Not a regular file but (a FIFO \(named pipe\)|a socket), not replacing it"
    with pytest.raises(OSError, match=refused) as caught:
        SAVES[how](path)
    assert caught.value.errno == errno.EINVAL and caught.value.filename == os.fspath(path)
    after = os.lstat(path)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert leftovers(tmp_path, "special") == []


def test_a_link_to_a_fifo_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    fifo = special_file("fifo", tmp_path, monkeypatch)
    os.symlink("special", tmp_path / "link")

    def write(f):
        raise AssertionError("write must not be called")

    with pytest.raises(OSError, match="FIFO"):
        _files.atomic_write(tmp_path / "link", write)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and os.readlink(tmp_path / "link") == "special"


@pytest.mark.parametrize(("file_type", "kind"), [(stat.S_IFCHR, "character device"), (stat.S_IFBLK, "block device")])
def test_a_device_is_refused(tmp_path, monkeypatch, file_type, kind):
    """No device node is made: ``os.stat`` reports one for a path that does not exist."""
    path = tmp_path / "device"
    real_stat = os.stat

    def fake_stat(p, *args, **kwargs):
        if os.fspath(p) == os.fspath(path):
            return os.stat_result((file_type | 0o666, 1, 1, 1, 0, 0, 0, 0, 0, 0))
        return real_stat(p, *args, **kwargs)

    monkeypatch.setattr(_files, "os", types.SimpleNamespace(**{**vars(os), "stat": fake_stat}))
    with pytest.raises(OSError, match=f"Not a regular file but a {kind}, not replacing it"):
        _files.atomic_write(path, writes(NEW))
    assert os.listdir(tmp_path) == []


def test_a_directory_is_refused(tmp_path, path_kind):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "inside").write_bytes(OLD)
    os.symlink("d", tmp_path / "link")
    for target in ["d", "link"]:
        with pytest.raises(IsADirectoryError, match="Is a directory, not replacing it with a file"):
            bpio.save(bp.mlp([3, 2], rng=0), tmp_path / target)
    assert sorted(os.listdir(tmp_path)) == ["d", "link"] and os.listdir(tmp_path / "d") == ["inside"]


# -- permissions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o640, 0o600, 0o755, 0o444, 0o000])
def test_a_replaced_file_keeps_its_permission_bits(tmp_path, path_kind, mode):
    path = tmp_path / "model.npz"
    path.write_bytes(OLD)
    os.chmod(path, mode)
    bpio.save(bp.mlp([3, 2], rng=0), path)
    assert mode_of(path) == mode
    os.chmod(path, 0o600)  # root reads anything; others need this to check the contents
    assert bpio.load(path)[0].w.data.tobytes() == bp.mlp([3, 2], rng=0)[0].w.data.tobytes()
    assert leftovers(tmp_path, "model.npz") == []


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path, path_kind, umask):
    previous = os.umask(umask)
    try:
        bp.History(epoch=[0]).save(tmp_path / "history.json")
        (tmp_path / "plain").write_bytes(b"")  # what open(path, "w") gives, for comparison
    finally:
        os.umask(previous)
    assert mode_of(tmp_path / "history.json") == 0o666 & ~umask == mode_of(tmp_path / "plain")


# -- symbolic links: followed, the link is kept -------------------------------------------------------


def test_a_link_is_followed_and_kept(tmp_path, path_kind):
    (tmp_path / "models").mkdir()
    real = tmp_path / "models" / "real.npz"
    real.write_bytes(OLD)
    os.chmod(real, 0o640)
    os.symlink("models/real.npz", tmp_path / "current.npz")  # relative, into another directory
    os.symlink("current.npz", tmp_path / "chain.npz")  # a link to a link
    for link, rng in [("current.npz", 1), ("chain.npz", 2)]:
        bpio.save(bp.mlp([3, 2], rng=rng), tmp_path / link)
        assert os.readlink(tmp_path / link) in ("models/real.npz", "current.npz")  # still the same link
        assert bpio.load(real)[0].w.data.tobytes() == bp.mlp([3, 2], rng=rng)[0].w.data.tobytes()
        assert mode_of(real) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["chain.npz", "current.npz", "models"]
    assert os.listdir(tmp_path / "models") == ["real.npz"]  # the temporary file was beside the real file


def test_a_dangling_link_creates_the_file_it_names(tmp_path, path_kind):
    os.symlink("made.json", tmp_path / "dangling")
    bp.History(epoch=[3]).save(tmp_path / "dangling")
    assert os.readlink(tmp_path / "dangling") == "made.json"
    assert bp.History.load(tmp_path / "made.json").epoch == [3]
    assert sorted(os.listdir(tmp_path)) == ["dangling", "made.json"]


def test_a_dangling_link_into_a_missing_directory_names_that_directory(tmp_path, path_kind):
    os.symlink("missing/made.json", tmp_path / "dangling")
    with pytest.raises(FileNotFoundError) as caught:
        bp.History(epoch=[3]).save(tmp_path / "dangling")
    assert caught.value.filename == str(tmp_path / "missing")
    assert os.listdir(tmp_path) == ["dangling"] and os.readlink(tmp_path / "dangling") == "missing/made.json"


def test_a_link_loop_is_an_error_and_nothing_is_written(tmp_path, path_kind):
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    with pytest.raises(OSError) as caught:
        _files.atomic_write(tmp_path / "a", writes(NEW))
    assert caught.value.errno == errno.ELOOP
    assert sorted(os.listdir(tmp_path)) == ["a", "b"] and os.readlink(tmp_path / "a") == "b"


# -- names and places ---------------------------------------------------------------------------------


def name_max(directory) -> int:
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # pragma: no cover - not POSIX
        return 255


@pytest.mark.parametrize("letter", ["m", "é"], ids=["ascii", "two-byte-utf8"])
def test_a_name_at_the_system_limit_still_saves(tmp_path, path_kind, letter):
    limit = name_max(tmp_path)
    stem = letter * ((limit - 4) // len(letter.encode()))
    name = stem + "x" * (limit - 4 - len(stem.encode())) + ".npz"
    assert len(os.fsencode(name)) == limit
    bpio.save(bp.mlp([3, 2], rng=0), tmp_path / name)
    bpio.save(bp.mlp([3, 2], rng=1), tmp_path / name)  # and replaces an existing one
    assert bpio.load(tmp_path / name)[0].w.data.tobytes() == bp.mlp([3, 2], rng=1)[0].w.data.tobytes()
    assert os.listdir(tmp_path) == [name]


def test_unwritable_places_fail_cleanly(tmp_path, path_kind):
    (tmp_path / "file").write_bytes(OLD)
    with pytest.raises(NotADirectoryError):  # a path under a regular file
        _files.atomic_write(tmp_path / "file" / "model.npz", writes(NEW))
    with pytest.raises(FileNotFoundError) as caught:
        _files.atomic_write(tmp_path / "missing" / "model.npz", writes(NEW))
    assert caught.value.filename == str(tmp_path / "missing")  # the missing directory, not a temporary name
    assert os.listdir(tmp_path) == ["file"] and (tmp_path / "file").read_bytes() == OLD


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_a_directory_nobody_can_write_fails_cleanly():
    """Not even root can create a file in /proc (and O_TMPFILE is not supported there: the named path is tried)."""
    with pytest.raises(OSError):
        _files.atomic_write("/proc/minibp-test-model.npz", writes(NEW))
    assert not [name for name in os.listdir("/proc") if name.startswith((".minibp-", "minibp-"))]
