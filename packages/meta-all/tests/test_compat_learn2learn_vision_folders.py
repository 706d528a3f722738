"""l2l.vision.datasets: the Meta-Dataset image folders (CUB, DTD, Aircraft, Fungi, Flowers)."""

from __future__ import annotations

import inspect
import json
import struct
from pathlib import Path

import meta_all.compat.learn2learn as l2l
import meta_tasks
import pytest

PIL = pytest.importorskip("PIL", reason="the image data sets need Pillow (meta-tasks[images])")
from PIL import Image  # noqa: E402

# learn2learn 0.2.0's constructor arguments, in order, with their defaults.
LEARN2LEARN_ARGUMENTS = {
    "CUBirds200": [
        ("root", inspect.Parameter.empty),
        ("mode", "all"),
        ("transform", None),
        ("target_transform", None),
        ("download", False),
        ("include_imagenet_duplicates", False),
        ("bounding_box_crop", False),
    ],
    "DescribableTextures": [
        ("root", inspect.Parameter.empty),
        ("mode", "all"),
        ("transform", None),
        ("target_transform", None),
        ("download", False),
    ],
    "FGVCAircraft": [
        ("root", inspect.Parameter.empty),
        ("mode", "all"),
        ("transform", None),
        ("target_transform", None),
        ("download", False),
        ("bounding_box_crop", False),
    ],
    "FGVCFungi": [
        ("root", inspect.Parameter.empty),
        ("mode", "all"),
        ("transform", None),
        ("target_transform", None),
        ("download", False),
    ],
    "VGGFlower102": [
        ("root", inspect.Parameter.empty),
        ("mode", "all"),
        ("transform", None),
        ("target_transform", None),
        ("download", False),
    ],
}


@pytest.mark.parametrize("name", sorted(LEARN2LEARN_ARGUMENTS))
def test_names_arguments_and_defaults_are_learn2learns(name: str) -> None:
    compat = getattr(l2l.vision.datasets, name)
    assert compat is getattr(meta_tasks, name)
    assert name in l2l.vision.datasets.__all__
    parameters = inspect.signature(compat).parameters.values()
    positional = [(p.name, p.default) for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == LEARN2LEARN_ARGUMENTS[name]
    keyword_only = [p.name for p in parameters if p.kind is p.KEYWORD_ONLY]
    assert keyword_only == ["urls", "checksums"]


def _image(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.frombytes("RGB", (4, 3), bytes((seed * 7 + i) % 256 for i in range(36))).save(
        path, format="PNG"
    )


def test_textures_through_a_taskset(tmp_path: Path) -> None:
    images = tmp_path / "describable_textures" / "dtd" / "images"
    names = ("banded", "bumpy", "crosshatched")  # the first test classes
    for texture in ("knitted", "sprinkled", "stratified", "woven"):
        (images / texture).mkdir(parents=True)
    for c, texture in enumerate(names):
        for i in range(3):
            _image(images / texture / f"{texture}_{i}.jpg", 10 * c + i)
    dataset = l2l.vision.datasets.DescribableTextures(
        str(tmp_path), mode="test", transform=lambda image: image.size
    )
    assert len(dataset) == 9
    assert dataset.labels == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert dataset[4] == ((4, 3), 1)
    meta = l2l.data.MetaDataset(dataset)
    tasks = l2l.data.TaskDataset(
        meta,
        task_transforms=[
            l2l.data.transforms.NWays(meta, n=2),
            l2l.data.transforms.KShots(meta, k=1),
            l2l.data.transforms.LoadData(meta),
        ],
        num_tasks=3,
    )
    task = tasks.sample()
    assert len(task) == 2


def test_flowers_and_fungi_read_learn2learns_files(tmp_path: Path) -> None:
    folder = tmp_path / "vgg_flower102"
    labels = [5, 9, 5]  # test classes 5 and 9: labels 0 and 1
    for index in range(1, 4):
        _image(folder / "jpg" / f"image_{index:05d}.jpg", index)
    matrix = b"".join(
        struct.pack("<II", kind, len(payload)) + payload + b"\0" * (-len(payload) % 8)
        for kind, payload in (
            (6, struct.pack("<II", 6, 0)),
            (5, struct.pack("<ii", 1, 3)),
            (1, b"labels"),
            (9, struct.pack("<3d", *labels)),
        )
    )
    header = b"MATLAB 5.0 MAT-file".ljust(116) + b"\0" * 8 + struct.pack("<H", 0x0100) + b"IM"
    (folder / "imagelabels.mat").write_bytes(header + struct.pack("<II", 14, len(matrix)) + matrix)
    flowers = l2l.vision.datasets.VGGFlower102(tmp_path, "test", None, lambda y: y + 10)
    assert [flowers[i][1] for i in range(3)] == [10, 11, 10]
    assert isinstance(flowers[0][0], Image.Image)
    fungi = tmp_path / "fgvc_fungi"
    (fungi / "images").mkdir(parents=True)
    for part in ("train", "val"):
        (fungi / f"{part}.json").write_text(json.dumps({"images": [], "annotations": []}))
    assert len(l2l.vision.datasets.FGVCFungi(tmp_path, "validation")) == 0
    with pytest.raises(ValueError, match=r"mode must be one of"):
        l2l.vision.datasets.FGVCAircraft(tmp_path, "valid")
