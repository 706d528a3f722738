"""The image-folder benchmarks (CUB, DTD, Aircraft, Fungi, Flowers) on tiny trees, real formats."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import tarfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from meta_tasks import (
    VISION_FOLDER_URLS,
    CUBirds200,
    DescribableTextures,
    FGVCAircraft,
    FGVCFungi,
    MetaDataset,
    VGGFlower102,
)
from meta_tasks._vision_folders import read_mat_v5
from meta_tasks._vision_splits import (
    AIRCRAFT_SPLITS,
    CUB_SPLITS,
    DTD_SPLITS,
    FLOWERS_SPLITS,
    FUNGI_SPLITS,
)

PIL = pytest.importorskip("PIL", reason="the image data sets need Pillow (meta-tasks[images])")
from PIL import Image  # noqa: E402

if TYPE_CHECKING:
    from conftest import MirrorServer

Serve = Callable[[Path], "MirrorServer"]


def write_image(path: Path, size: tuple[int, int], seed: int, mode: str = "RGB") -> None:
    """A tiny image of random pixels, saved as PNG data under ``path`` (any extension)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = hashlib.sha256(str(seed).encode()).digest() * 64
    channels = len(mode)
    image = Image.frombytes(mode, size, data[: size[0] * size[1] * channels])
    image.save(path, format="PNG")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tar_folder(source: Path, archive: Path) -> None:
    """Pack every entry of ``source`` (relative names) into a gzipped tar."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as packed:
        for entry in sorted(source.iterdir()):
            packed.add(entry, arcname=entry.name)


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def mat_v5(name: str, values: list[int], *, compressed: bool, big_endian: bool = False) -> bytes:
    """A MATLAB 5 file holding one 1 x N double matrix ``name`` (written by hand)."""
    order = ">" if big_endian else "<"

    def element(kind: int, payload: bytes) -> bytes:
        return struct.pack(order + "II", kind, len(payload)) + payload + b"\0" * (-len(payload) % 8)

    matrix = (
        element(6, struct.pack(order + "II", 6, 0))  # array flags: mxDOUBLE_CLASS
        + element(5, struct.pack(order + "ii", 1, len(values)))
        + element(1, name.encode())
        + element(9, struct.pack(order + f"{len(values)}d", *values))
    )
    body = element(14, matrix)
    if compressed:
        packed = zlib.compress(body)
        body = struct.pack(order + "II", 15, len(packed)) + packed
    header = b"MATLAB 5.0 MAT-file, written by the meta-tasks tests".ljust(116, b" ")
    header += b"\0" * 8 + struct.pack(order + "H", 0x0100) + (b"MI" if big_endian else b"IM")
    return header + body


# CUB-200-2011

CUB_TRAIN = CUB_SPLITS["train"][:2]
CUB_TEST = CUB_SPLITS["test"][:1]
DUPLICATE = "American_Goldfinch_0062_31921.jpg"  # listed as an ImageNet duplicate (train)


def write_cub(root: Path) -> Path:
    """CUB_200_2011/{images/<class>/*.jpg, images.txt, bounding_boxes.txt}; 3 classes filled."""
    base = root / "cubirds200" / "CUB_200_2011"
    for name in (*CUB_SPLITS["train"], *CUB_SPLITS["test"], *CUB_SPLITS["validation"]):
        (base / "images" / name).mkdir(parents=True, exist_ok=True)
    index, boxes = [], []
    for c, name in enumerate((*CUB_TRAIN, *CUB_TEST)):
        for i in range(3):
            filename = f"{name.split('.')[1]}_{i:04d}.jpg"
            write_image(base / "images" / name / filename, (8 + i, 6), seed=10 * c + i)
            index.append(f"{len(index) + 1} {name}/{filename}")
            boxes.append(f"{len(boxes) + 1} 1.0 2.0 {3 + i}.0 3.0")
    write_image(base / "images" / "047.American_Goldfinch" / DUPLICATE, (5, 5), seed=99)
    index.append(f"{len(index) + 1} 047.American_Goldfinch/{DUPLICATE}")
    boxes.append(f"{len(boxes) + 1} 0.0 0.0 2.0 2.0")
    (base / "images" / CUB_TRAIN[0] / ".hidden").write_text("not an image")
    (base / "images.txt").write_text("\n".join(index) + "\n")
    (base / "bounding_boxes.txt").write_text("\n".join(boxes) + "\n")
    return base


def test_cub_splits_labels_and_items(tmp_path: Path) -> None:
    write_cub(tmp_path)
    train = CUBirds200(tmp_path, "train")
    assert len(CUB_SPLITS["train"]) == 140
    assert train.num_classes == 140
    assert train.classes[:2] == list(CUB_TRAIN)
    assert len(train) == 6
    assert train.labels == [0, 0, 0, 1, 1, 1]
    image, label = train[4]
    assert isinstance(image, Image.Image)
    assert image.mode == "RGB"
    assert image.size == (9, 6)
    assert label == 1
    test = CUBirds200(str(tmp_path), mode="test", target_transform=lambda y: y + 100)
    assert len(test) == 3
    assert test[0][1] == 100
    everything = CUBirds200(tmp_path, transform=lambda im: im.size)
    assert everything.num_classes == 200
    assert sorted(set(everything.labels)) == [0, 1, 140]  # all = train, test, validation
    assert everything[6] == ((8, 6), 140)
    with_dups = CUBirds200(tmp_path, "train", include_imagenet_duplicates=True)
    goldfinch = CUB_SPLITS["train"].index("047.American_Goldfinch")
    assert len(with_dups) == 7
    assert with_dups.labels[-1] == goldfinch
    assert MetaDataset(train).labels == [0, 1]


def test_cub_bounding_boxes(tmp_path: Path) -> None:
    write_cub(tmp_path)
    cropped = CUBirds200(tmp_path, "train", bounding_box_crop=True)
    assert cropped.boxes is not None
    assert cropped.boxes[2] == (1, 2, 6, 5)
    assert cropped[2][0].size == (5, 3)


def test_cub_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"CUB_200_2011/images not found.*download=True"):
        CUBirds200(tmp_path)
    base = write_cub(tmp_path)
    with pytest.raises(ValueError, match=r"mode must be one of"):
        CUBirds200(tmp_path, "valid")
    with pytest.raises(TypeError, match=r"transform must be callable"):
        CUBirds200(tmp_path, transform=3)  # type: ignore[arg-type]
    (base / "bounding_boxes.txt").write_text("1 1.0 2.0 x\n")
    with pytest.raises(ValueError, match=r"bounding_boxes.txt, line 1: expected '<id> <x>"):
        CUBirds200(tmp_path, "train", bounding_box_crop=True)
    (base / "images" / CUB_TRAIN[0] / "Broken.jpg").write_bytes(b"not an image")
    broken = CUBirds200(tmp_path, "train")
    with pytest.raises(ValueError, match=r"cannot decode image .*Broken.jpg"):
        broken[0]
    with pytest.raises(IndexError, match=r"out of range"):
        broken[len(broken)]
    (base / "images" / CUB_SPLITS["validation"][0]).rmdir()
    with pytest.raises(FileNotFoundError, match=r"044.Frigatebird not found; expected the class"):
        CUBirds200(tmp_path, "validation")


def test_cub_download_and_checksum_mismatch(tmp_path: Path, serve_mirror: Serve) -> None:
    staged = write_cub(tmp_path / "staged").parent
    mirror = tmp_path / "mirror"
    tar_folder(staged, mirror / "CUB_200_2011.tgz")
    server = serve_mirror(mirror)
    urls = {"CUB_200_2011.tgz": server.url + "CUB_200_2011.tgz"}
    checksums = {"CUB_200_2011.tgz": sha256(mirror / "CUB_200_2011.tgz")}
    root = tmp_path / "data"
    birds = CUBirds200(root, "train", download=True, urls=urls, checksums=checksums)
    assert len(birds) == 6
    assert listing(root / "cubirds200") == listing(staged)  # the archive is gone
    other = tmp_path / "other"
    with pytest.raises(ValueError, match=r"checksum mismatch"):
        CUBirds200(other, download=True, urls=urls, checksums={"CUB_200_2011.tgz": "0" * 64})
    assert listing(other) == []
    assert VISION_FOLDER_URLS["CUB_200_2011.tgz"].endswith("/CUB_200_2011.tgz")


def test_unsafe_tar_members_are_refused(tmp_path: Path, serve_mirror: Serve) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with tarfile.open(mirror / "dtd-r1.0.1.tar.gz", "w:gz") as packed:
        data = b"escaped"
        info = tarfile.TarInfo("../evil")
        info.size = len(data)
        packed.addfile(info, io.BytesIO(data))
    server = serve_mirror(mirror)
    urls = {"dtd-r1.0.1.tar.gz": server.url + "dtd-r1.0.1.tar.gz"}
    with (
        pytest.warns(UserWarning, match=r"no known SHA-256"),
        pytest.raises(ValueError, match=r"zip-slip"),
    ):
        DescribableTextures(tmp_path / "data", download=True, urls=urls)
    assert not (tmp_path / "evil").exists()
    assert listing(tmp_path / "data") == []
    with tarfile.open(mirror / "dtd-r1.0.1.tar.gz", "w:gz") as packed:
        link = tarfile.TarInfo("dtd/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        packed.addfile(link)
    with (
        pytest.warns(UserWarning, match=r"no known SHA-256"),
        pytest.raises(ValueError, match=r"is a link"),
    ):
        DescribableTextures(tmp_path / "data", download=True, urls=urls)
    assert listing(tmp_path / "data") == []


# Describable Textures


def write_dtd(root: Path) -> Path:
    images = root / "describable_textures" / "dtd" / "images"
    for name in (*DTD_SPLITS["train"], *DTD_SPLITS["test"], *DTD_SPLITS["validation"]):
        (images / name).mkdir(parents=True, exist_ok=True)
    for c, name in enumerate((DTD_SPLITS["train"][0], DTD_SPLITS["validation"][1])):
        for i in range(2 + c):
            write_image(images / name / f"{name}_{i:04d}.jpg", (6, 7), seed=c * 10 + i)
    (images / DTD_SPLITS["train"][0] / ".directory").write_text("[Dolphin]")
    return images


def test_dtd_splits_and_items(tmp_path: Path) -> None:
    images = write_dtd(tmp_path)
    train = DescribableTextures(tmp_path, "train")
    assert train.num_classes == 33
    assert len(train) == 2
    assert train.labels == [0, 0]
    image, label = train[1]
    assert label == 0
    assert isinstance(image, Image.Image)
    assert image.mode == "RGB"
    assert image.size == (6, 7)
    validation = DescribableTextures(tmp_path, "validation", transform=lambda im: im.size)
    assert validation.classes[1] == "grid"
    assert validation.labels == [1, 1, 1]
    assert validation[0] == ((6, 7), 1)
    everything = DescribableTextures(tmp_path, target_transform=str)
    assert everything.num_classes == 47
    assert everything[2][1] == str(33 + 7 + 1)
    (images / "grid").rename(images / "grid-moved")
    with pytest.raises(FileNotFoundError, match=r"grid not found; expected the class folder"):
        DescribableTextures(tmp_path, "validation")


def test_dtd_download(tmp_path: Path, serve_mirror: Serve) -> None:
    staged = write_dtd(tmp_path / "staged").parents[1]
    mirror = tmp_path / "mirror"
    tar_folder(staged, mirror / "dtd-r1.0.1.tar.gz")
    server = serve_mirror(mirror)
    urls = {"dtd-r1.0.1.tar.gz": server.url + "dtd-r1.0.1.tar.gz"}
    checksums = {"dtd-r1.0.1.tar.gz": sha256(mirror / "dtd-r1.0.1.tar.gz")}
    textures = DescribableTextures(
        tmp_path / "data", "train", download=True, urls=urls, checksums=checksums
    )
    assert len(textures) == 2
    assert listing(tmp_path / "data" / "describable_textures") == listing(staged)
    with pytest.raises(ValueError, match=r"checksum mismatch"):
        DescribableTextures(
            tmp_path / "other", download=True, urls=urls, checksums={"dtd-r1.0.1.tar.gz": "1" * 64}
        )
    assert listing(tmp_path / "other") == []


# FGVC-Aircraft

AIRCRAFT_PICK = (AIRCRAFT_SPLITS["train"][3], AIRCRAFT_SPLITS["validation"][0], "A380")


def write_aircraft(root: Path) -> Path:
    data = root / "fgvc_aircraft" / "fgvc-aircraft-2013b" / "data"
    lines: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    boxes = []
    for c, (variant, family) in enumerate(
        zip(AIRCRAFT_PICK, ("train", "val", "test"), strict=True)
    ):
        for i in range(2):
            image_id = f"{c}{i:06d}"
            write_image(data / "images" / f"{image_id}.jpg", (10, 8), seed=c * 10 + i)
            lines[family].append(f"{image_id} {variant}")
            boxes.append(f"{image_id} 1 1 {5 + i} 4")
    for family, entries in lines.items():
        (data / f"images_variant_{family}.txt").write_text("\n".join(entries) + "\n")
    (data / "images_box.txt").write_text("\n".join(boxes) + "\n")
    return data


def test_aircraft_splits_labels_and_boxes(tmp_path: Path) -> None:
    write_aircraft(tmp_path)
    train = FGVCAircraft(tmp_path, "train")
    assert AIRCRAFT_PICK[0] == "F-16A/B"
    assert train.num_classes == 70
    assert (len(train) == 4 and train.labels == [3, 3, 21, 21]) or train.labels == [3, 3] + [
        AIRCRAFT_SPLITS["train"].index("A380")
    ] * 2
    image, label = train[0]
    assert isinstance(image, Image.Image)
    assert image.size == (10, 8)
    assert label == 3
    validation = FGVCAircraft(tmp_path, "validation", target_transform=lambda y: -y)
    assert len(validation) == 2
    assert validation[1][1] == 0
    everything = FGVCAircraft(tmp_path)
    assert everything.num_classes == 100
    assert everything.labels[2:4] == [70, 70]
    cropped = FGVCAircraft(tmp_path, "train", bounding_box_crop=True, transform=lambda im: im.size)
    assert cropped[1] == ((5, 3), 3)


def test_aircraft_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"fgvc-aircraft-2013b.tar.gz"):
        FGVCAircraft(tmp_path)
    data = write_aircraft(tmp_path)
    (data / "images_box.txt").write_text("0000000 1 1 5\n")
    with pytest.raises(ValueError, match=r"images_box.txt, line 1: expected '<image id> <xmin>"):
        FGVCAircraft(tmp_path, bounding_box_crop=True)
    (data / "images_variant_val.txt").write_text("1000000\n")
    with pytest.raises(ValueError, match=r"images_variant_val.txt, line 1: expected '<image id>"):
        FGVCAircraft(tmp_path)
    (data / "images_variant_val.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"images_variant_val.txt not found"):
        FGVCAircraft(tmp_path)


def test_aircraft_download(tmp_path: Path, serve_mirror: Serve) -> None:
    staged = write_aircraft(tmp_path / "staged").parents[1]
    mirror = tmp_path / "mirror"
    name = "fgvc-aircraft-2013b.tar.gz"
    tar_folder(staged, mirror / name)
    server = serve_mirror(mirror)
    aircraft = FGVCAircraft(
        tmp_path / "data",
        "validation",
        download=True,
        urls={name: server.url + name},
        checksums={name: sha256(mirror / name)},
    )
    assert len(aircraft) == 2
    assert listing(tmp_path / "data" / "fgvc_aircraft") == listing(staged)
    with pytest.raises(ValueError, match=r"checksum mismatch"):
        FGVCAircraft(
            tmp_path / "other",
            download=True,
            urls={name: server.url + name},
            checksums={name: "2" * 64},
        )
    assert listing(tmp_path / "other") == []


# FGVCx Fungi

FUNGI_PICK = (FUNGI_SPLITS["train"][0], FUNGI_SPLITS["validation"][2], FUNGI_SPLITS["test"][1])


def write_fungi(root: Path) -> Path:
    folder = root / "fgvc_fungi"
    for part, ids in (("train", (0, 1, 2)), ("val", (1, 2))):
        images, annotations = [], []
        for c in ids:
            category = FUNGI_PICK[c]
            file_name = f"images/{category:04d}.Some fungus/{part}_{c}.JPG"
            write_image(folder / file_name, (7, 5), seed=c, mode="L" if c == 2 else "RGB")
            image_id = len(images) + (0 if part == "train" else 100)
            images.append({"id": image_id, "file_name": file_name, "license": 0})
            annotations.append({"id": image_id, "image_id": image_id, "category_id": category})
        content = {"images": images, "annotations": annotations, "categories": []}
        (folder / f"{part}.json").write_text(json.dumps(content))
    return folder


def test_fungi_splits_labels_and_modes(tmp_path: Path) -> None:
    write_fungi(tmp_path)
    train = FGVCFungi(tmp_path, "train")
    assert train.num_classes == 994
    assert len(train) == 1
    assert train.labels == [0]
    test = FGVCFungi(tmp_path, "test", transform=lambda im: (im.mode, im.size))
    assert len(test) == 2
    assert test.labels == [1, 1]
    assert test[0] == (("L", (7, 5)), 1)  # the file's own mode, as learn2learn's
    everything = FGVCFungi(tmp_path, target_transform=lambda y: y * 2)
    assert everything.num_classes == 1394
    assert everything.labels == [0, 996, 1195, 996, 1195]
    assert everything[1][1] == 2 * 996
    assert isinstance(everything[1][0], Image.Image)


def test_fungi_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"fungi_train_val.tgz"):
        FGVCFungi(tmp_path)
    folder = write_fungi(tmp_path)
    (folder / "val.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"val.json is not valid JSON"):
        FGVCFungi(tmp_path)
    (folder / "val.json").write_text(json.dumps({"images": [{"id": 1, "file_name": "x"}]}))
    with pytest.raises(ValueError, match=r"val.json: expected a JSON object with lists"):
        FGVCFungi(tmp_path)
    bad = {
        "images": [{"id": 1, "file_name": "x.jpg"}],
        "annotations": [{"image_id": 2, "category_id": 5}],
    }
    (folder / "val.json").write_text(json.dumps(bad))
    with pytest.raises(ValueError, match=r"entry 0: image id 1 with annotation for 2"):
        FGVCFungi(tmp_path)
    (folder / "val.json").unlink()
    with pytest.raises(FileNotFoundError, match=r"val.json not found"):
        FGVCFungi(tmp_path)


def test_fungi_download_two_archives(tmp_path: Path, serve_mirror: Serve) -> None:
    staged = write_fungi(tmp_path / "staged")
    mirror = tmp_path / "mirror"
    images_only, annotations_only = tmp_path / "images_only", tmp_path / "annotations_only"
    images_only.mkdir()
    (staged / "images").rename(images_only / "images")
    annotations_only.mkdir()
    for name in ("train.json", "val.json"):
        (staged / name).rename(annotations_only / name)
    tar_folder(images_only, mirror / "fungi_train_val.tgz")
    tar_folder(annotations_only, mirror / "train_val_annotations.tgz")
    server = serve_mirror(mirror)
    names = ("fungi_train_val.tgz", "train_val_annotations.tgz")
    urls = {name: server.url + name for name in names}
    checksums = {name: sha256(mirror / name) for name in names}
    fungi = FGVCFungi(tmp_path / "data", "all", download=True, urls=urls, checksums=checksums)
    assert len(fungi) == 5
    assert listing(tmp_path / "data" / "fgvc_fungi") == sorted(
        listing(images_only) + listing(annotations_only)
    )
    wrong = dict(checksums, **{"train_val_annotations.tgz": "3" * 64})
    with pytest.raises(ValueError, match=r"checksum mismatch for train_val_annotations.tgz"):
        FGVCFungi(tmp_path / "other", download=True, urls=urls, checksums=wrong)
    assert "train.json" not in listing(tmp_path / "other" / "fgvc_fungi")
    assert not [p for p in listing(tmp_path / "other") if ".part" in p or ".tgz" in p]


# VGG Flowers 102

FLOWER_LABELS = [FLOWERS_SPLITS["train"][0], FLOWERS_SPLITS["test"][0], 90, 5, 10]


def write_flowers(root: Path, *, compressed: bool = True) -> Path:
    folder = root / "vgg_flower102"
    for index in range(1, len(FLOWER_LABELS) + 1):
        write_image(folder / "jpg" / f"image_{index:05d}.jpg", (4 + index, 4), seed=index)
    (folder / "imagelabels.mat").write_bytes(mat_v5("labels", FLOWER_LABELS, compressed=compressed))
    return folder


@pytest.mark.parametrize("compressed", [True, False])
def test_flowers_splits_and_labels(tmp_path: Path, compressed: bool) -> None:
    write_flowers(tmp_path, compressed=compressed)
    train = VGGFlower102(tmp_path, "train")
    assert FLOWER_LABELS[0] == 90
    assert train.num_classes == 71
    assert [p.name for p in train.paths] == ["image_00001.jpg", "image_00003.jpg"]
    assert train.labels == [0, 0]
    test = VGGFlower102(tmp_path, "test", transform=lambda im: im.size, target_transform=str)
    assert test.labels == [0, 0]
    assert test[1] == ((8, 4), "0")
    everything = VGGFlower102(tmp_path)
    assert everything.num_classes == 102
    assert everything.labels == [89, 4, 89, 4, 9]
    image, _ = everything[4]
    assert isinstance(image, Image.Image)
    assert image.size == (9, 4)


def test_mat_reader_matches_scipy(tmp_path: Path) -> None:
    scipy_io = pytest.importorskip("scipy.io")
    numpy = pytest.importorskip("numpy")
    for compress in (False, True):
        path = tmp_path / f"labels{compress}.mat"
        values = numpy.array([[3, 1, 102, 7]], dtype=numpy.float64)
        scipy_io.savemat(
            path,
            {"labels": values, "other": numpy.arange(6).reshape(2, 3)},
            do_compression=compress,
        )
        read = read_mat_v5(path)
        assert read["labels"] == ((1, 4), [3.0, 1.0, 102.0, 7.0])
        assert read["other"] == ((2, 3), [0.0, 3.0, 1.0, 4.0, 2.0, 5.0])  # column-major
    big = tmp_path / "big.mat"
    big.write_bytes(mat_v5("labels", [4, 2], compressed=False, big_endian=True))
    assert read_mat_v5(big) == {"labels": ((1, 2), [4.0, 2.0])}


def test_flowers_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"102flowers.tgz"):
        VGGFlower102(tmp_path)
    folder = write_flowers(tmp_path)
    mat = folder / "imagelabels.mat"
    mat.write_bytes(b"\x89HDF\r\n" + b"\0" * 200)
    with pytest.raises(ValueError, match=r"imagelabels.mat is not a MATLAB 5 .mat file"):
        VGGFlower102(tmp_path)
    mat.write_bytes(mat_v5("labels", [1, 2, 3], compressed=False)[:-8])
    with pytest.raises(ValueError, match=r"the file ends first"):
        VGGFlower102(tmp_path)
    mat.write_bytes(mat_v5("classes", [1, 2], compressed=True))
    with pytest.raises(ValueError, match=r"has no variable 'labels'.*got variables \['classes'\]"):
        VGGFlower102(tmp_path)
    mat.write_bytes(mat_v5("labels", [1, 103], compressed=True))
    with pytest.raises(ValueError, match=r"label 103.0 of image 2; expected class numbers 1"):
        VGGFlower102(tmp_path)
    mat.write_bytes(mat_v5("labels", [1, 2, 3, 4, 5, 6], compressed=True))
    missing = VGGFlower102(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"image_00006.jpg not found"):
        missing[5]


def test_flowers_download_archive_and_labels(tmp_path: Path, serve_mirror: Serve) -> None:
    staged = write_flowers(tmp_path / "staged")
    mirror = tmp_path / "mirror"
    images_only = tmp_path / "images_only"
    images_only.mkdir()
    (staged / "jpg").rename(images_only / "jpg")
    tar_folder(images_only, mirror / "102flowers.tgz")
    (staged / "imagelabels.mat").rename(mirror / "imagelabels.mat")
    server = serve_mirror(mirror)
    names = ("102flowers.tgz", "imagelabels.mat")
    urls = {name: server.url + name for name in names}
    checksums = {name: sha256(mirror / name) for name in names}
    flowers = VGGFlower102(
        tmp_path / "data", "train", download=True, urls=urls, checksums=checksums
    )
    assert len(flowers) == 2
    assert listing(tmp_path / "data" / "vgg_flower102") == sorted(
        [*listing(images_only), "imagelabels.mat"]
    )
    with pytest.raises(ValueError, match=r"checksum mismatch for 102flowers.tgz"):
        VGGFlower102(
            tmp_path / "other", download=True, urls=urls, checksums={"102flowers.tgz": "4" * 64}
        )
    assert listing(tmp_path / "other") == []


def test_item_types_and_repr(tmp_path: Path) -> None:
    write_dtd(tmp_path)
    textures = DescribableTextures(tmp_path, "train")
    assert repr(textures).startswith("DescribableTextures(root=")
    assert "classes=33" in repr(textures)
    items: list[Any] = [textures[-1]]
    assert isinstance(items[0][0], Image.Image)
    assert isinstance(items[0][1], int)
