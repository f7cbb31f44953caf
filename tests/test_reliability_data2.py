"""Reliability, round 2, for data: downloads end in bounded time, and loaders state and bound their memory.

Downloads run against an HTTP server on 127.0.0.1 that the tests start: a
mirror that trickles one byte at a time (the body, or the headers) is cut at
the deadline; bad timeouts are refused before any connection; a failing file
does not stop the others. Loaders: the book's ``mnist.pkl.gz`` is recognised
and never unpickled; a small gzip whose IDX header declares far more pixels
than ``max_bytes`` allows is refused from its header alone, naming the size.
"""

from __future__ import annotations

import gc
import gzip
import hashlib
import http.server
import math
import pickle
import struct
import threading
import time
import tracemalloc
import warnings
import zlib

import numpy as np
import pytest

from minibp.data import (
    DataNotFoundError,
    download,
    is_pickle,
    load_dataset,
    load_fashion_mnist,
    load_idx_directory,
    load_mnist,
    load_sample,
    read_idx,
)
from minibp.data._common import DEFAULT_MAX_BYTES
from minibp.data.remote import DATASETS, RemoteDataset, RemoteFile
from minibp.errors import DataFormatError, DownloadError

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TRICKLE = 0.3  # seconds between two bytes: far below any per-read timeout, so only a total deadline stops it


# ---------------------------------------------------------------- a local server


class Server:
    """Serves ``files`` under /good/, /missing/ (404 for ``missing`` names), /trickle/ and /trickle-head/."""

    def __init__(self, files: dict[str, bytes], missing: frozenset[str] = frozenset()):
        self.files, self.missing, self.requests = files, missing, []
        self.stop = threading.Event()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def trickle(self, data: bytes) -> None:
                for i in range(len(data)):
                    if server.stop.wait(TRICKLE):
                        return
                    self.wfile.write(data[i : i + 1])  # raises once the client has cut the connection
                    self.wfile.flush()

            def do_GET(self):
                server.requests.append(self.path)
                mode, _, name = self.path.strip("/").partition("/")
                body = server.files[name]
                if mode == "missing" and name in server.missing:
                    self.send_error(404, "Not Found")
                    return
                head = f"HTTP/1.0 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
                self.close_connection = True
                if mode == "trickle-head":
                    self.trickle(head + body)
                elif mode == "trickle":
                    self.wfile.write(head)
                    self.wfile.flush()
                    self.trickle(body)
                else:
                    self.wfile.write(head + body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.block_on_close = False
        self.httpd.handle_error = lambda request, address: None  # a client that hung up is expected here
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, mode: str) -> str:
        return f"{self.base}/{mode}/"

    def close(self) -> None:
        self.stop.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def idx_gz(array: np.ndarray) -> bytes:
    return gzip.compress(struct.pack(f">HBB{array.ndim}I", 0, 8, array.ndim, *array.shape) + array.tobytes(), mtime=0)


@pytest.fixture
def files(monkeypatch, rng):
    """Four small MNIST-format files, pinned as the "mnist" data set; no proxy between us and 127.0.0.1."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.delenv("MINIBP_MNIST_MIRRORS", raising=False)
    shapes = [(30, 28, 28), (30,), (6, 28, 28), (6,)]
    bodies = {f"{n}.gz": idx_gz(rng.integers(0, 10, s, dtype=np.uint8)) for n, s in zip(NAMES, shapes)}
    pinned = tuple(RemoteFile(n, len(b), hashlib.sha256(b).hexdigest()) for n, b in bodies.items())
    monkeypatch.setitem(DATASETS, "mnist", RemoteDataset(pinned, ("https://unused.invalid/",), "MINIBP_MNIST_MIRRORS"))
    return bodies


@pytest.fixture
def server(files):
    s = Server(files, missing=frozenset({"train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}))
    yield s
    s.close()


def one_file(monkeypatch, files) -> None:
    """Pin a data set of the first file alone, so that a test waits for one deadline, not four."""
    name, body = next(iter(files.items()))
    pinned = (RemoteFile(name, len(body), hashlib.sha256(body).hexdigest()),)
    monkeypatch.setitem(DATASETS, "mnist", RemoteDataset(pinned, ("https://unused.invalid/",), "MINIBP_MNIST_MIRRORS"))


# ---------------------------------------------------------------- item 6: downloads end in bounded time


@pytest.mark.parametrize(("mode", "deadline"), [("trickle", 1.2), ("trickle-head", 0.8)])
def test_a_trickling_mirror_is_cut_at_the_deadline(server, files, monkeypatch, tmp_path, mode, deadline):
    """One byte every 0.3 s never trips a 5 s timeout per read; the deadline ends the transfer all the same."""
    one_file(monkeypatch, files)
    target = tmp_path / "data"
    started = time.perf_counter()
    with pytest.raises(DownloadError, match=rf"timed out: not complete after the deadline of {deadline:g} s"):
        download("mnist", target, mirrors=[server.url(mode)], timeout=5, deadline=deadline)
    elapsed = time.perf_counter() - started
    assert deadline <= elapsed < deadline + 2, elapsed
    assert list(target.iterdir()) == []  # no partial file, no temporary file


def test_after_a_trickling_mirror_the_next_one_delivers(server, files, monkeypatch, tmp_path):
    one_file(monkeypatch, files)
    started = time.perf_counter()
    (path,) = download("mnist", tmp_path, mirrors=[server.url("trickle"), server.url("good")], timeout=5, deadline=0.5)
    assert path.read_bytes() == files[path.name]
    assert time.perf_counter() - started < 3


BAD_SECONDS = [(-1, ValueError), (0, ValueError), (math.nan, ValueError), (math.inf, ValueError), ("5", TypeError),
               (True, TypeError)]  # fmt: skip


@pytest.mark.parametrize(
    ("argument", "value", "error"),
    [("timeout", v, e) for v, e in [*BAD_SECONDS, (None, TypeError)]] + [("deadline", v, e) for v, e in BAD_SECONDS],
)  # deadline=None is the default deadline; timeout=None (wait forever) is refused
def test_bad_timeouts_are_refused_before_any_connection(server, tmp_path, argument, value, error):
    target = tmp_path / "data"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(error, match=rf"{argument} must be a"):
            download("mnist", target, mirrors=[server.url("good")], **{argument: value})
        gc.collect()  # an unclosed socket would warn here
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert server.requests == []  # nothing was asked of the server
    assert not target.exists()  # nothing was created either


def test_a_failing_file_does_not_stop_the_others(server, files, tmp_path):
    """The first file fails; the two after it are downloaded; the corrupt last one is moved to .bad."""
    target = tmp_path / "data"
    target.mkdir()
    corrupt = target / "t10k-labels-idx1-ubyte.gz"
    corrupt.write_bytes(b"not the file")
    with pytest.raises(DownloadError) as info:
        download("mnist", target, mirrors=[server.url("missing")], timeout=5)
    message = str(info.value)
    assert message.startswith("2 of the 4 files of mnist failed (2 verified)")
    assert "could not download train-images-idx3-ubyte.gz" in message
    assert "could not download t10k-labels-idx1-ubyte.gz" in message
    assert f"moved to {corrupt}.bad" in message
    assert sorted(server.requests) == sorted(f"/missing/{n}.gz" for n in NAMES)  # every file was tried
    for name in ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        assert (target / name).read_bytes() == files[name]
    assert not corrupt.exists()  # a loader can no longer pick it up...
    assert (target / "t10k-labels-idx1-ubyte.gz.bad").read_bytes() == b"not the file"  # ...and it is not lost
    assert sorted(p.name for p in target.iterdir()) == sorted(
        ["train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz.bad"]
    )


# ---------------------------------------------------------------- item 6: the book's mnist.pkl.gz


@pytest.fixture
def book_pickle(tmp_path, monkeypatch):
    """A stand-in for the book's mnist.pkl.gz: gzip around the bytes a protocol-2 pickle starts with.

    Nothing may unpickle it: every entry point of the pickle module fails the test.
    """

    def trap(*args, **kwargs):
        raise AssertionError("a data file was unpickled")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, trap)
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x01.", mtime=0))
    return path


def assert_points_to_idx(message: str) -> None:
    assert "pickle" in message and "never unpickles" in message
    assert "IDX files" in message and "minibp data download" in message


@pytest.mark.parametrize(
    "load", [load_mnist, load_fashion_mnist, load_idx_directory, load_dataset, lambda p: load_dataset(str(p))]
)
def test_the_book_pickle_passed_to_a_loader_points_to_the_idx_files(book_pickle, load):
    with pytest.raises(DataFormatError) as info:
        load(book_pickle)
    assert str(info.value).startswith(f"{book_pickle} is a Python pickle")
    assert_points_to_idx(str(info.value))


def test_the_book_pickle_in_the_data_directory_is_named(book_pickle, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "mnist").mkdir(parents=True)
    book_pickle.rename(home / "mnist" / "mnist.pkl.gz")
    monkeypatch.setenv("MINIBP_DATA", str(home))
    for load in (load_mnist, lambda: load_dataset("mnist"), lambda: load_idx_directory(home / "mnist")):
        with pytest.raises(DataNotFoundError) as info:
            load()
        assert f"{home / 'mnist' / 'mnist.pkl.gz'} is a Python pickle" in str(info.value)
        assert_points_to_idx(str(info.value))


@pytest.mark.parametrize("start", [b"\x80\x02", b"\x80\x04", b"((cnumpy", b"(cnumpy"])  # protocols 2, 4, 1/0
def test_a_pickle_under_another_name_is_recognised_by_its_bytes(book_pickle, tmp_path, start):
    disguised = tmp_path / "train-images-idx3-ubyte.gz"
    disguised.write_bytes(gzip.compress(start + b".core.multiarray\n_reconstruct\n.", mtime=0))
    assert is_pickle(disguised)
    with pytest.raises(DataFormatError) as info:
        read_idx(disguised)
    assert str(info.value).startswith(f"{disguised} is a Python pickle")
    assert_points_to_idx(str(info.value))


def test_idx_files_are_not_mistaken_for_pickles(tmp_path, rng):
    for name, data in [("a.gz", idx_gz(rng.integers(0, 256, (3, 28, 28), dtype=np.uint8))), ("b", b"(not gzip")]:
        (tmp_path / name).write_bytes(data)
        assert not is_pickle(tmp_path / name)


# ---------------------------------------------------------------- item 11: memory is stated and bounded


def bomb(n: int, *, zeros: int | None = None) -> bytes:
    """A gzip IDX file declaring ``n`` 28x28 images, followed by ``zeros`` zero bytes (all of them by default)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # the gzip container
    parts = [compressor.compress(struct.pack(">HBB3I", 0, 8, 3, n, 28, 28))]
    left = n * 784 if zeros is None else zeros
    while left:
        block = min(left, 1 << 20)
        parts.append(compressor.compress(bytes(block)))
        left -= block
    return b"".join(parts) + compressor.flush()


def bomb_dir(directory, n: int, *, zeros: int | None = None):
    directory.mkdir()
    (directory / "train-images-idx3-ubyte.gz").write_bytes(bomb(n, zeros=zeros))
    (directory / "train-labels-idx1-ubyte.gz").write_bytes(idx_gz(np.zeros(n, np.uint8)))
    (directory / "t10k-images-idx3-ubyte.gz").write_bytes(idx_gz(np.zeros((10, 28, 28), np.uint8)))
    (directory / "t10k-labels-idx1-ubyte.gz").write_bytes(idx_gz(np.zeros(10, np.uint8)))
    return directory


def test_a_small_gzip_holding_many_pixels_is_refused_naming_the_size(tmp_path):
    """2,000 images of zeros: 2 kB of gzip, 12.5 MB as float64; with max_bytes=1,000,000 nothing is decompressed."""
    directory = bomb_dir(tmp_path / "bomb", 2000)
    assert (directory / "train-images-idx3-ubyte.gz").stat().st_size < 10_000
    need = (2000 + 10) * (784 * 8 + 8)  # X as float64, y as int64
    with pytest.raises(DataFormatError, match=rf"would take {need:,} bytes .*more than max_bytes=1,000,000"):
        load_idx_directory(directory, max_bytes=1_000_000)
    with pytest.raises(DataFormatError, match=rf"would take {need // 2 + 2010 * 4:,} bytes"):  # float32 halves X
        load_idx_directory(directory, max_bytes=1_000_000, dtype=np.float32)
    with pytest.raises(DataFormatError, match=r"shape \(2000, 28, 28\) of uint8 would take 1,568,000 bytes"):
        read_idx(directory / "train-images-idx3-ubyte.gz", max_bytes=1_000_000)
    X, _ = load_idx_directory(directory, max_bytes=need).training  # exactly enough is enough
    assert X.shape == (784, 2000 - 2000 // 6)


def test_the_size_is_checked_before_the_body_is_decompressed(tmp_path):
    """The body is cut short: had anything past the header been read, the error would be about truncation."""
    directory = bomb_dir(tmp_path / "bomb", 2000, zeros=1000)
    with pytest.raises(DataFormatError, match="more than max_bytes"):
        load_idx_directory(directory, max_bytes=1_000_000)
    with pytest.raises(DataFormatError, match="truncated"):
        load_idx_directory(directory)


def test_the_default_limit_refuses_a_declared_gigabyte_without_allocating_it(tmp_path):
    """512 MB of declared pixels (4.0 GB as float64) behind a tiny file: refused by default, with no allocation."""
    directory = bomb_dir(tmp_path / "bomb", 653_062, zeros=0)  # 653,062 x 784 bytes = 512 MB
    tracemalloc.start()
    try:
        with pytest.raises(DataFormatError, match=r"would take 4,\d{3},\d{3},\d{3} bytes \(4\.\d GB\)"):
            load_mnist(directory)
        with pytest.raises(DataFormatError, match=r"would take 2,\d{3},\d{3},\d{3} bytes"):
            load_mnist(directory, dtype=np.float32)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, f"refusing the file allocated {peak} bytes"


def test_the_default_limit_fits_mnist_in_float64_and_the_documented_sizes_are_right():
    mnist = 70_000 * (784 * 8 + 8)
    assert mnist == 439_600_000 < DEFAULT_MAX_BYTES == 1 << 30
    assert 70_000 * (784 * 4 + 8) == 220_080_000
    for doc in (load_mnist.__doc__, load_idx_directory.__doc__):
        assert "439,600,000" in doc
    assert "220,080,000" in load_mnist.__doc__
    sizes = [sum(X.nbytes + y.nbytes for X, y in load_sample(dtype=dtype)) for dtype in (np.float64, np.float32)]
    assert sizes == [31_400_000, 15_720_000]  # the splits are views that share two arrays, X and y
    import minibp.data.sample as sample_module

    assert "31,400,000" in sample_module.__doc__ and "15,720,000" in sample_module.__doc__


def test_the_sample_obeys_max_bytes_too():
    with pytest.raises(DataFormatError, match=r"bundled sample.* would take 31,400,000 bytes"):
        load_sample(max_bytes=10_000_000)
    with pytest.raises(DataFormatError, match="would take 15,720,000 bytes"):
        load_dataset("sample", dtype=np.float32, max_bytes=10_000_000)
    assert load_sample(max_bytes=None).training[0].shape == (784, 4000)


@pytest.mark.parametrize(("value", "error"), [(0, ValueError), (-5, ValueError), (1.5, TypeError), (True, TypeError)])
def test_bad_max_bytes_are_refused(tmp_path, value, error):
    directory = bomb_dir(tmp_path / "d", 20)
    for load in (load_idx_directory, load_mnist, load_dataset, read_idx):
        path = directory / "train-images-idx3-ubyte.gz" if load is read_idx else directory
        with pytest.raises(error, match="max_bytes must be"):
            load(path, max_bytes=value)
