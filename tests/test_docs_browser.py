"""The built site typesets its equations in a real browser, with no network but the loopback interface.

The site is served by an HTTP server this test starts on 127.0.0.1. Headless
Chromium, driven through the DevTools protocol on a pipe, loads a tutorial
page from it; every other host is routed to a "proxy" that refuses whatever
reaches it, and no host name but 127.0.0.1 resolves. The page must come out
with its equations typeset by the MathJax copy the site serves itself, and
every request the page made (as the DevTools network events list them) must
have gone to 127.0.0.1.
"""

from __future__ import annotations

import base64
import fcntl
import http.server
import json
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from _docs_site import built_site

CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"),
]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


def _site_handler(site: Path, requested: list[str]):
    class Site(_QuietHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(site), **kwargs)

        def do_GET(self):
            requested.append(self.path)
            super().do_GET()

    return Site


def _proxy_handler(attempts: list[str]):
    class Proxy(_QuietHandler):
        """Stands in for the outside world: records each request and refuses it."""

        def _refuse(self):
            attempts.append(f"{self.command} {self.path}")
            try:
                self.send_error(403, "no network in this test")
            except OSError:  # the browser gave up first
                pass

        do_GET = do_POST = do_HEAD = do_CONNECT = _refuse

    return Proxy


def _serve(handler) -> tuple[http.server.ThreadingHTTPServer, int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--disable-client-side-phishing-detection",
    "--disable-domain-reliability",
    "--no-pings",
    "--window-size=1280,1600",
)


def _high_fd(fd: int) -> int:
    """Return a duplicate of ``fd`` numbered 10 or more, closing ``fd``."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return high


class _DevTools:
    """Headless Chromium driven through the DevTools protocol on a pipe (``--remote-debugging-pipe``).

    Messages are JSON texts ended by a NUL byte; the browser reads commands on
    its file descriptor 3 and writes replies and events on 4.
    """

    def __init__(self, profile: Path, proxy_port: int) -> None:
        self._log_path = profile.with_name(profile.name + ".log")
        self._log = open(self._log_path, "wb")  # noqa: SIM115 - closed in close()
        to_read, self._to = os.pipe()
        self._from, from_write = os.pipe()
        # Move the child's ends above 9, so that the shell's 3<& and 4>& cannot overwrite them.
        to_read, from_write = (_high_fd(fd) for fd in (to_read, from_write))
        script = f'exec "$@" 3<&{to_read} 4>&{from_write} {to_read}<&- {from_write}>&-'
        self.process = subprocess.Popen(
            [
                "bash",  # dash, Debian's sh, takes only one-digit descriptors
                "-c",
                script,
                "bash",
                CHROMIUM,
                *_FLAGS,
                "--remote-debugging-pipe",
                f"--user-data-dir={profile}",
                f"--proxy-server=http://127.0.0.1:{proxy_port}",  # loopback bypasses it; anything else lands there
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "about:blank",
            ],
            pass_fds=(to_read, from_write),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        os.close(to_read)
        os.close(from_write)
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self.events: list[dict] = []
        self._lock = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        with os.fdopen(self._from, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 16):
                buffer += chunk
                *messages, buffer = buffer.split(b"\0")
                with self._lock:
                    for raw in messages:
                        message = json.loads(raw)
                        if "id" in message:
                            self._replies[message["id"]] = message
                        else:
                            self.events.append(message)
                    self._lock.notify_all()

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 120) -> dict:
        self._next_id += 1
        ident = self._next_id
        message = {"id": ident, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        try:
            os.write(self._to, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            status = self.process.wait()
            log = self._log_path.read_text(errors="replace")[-3000:]
            raise AssertionError(f"Chromium exited (status {status}) before {method}:\n{log}") from None
        deadline = time.monotonic() + timeout
        with self._lock:
            while ident not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.process.poll() is not None:
                    raise AssertionError(f"Chromium did not answer {method}")
                self._lock.wait(min(left, 1.0))
            reply = self._replies.pop(ident)
        if "error" in reply:
            raise AssertionError(f"{method} failed: {reply['error']}")
        return reply.get("result", {})

    def wait_for_event(self, method: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for event in self.events:
                    if event.get("method") == method:
                        return event
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {method} event from Chromium")
                self._lock.wait(min(left, 1.0))

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (AssertionError, OSError):
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to)
        self._log.close()


# MathJax's web fonts load once the typeset page is first drawn; wait for them before the picture.
_FONTS = """
(async () => {
  await document.fonts.ready;
  return [...document.fonts].filter((f) => f.status === "loaded").map((f) => f.family);
})()
"""

# Code blocks wider than their column (the window is 1,280 px wide): each as "scrollWidth > clientWidth: text".
_OVERFLOWING_CODE = """
[...document.querySelectorAll(".md-content pre > code")]
  .filter((code) => code.scrollWidth > code.clientWidth + 1)
  .map((code) => `${code.scrollWidth} > ${code.clientWidth}: ${code.textContent.slice(0, 60)}`)
"""

_TYPESET = """
(async () => {
  if (!window.MathJax || !MathJax.startup) { return -1; }
  await MathJax.startup.promise;
  return document.querySelectorAll("mjx-container").length;
})()
"""


def _load_backprop_page(tmp: Path) -> tuple[str, list[str], list[str], list[str], Path, list[str]]:
    """Return the typeset DOM, the paths served, the proxy's refusals, the page's request URLs, a screenshot
    and the code blocks wider than their column."""
    site, _ = built_site()
    requested: list[str] = []
    attempts: list[str] = []
    site_server, site_port = _serve(_site_handler(site, requested))
    proxy_server, proxy_port = _serve(_proxy_handler(attempts))
    browser = _DevTools(tmp / "profile", proxy_port)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        browser.send("Network.enable", session=session)
        browser.send("Page.enable", session=session)
        url = f"http://127.0.0.1:{site_port}/tutorials/backprop/"
        browser.send("Page.navigate", {"url": url}, session=session)
        browser.wait_for_event("Page.loadEventFired")
        typeset = browser.send(
            "Runtime.evaluate", {"expression": _TYPESET, "awaitPromise": True, "returnByValue": True}, session=session
        )["result"]["value"]
        assert typeset > 0, "MathJax did not start"
        dom = browser.send(
            "Runtime.evaluate",
            {"expression": "document.documentElement.outerHTML", "returnByValue": True},
            session=session,
        )["result"]["value"]
        browser.send("Page.captureScreenshot", {"format": "png"}, session=session)  # draws the page once
        fonts = browser.send(
            "Runtime.evaluate", {"expression": _FONTS, "awaitPromise": True, "returnByValue": True}, session=session
        )["result"]["value"]
        assert any(f.startswith("MJXTEX") for f in fonts), f"MathJax's fonts did not load: {fonts}"
        overflowing = browser.send(
            "Runtime.evaluate", {"expression": _OVERFLOWING_CODE, "returnByValue": True}, session=session
        )["result"]["value"]
        png = browser.send("Page.captureScreenshot", {"format": "png"}, session=session)["data"]
        screenshot = tmp / "backprop.png"
        screenshot.write_bytes(base64.b64decode(png))
        with browser._lock:
            page_requests = [
                e["params"]["request"]["url"]
                for e in browser.events
                if e.get("method") == "Network.requestWillBeSent" and e.get("sessionId") == session
            ]
    finally:
        browser.close()
        for server in (site_server, proxy_server):
            server.shutdown()
            server.server_close()
    return dom, requested, attempts, page_requests, screenshot, overflowing


@pytest.fixture(scope="module")
def backprop_page(tmp_path_factory):
    return _load_backprop_page(tmp_path_factory.mktemp("chromium"))


def test_equations_are_typeset_offline(backprop_page):
    dom, requested = backprop_page[:2]
    containers = re.findall(r"<mjx-container[^>]*>", dom)
    displays = [c for c in containers if 'display="true"' in c]
    assert len(containers) >= 50, f"only {len(containers)} typeset formulas"
    assert len(displays) >= 15, f"only {len(displays)} typeset display equations"
    assert "<mjx-merror" not in dom, "MathJax reported a TeX error"
    assert any(path.endswith("/assets/mathjax/tex-chtml.js") for path in requested), requested
    assert any("/assets/mathjax/output/chtml/fonts/woff-v2/" in path for path in requested), "fonts not loaded"


def test_the_page_requests_nothing_from_another_host(backprop_page):
    _, requested, attempts, page_requests = backprop_page[:4]
    assert requested, "the page was never requested from the local server"
    assert any(url.endswith("/assets/mathjax/tex-chtml.js") for url in page_requests), page_requests
    hosts = {urlsplit(url).hostname for url in page_requests if urlsplit(url).scheme not in ("data", "blob", "about")}
    assert hosts == {"127.0.0.1"}, f"the page asked other hosts: {sorted(h for h in hosts if h != '127.0.0.1')}"
    # (Chromium's own background services may also try to reach the internet; the proxy refuses them,
    # and they are no part of the page, so `attempts` is not asserted empty.)


def test_code_fits_the_column_at_1280_px(backprop_page):
    """Long lines of code wrap (docs/stylesheets/extra.css) instead of running off the right edge."""
    overflowing = backprop_page[5]
    assert overflowing == [], f"code blocks wider than their column: {overflowing}"


def test_screenshot_is_taken(backprop_page):
    screenshot = backprop_page[4]
    assert screenshot.is_file() and screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
