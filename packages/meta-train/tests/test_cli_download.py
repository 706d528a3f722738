"""``meta-train download omniglot --root DIR`` end to end, against a local HTTP server."""

from __future__ import annotations

import hashlib
import http.server
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from meta_tasks import OMNIGLOT_RUNS_ARCHIVE, OMNIGLOT_SUBSETS
from meta_train.cli import _download, build_parser, main

REPO_ROOT = Path(__file__).resolve().parents[3]
OMNIGLOT_ROOT = Path(
    os.environ.get("META_OMNIGLOT_ROOT", REPO_ROOT.parent / "shared" / "data" / "omniglot")
)
OFFICIAL = (*OMNIGLOT_SUBSETS["background_small"], OMNIGLOT_RUNS_ARCHIVE)
needs_data = pytest.mark.skipif(
    not all((OMNIGLOT_ROOT / name).is_file() for name in OFFICIAL),
    reason=f"real Omniglot archives not found in {OMNIGLOT_ROOT} (set META_OMNIGLOT_ROOT)",
)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``(base URL, served folder)`` of a local server over a temp copy of the real archives."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    for name in OFFICIAL:
        if (OMNIGLOT_ROOT / name).is_file():
            shutil.copyfile(OMNIGLOT_ROOT / name, folder / name)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(QuietHandler, directory=str(folder))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", folder
    server.shutdown()
    server.server_close()
    thread.join()


def meta_train(argv: list[str]) -> int:
    """``meta-train <argv>``, in process."""
    return main(argv)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.data
@needs_data
def test_download_then_already_present(
    tmp_path: Path, mirror: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _ = mirror
    root = tmp_path / "omniglot"
    assert meta_train(["download", "omniglot", "--root", str(root), "--base-url", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(OFFICIAL)
    # the official archives' sizes, as the command rounds them
    sizes = {
        "images_background_small1.zip": "1.3 MB",
        "images_background_small2.zip": "1.6 MB",
        OMNIGLOT_RUNS_ARCHIVE: "352.8 KB",
    }
    for line, name in zip(lines, OFFICIAL, strict=True):
        digest = sha256(OMNIGLOT_ROOT / name)
        size = sizes[name]
        assert line == f"{root / name}: downloaded, {size} (SHA-256 {digest[:12]}... verified)"
        assert sha256(root / name) == digest
    assert sorted(path.name for path in root.iterdir()) == sorted(OFFICIAL)

    assert meta_train(["download", "omniglot", "--root", str(root), "--base-url", url]) == 0
    again = capsys.readouterr().out.splitlines()
    assert [line.replace("already present", "downloaded") for line in again] == lines


def test_subset_and_no_runs_choose_the_archives(
    tmp_path: Path, mirror: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, folder = mirror
    with zipfile.ZipFile(folder / "images_evaluation.zip", "w") as archive:
        archive.writestr("images_evaluation/Alpha/character01/0101.png", b"png")
    root = tmp_path / "omniglot"
    argv = ["download", "omniglot", "--root", str(root), "--base-url", url]
    assert meta_train([*argv, "--subset", "evaluation", "--no-runs"]) == 0
    out = capsys.readouterr().out
    size = (folder / "images_evaluation.zip").stat().st_size
    assert out == (
        f"{root / 'images_evaluation.zip'}: downloaded, {size} B (no known SHA-256: only the "
        "zip's member CRCs were checked)\n"
    )
    assert sorted(path.name for path in root.iterdir()) == ["images_evaluation.zip"]


def test_unreachable_base_url_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    root = tmp_path / "omniglot"
    assert meta_train(["download", "omniglot", "--root", str(root), "--base-url", url]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(
        f"meta-train download: error: could not download images_background_small1.zip from "
        f"{url}images_background_small1.zip into {root}: "
    )
    assert list(root.iterdir()) == []


def test_base_url_that_is_no_url_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "omniglot"
    argv = ["download", "omniglot", "--root", str(root), "--base-url", "mirror/"]
    assert meta_train(argv) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(
        r"meta-train download: error: could not download \S+ from mirror/\S+ into .*: "
        r"unknown url type: .*yourself\n",
        err,
    ), err


@pytest.mark.data
@needs_data
def test_corrupted_archive_is_refused_with_exit_2(
    tmp_path: Path, mirror: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    url, folder = mirror
    served = folder / OMNIGLOT_RUNS_ARCHIVE
    data = bytearray(served.read_bytes())
    data[1000] ^= 0xFF
    served.write_bytes(bytes(data))
    root = tmp_path / "omniglot"
    argv = ["download", "omniglot", "--root", str(root), "--base-url", url]
    assert meta_train(argv) == 2
    err = capsys.readouterr().err
    assert err == (
        f"meta-train download: error: checksum mismatch for {OMNIGLOT_RUNS_ARCHIVE} downloaded "
        f"from {url}{OMNIGLOT_RUNS_ARCHIVE}: expected SHA-256 "
        f"{sha256(OMNIGLOT_ROOT / OMNIGLOT_RUNS_ARCHIVE)}, got "
        f"{hashlib.sha256(data).hexdigest()}; the file was discarded\n"
    )
    # the archives before it are kept, verified; the corrupted one left nothing behind
    assert sorted(path.name for path in root.iterdir()) == sorted(OFFICIAL[:-1])


def test_root_that_is_a_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "file"
    root.write_text("x")
    assert meta_train(["download", "omniglot", "--root", str(root)]) == 2
    assert capsys.readouterr().err == (
        f"meta-train download: error: root {str(root)!r} exists and is not a directory\n"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["download", "omniglot"], "the following arguments are required: --root"),
        (["download", "mnist", "--root", "x"], "argument dataset: invalid choice: 'mnist'"),
        (
            ["download", "omniglot", "--root", "x", "--subset", "small"],
            "argument --subset: invalid choice: 'small'",
        ),
    ],
)
def test_bad_arguments_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        meta_train(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"meta-train download: error: {message}" in err


def test_interrupt_exits_130_without_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(_download, "download_omniglot", interrupted)
    root = tmp_path / "omniglot"
    assert meta_train(["download", "omniglot", "--root", str(root)]) == 130
    assert capsys.readouterr().err == (
        f"meta-train download: interrupted; the partial download is kept in {root}: run the "
        "same command again to resume it\n"
    )


@pytest.mark.data
@needs_data
def test_python_m_meta_train_download(tmp_path: Path, mirror: tuple[str, Path]) -> None:
    url, _ = mirror
    root = tmp_path / "omniglot"
    command = [sys.executable, "-m", "meta_train", "download", "omniglot", "--root", str(root)]
    done = subprocess.run(
        [*command, "--base-url", url, "--no-runs"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"{root / name}: downloaded, {size} (SHA-256 {sha256(OMNIGLOT_ROOT / name)[:12]}... "
        "verified)"
        for name, size in zip(
            OMNIGLOT_SUBSETS["background_small"], ["1.3 MB", "1.6 MB"], strict=True
        )
    ]
    failed = subprocess.run(
        [*command, "--base-url", "http://127.0.0.1:1/"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert failed.returncode == 2
    assert failed.stdout == ""
    assert failed.stderr.startswith("meta-train download: error: could not download ")
    assert failed.stderr.count("\n") == 1  # one line, no traceback


def test_download_is_listed_in_the_help() -> None:
    assert "download" in build_parser().format_help()
