"""learn2learn's l2l.vision through the compat layer: models, FullOmniglot, get_tasksets."""

from __future__ import annotations

import doctest
import importlib
import io
import os
import random
import zipfile
from pathlib import Path

import meta_all.compat.learn2learn as l2l
import meta_nn
import meta_tasks
import pytest
import torch

PIL = pytest.importorskip("PIL", reason="Omniglot needs Pillow (meta-tasks[images])")
from PIL import Image  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[3]
DATA_ROOT = Path(
    os.environ.get("META_OMNIGLOT_ROOT", REPO_ROOT.parent / "shared" / "data" / "omniglot")
)
needs_data = pytest.mark.skipif(
    not (DATA_ROOT / "images_background_small2.zip").is_file(),
    reason=f"real Omniglot data not found in {DATA_ROOT} (set META_OMNIGLOT_ROOT)",
)
SMALL_ARCHIVES = "ignore:FullOmniglot.*small background archives:UserWarning"


def drawing(character: int, number: int) -> bytes:
    image = Image.new("L", (8, 8), 255)
    image.putpixel((character % 8, number % 8), 0)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def write_archive(path: Path, alphabets: dict[str, int], drawings: int = 4) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for alphabet, characters in alphabets.items():
            for character in range(1, characters + 1):
                for number in range(1, drawings + 1):
                    name = f"{path.stem}/{alphabet}/character{character:02d}/{number:02d}.png"
                    archive.writestr(name, drawing(character, number))


@pytest.fixture
def full_root(tmp_path: Path) -> Path:
    """Crafted full archives: 5 background and 3 evaluation characters, 4 drawings each."""
    write_archive(tmp_path / "images_background.zip", {"Beta": 2, "Alpha": 3})
    write_archive(tmp_path / "images_evaluation.zip", {"Gamma": 3})
    return tmp_path


def test_models_have_learn2learns_names_arguments_and_shapes() -> None:
    models = l2l.vision.models
    for name in ("OmniglotFC", "CNN4", "CNN4Backbone", "ResNet12", "ResNet12Backbone", "WRN28"):
        assert getattr(models, name) is getattr(meta_nn, name)
    assert models.MiniImagenetCNN is meta_nn.CNN4
    assert models.OmniglotCNN()(torch.randn(2, 1, 28, 28)).shape == (2, 5)
    assert models.OmniglotCNN(20, hidden_size=32, layers=3)(torch.randn(2, 1, 28, 28)).shape == (
        2,
        20,
    )
    assert models.OmniglotFC(input_size=28**2, output_size=10, sizes=[64, 64, 64])(
        torch.randn(3, 28**2)
    ).shape == (3, 10)
    assert models.MiniImagenetCNN(5)(torch.randn(2, 3, 84, 84)).shape == (2, 5)
    assert models.CNN4(output_size=20, hidden_size=128, layers=3).hidden_size == 128
    assert models.CNN4Backbone(channels=3, max_pool=True)(torch.randn(1, 3, 84, 84)).shape == (
        1,
        1600,
    )
    with torch.device("meta"):
        assert models.ResNet12(output_size=5)(torch.empty(2, 3, 84, 84)).shape == (2, 5)


def test_full_omniglot_concatenates_background_then_evaluation(full_root: Path) -> None:
    omniglot = l2l.vision.datasets.FullOmniglot(str(full_root), target_transform=lambda y: -y)
    assert omniglot.subsets == ("background", "evaluation")
    assert len(omniglot) == 32
    assert omniglot.num_classes == 8
    assert omniglot.labels == [c for c in range(8) for _ in range(4)]
    background = meta_tasks.Omniglot(full_root, "background", image_size=105)
    evaluation = meta_tasks.Omniglot(full_root, "evaluation", image_size=105)
    image, label = omniglot[21]  # evaluation item 1: its label is offset by 5 classes
    assert label == -(5 + evaluation.labels[1])
    assert torch.equal(image, 1.0 - evaluation.image(1))  # learn2learn's pixels: background 1
    assert image.shape == (1, 105, 105)
    assert image.max() == 1.0
    assert torch.equal(omniglot[3][0], 1.0 - background.image(3))
    assert torch.equal(omniglot[-1][0], omniglot[31][0])
    with pytest.raises(IndexError, match="index 32 is out of range for FullOmniglot"):
        omniglot[32]
    meta = l2l.data.MetaDataset(omniglot)  # from the labels attribute: no image is decoded
    assert meta.labels == list(range(8))
    small = l2l.vision.datasets.FullOmniglot(full_root, transform=lambda x: x.shape, image_size=28)
    assert small[0][0] == (1, 28, 28)
    assert "subsets=('background', 'evaluation')" in repr(small)


def test_full_omniglot_needs_its_archives(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"images_background\.zip"):
        l2l.vision.datasets.FullOmniglot(tmp_path)


def test_get_tasksets_on_crafted_full_archives(full_root: Path) -> None:
    random.seed(0)
    tasksets = l2l.vision.benchmarks.get_tasksets(
        "omniglot",
        train_ways=2,
        train_samples=2,
        test_ways=1,
        test_samples=3,
        num_tasks=4,
        root=str(full_root),
    )
    assert isinstance(tasksets, l2l.vision.benchmarks.BenchmarkTasksets)
    train, validation, test = tasksets
    images, labels = train[0]
    assert images.shape == (4, 1, 28, 28)
    assert sorted(labels.tolist()) == [0, 0, 1, 1]
    assert validation[0][0].shape == test[0][0].shape == (3, 1, 28, 28)
    assert len(train) == 4
    # learn2learn's split, scaled: round(8 * 1100 / 1623) = 5, round(8 * 1200 / 1623) = 6
    splits = [set(taskset.dataset.labels) for taskset in tasksets]
    assert [len(split) for split in splits] == [5, 1, 2]
    assert set.union(*splits) == set(range(8))
    for taskset, split in zip(tasksets, splits, strict=True):  # tasks stay inside their split
        assert isinstance(taskset.dataset, l2l.data.FilteredMetaDataset)
        assert taskset.transforms[0].dataset is taskset.dataset
        drawn = {taskset.dataset.indices_to_labels[item.index] for item in taskset.describe(0)}
        assert drawn <= split
        assert taskset.dataset.to_true_indices == [
            i for label in taskset.dataset.labels for i in range(4 * label, 4 * label + 4)
        ]
    random.seed(0)
    datasets, transforms = l2l.vision.benchmarks.omniglot_tasksets(
        2, 2, 1, 3, root=full_root, device="cpu"
    )
    assert [split.labels for split in datasets] == [s.dataset.labels for s in tasksets]
    on_device = datasets[0].dataset.dataset.dataset  # Filtered -> Subset -> MetaDataset -> data
    assert isinstance(on_device, l2l.data.OnDeviceDataset)
    assert on_device.tensors[0].shape == (32, 1, 28, 28)
    assert [type(t).__name__ for t in transforms[1]] == [
        "FusedNWaysKShots",
        "LoadData",
        "RemapLabels",
        "ConsecutiveLabels",
        "RandomClassRotation",
    ]
    assert (transforms[1][0].n, transforms[1][0].k) == (1, 3)
    names = ["omniglot", "mini-imagenet", "tiered-imagenet", "fc100", "cifarfs"]
    assert l2l.vision.benchmarks.list_tasksets() == names
    with pytest.raises(ValueError, match=r"unknown benchmark 'quickdraw'; provided: \['omniglot'"):
        l2l.vision.benchmarks.get_tasksets("quickdraw", root=str(full_root))


@pytest.mark.data
@needs_data
def test_full_omniglot_falls_back_to_the_small_archives_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="reading those instead"):
        omniglot = l2l.vision.datasets.FullOmniglot(DATA_ROOT)
    assert omniglot.subsets == ("background_small",)
    assert (len(omniglot), omniglot.num_classes) == (4840, 242)
    datasets = importlib.import_module("meta_all.compat.learn2learn.vision.datasets")
    benchmarks = importlib.import_module("meta_all.compat.learn2learn.vision.benchmarks")
    for module in (datasets, benchmarks):
        result = doctest.testmod(module, extraglobs={"root": DATA_ROOT})
        assert result.attempted > 0
        assert result.failed == 0


@pytest.mark.data
@pytest.mark.filterwarnings(SMALL_ARCHIVES)
@needs_data
def test_get_tasksets_on_the_real_small_archives() -> None:
    random.seed(3)
    first = l2l.vision.benchmarks.get_tasksets("omniglot", train_samples=2, root=str(DATA_ROOT))
    random.seed(3)
    again = l2l.vision.benchmarks.get_tasksets(
        "omniglot", train_samples=2, root=str(DATA_ROOT), device="cpu"
    )
    assert [len(t.dataset.labels) for t in first] == [164, 15, 63]
    for one, other in zip(first, again, strict=True):
        assert one.dataset.labels == other.dataset.labels
        assert torch.equal(one.sample()[0], other.sample()[0])  # same seed, same tasks
    images, labels = first.train.sample()
    assert labels.bincount().tolist() == [2, 2, 2, 2, 2]
    assert images.shape == (10, 1, 28, 28)
    assert images.max() == 1.0  # strokes 1.0 on a 0.0 background
    test_images, test_labels = first.test.sample()
    assert test_images.shape == (50, 1, 28, 28)  # test_samples defaults to 10
    assert test_labels.bincount().tolist() == [10] * 5
