"""Shared fixtures for the meta-all tests."""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest
import torch


@pytest.fixture
def device() -> torch.device:
    """The device under test, from ``META_TEST_DEVICE`` (``cpu`` unless nox says ``cuda``)."""
    return torch.device(os.environ.get("META_TEST_DEVICE", "cpu"))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the files of one folder (whole, ``200``; ``404`` when missing), logging nothing."""

    server: FolderServer

    def do_GET(self) -> None:
        self.server.requests.append(self.path.lstrip("/"))
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:
        pass


class FolderServer(http.server.ThreadingHTTPServer):
    """A local HTTP server over a folder that records the paths requested."""

    def __init__(self, folder: Path) -> None:
        super().__init__(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        """The base URL, ending in ``/``: ``url + "name"`` serves ``folder / "name"``."""
        return f"http://127.0.0.1:{self.server_address[1]}/"


@pytest.fixture
def serve_folder() -> Iterator[Callable[[Path], FolderServer]]:
    """Serve a folder over local HTTP (no network): ``serve_folder(folder) -> FolderServer``.

    Every server started is shut down when the test ends.
    """
    running: list[tuple[FolderServer, threading.Thread]] = []

    def serve(folder: Path) -> FolderServer:
        server = FolderServer(folder)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        running.append((server, thread))
        return server

    yield serve
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join()
