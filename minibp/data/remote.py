"""Download MNIST and Fashion-MNIST, verified against pinned SHA-256 digests.

Each file is fetched over HTTPS from a list of mirrors, tried in order. The
bytes go to a hidden temporary file in the target directory while their
SHA-256 digest is computed; only a file of the pinned size and digest is
renamed to its final name. Anything else (an HTTP error, a refused or cut
connection, a timeout, a short, long or wrong body) deletes the temporary
file and moves on to the next mirror. When every mirror has failed, the
error lists each one with its reason. Only the standard library's `urllib`
is used.

Time is bounded twice: ``timeout`` bounds each wait (connecting, or for the
next bytes), and ``deadline`` bounds one mirror's whole transfer of one file,
so a mirror that trickles a byte just before each timeout is cut off too. At
the deadline a timer thread shuts the connection's socket down, which wakes
the blocked read. (Resolving a host name is left to the system's resolver and
its own time-outs.) A file that fails does not stop the others: every file
is tried, and the error names each one that failed.

The mirrors can be replaced, for a local copy or a test server, with the
``mirrors`` argument or the environment variables ``MINIBP_MNIST_MIRRORS`` and
``MINIBP_FASHION_MNIST_MIRRORS`` (base URLs separated by spaces).
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import math
import numbers
import os
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from .._files import atomic_write
from ..errors import ChecksumError, DownloadError
from ._common import data_home

__all__ = ["download", "DATASETS", "RemoteFile", "mirrors_for", "sha256_of", "default_deadline"]


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set: its name, size in bytes and SHA-256 digest (hex)."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class RemoteDataset:
    """A data set's files and its default mirrors (base URLs, tried in order)."""

    files: tuple[RemoteFile, ...]
    mirrors: tuple[str, ...]
    env: str


DATASETS: dict[str, RemoteDataset] = {
    # The digests of the files LeCun, Cortes and Burges published; every mirror serves the same bytes.
    "mnist": RemoteDataset(
        files=(
            RemoteFile(
                "train-images-idx3-ubyte.gz",
                9_912_422,
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            ),
            RemoteFile(
                "train-labels-idx1-ubyte.gz", 28_881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
            ),
            RemoteFile(
                "t10k-images-idx3-ubyte.gz",
                1_648_877,
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            ),
            RemoteFile(
                "t10k-labels-idx1-ubyte.gz", 4_542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
            ),
        ),
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
            "https://yann.lecun.com/exdb/mnist/",
        ),
        env="MINIBP_MNIST_MIRRORS",
    ),
    # The digests of Zalando Research's release (github.com/zalandoresearch/fashion-mnist).
    "fashion-mnist": RemoteDataset(
        files=(
            RemoteFile(
                "train-images-idx3-ubyte.gz",
                26_421_880,
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            ),
            RemoteFile(
                "train-labels-idx1-ubyte.gz", 29_515, "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
            ),
            RemoteFile(
                "t10k-images-idx3-ubyte.gz",
                4_422_102,
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            ),
            RemoteFile(
                "t10k-labels-idx1-ubyte.gz", 5_148, "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
            ),
        ),
        mirrors=(
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
            "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        ),
        env="MINIBP_FASHION_MNIST_MIRRORS",
    ),
}

_BLOCK = 1 << 16
_USER_AGENT = "minibp (https://pypi.org/project/minibp/)"


def default_deadline(size: int) -> float:
    """Return the default deadline for a file of ``size`` bytes: a minute, plus a second per 20 kB.

    That is 9 minutes for MNIST's largest file (9.9 MB) and 23 minutes for
    Fashion-MNIST's (26.4 MB): a link slower than 20 kB/s needs a larger
    ``deadline``.
    """
    return 60.0 + size / 20_000


def _seconds(value: object, what: str) -> float:
    """Return ``value`` as a float if it is a positive, finite number of seconds; raise otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{what} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"{what} must be a positive, finite number of seconds, got {value!r}")
    return seconds


def _dataset(name: str) -> RemoteDataset:
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    return DATASETS[name]


def mirrors_for(name: str, mirrors: Sequence[str] | str | None = None) -> list[str]:
    """Return the mirrors to try for data set ``name``, in order.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.
        mirrors: base URLs (or one string of them separated by spaces); by
            default the data set's environment variable, else the built-in list.

    Returns:
        Base URLs, each ending in ``/``.
    """
    dataset = _dataset(name)
    if mirrors is None:
        mirrors = os.environ.get(dataset.env) or list(dataset.mirrors)
    if isinstance(mirrors, str):
        mirrors = mirrors.split()
    result = []
    for url in mirrors:
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("https", "http"):
            raise ValueError(f"mirror {url!r}: only https:// (or http:// for a local server) URLs are allowed")
        result.append(url if url.endswith("/") else url + "/")
    if not result:
        raise ValueError(f"no mirrors given for {name}")
    return result


def sha256_of(path: str | os.PathLike) -> str:
    """Return the SHA-256 digest (hex) of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _Mismatch(Exception):
    """The mirror delivered a complete body whose digest is wrong."""


class _Deadline:
    """Shut down a transfer's connections when its time is up, so that no read outlasts it.

    Each socket is watched through a duplicate descriptor of its own: the
    timer thread only ever shuts down and closes descriptors that no other
    code uses, and shutting down one descriptor of a connection wakes a read
    blocked on any other.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        copy = sock.dup()
        with self._lock:
            self._sockets.append(copy)
            if self.expired:
                self._cut(copy)

    @staticmethod
    def _cut(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:  # already closed by the peer
            pass

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._cut(sock)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()


def _opener(deadline: _Deadline) -> urllib.request.OpenerDirector:
    """An opener for http:// and https:// (and their redirects and proxies) whose sockets ``deadline`` watches."""

    class Connection(http.client.HTTPConnection):
        def connect(self) -> None:
            super().connect()
            deadline.watch(self.sock)

    class HTTPHandler(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
            return self.do_open(Connection, req)

    handlers: list[urllib.request.BaseHandler] = [
        urllib.request.ProxyHandler(),
        urllib.request.UnknownHandler(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPRedirectHandler(),
        urllib.request.HTTPErrorProcessor(),
        HTTPHandler(),
    ]
    if hasattr(http.client, "HTTPSConnection"):  # Python built with ssl

        class SecureConnection(http.client.HTTPSConnection, Connection):
            pass  # HTTPSConnection.connect calls Connection.connect, which watches the TCP socket before TLS starts

        class HTTPSHandler(urllib.request.HTTPSHandler):
            def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(SecureConnection, req)  # the default TLS context, as urlopen's

        handlers.append(HTTPSHandler())
    opener = urllib.request.OpenerDirector()
    for handler in handlers:
        opener.add_handler(handler)
    return opener


def _fetch(url: str, remote: RemoteFile, out: IO[bytes], timeout: float, deadline: float) -> None:
    """Stream ``url`` into ``out`` within ``deadline`` seconds; raise on any failure, even a wrong size or digest."""
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    digest = hashlib.sha256()
    size = 0
    watchdog = _Deadline(deadline)
    try:
        with _opener(watchdog).open(request, timeout=min(timeout, deadline)) as response:
            while True:
                block = response.read(min(_BLOCK, remote.size + 1 - size))
                if not block:
                    break
                size += len(block)
                if size > remote.size:
                    raise _Mismatch(f"more than the expected {remote.size} bytes")
                digest.update(block)
                out.write(block)
        if size != remote.size:
            raise OSError(f"connection closed after {size} of {remote.size} bytes")
    except Exception as err:
        if watchdog.expired:  # whatever the cut connection raised, the reason is the deadline (a TimeoutError)
            raise OSError(
                errno.ETIMEDOUT,
                f"not complete after the deadline of {deadline:g} s ({size} of {remote.size} bytes received)",
            ) from err
        raise
    finally:
        watchdog.close()
    if digest.hexdigest() != remote.sha256:
        raise _Mismatch(f"SHA-256 {digest.hexdigest()}, expected {remote.sha256}")


def _describe(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, urllib.error.URLError):
        return f"cannot connect ({err.reason})"
    if isinstance(err, (socket.timeout, TimeoutError)):  # a socket's timeout, or the deadline (with a strerror)
        return f"timed out: {err.strerror}" if err.strerror else "timed out"
    return f"{type(err).__name__}: {err}" if not isinstance(err, _Mismatch) else f"checksum mismatch: {err}"


def _download_file(
    remote: RemoteFile, directory: Path, mirrors: list[str], timeout: float, deadline: float | None
) -> Path:
    target = directory / remote.name
    seconds = default_deadline(remote.size) if deadline is None else deadline
    failures: list[str] = []
    mismatch = False
    for base in mirrors:
        url = urllib.parse.urljoin(base, remote.name)
        try:  # the file takes its name only once it is complete and verified
            atomic_write(target, lambda out: _fetch(url, remote, out, timeout, seconds))  # noqa: B023 (called at once)
            return target
        except Exception as err:  # OSError, http.client.HTTPException (a cut connection), _Mismatch
            mismatch |= isinstance(err, _Mismatch)
            failures.append(f"  {url}: {_describe(err)}")
    cls = ChecksumError if mismatch else DownloadError
    raise cls(f"could not download {remote.name} ({remote.size} bytes); mirrors tried:\n" + "\n".join(failures))


def download(
    name: str = "mnist",
    directory: str | os.PathLike | None = None,
    *,
    mirrors: Sequence[str] | str | None = None,
    timeout: float = 30.0,
    deadline: float | None = None,
) -> list[Path]:
    """Download the four gzip IDX files of a data set and verify them.

    Files already present with the right digest are kept; a present file
    with a wrong digest is replaced, or, if no mirror delivers the file,
    renamed to ``<name>.bad`` (so it is neither lost nor loaded). A file that
    fails does not stop the others: all four are tried, and files verified
    stay in place (they are correct) even when another fails. No partial or
    unverified file is ever left under a final name.

    Args:
        name: ``"mnist"`` or ``"fashion-mnist"``.
        directory: where the files go (created if needed); by default
            ``$MINIBP_DATA/<name>``, else ``<user cache>/minibp/<name>`` (see
            [`data_home`][minibp.data._common.data_home]).
        mirrors: base URLs to try in order, overriding the defaults and the
            environment variable (see `mirrors_for` in `minibp.data.remote`).
        timeout: seconds to wait for a connection or for each block of data.
        deadline: seconds one mirror may take to deliver one file, from
            connecting to the last byte; by default a minute plus a second per
            20 kB of the file (see `default_deadline`). A mirror that misses it
            is reported as timed out and the next one is tried, so a file
            takes at most about ``deadline`` times the number of mirrors.

    Returns:
        The paths of the four files: training images, training labels, test
        images, test labels.

    Raises:
        TypeError, ValueError: ``timeout`` or ``deadline`` is not a positive,
            finite number of seconds (checked before any connection).
        ChecksumError: for some file, a mirror delivered the wrong size or
            digest and no other mirror delivered a good one.
        DownloadError: no mirror delivered some file. The message has one
            paragraph per failed file, listing each mirror and how it failed.
    """
    timeout = _seconds(timeout, "timeout")
    if deadline is not None:
        deadline = _seconds(deadline, "deadline")
    dataset = _dataset(name)
    urls = mirrors_for(name, mirrors)
    target = Path(directory) if directory is not None else data_home() / name
    target.mkdir(parents=True, exist_ok=True)
    paths = []
    failures: list[DownloadError] = []
    for remote in dataset.files:
        path = target / remote.name
        if path.is_file() and path.stat().st_size == remote.size and sha256_of(path) == remote.sha256:
            paths.append(path)
            continue
        try:
            paths.append(_download_file(remote, target, urls, timeout, deadline))
        except DownloadError as err:
            if path.is_file():  # the copy on disk is wrong and nothing replaced it: keep it, but not under its name
                aside = path.with_name(path.name + ".bad")
                os.replace(path, aside)
                err.args = (f"{err}\n{path} had the wrong size or digest; it was moved to {aside}",)
            failures.append(err)
    if failures:
        cls = ChecksumError if any(isinstance(err, ChecksumError) for err in failures) else DownloadError
        message = "\n".join(str(err) for err in failures)
        if len(failures) > 1:
            done = len(dataset.files) - len(failures)
            message = (
                f"{len(failures)} of the {len(dataset.files)} files of {name} failed ({done} verified):\n{message}"
            )
        raise cls(message)
    return paths
