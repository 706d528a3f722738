"""Omniglot and the one-shot runs on small archives crafted in tmp_path (no real data)."""

from __future__ import annotations

import hashlib
import io
import pickle
import re
import zipfile
from pathlib import Path

import pytest
import torch
from meta_tasks import (
    OMNIGLOT_IMAGE_SIZE,
    OMNIGLOT_SUBSETS,
    FewShotSampler,
    Omniglot,
    OmniglotOneShotRuns,
    RotatedClasses,
)

PIL = pytest.importorskip("PIL", reason="Omniglot tests need Pillow (meta-tasks[images])")
from PIL import Image  # noqa: E402


def png(marks: list[tuple[int, int]], size: int = 8) -> bytes:
    """A 1-bit white image with black 2x2 strokes at the given top-left corners."""
    image = Image.new("1", (size, size), 1)
    for row, col in marks:
        for dr in range(2):
            for dc in range(2):
                image.putpixel((col + dc, row + dr), 0)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def write_zip(path: Path, members: dict[str, bytes], *, stored: bool = False) -> Path:
    method = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def background_members(stem: str, alphabets: dict[str, int], drawings: int = 3) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    for alphabet, characters in alphabets.items():
        for character in range(1, characters + 1):
            for drawing in range(1, drawings + 1):
                name = (
                    f"{stem}/{alphabet}/character{character:02d}/{character:02d}{drawing:02d}.png"
                )
                members[name] = png([(character % 6, drawing % 6)])
    return members


@pytest.fixture
def background_root(tmp_path: Path) -> Path:
    write_zip(
        tmp_path / "images_background.zip",
        background_members("images_background", {"Beta": 2, "Alpha": 3}),
    )
    return tmp_path


def test_crafted_background_layout(background_root: Path) -> None:
    dataset = Omniglot(background_root, "background")
    assert len(dataset) == 15
    assert dataset.num_classes == 5
    assert dataset.alphabets == ["Alpha", "Beta"]
    assert dataset.classes[0] == ("Alpha", "character01")
    assert dataset.classes[4] == ("Beta", "character02")
    assert dataset.labels == [label for label in range(5) for _ in range(3)]
    assert "classes=5" in repr(dataset)
    assert dataset.member(0) == "images_background/Alpha/character01/0101.png"


def test_images_inverted_and_resized(background_root: Path) -> None:
    dataset = Omniglot(background_root, "background", image_size=8)
    image, label = dataset[0]  # Alpha/character01/0101: a 2x2 stroke at (1, 1)
    assert label == 0
    assert image.shape == (1, 8, 8)
    assert image.dtype == torch.float32
    expected = torch.zeros(1, 8, 8)
    expected[0, 1:3, 1:3] = 1.0
    torch.testing.assert_close(image, expected, rtol=0, atol=0)
    small, _ = Omniglot(background_root, "background", image_size=5)[0]
    assert small.shape == (1, 5, 5)
    # reference: Pillow's bilinear resize of the grayscale image, then inverted
    with Image.open(io.BytesIO(png([(1, 1)]))) as source:
        resized = source.convert("L").resize((5, 5), Image.Resampling.BILINEAR)
    reference = 1.0 - torch.tensor(list(resized.tobytes()), dtype=torch.float32).view(1, 5, 5) / 255
    torch.testing.assert_close(small, reference, rtol=0, atol=1e-6)
    assert float(small.min()) >= 0.0
    assert float(small.max()) <= 1.0
    assert 0.0 < float(small.max()) < 1.0  # a 2x2 stroke is averaged when shrinking 8 -> 5


def test_cache_and_transform(background_root: Path) -> None:
    dataset = Omniglot(background_root, "background", cache=True, transform=lambda x: x * 2)
    first, _ = dataset[3]
    assert dataset.image(3) is dataset.image(3)
    torch.testing.assert_close(first, dataset.image(3) * 2)
    uncached = Omniglot(background_root, "background")
    assert uncached.image(3) is not uncached.image(3)
    torch.testing.assert_close(dataset.image(-1), uncached.image(14))


def test_index_errors(background_root: Path) -> None:
    dataset = Omniglot(background_root, "background")
    with pytest.raises(IndexError, match="index 15 is out of range for Omniglot with 15 items"):
        dataset[15]
    with pytest.raises(TypeError, match="index must be an int, got str"):
        dataset.image("0")  # type: ignore[arg-type]


def test_pickle_round_trip(background_root: Path) -> None:
    dataset = Omniglot(background_root, "background")
    clone = pickle.loads(pickle.dumps(dataset))
    torch.testing.assert_close(clone[7][0], dataset[7][0], rtol=0, atol=0)


def test_few_shot_episodes_on_crafted_omniglot(background_root: Path) -> None:
    dataset = Omniglot(background_root, "background", image_size=8)
    rotated = RotatedClasses(dataset)
    assert rotated.num_classes == 20
    task = FewShotSampler(rotated, ways=4, shots=1, query_shots=2, seed=0).sample(1)[0]
    assert task.support_x.shape == (4, 1, 8, 8)
    assert task.query_y.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


def test_union_deduplicates_shared_characters(tmp_path: Path) -> None:
    small1 = background_members("images_background_small1", {"Greek": 2, "Korean": 1})
    small2 = background_members("images_background_small2", {"Greek": 2, "Tagalog": 2})
    # one drawing only in small2's Greek character01, and one differing copy of a shared name
    extra = "images_background_small2/Greek/character01/0199.png"
    small2[extra] = png([(5, 5)])
    shared = "images_background_small2/Greek/character01/0101.png"
    small2[shared] = png([(0, 0)])
    one = write_zip(tmp_path / "images_background_small1.zip", small1)
    two = write_zip(tmp_path / "images_background_small2.zip", small2)
    sums = {one.name: sha256(one), two.name: sha256(two)}
    union = Omniglot(tmp_path, "background_small", checksums=sums, image_size=8)
    assert union.classes == [
        ("Greek", "character01"),
        ("Greek", "character02"),
        ("Korean", "character01"),
        ("Tagalog", "character01"),
        ("Tagalog", "character02"),
    ]
    assert union.labels.count(0) == 4
    assert len(union) == 4 + 3 * 4
    members = [union.member(i) for i in range(4)]
    assert members == [
        "images_background_small1/Greek/character01/0101.png",
        "images_background_small1/Greek/character01/0102.png",
        "images_background_small1/Greek/character01/0103.png",
        extra,
    ]
    reference = Omniglot(tmp_path, "background_small1", checksums=sums, image_size=8)
    torch.testing.assert_close(union[0][0], reference[0][0], rtol=0, atol=0)


def test_unknown_subset(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"subset must be one of \['background', .*got 'train'"):
        Omniglot(tmp_path, "train")


def test_public_subset_table_and_image_size(background_root: Path) -> None:
    with pytest.raises(ValueError, match=re.escape(f"one of {sorted(OMNIGLOT_SUBSETS)}, got")):
        Omniglot(background_root, "train")
    assert OMNIGLOT_SUBSETS["background"] == ("images_background.zip",)
    with pytest.raises(TypeError):
        OMNIGLOT_SUBSETS["train"] = ("images_train.zip",)  # type: ignore[index]  # read-only
    dataset = Omniglot(background_root, "background")
    assert dataset.image_size == OMNIGLOT_IMAGE_SIZE == 28
    assert dataset[0][0].shape == (1, OMNIGLOT_IMAGE_SIZE, OMNIGLOT_IMAGE_SIZE)


def test_argument_types(background_root: Path) -> None:
    with pytest.raises(ValueError, match="image_size must be at least 1, got 0"):
        Omniglot(background_root, "background", image_size=0)
    with pytest.raises(TypeError, match="image_size must be an int, got float"):
        Omniglot(background_root, "background", image_size=28.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="transform must be callable or None, got int"):
        Omniglot(background_root, "background", transform=3)  # type: ignore[arg-type]


def test_missing_archive_names_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        Omniglot(tmp_path / "nowhere", "evaluation")
    message = str(info.value)
    assert "images_evaluation.zip not found in" in message
    assert str(tmp_path / "nowhere") in message
    assert "download=True" in message


def test_builtin_checksum_mismatch_is_refused(tmp_path: Path) -> None:
    write_zip(
        tmp_path / "images_background_small1.zip",
        background_members("images_background_small1", {"Greek": 1}),
    )
    with pytest.raises(ValueError, match=r"checksum mismatch for .*images_background_small1\.zip"):
        Omniglot(tmp_path, "background_small1")


def test_checksum_file_and_argument(background_root: Path) -> None:
    archive = background_root / "images_background.zip"
    good = sha256(archive)
    bad = "0" * 64
    (background_root / "SHA256SUMS").write_text(f"{bad}  images_background.zip\n")
    with pytest.raises(ValueError, match=f"expected SHA-256 {bad}, got {good}"):
        Omniglot(background_root, "background")
    # an explicit table wins over SHA256SUMS
    assert len(Omniglot(background_root, "background", checksums={archive.name: good})) == 15
    (background_root / "SHA256SUMS").write_text(
        f"# sums\n\n{good.upper()} *images_background.zip\n"
    )
    assert len(Omniglot(background_root, "background")) == 15
    (background_root / "SHA256SUMS").write_text("not-a-digest images_background.zip\n")
    with pytest.raises(ValueError, match=r"SHA256SUMS, line 1: expected '<64 hex digits>"):
        Omniglot(background_root, "background")


def test_bad_checksum_argument(background_root: Path) -> None:
    with pytest.raises(ValueError, match=r"checksums\['images_background.zip'\] must be a SHA-256"):
        Omniglot(background_root, "background", checksums={"images_background.zip": "abc"})


def test_corrupted_archive_is_refused(tmp_path: Path) -> None:
    (tmp_path / "images_background.zip").write_bytes(b"this is not a zip file" * 10)
    with pytest.raises(
        ValueError, match=r"corrupted or truncated archive .*images_background\.zip"
    ):
        Omniglot(tmp_path, "background")


def test_truncated_archive_is_refused(background_root: Path) -> None:
    archive = background_root / "images_background.zip"
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) // 2])
    with pytest.raises(
        ValueError, match=r"corrupted or truncated archive .*images_background\.zip"
    ):
        Omniglot(background_root, "background")


def test_member_crc_corruption_is_refused(tmp_path: Path) -> None:
    archive = write_zip(
        tmp_path / "images_background.zip",
        background_members("images_background", {"Alpha": 1}, drawings=1),
        stored=True,
    )
    data = bytearray(archive.read_bytes())
    position = data.index(b"IHDR")  # inside the stored PNG payload
    data[position + 6] ^= 0xFF
    archive.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"corrupted .*images_background\.zip"):
        Omniglot(tmp_path, "background")


@pytest.mark.parametrize(
    "member",
    [
        "../escape/Alpha/character01/0101.png",
        "images_background/../../Alpha/character01/0101.png",
        "/abs/Alpha/character01/0101.png",
        "images_background\\..\\Alpha\\character01\\0101.png",
        "C:/images/Alpha/character01/0101.png",
    ],
)
def test_zip_slip_members_are_refused(tmp_path: Path, member: str) -> None:
    members = background_members("images_background", {"Alpha": 1})
    with zipfile.ZipFile(tmp_path / "images_background.zip", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        info = zipfile.ZipInfo("placeholder")
        info.filename = member  # bypass any normalisation to craft the hostile name
        archive.writestr(info, png([(0, 0)]))
    with pytest.raises(ValueError, match=r"member .* has an absolute path or a '\.\.' component"):
        Omniglot(tmp_path, "background")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["images_background.zip"]


def test_archive_without_images(tmp_path: Path) -> None:
    write_zip(tmp_path / "images_evaluation.zip", {"readme.txt": b"hello"})
    with pytest.raises(ValueError, match=r"images_evaluation\.zip holds no PNG images"):
        Omniglot(tmp_path, "evaluation")


def test_shallow_member_layout_is_refused(tmp_path: Path) -> None:
    write_zip(tmp_path / "images_evaluation.zip", {"loose.png": png([])})
    with pytest.raises(ValueError, match=r"unexpected member 'loose.png'"):
        Omniglot(tmp_path, "evaluation")


def test_download_verifies_and_renames(tmp_path: Path, background_root: Path) -> None:
    mirror = background_root
    target = tmp_path / "data"
    good = sha256(mirror / "images_background.zip")
    dataset = Omniglot(
        target,
        "background",
        download=True,
        base_url=mirror.as_uri() + "/",
        checksums={"images_background.zip": good},
    )
    assert len(dataset) == 15
    assert sorted(p.name for p in target.iterdir()) == ["images_background.zip"]
    assert sha256(target / "images_background.zip") == good


def test_download_checksum_mismatch_leaves_nothing(tmp_path: Path, background_root: Path) -> None:
    target = tmp_path / "data"
    with pytest.raises(
        ValueError, match=r"checksum mismatch for images_background\.zip downloaded"
    ):
        Omniglot(
            target,
            "background",
            download=True,
            base_url=background_root.as_uri() + "/",
            checksums={"images_background.zip": "1" * 64},
        )
    assert list(target.iterdir()) == []


def test_download_without_checksum_warns(tmp_path: Path, background_root: Path) -> None:
    target = tmp_path / "data"
    with pytest.warns(UserWarning, match=r"no known SHA-256 for images_background\.zip"):
        Omniglot(target, "background", download=True, base_url=background_root.as_uri() + "/")
    assert (target / "images_background.zip").is_file()


def test_download_failure_names_file_url_and_directory(tmp_path: Path) -> None:
    target = tmp_path / "data"
    source = tmp_path / "empty-mirror"
    source.mkdir()
    with pytest.raises(OSError, match=r"could not download images_evaluation\.zip from .*") as info:
        Omniglot(target, "evaluation", download=True, base_url=source.as_uri() + "/")
    assert str(target) in str(info.value)
    assert list(target.iterdir()) == []


def runs_members(runs: int = 2, ways: int = 3) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    for run in range(1, runs + 1):
        lines = []
        for k in range(1, ways + 1):
            members[f"run{run:02d}/training/class{k:02d}.png"] = png([(k, 0)])
            answer = (k % ways) + 1  # item k's true class
            members[f"run{run:02d}/test/item{k:02d}.png"] = png([(answer, 4)])
            lines.append(
                f"run{run:02d}/test/item{k:02d}.png run{run:02d}/training/class{answer:02d}.png"
            )
        members[f"run{run:02d}/class_labels.txt"] = ("\n".join(lines) + "\n").encode()
    return members


def test_crafted_runs(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "all_runs.zip", runs_members())
    runs = OmniglotOneShotRuns(tmp_path, image_size=8, checksums={archive.name: sha256(archive)})
    assert len(runs) == 2
    assert runs.run_names == ["run01", "run02"]
    task = runs[1]
    assert task.support_x.shape == (3, 1, 8, 8)
    assert task.support_y.tolist() == [0, 1, 2]
    assert task.query_y.tolist() == [1, 2, 0]
    assert task.query_y.dtype == torch.int64
    # query item k shows the stroke row of its true class
    for item in range(3):
        row = int(task.query_y[item]) + 1
        assert task.query_x[item, 0, row, 4] == 1.0
        assert task.support_x[int(task.query_y[item]), 0, row, 0] == 1.0
    with pytest.raises(IndexError, match="run index 2 is out of range for 2 runs"):
        runs[2]
    assert "runs=2" in repr(runs)


def test_runs_builtin_checksum_refuses_crafted_archive(tmp_path: Path) -> None:
    write_zip(tmp_path / "all_runs.zip", runs_members())
    with pytest.raises(ValueError, match=r"checksum mismatch for .*all_runs\.zip"):
        OmniglotOneShotRuns(tmp_path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.pop("run01/class_labels.txt"), r"has no run01/class_labels\.txt"),
        (
            lambda m: m.__setitem__("run01/class_labels.txt", b"run01/test/item01.png\n"),
            r"line 1: expected '<test image> <training image>'",
        ),
        (
            lambda m: m.__setitem__(
                "run01/class_labels.txt",
                b"run01/test/item01.png run01/training/class01.png\n",
            ),
            r"labels 1 images but run01/test holds 3",
        ),
        (
            lambda m: m.__setitem__(
                "run01/class_labels.txt",
                b"run01/test/item01.png run01/training/class09.png\n"
                b"run01/test/item02.png run01/training/class01.png\n"
                b"run01/test/item03.png run01/training/class01.png\n",
            ),
            r"refers to training images that are not in the archive: \['run01/training/class09",
        ),
        (
            lambda m: m.__setitem__(
                "run01/class_labels.txt",
                b"run01/test/item01.png run01/training/class01.png\n"
                b"run01/test/item01.png run01/training/class02.png\n",
            ),
            r"labels run01/test/item01\.png twice",
        ),
    ],
)
def test_runs_label_file_validation(tmp_path: Path, edit: object, message: str) -> None:
    members = runs_members()
    edit(members)  # type: ignore[operator]
    archive = write_zip(tmp_path / "all_runs.zip", members)
    with pytest.raises(ValueError, match=message):
        OmniglotOneShotRuns(tmp_path, checksums={archive.name: sha256(archive)})


def test_runs_archive_without_runs(tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "all_runs.zip", {"other/file.png": png([])})
    with pytest.raises(ValueError, match=r"holds no runNN/training or runNN/test images"):
        OmniglotOneShotRuns(tmp_path, checksums={archive.name: sha256(archive)})
