"""download_omniglot against a local HTTP server: checksums, resumed transfers, zip-slip, skips."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from meta_tasks import OMNIGLOT_RUNS_ARCHIVE, OMNIGLOT_SUBSETS, ArchiveDownload, download_omniglot

if TYPE_CHECKING:
    from conftest import MirrorServer

REPO_ROOT = Path(__file__).resolve().parents[3]
DATA_ROOT = Path(
    os.environ.get("META_OMNIGLOT_ROOT", REPO_ROOT.parent / "shared" / "data" / "omniglot")
)
SMALL = OMNIGLOT_SUBSETS["background_small"]
OFFICIAL = (*SMALL, OMNIGLOT_RUNS_ARCHIVE)
RUNS = OMNIGLOT_RUNS_ARCHIVE

needs_data = pytest.mark.skipif(
    not all((DATA_ROOT / name).is_file() for name in OFFICIAL),
    reason=f"real Omniglot archives not found in {DATA_ROOT} (set META_OMNIGLOT_ROOT)",
)


@pytest.fixture
def mirror(tmp_path: Path, serve_mirror: Callable[[Path], MirrorServer]) -> MirrorServer:
    """A running mirror serving a temp copy of the real archives that exist."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    for name in OFFICIAL:
        if (DATA_ROOT / name).is_file():
            shutil.copyfile(DATA_ROOT / name, folder / name)
    return serve_mirror(folder)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def evil_zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("images_background/Alpha/character01/0101.png", b"png")
        info = zipfile.ZipInfo("placeholder")
        info.filename = "../evil"  # bypass zipfile's normalisation to craft the hostile name
        archive.writestr(info, b"escaped")
    return path


def listing(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


@pytest.mark.data
@needs_data
def test_full_download_is_verified(tmp_path: Path, mirror: MirrorServer) -> None:
    root = tmp_path / "omniglot"
    seen: list[tuple[str, int, int | None]] = []
    results = download_omniglot(
        root, base_url=mirror.url, progress=lambda *event: seen.append(event)
    )
    assert [result.path for result in results] == [root / name for name in OFFICIAL]
    for result, name in zip(results, OFFICIAL, strict=True):
        assert isinstance(result, ArchiveDownload)
        assert result.status == "downloaded"
        assert result.verified
        assert result.sha256 == sha256(DATA_ROOT / name) == sha256(root / name)
        assert result.size == (DATA_ROOT / name).stat().st_size
        size = result.size
        assert seen[[event[0] for event in seen].index(name)][2] == size
        assert [event[1] for event in seen if event[0] == name][-1] == size
    assert listing(root) == sorted(OFFICIAL)  # no .part file left behind
    assert mirror.requests == [(name, None) for name in OFFICIAL]


@pytest.mark.data
@needs_data
def test_partial_download_is_resumed_with_a_range_request(
    tmp_path: Path, mirror: MirrorServer
) -> None:
    root = tmp_path / "omniglot"
    root.mkdir()
    full = (DATA_ROOT / RUNS).read_bytes()
    (root / f".{RUNS}.part").write_bytes(full[:100_000])
    (result,) = download_omniglot(root, subsets=[], base_url=mirror.url)
    assert mirror.requests == [(RUNS, "bytes=100000-")]
    assert result.status == "resumed"
    assert result.verified
    assert (root / RUNS).read_bytes() == full
    assert listing(root) == [RUNS]


@pytest.mark.data
@needs_data
def test_interrupted_transfer_keeps_its_part_and_the_next_call_resumes(
    tmp_path: Path, mirror: MirrorServer
) -> None:
    root = tmp_path / "omniglot"
    mirror.cut_after = 50_000
    with pytest.raises(OSError, match=r"50000 bytes kept in \.all_runs\.zip\.part: run again"):
        download_omniglot(root, subsets=[], base_url=mirror.url)
    assert listing(root) == [f".{RUNS}.part"]
    mirror.cut_after = None
    (result,) = download_omniglot(root, subsets=[], base_url=mirror.url)
    assert mirror.requests == [(RUNS, None), (RUNS, "bytes=50000-")]
    assert result.status == "resumed"
    assert sha256(root / RUNS) == sha256(DATA_ROOT / RUNS)
    assert listing(root) == [RUNS]


@pytest.mark.data
@needs_data
def test_server_without_ranges_restarts_from_the_first_byte(
    tmp_path: Path, mirror: MirrorServer
) -> None:
    root = tmp_path / "omniglot"
    root.mkdir()
    (root / f".{RUNS}.part").write_bytes(b"stale bytes of some other file")
    mirror.ranges = False  # answers 200 with the whole file
    (result,) = download_omniglot(root, subsets=[], base_url=mirror.url)
    assert mirror.requests == [(RUNS, "bytes=30-")]
    assert result.status == "downloaded"
    assert sha256(root / RUNS) == sha256(DATA_ROOT / RUNS)
    assert listing(root) == [RUNS]


@pytest.mark.data
@needs_data
def test_part_longer_than_the_archive_restarts_after_416(
    tmp_path: Path, mirror: MirrorServer
) -> None:
    root = tmp_path / "omniglot"
    root.mkdir()
    full = (DATA_ROOT / RUNS).read_bytes()
    (root / f".{RUNS}.part").write_bytes(full + b"trailing")
    (result,) = download_omniglot(root, subsets=[], base_url=mirror.url)
    assert mirror.requests == [(RUNS, f"bytes={len(full) + 8}-"), (RUNS, None)]
    assert result.status == "downloaded"
    assert (root / RUNS).read_bytes() == full


@pytest.mark.data
@needs_data
def test_corrupted_served_archive_is_refused_and_leaves_no_file(
    tmp_path: Path, mirror: MirrorServer
) -> None:
    served = mirror.folder / RUNS
    data = bytearray(served.read_bytes())
    data[1000] ^= 0xFF
    served.write_bytes(bytes(data))
    root = tmp_path / "omniglot"
    expected, actual = sha256(DATA_ROOT / RUNS), hashlib.sha256(data).hexdigest()
    with pytest.raises(ValueError, match="checksum mismatch") as info:
        download_omniglot(root, subsets=[], base_url=mirror.url)
    assert str(info.value) == (
        f"checksum mismatch for {RUNS} downloaded from {mirror.url}{RUNS}: expected SHA-256 "
        f"{expected}, got {actual}; the file was discarded"
    )
    assert listing(root) == []


@pytest.mark.data
@needs_data
def test_resumed_bytes_that_do_not_match_are_discarded_then_fetched_whole(
    tmp_path: Path, mirror: MirrorServer
) -> None:
    root = tmp_path / "omniglot"
    root.mkdir()
    (root / f".{RUNS}.part").write_bytes(b"\0" * 4096)  # not a prefix of the archive
    with pytest.raises(ValueError, match=r"checksum mismatch for all_runs\.zip downloaded"):
        download_omniglot(root, subsets=[], base_url=mirror.url)
    assert listing(root) == []
    (result,) = download_omniglot(root, subsets=[], base_url=mirror.url)
    assert result.status == "downloaded"
    assert mirror.requests == [(RUNS, "bytes=4096-"), (RUNS, None)]


@pytest.mark.parametrize("checked", [True, False], ids=["checksum-known", "checksum-unknown"])
def test_member_escaping_the_root_is_refused(
    tmp_path: Path, mirror: MirrorServer, checked: bool
) -> None:
    served = evil_zip(mirror.folder / "images_background.zip")
    checksums = {"images_background.zip": sha256(served)} if checked else None
    root = tmp_path / "omniglot"
    with pytest.raises(ValueError, match="zip-slip") as info:
        download_omniglot(
            root,
            subsets="background",
            include_runs=False,
            base_url=mirror.url,
            checksums=checksums,
        )
    assert str(info.value) == (
        f"refusing archive {root / 'images_background.zip'}: member '../evil' has an absolute "
        "path or a '..' component (zip-slip); expected relative paths inside the archive"
    )
    assert listing(root) == []
    assert not (tmp_path / "evil").exists()


@pytest.mark.data
@needs_data
def test_archives_already_present_are_checked_not_fetched(
    tmp_path: Path, mirror: MirrorServer
) -> None:
    root = tmp_path / "omniglot"
    download_omniglot(root, base_url=mirror.url)
    before = len(mirror.requests)
    results = download_omniglot(
        root, subsets=["background_small1", "background_small"], base_url=mirror.url
    )
    assert len(mirror.requests) == before
    assert [(result.path.name, result.status) for result in results] == [
        (name, "present") for name in OFFICIAL
    ]
    assert all(result.verified for result in results)


def test_present_archive_failing_its_checksum_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "omniglot"
    root.mkdir()
    (root / RUNS).write_bytes(b"not the archive")
    actual = hashlib.sha256(b"not the archive").hexdigest()
    with pytest.raises(ValueError, match=rf"checksum mismatch for .*all_runs\.zip: .*got {actual}"):
        download_omniglot(root, subsets=[], base_url="http://127.0.0.1:9/")


def test_unverified_download_warns_and_checks_every_crc(
    tmp_path: Path, mirror: MirrorServer
) -> None:
    served = mirror.folder / "images_evaluation.zip"
    with zipfile.ZipFile(served, "w") as archive:
        archive.writestr("images_evaluation/Alpha/character01/0101.png", b"png")
    root = tmp_path / "omniglot"
    with pytest.warns(UserWarning, match=r"no known SHA-256 for images_evaluation\.zip"):
        (result,) = download_omniglot(
            root, subsets="evaluation", include_runs=False, base_url=mirror.url
        )
    assert (result.status, result.verified) == ("downloaded", False)
    assert result.sha256 == sha256(served)
    data = bytearray(served.read_bytes())
    data[data.index(b"png")] ^= 0xFF  # breaks the member's CRC, not the zip directory
    served.write_bytes(bytes(data))
    (root / "images_evaluation.zip").unlink()
    with pytest.raises(ValueError, match=r"fails its CRC check"):
        download_omniglot(root, subsets="evaluation", include_runs=False, base_url=mirror.url)
    assert listing(root) == []


@pytest.mark.data
@needs_data
def test_concurrent_downloads_take_turns(tmp_path: Path, mirror: MirrorServer) -> None:
    mirror.delay = 0.02  # keep both transfers open at once
    root = tmp_path / "omniglot"
    root.mkdir()
    results: list[ArchiveDownload] = []
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            results.extend(download_omniglot(root, subsets=[], base_url=mirror.url))
        except BaseException as exc:  # re-raised in the test thread below
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(result.status for result in results) == ["downloaded", "present"]
    assert sha256(root / RUNS) == sha256(DATA_ROOT / RUNS)
    assert listing(root) == [RUNS]


def test_unreachable_mirror_names_file_url_and_directory(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = tmp_path / "omniglot"
    url = f"http://127.0.0.1:{port}/"
    with pytest.raises(OSError, match=rf"could not download all_runs\.zip from {url}all_runs"):
        download_omniglot(root, subsets=[], base_url=url)
    assert listing(root) == []


def test_missing_file_on_the_mirror(tmp_path: Path, mirror: MirrorServer) -> None:
    root = tmp_path / "omniglot"
    with pytest.raises(
        OSError, match=r"could not download images_evaluation\.zip .*HTTP Error 404"
    ):
        download_omniglot(root, subsets="evaluation", include_runs=False, base_url=mirror.url)
    assert listing(root) == []


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"subsets": "small"}, ValueError, r"subset must be one of \[.*\], got 'small'"),
        ({"subsets": ["background", 3]}, ValueError, r"subset must be one of .*, got 3"),
        ({"include_runs": "yes"}, TypeError, r"include_runs must be a bool, got str"),
        ({"progress": "bar"}, TypeError, r"progress must be callable or None, got str"),
    ],
)
def test_bad_arguments(
    tmp_path: Path, kwargs: dict[str, object], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        download_omniglot(tmp_path, **kwargs)  # type: ignore[arg-type]
    assert listing(tmp_path) == []


def test_root_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match=r"root '.*file' exists and is not a directory"):
        download_omniglot(tmp_path / "file")
