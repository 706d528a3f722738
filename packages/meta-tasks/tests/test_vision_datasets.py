"""The few-shot vision readers on tiny data sets written in the real on-disk formats."""

from __future__ import annotations

import hashlib
import io
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import torch
from meta_tasks import (
    CIFARFS,
    FC100,
    QUICKDRAW_SPLITS,
    MetaDataset,
    MiniImageNet,
    QuickDraw,
    TieredImageNet,
    quickdraw_classes,
)

np = pytest.importorskip("numpy", reason="the pickled data sets need numpy (meta-tasks[images])")
PIL = pytest.importorskip("PIL", reason="decoding needs Pillow (meta-tasks[images])")
from PIL import Image  # noqa: E402

if TYPE_CHECKING:
    from conftest import MirrorServer

Serve = Callable[[Path], "MirrorServer"]
RNG = np.random.default_rng(0)


def pixels(count: int, side: int) -> Any:
    return RNG.integers(0, 256, size=(count, side, side, 3), dtype=np.uint8)


def png(image: Any) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()


def write_mini(
    root: Path, split: str, classes: int = 3, per_class: int = 4
) -> tuple[Any, list[int]]:
    """A mini-ImageNet pickle whose classes own shuffled (not contiguous) image indices."""
    images = pixels(classes * per_class, 6)
    order = RNG.permutation(len(images)).tolist()
    class_dict = {f"n{label:08d}": order[label::classes] for label in range(classes)}
    labels = [0] * len(images)
    for label, indices in enumerate(class_dict.values()):
        for index in indices:
            labels[index] = label
    root.mkdir(parents=True, exist_ok=True)
    with (root / f"mini-imagenet-cache-{split}.pkl").open("wb") as handle:
        pickle.dump({"image_data": images, "class_dict": class_dict}, handle)
    return images, labels


def write_tiered(root: Path, short: str, count: int = 6) -> tuple[Any, list[int]]:
    images = pixels(count, 5)
    labels = [index % 3 for index in range(count)]
    folder = root / "tiered-imagenet"
    folder.mkdir(parents=True, exist_ok=True)
    encoded = [np.frombuffer(png(image), dtype=np.uint8) for image in images]
    with (folder / f"{short}_images_png.pkl").open("wb") as handle:
        pickle.dump(encoded, handle, protocol=2)
    with (folder / f"{short}_labels.pkl").open("wb") as handle:
        content = {"label_specific": np.array(labels), "label_general": np.zeros(count, int)}
        pickle.dump(content, handle, protocol=2)
    return images, labels


def fc100_pickle(count: int = 6, first_label: int = 40) -> tuple[bytes, Any, list[int]]:
    images = pixels(count, 4)
    labels = [first_label + index % 2 for index in range(count)]
    return pickle.dumps({"data": images, "labels": labels}, protocol=2), images, labels


def write_cifarfs(root: Path) -> dict[str, list[str]]:
    """``cifarfs/cifar100/{data,splits/bertinetto}`` with 2-3 classes per split."""
    base = root / "cifarfs" / "cifar100"
    splits = {"train": ["zebra", "apple", "otter"], "val": ["bee", "cloud"], "test": ["ray", "fox"]}
    for short, names in splits.items():
        (base / "splits" / "bertinetto").mkdir(parents=True, exist_ok=True)
        (base / "splits" / "bertinetto" / f"{short}.txt").write_text("\n".join(names) + "\n")
        for name in names:
            (base / "data" / name).mkdir(parents=True)
            for number, image in enumerate(pixels(3, 4)):
                (base / "data" / name / f"{name}_s_{number}.png").write_bytes(png(image))
    return splits


def write_quickdraw(root: Path, names: tuple[str, ...], count: int = 2) -> dict[str, Any]:
    folder = root / "quickdraw"
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for number, name in enumerate(names):
        arrays[name] = RNG.integers(0, 256, size=(count + number % 2, 784), dtype=np.uint8)
        np.save(folder / f"{name}.npy", arrays[name])
    return arrays


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def listing(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


# mini-ImageNet


@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_mini_imagenet_round_trip(tmp_path: Path, split: str) -> None:
    images, labels = write_mini(tmp_path, split)
    dataset = MiniImageNet(tmp_path, split)
    assert len(dataset) == 12
    assert dataset.labels == labels
    assert dataset.num_classes == 3
    assert dataset.classes == ["n00000000", "n00000001", "n00000002"]
    for index in (0, 5, -1):
        image, label = dataset[index]
        assert image.dtype == torch.uint8
        assert image.shape == (3, 6, 6)
        assert torch.equal(image, torch.from_numpy(images[index]).permute(2, 0, 1))
        assert label == labels[index]
    assert sorted(MetaDataset(dataset).labels) == [0, 1, 2]


def test_mini_imagenet_transform_and_errors(tmp_path: Path) -> None:
    images, _ = write_mini(tmp_path, "train")
    dataset = MiniImageNet(tmp_path, transform=lambda image: image.float() / 255)
    assert torch.allclose(dataset[1][0], torch.from_numpy(images[1]).permute(2, 0, 1) / 255)
    with pytest.raises(IndexError, match="out of range for MiniImageNet with 12 items"):
        dataset[12]
    with pytest.raises(ValueError, match=r"split must be one of \['train', 'validation', 'test'\]"):
        MiniImageNet(tmp_path, "val")
    with pytest.raises(FileNotFoundError, match=r"mini-imagenet-cache-test\.pkl not found"):
        MiniImageNet(tmp_path, "test")
    path = tmp_path / "mini-imagenet-cache-train.pkl"
    path.write_bytes(pickle.dumps({"image_data": images}))
    with pytest.raises(ValueError, match=rf"{path} has no key 'class_dict'"):
        MiniImageNet(tmp_path)
    path.write_bytes(pickle.dumps({"image_data": images, "class_dict": {"a": [0, 1]}}))
    with pytest.raises(ValueError, match="image 2 is in no class of 'class_dict'"):
        MiniImageNet(tmp_path)
    path.write_bytes(pickle.dumps({"image_data": images[..., 0], "class_dict": {}}))
    with pytest.raises(ValueError, match=r"'image_data' must be a numpy array \(items, height"):
        MiniImageNet(tmp_path)
    path.write_bytes(b"not a pickle")
    with pytest.raises(ValueError, match="not a valid pickle"):
        MiniImageNet(tmp_path)


def test_pickles_that_would_call_code_are_refused(tmp_path: Path) -> None:
    class Exploit:
        def __reduce__(self) -> tuple[Any, ...]:
            return (print, ("pwned",))

    (tmp_path / "mini-imagenet-cache-train.pkl").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(ValueError, match=r"refusing to load builtins\.print"):
        MiniImageNet(tmp_path)


def test_mini_imagenet_download(tmp_path: Path, serve_mirror: Serve) -> None:
    mirror = tmp_path / "mirror"
    _images, labels = write_mini(mirror, "validation")
    server = serve_mirror(mirror)
    data = (mirror / "mini-imagenet-cache-validation.pkl").read_bytes()
    root = tmp_path / "data"
    url = server.url + "mini-imagenet-cache-validation.pkl"
    checksums = {"mini-imagenet-cache-validation.pkl": sha256(data)}
    dataset = MiniImageNet(root, "validation", download=True, url=url, checksums=checksums)
    assert dataset.labels == labels
    assert listing(root) == ["mini-imagenet-cache-validation.pkl"]
    assert MiniImageNet(root, "validation", download=True, url=url).labels == labels
    assert [name for name, _ in server.requests] == ["mini-imagenet-cache-validation.pkl"]
    other = tmp_path / "other"
    with pytest.raises(ValueError, match="checksum mismatch"):
        MiniImageNet(
            other,
            "validation",
            download=True,
            url=url,
            checksums={"mini-imagenet-cache-validation.pkl": "0" * 64},
        )
    assert listing(other) == []


# tiered-ImageNet


@pytest.mark.parametrize(("split", "short"), [("train", "train"), ("validation", "val")])
def test_tiered_imagenet_round_trip(tmp_path: Path, split: str, short: str) -> None:
    images, labels = write_tiered(tmp_path, short)
    seen: list[torch.Tensor] = []
    dataset = TieredImageNet(tmp_path, split, transform=lambda image: seen.append(image) or 7)
    assert len(dataset) == 6
    assert dataset.labels == labels
    assert dataset.num_classes == 3
    assert dataset[4] == (7, labels[4])
    assert seen[0].dtype == torch.uint8
    assert seen[0].shape == (3, 5, 5)
    assert torch.equal(seen[0], torch.from_numpy(images[4]).permute(2, 0, 1))
    assert dataset.encoded(4) == png(images[4])


def test_tiered_imagenet_errors(tmp_path: Path) -> None:
    write_tiered(tmp_path, "test", count=4)
    labels = tmp_path / "tiered-imagenet" / "test_labels.pkl"
    labels.write_bytes(pickle.dumps({"label_specific": [0, 1, 2]}))
    with pytest.raises(ValueError, match=r"has 3 labels but .* 4 images"):
        TieredImageNet(tmp_path, "test")
    labels.write_bytes(pickle.dumps({"label_general": [0, 1, 2, 3]}))
    with pytest.raises(ValueError, match="has no key 'label_specific'"):
        TieredImageNet(tmp_path, "test")
    with pytest.raises(FileNotFoundError, match=r"tiered-imagenet/train_images_png\.pkl not found"):
        TieredImageNet(tmp_path, "train")
    images = tmp_path / "tiered-imagenet" / "test_images_png.pkl"
    images.write_bytes(pickle.dumps([b"not a png"] * 4))
    labels.write_bytes(pickle.dumps({"label_specific": [0, 1, 2, 3]}))
    with pytest.raises(ValueError, match=r"cannot decode image 2 of .*test_images_png\.pkl"):
        TieredImageNet(tmp_path, "test")[2]


def test_tiered_imagenet_download(tmp_path: Path, serve_mirror: Serve) -> None:
    staged = tmp_path / "staged"
    images, labels = write_tiered(staged, "test")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in ("test_images_png.pkl", "test_labels.pkl"):
        (mirror / f"tiered-imagenet-{name}").write_bytes(
            (staged / "tiered-imagenet" / name).read_bytes()
        )
    server = serve_mirror(mirror)
    root = tmp_path / "data"
    base_url = server.url + "tiered-imagenet-"
    with pytest.warns(UserWarning, match="no known SHA-256"):
        dataset = TieredImageNet(root, "test", download=True, base_url=base_url)
    assert dataset.labels == labels
    assert torch.equal(dataset.image(0), torch.from_numpy(images[0]).permute(2, 0, 1))
    assert listing(root) == [
        "tiered-imagenet",
        "tiered-imagenet/test_images_png.pkl",
        "tiered-imagenet/test_labels.pkl",
    ]
    other = tmp_path / "other"
    bad = {"tiered-imagenet/test_images_png.pkl": "0" * 64}
    with pytest.raises(ValueError, match="checksum mismatch"):
        TieredImageNet(other, "test", download=True, base_url=base_url, checksums=bad)
    assert listing(other) == ["tiered-imagenet"]  # the folder, empty: no file, no .part


# FC100


def test_fc100_round_trip_and_errors(tmp_path: Path) -> None:
    data, images, labels = fc100_pickle()
    (tmp_path / "FC100_val.pickle").write_bytes(data)
    dataset = FC100(tmp_path, "validation", transform=lambda image: image.sum().item())
    assert len(dataset) == 6
    assert dataset.labels == labels == [40, 41] * 3
    assert dataset[3] == (int(images[3].sum()), 41)
    assert dataset.image(3).shape == (3, 4, 4)
    assert torch.equal(dataset.image(3), torch.from_numpy(images[3]).permute(2, 0, 1))
    (tmp_path / "FC100_val.pickle").write_bytes(pickle.dumps({"data": images, "labels": [1]}))
    with pytest.raises(ValueError, match="1 'labels' for 6 images"):
        FC100(tmp_path, "validation")
    (tmp_path / "FC100_val.pickle").write_bytes(pickle.dumps({"labels": [1]}))
    with pytest.raises(ValueError, match="has no key 'data'"):
        FC100(tmp_path, "validation")
    with pytest.raises(FileNotFoundError, match=r"FC100_test\.pickle not found"):
        FC100(tmp_path, "test")


def test_fc100_download_extracts_the_three_pickles(tmp_path: Path, serve_mirror: Serve) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    contents = {
        short: fc100_pickle(first_label=10 * n) for n, short in enumerate(["train", "val", "test"])
    }
    with zipfile.ZipFile(mirror / "fc100.zip", "w") as archive:
        for short, (data, _, _) in contents.items():
            archive.writestr(f"FC100_{short}.pickle", data)
    server = serve_mirror(mirror)
    root = tmp_path / "data"
    checksums = {"fc100.zip": sha256((mirror / "fc100.zip").read_bytes())}
    test = FC100(root, "test", download=True, url=server.url + "fc100.zip", checksums=checksums)
    assert test.labels == contents["test"][2]
    assert listing(root) == ["FC100_test.pickle", "FC100_train.pickle", "FC100_val.pickle"]
    other = tmp_path / "other"
    with pytest.raises(ValueError, match="checksum mismatch"):
        FC100(other, download=True, url=server.url + "fc100.zip", checksums={"fc100.zip": "0" * 64})
    assert listing(other) == []


# CIFAR-FS


def test_cifarfs_reads_the_extracted_tree_in_image_folder_order(tmp_path: Path) -> None:
    write_cifarfs(tmp_path)
    dataset = CIFARFS(tmp_path, "train", transform=lambda image: image.shape)
    assert dataset.classes == ["apple", "otter", "zebra"]  # sorted, as ImageFolder
    assert dataset.labels == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    image_path, label = dataset.samples[4]
    assert (image_path.name, label) == ("otter_s_1.png", 1)
    assert dataset[4] == ((3, 4, 4), 1)
    decoded = np.array(Image.open(image_path).convert("RGB"))
    assert torch.equal(dataset.image(4), torch.from_numpy(decoded).permute(2, 0, 1))
    assert CIFARFS(tmp_path, "validation").classes == ["bee", "cloud"]
    assert not (tmp_path / "cifarfs" / "processed").exists()  # nothing copied


def test_cifarfs_prefers_learn2learns_processed_copy(tmp_path: Path) -> None:
    write_cifarfs(tmp_path)
    processed = tmp_path / "cifarfs" / "processed" / "test"
    (processed / "only").mkdir(parents=True)
    (processed / "only" / "a.png").write_bytes(png(pixels(1, 4)[0]))
    (processed / "only" / "notes.txt").write_text("not an image")
    dataset = CIFARFS(tmp_path, "test")
    assert dataset.classes == ["only"]
    assert len(dataset) == 1


def test_cifarfs_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"splits/bertinetto/train\.txt not found"):
        CIFARFS(tmp_path)
    write_cifarfs(tmp_path)
    split = tmp_path / "cifarfs" / "cifar100" / "splits" / "bertinetto" / "test.txt"
    split.write_text("ray\nwhale\n")
    with pytest.raises(ValueError, match=r"lists class 'whale' but .* is not a folder"):
        CIFARFS(tmp_path, "test")


def test_cifarfs_download(tmp_path: Path, serve_mirror: Serve) -> None:
    staged = tmp_path / "staged"
    write_cifarfs(staged)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with zipfile.ZipFile(mirror / "cifar100.zip", "w") as archive:
        for path in sorted((staged / "cifarfs").rglob("*")):
            if path.is_file():
                archive.write(path, str(path.relative_to(staged / "cifarfs")))
    server = serve_mirror(mirror)
    root = tmp_path / "data"
    checksums = {"cifar100.zip": sha256((mirror / "cifar100.zip").read_bytes())}
    dataset = CIFARFS(
        root, "test", download=True, url=server.url + "cifar100.zip", checksums=checksums
    )
    assert dataset.classes == ["fox", "ray"]
    assert len(dataset) == 6
    assert listing(root / "cifarfs") == listing(staged / "cifarfs")  # the zip is gone
    other = tmp_path / "other"
    with pytest.raises(ValueError, match="checksum mismatch"):
        CIFARFS(
            other,
            download=True,
            url=server.url + "cifar100.zip",
            checksums={"cifar100.zip": "0" * 64},
        )
    assert listing(other) == ["cifarfs"]


# Quick, Draw!


def test_quickdraw_splits_are_meta_datasets() -> None:
    sizes = {split: len(names) for split, names in QUICKDRAW_SPLITS.items()}
    assert sizes == {"train": 241, "test": 52, "validation": 52}
    everything = quickdraw_classes("all")
    assert len(set(everything)) == 345
    assert everything[241] == "angel"
    with pytest.raises(ValueError, match="split must be one of"):
        quickdraw_classes("val")


def test_quickdraw_reads_every_class_file_of_a_split(tmp_path: Path) -> None:
    arrays = write_quickdraw(tmp_path, quickdraw_classes("all"))
    dataset = QuickDraw(tmp_path, "validation")
    names = QUICKDRAW_SPLITS["validation"]
    assert dataset.classes == names
    assert len(dataset) == sum(len(arrays[n]) for n in names)
    index = len(arrays[names[0]]) + 1  # the second drawing of the second class
    image, label = dataset[index]
    assert label == 1
    assert image.dtype == torch.uint8
    assert image.shape == (1, 28, 28)
    assert torch.equal(image.flatten(), torch.from_numpy(arrays[names[1]][1]))
    assert dataset.drawing(index).shape == (28, 28)
    assert dataset.labels.tolist() == [n for n, name in enumerate(names) for _ in arrays[name]]
    everything = QuickDraw(tmp_path, transform=lambda image: image.float())
    assert everything.num_classes == 345
    assert everything[0][0].dtype == torch.float32


def test_quickdraw_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"quickdraw/angel\.npy not found"):
        QuickDraw(tmp_path, "test")
    write_quickdraw(tmp_path, ("cat",))
    np.save(tmp_path / "quickdraw" / "dog.npy", np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ValueError, match=r"dog\.npy holds a uint8 array of shape \(2, 28, 28\)"):
        QuickDraw(tmp_path, classes=["cat", "dog"])
    (tmp_path / "quickdraw" / "dog.npy").write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"cannot read .*dog\.npy: not a \.npy array"):
        QuickDraw(tmp_path, classes=["dog"])


def test_quickdraw_download(tmp_path: Path, serve_mirror: Serve) -> None:
    names = ("police car", "cat")
    arrays = write_quickdraw(tmp_path / "mirror", names)
    server = serve_mirror(tmp_path / "mirror" / "quickdraw")
    root = tmp_path / "data"
    checksums = {
        f"quickdraw/{n}.npy": sha256((tmp_path / "mirror" / "quickdraw" / f"{n}.npy").read_bytes())
        for n in names
    }
    dataset = QuickDraw(
        root, download=True, base_url=server.url, checksums=checksums, classes=names
    )
    assert [name for name, _ in server.requests] == ["police%20car.npy", "cat.npy"]
    assert torch.equal(dataset[0][0].flatten(), torch.from_numpy(arrays["police car"][0]))
    other = tmp_path / "other"
    bad = {"quickdraw/cat.npy": "0" * 64}
    with pytest.raises(ValueError, match="checksum mismatch"):
        QuickDraw(other, download=True, base_url=server.url, checksums=bad, classes=["cat"])
    assert listing(other) == ["quickdraw"]


def test_missing_numpy_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_mini(tmp_path, "train")
    monkeypatch.setitem(__import__("sys").modules, "numpy", None)
    with pytest.raises(ImportError, match=r"pip install meta-tasks\[images\]"):
        MiniImageNet(tmp_path)
    with pytest.raises(ImportError, match=r"pip install meta-tasks\[images\]"):
        QuickDraw(tmp_path, classes=["cat"])
