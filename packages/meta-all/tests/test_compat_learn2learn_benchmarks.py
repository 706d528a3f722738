"""learn2learn's benchmark data sets and task sets through the compat layer, on tiny files."""

from __future__ import annotations

import hashlib
import inspect
import io
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import meta_all.compat.learn2learn as l2l
import meta_tasks
import pytest
import torch

np = pytest.importorskip("numpy", reason="the pickled data sets need numpy (meta-tasks[images])")
PIL = pytest.importorskip("PIL", reason="decoding needs Pillow (meta-tasks[images])")
from PIL import Image  # noqa: E402

if TYPE_CHECKING:
    from conftest import FolderServer

datasets = l2l.vision.datasets
benchmarks = l2l.vision.benchmarks
RNG = np.random.default_rng(1)
SHORT = {"train": "train", "validation": "val", "test": "test"}
LEARN2LEARN_ARGUMENTS = ["root", "mode", "transform", "target_transform", "download"]


def pixels(count: int, side: int) -> Any:
    return RNG.integers(0, 256, size=(count, side, side, 3), dtype=np.uint8)


def png(image: Any) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG")
    return out.getvalue()


def write_mini(root: Path, classes: int = 3, per_class: int = 4) -> dict[str, Any]:
    """The three mini-ImageNet pickles; class c owns images c, c + classes, ..."""
    root.mkdir(parents=True, exist_ok=True)
    written = {}
    for mode in SHORT:
        images = pixels(classes * per_class, 6)
        class_dict = {f"n{mode}{c}": list(range(c, len(images), classes)) for c in range(classes)}
        data = pickle.dumps({"image_data": images, "class_dict": class_dict})
        (root / f"mini-imagenet-cache-{mode}.pkl").write_bytes(data)
        written[mode] = images
    return written


def write_tiered(root: Path, count: int = 9) -> dict[str, Any]:
    folder = root / "tiered-imagenet"
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for short in SHORT.values():
        images = pixels(count, 5)
        with (folder / f"{short}_images_png.pkl").open("wb") as handle:
            pickle.dump([np.frombuffer(png(image), np.uint8) for image in images], handle, 2)
        with (folder / f"{short}_labels.pkl").open("wb") as handle:
            pickle.dump({"label_specific": np.arange(count) % 3}, handle, 2)
        written[short] = images
    return written


def fc100_pickles(count: int = 9) -> dict[str, tuple[bytes, Any]]:
    written = {}
    for number, short in enumerate(SHORT.values()):
        images = pixels(count, 4)
        labels = [20 * number + index % 3 for index in range(count)]
        written[short] = (pickle.dumps({"data": images, "labels": labels}, protocol=2), images)
    return written


def write_cifarfs(root: Path) -> None:
    base = root / "cifarfs" / "cifar100"
    (base / "splits" / "bertinetto").mkdir(parents=True)
    for short, names in {"train": "dog cat ant", "val": "bee owl", "test": "fox ray"}.items():
        (base / "splits" / "bertinetto" / f"{short}.txt").write_text(names.replace(" ", "\n"))
        for name in names.split():
            (base / "data" / name).mkdir(parents=True)
            for number, image in enumerate(pixels(3, 4)):
                (base / "data" / name / f"{number}.png").write_bytes(png(image))


@pytest.mark.parametrize(
    ("name", "default_mode"),
    [
        ("MiniImagenet", "train"),
        ("TieredImagenet", "train"),
        ("CIFARFS", "train"),
        ("FC100", "train"),
        ("Quickdraw", "all"),
    ],
)
def test_constructors_take_learn2learns_arguments(name: str, default_mode: str) -> None:
    parameters = inspect.signature(getattr(datasets, name)).parameters
    positional = [p for p in parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert [p.name for p in positional] == LEARN2LEARN_ARGUMENTS
    assert [p.default for p in positional[1:]] == [default_mode, None, None, False]


def test_mini_imagenet_items_are_float_tensors_in_0_255(tmp_path: Path) -> None:
    images = write_mini(tmp_path)["validation"]
    dataset = datasets.MiniImagenet(str(tmp_path), "validation", target_transform=str)
    assert len(dataset) == 12
    image, label = dataset[4]
    assert image.dtype == torch.float32
    assert image.shape == (3, 6, 6)
    assert torch.equal(image, torch.from_numpy(images[4]).permute(2, 0, 1).float())
    assert label == "1"  # image 4 is in class 4 % 3; target_transform applied
    assert sorted(l2l.data.MetaDataset(dataset).labels) == [0, 1, 2]
    with pytest.raises(IndexError, match="out of range for MiniImagenet with 12 items"):
        dataset[12]


def test_tiered_imagenet_items_are_pil_images(tmp_path: Path) -> None:
    images = write_tiered(tmp_path)["test"]
    dataset = datasets.TieredImagenet(tmp_path, mode="test", transform=np.asarray)
    image, label = dataset[5]
    assert label == 2
    assert image.shape == (5, 5, 3)
    assert np.array_equal(image, images[5])
    assert isinstance(datasets.TieredImagenet(tmp_path, "test")[0][0], Image.Image)


def test_fc100_items_are_pil_images_with_cifar_labels(tmp_path: Path) -> None:
    data, images = fc100_pickles()["val"]
    (tmp_path / "FC100_val.pickle").write_bytes(data)
    dataset = datasets.FC100(tmp_path, "validation", target_transform=lambda y: -y)
    image, label = dataset[4]
    assert isinstance(image, Image.Image)
    assert image.size == (4, 4)
    assert label == -21
    assert np.array_equal(np.asarray(image), images[4])


def test_cifarfs_is_an_image_folder_of_pil_images(tmp_path: Path) -> None:
    write_cifarfs(tmp_path)
    dataset = datasets.CIFARFS(tmp_path, "train")
    assert dataset.classes == ["ant", "cat", "dog"]
    assert dataset.targets == [0] * 3 + [1] * 3 + [2] * 3
    image, label = dataset[3]
    assert isinstance(image, Image.Image)
    assert image.mode == "RGB"
    assert label == 1
    assert dataset.samples[3] == (
        str(tmp_path / "cifarfs" / "cifar100" / "data" / "cat" / "0.png"),
        1,
    )


def test_quickdraw_items_are_numpy_drawings(tmp_path: Path) -> None:
    folder = tmp_path / "quickdraw"
    folder.mkdir()
    arrays = {name: RNG.integers(0, 256, (3, 784), dtype=np.uint8) for name in ("cat", "dog")}
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array)
    dataset = datasets.Quickdraw(tmp_path, classes=["cat", "dog"], target_transform=float)
    image, label = dataset[4]
    assert isinstance(image, np.ndarray)
    assert image.shape == (28, 28)
    assert image.dtype == np.uint8
    assert np.array_equal(image.reshape(-1), arrays["dog"][1])
    assert label == 1.0
    with pytest.raises(FileNotFoundError, match=r"quickdraw/angel\.npy not found"):
        datasets.Quickdraw(tmp_path, "test")


def test_malformed_files_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "mini-imagenet-cache-train.pkl").write_bytes(pickle.dumps({"class_dict": {}}))
    with pytest.raises(ValueError, match=r"mini-imagenet-cache-train\.pkl has no key 'image_data'"):
        datasets.MiniImagenet(tmp_path)
    (tmp_path / "FC100_test.pickle").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(ValueError, match=r"FC100_test\.pickle holds a list; expected a dict"):
        datasets.FC100(tmp_path, "test")


def test_downloads_use_the_given_urls_and_leave_nothing_on_a_bad_checksum(
    tmp_path: Path, serve_folder: Callable[[Path], FolderServer]
) -> None:
    mirror = tmp_path / "mirror"
    write_mini(mirror)
    with zipfile.ZipFile(mirror / "fc100.zip", "w") as archive:
        for short, (data, _) in fc100_pickles().items():
            archive.writestr(f"FC100_{short}.pickle", data)
    server = serve_folder(mirror)
    digest = hashlib.sha256((mirror / "mini-imagenet-cache-test.pkl").read_bytes()).hexdigest()
    root = tmp_path / "data"
    mini = datasets.MiniImagenet(
        root,
        "test",
        download=True,
        url=server.url + "mini-imagenet-cache-test.pkl",
        checksums={"mini-imagenet-cache-test.pkl": digest},
    )
    assert len(mini) == 12
    with pytest.warns(UserWarning, match="no known SHA-256 for fc100.zip"):
        fc100 = datasets.FC100(root, "test", download=True, url=server.url + "fc100.zip")
    assert fc100.labels == [40, 41, 42] * 3
    assert sorted(p.name for p in root.iterdir()) == [
        "FC100_test.pickle",
        "FC100_train.pickle",
        "FC100_val.pickle",
        "mini-imagenet-cache-test.pkl",
    ]
    other = tmp_path / "other"
    with pytest.raises(ValueError, match="checksum mismatch"):
        datasets.FC100(
            other, download=True, url=server.url + "fc100.zip", checksums={"fc100.zip": "0" * 64}
        )
    assert list(other.iterdir()) == []


@pytest.fixture
def benchmark_root(tmp_path: Path) -> Path:
    """Every benchmark's files, 2-3 classes of 3-4 images per split."""
    write_mini(tmp_path)
    write_tiered(tmp_path)
    for short, (data, _) in fc100_pickles().items():
        (tmp_path / f"FC100_{short}.pickle").write_bytes(data)
    write_cifarfs(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("name", "function", "shape", "top"),
    [
        ("mini-imagenet", "mini_imagenet_tasksets", (3, 6, 6), 255.0),
        ("tiered-imagenet", "tiered_imagenet_tasksets", (3, 5, 5), 1.0),
        ("fc100", "fc100_tasksets", (3, 4, 4), 1.0),
        ("cifarfs", "cifarfs_tasksets", (3, 4, 4), 1.0),
    ],
)
def test_tasksets_have_the_requested_ways_and_shots(
    benchmark_root: Path, name: str, function: str, shape: tuple[int, ...], top: float
) -> None:
    splits, chains = getattr(benchmarks, function)(
        train_ways=3, train_samples=3, test_ways=2, test_samples=2, root=str(benchmark_root)
    )
    assert all(isinstance(split, meta_tasks.MetaDataset) for split in splits)
    assert [type(t).__name__ for t in chains[1]] == [
        "NWays",
        "KShots",
        "LoadData",
        "ConsecutiveLabels",
        "RemapLabels",
    ]
    assert [type(t).__name__ for t in chains[2]][3:] == ["RemapLabels", "ConsecutiveLabels"]
    tasksets = benchmarks.get_tasksets(
        name,
        train_ways=3,
        train_samples=3,
        test_ways=2,
        test_samples=2,
        num_tasks=4,
        root=str(benchmark_root),
    )
    assert isinstance(tasksets, benchmarks.BenchmarkTasksets)
    assert isinstance(tasksets.validation, l2l.data.TaskDataset)
    assert len(tasksets.test) == 4
    for taskset, ways, samples in (
        (tasksets.train, 3, 3),
        (tasksets.validation, 2, 2),
        (tasksets.test, 2, 2),
    ):
        images, labels = taskset.sample()
        assert images.dtype == torch.float32
        assert tuple(images.shape) == (ways * samples, *shape)
        assert images.min() >= 0.0
        assert images.max() <= top
        assert sorted(labels.tolist()) == sorted(list(range(ways)) * samples)
    if name == "mini-imagenet":
        normalized = benchmarks.get_tasksets(
            name, train_ways=3, train_samples=3, root=benchmark_root, data_augmentation="normalize"
        )
        assert normalized.train.sample()[0].max() <= 1.0


def test_tasksets_on_a_device_and_unprovided_augmentations(benchmark_root: Path) -> None:
    tasksets = benchmarks.get_tasksets(
        "fc100", test_ways=2, test_samples=2, root=benchmark_root, device="cpu"
    )
    images, _labels = tasksets.validation.sample()
    assert images.shape == (4, 3, 4, 4)
    assert images.max() <= 1.0
    mini = benchmarks.get_tasksets(
        "mini-imagenet",
        train_ways=2,
        train_samples=2,
        root=benchmark_root,
        device="cpu",
        data_augmentation="normalize",
    )
    assert mini.train.sample()[0].max() <= 1.0
    with pytest.raises(ValueError, match="lee2019 augmentation needs torchvision"):
        benchmarks.get_tasksets("tiered-imagenet", root=benchmark_root, data_augmentation="lee2019")
    with pytest.raises(FileNotFoundError, match=r"cifarfs/cifar100/splits/bertinetto/train\.txt"):
        benchmarks.get_tasksets("cifarfs", root=benchmark_root / "empty", download=False)
