"""Downloads that fail in the ways ``tests/test_data_download.py`` does not stage, against a server on 127.0.0.1.

That file covers HTTP 404 and 500, a connection cut halfway, a server too
slow to answer, a body too long, a wrong checksum, each listed in the error
with nothing left behind, and verified files kept. Here: a mirror nobody
listens on, a connection reset before any answer, a transfer that stalls
halfway (the timeout applies to every block, not only to connecting), and a
mix of all of them ahead of a good mirror.
"""

from __future__ import annotations

import hashlib
import http.server
import re
import socket
import struct
import threading
import time

import numpy as np
import pytest

from minibp.data import download, write_idx
from minibp.data.remote import DATASETS, RemoteDataset, RemoteFile
from minibp.errors import ChecksumError, DownloadError

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
TIMEOUT = 0.4


class Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def log_message(self, *args):
        pass

    def do_GET(self):
        mode, _, name = self.path.strip("/").partition("/")
        body = self.files[name]
        if mode == "reset":  # close with RST before any answer
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "stall":  # half the body, then silence longer than the timeout
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            time.sleep(4 * TIMEOUT)
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server(tmp_path, monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    rng = np.random.default_rng(0)
    files = {}
    for name, shape in zip(NAMES, [(30, 28, 28), (30,), (6, 28, 28), (6,)]):
        path = tmp_path / f"{name}.gz"
        write_idx(path, rng.integers(0, 10 if len(shape) == 1 else 256, shape, dtype=np.uint8))
        files[path.name] = path.read_bytes()
    pinned = tuple(RemoteFile(n, len(b), hashlib.sha256(b).hexdigest()) for n, b in files.items())
    monkeypatch.setitem(DATASETS, "mnist", RemoteDataset(pinned, ("https://unused.invalid/",), "MINIBP_MNIST_MIRRORS"))
    handler = type("H", (Handler,), {"files": files})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    yield f"http://127.0.0.1:{httpd.server_address[1]}", f"http://127.0.0.1:{closed_port}/", files
    httpd.shutdown()
    httpd.server_close()


def contents(directory):
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_refused_reset_and_stalled_mirrors_are_each_reported_and_nothing_is_left(server, tmp_path):
    base, closed, _ = server
    mirrors = [closed, f"{base}/reset/", f"{base}/stall/"]
    target = tmp_path / "data"
    started = time.perf_counter()
    with pytest.raises(DownloadError) as info:
        download("mnist", target, mirrors=mirrors, timeout=TIMEOUT)
    assert time.perf_counter() - started < 10  # each failure costs about one timeout, not forever
    assert not isinstance(info.value, ChecksumError)
    message = str(info.value)
    assert message.startswith("4 of the 4 files of mnist failed")  # every file is tried, each one reported
    assert [f"could not download {n}.gz" in message for n in NAMES] == [True] * 4
    lines = message.splitlines()[2 : 2 + len(mirrors)]  # the first file's paragraph
    assert [line.split(": ", 1)[0].strip() for line in lines] == [m + "train-images-idx3-ubyte.gz" for m in mirrors]
    assert re.search(r"cannot connect \(.*[Rr]efused", lines[0])
    assert re.search(r"(reset|RemoteDisconnected|closed|aborted)", lines[1], re.IGNORECASE)
    assert re.search(r"timed out", lines[2])
    assert contents(target) == []  # no partial file, no temporary file


def test_a_good_mirror_after_failing_ones_delivers_verified_files(server, tmp_path):
    base, closed, files = server
    target = tmp_path / "data"
    paths = download("mnist", target, mirrors=[closed, f"{base}/reset/", f"{base}/stall/", f"{base}/good/"],
                     timeout=TIMEOUT)  # fmt: skip
    assert [p.read_bytes() for p in paths] == [files[f"{n}.gz"] for n in NAMES]
    assert contents(target) == sorted(f"{n}.gz" for n in NAMES)


def test_download_errors_are_os_errors_and_library_errors(server, tmp_path):
    _, closed, _ = server
    with pytest.raises(OSError) as info:
        download("mnist", tmp_path / "d", mirrors=[closed], timeout=TIMEOUT)
    from minibp.errors import MinibpError

    assert isinstance(info.value, MinibpError)
    assert "could not download train-images-idx3-ubyte.gz (" in str(info.value)
