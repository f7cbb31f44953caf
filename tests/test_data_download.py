"""Downloads against an HTTP server on 127.0.0.1 started by the tests: good, failing, cut, slow and wrong mirrors."""

from __future__ import annotations

import hashlib
import http.server
import re
import threading
import time

import numpy as np
import pytest

import minibp.data.remote as remote_module
from minibp.cli import main
from minibp.data import download, load_mnist, write_idx
from minibp.data.remote import DATASETS, RemoteDataset, RemoteFile, mirrors_for, sha256_of
from minibp.errors import ChecksumError, DownloadError

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
SLOW_SECONDS = 3.0
TIMEOUT = 0.5


def make_files(directory, rng) -> dict[str, bytes]:
    """Four small, valid MNIST-format gz files (60 training and 12 test images)."""
    arrays = (
        rng.integers(0, 256, size=(60, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, size=60, dtype=np.uint8),
        rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8),
        rng.integers(0, 10, size=12, dtype=np.uint8),
    )
    directory.mkdir()
    files = {}
    for name, array in zip(NAMES, arrays):
        path = directory / f"{name}.gz"
        write_idx(path, array)
        files[path.name] = path.read_bytes()
    return files


class Server:
    """A local HTTP server whose first path component picks a behaviour: /good/, /404/, /500/, /cut/, /slow/, ..."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output quiet
                pass

            def do_GET(self):
                server.requests.append(self.path)
                mode, _, name = self.path.strip("/").partition("/")
                body = server.files.get(name)
                if body is None or mode == "404":
                    self.send_error(404, "Not Found")
                    return
                if mode == "500":
                    self.send_error(500, "Internal Server Error")
                    return
                if mode == "slow":
                    time.sleep(SLOW_SECONDS)
                if mode == "wrong":
                    body = bytes(b ^ 0x55 for b in body)  # right length, wrong bytes
                if mode == "long":
                    body = body + b"more"
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if mode == "cut":  # the connection dies halfway through the body
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # a client that gave up is expected here
        self.httpd.block_on_close = False
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, mode: str) -> str:
        return f"{self.base}/{mode}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(tmp_path, rng, monkeypatch):
    """Serve four small files and pin their digests as the "mnist" data set."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.delenv("MINIBP_MNIST_MIRRORS", raising=False)
    files = make_files(tmp_path / "source", rng)
    pinned = tuple(RemoteFile(name, len(body), hashlib.sha256(body).hexdigest()) for name, body in files.items())
    monkeypatch.setitem(DATASETS, "mnist", RemoteDataset(pinned, ("https://unused.invalid/",), "MINIBP_MNIST_MIRRORS"))
    server = Server(files)
    yield server
    server.close()


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_good_mirror(served, tmp_path):
    target = tmp_path / "data"
    paths = download("mnist", target, mirrors=[served.url("good")], timeout=5)
    assert [p.name for p in paths] == [f"{n}.gz" for n in NAMES]
    for path in paths:
        assert path.read_bytes() == served.files[path.name]
    assert leftovers(target) == sorted(p.name for p in paths)  # no temporary files


def test_failing_mirror_then_good_one(served, tmp_path):
    target = tmp_path / "data"
    paths = download("mnist", target, mirrors=[served.url("404"), served.url("good")], timeout=5)
    assert all(p.read_bytes() == served.files[p.name] for p in paths)
    assert sum(r.startswith("/404/") for r in served.requests) == 4
    assert sum(r.startswith("/good/") for r in served.requests) == 4


def test_every_failure_is_reported_and_nothing_is_left(served, tmp_path):
    target = tmp_path / "data"
    modes = ["404", "500", "cut", "slow", "long", "wrong"]
    with pytest.raises(ChecksumError) as info:
        download("mnist", target, mirrors=[served.url(m) for m in modes], timeout=TIMEOUT)
    message = str(info.value)
    assert "train-images-idx3-ubyte.gz" in message
    for mode in modes:
        assert f"{served.url(mode)}train-images-idx3-ubyte.gz" in message
    assert re.search(r"/404/\S+: HTTP 404", message)
    assert re.search(r"/500/\S+: HTTP 500", message)
    assert re.search(r"/cut/\S+: .*(closed after \d+ of \d+ bytes|IncompleteRead)", message)
    assert re.search(r"/slow/\S+: .*timed out", message)
    assert re.search(r"/long/\S+: checksum mismatch: more than the expected \d+ bytes", message)
    assert re.search(r"/wrong/\S+: checksum mismatch: SHA-256 [0-9a-f]{64}, expected [0-9a-f]{64}", message)
    assert leftovers(target) == []


def test_interrupted_download_leaves_nothing(served, tmp_path):
    target = tmp_path / "data"
    with pytest.raises(DownloadError) as info:
        download("mnist", target, mirrors=[served.url("cut")], timeout=5)
    assert not isinstance(info.value, ChecksumError)
    assert isinstance(info.value, OSError)
    assert leftovers(target) == []


def test_checksum_mismatch_leaves_nothing(served, tmp_path):
    target = tmp_path / "data"
    with pytest.raises(ChecksumError, match="checksum mismatch"):
        download("mnist", target, mirrors=[served.url("wrong")], timeout=5)
    assert leftovers(target) == []


def test_slow_mirror_times_out_and_next_one_serves(served, tmp_path):
    target = tmp_path / "data"
    start = time.perf_counter()
    paths = download("mnist", target, mirrors=[served.url("slow"), served.url("good")], timeout=TIMEOUT)
    assert all(p.read_bytes() == served.files[p.name] for p in paths)
    assert time.perf_counter() - start < 4 * SLOW_SECONDS


def test_verified_files_are_kept_and_corrupt_ones_replaced(served, tmp_path):
    target = tmp_path / "data"
    download("mnist", target, mirrors=[served.url("good")], timeout=5)
    served.requests.clear()
    corrupt = target / "t10k-labels-idx1-ubyte.gz"
    corrupt.write_bytes(b"not the file")
    download("mnist", target, mirrors=[served.url("good")], timeout=5)
    assert served.requests == ["/good/t10k-labels-idx1-ubyte.gz"]
    assert corrupt.read_bytes() == served.files[corrupt.name]


def test_mirrors_from_the_environment(served, tmp_path, monkeypatch):
    monkeypatch.setenv("MINIBP_MNIST_MIRRORS", f"{served.url('500')} {served.base}/good")
    assert mirrors_for("mnist") == [served.url("500"), served.url("good")]
    paths = download("mnist", tmp_path / "data", timeout=5)
    assert all(sha256_of(p) == hashlib.sha256(served.files[p.name]).hexdigest() for p in paths)


def test_only_http_urls(served):
    for bad in ("file:///etc/", "ftp://example.org/mnist/"):
        with pytest.raises(ValueError, match="only https"):
            mirrors_for("mnist", [bad])
    with pytest.raises(ValueError, match="unknown data set"):
        mirrors_for("cifar")


def test_load_mnist_downloads_into_minibp_data(served, tmp_path, monkeypatch):
    monkeypatch.setenv("MINIBP_DATA", str(tmp_path / "home"))
    monkeypatch.setenv("MINIBP_MNIST_MIRRORS", served.url("good"))
    data = load_mnist(download=True)
    assert [X.shape[1] for X, _ in data] == [50, 10, 12]
    assert leftovers(tmp_path / "home" / "mnist") == sorted(f"{n}.gz" for n in NAMES)


def test_cli_data_download(served, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MINIBP_MNIST_MIRRORS", f"{served.url('404')} {served.url('good')}")
    assert main(["data", "download", "--dir", str(tmp_path / "d")]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(tmp_path / "d" / f"{n}.gz") for n in NAMES]
    monkeypatch.setenv("MINIBP_MNIST_MIRRORS", served.url("500"))
    assert main(["data", "download", "--dir", str(tmp_path / "e")]) == 1
    err = capsys.readouterr().err
    assert "HTTP 500" in err and served.url("500") in err


def test_pinned_digests_and_default_mirrors_are_well_formed():
    for name, dataset in remote_module.DATASETS.items():
        assert [f.name for f in dataset.files] == [f"{n}.gz" for n in NAMES], name
        for remote in dataset.files:
            assert re.fullmatch(r"[0-9a-f]{64}", remote.sha256)
            assert remote.size > 0
        assert len(dataset.mirrors) >= 2
        assert all(url.startswith("https://") for url in dataset.mirrors)


def test_a_corrupt_file_that_no_mirror_replaces_is_moved_aside(served, tmp_path):
    target = tmp_path / "data"
    download("mnist", target, mirrors=[served.url("good")], timeout=5)
    corrupt = target / "t10k-labels-idx1-ubyte.gz"
    corrupt.write_bytes(b"not the file")
    with pytest.raises(DownloadError, match="moved to .*t10k-labels-idx1-ubyte.gz.bad") as info:
        download("mnist", target, mirrors=[served.url("404")], timeout=5)
    assert "404" in str(info.value)  # the mirror's failure is still reported
    assert not corrupt.exists()
    assert (target / "t10k-labels-idx1-ubyte.gz.bad").read_bytes() == b"not the file"
    assert sorted(p.name for p in target.iterdir() if not p.name.endswith(".bad")) == sorted(
        f"{n}.gz" for n in NAMES[:3]
    )
