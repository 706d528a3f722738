"""Shared fixtures for the meta-tasks tests."""

from __future__ import annotations

import http.server
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
import torch


@pytest.fixture
def device() -> torch.device:
    """The device under test, from ``META_TEST_DEVICE`` (``cpu`` unless nox says ``cuda``)."""
    return torch.device(os.environ.get("META_TEST_DEVICE", "cpu"))


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files whole (200) or from ``Range: bytes=N-`` on (206), as configured."""

    server: MirrorServer

    def do_GET(self) -> None:
        requested = self.headers.get("Range")
        self.server.requests.append((self.path.lstrip("/"), requested))
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        if requested is not None and self.server.ranges:
            start = int(re.fullmatch(r"bytes=(\d+)-", requested).group(1))  # type: ignore[union-attr]
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        self._send_body(data[start:])

    def _send_body(self, body: bytes) -> None:
        if self.server.cut_after is not None:  # the connection drops mid-transfer
            self.wfile.write(body[: self.server.cut_after])
            self.close_connection = True
            return
        for begin in range(0, len(body), 1 << 16):
            self.wfile.write(body[begin : begin + (1 << 16)])
            time.sleep(self.server.delay)

    def log_message(self, format: str, *args: object) -> None:
        pass


class MirrorServer(http.server.ThreadingHTTPServer):
    """A local mirror over a temp folder, recording ``(file name, Range header)`` requests."""

    def __init__(self, folder: Path) -> None:
        super().__init__(("127.0.0.1", 0), partial(RangeHandler, directory=str(folder)))
        self.folder = folder
        self.requests: list[tuple[str, str | None]] = []
        self.ranges = True
        self.cut_after: int | None = None
        self.delay = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


@pytest.fixture
def serve_mirror() -> Iterator[Callable[[Path], MirrorServer]]:
    """Start a local HTTP mirror over a folder: ``serve_mirror(folder) -> MirrorServer``.

    Every mirror started is shut down when the test ends.
    """
    running: list[tuple[MirrorServer, threading.Thread]] = []

    def serve(folder: Path) -> MirrorServer:
        server = MirrorServer(folder)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread))
        return server

    yield serve
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join()
