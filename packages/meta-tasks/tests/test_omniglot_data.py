"""Counts and invariants on the real Omniglot archives (``@pytest.mark.data``)."""

from __future__ import annotations

import doctest
import os
from collections import Counter
from pathlib import Path

import pytest
import torch
from meta_tasks import (
    OMNIGLOT_RUNS_ARCHIVE,
    OMNIGLOT_RUNS_WAYS,
    OMNIGLOT_SUBSETS,
    FewShotSampler,
    Omniglot,
    OmniglotOneShotRuns,
)

pytest.importorskip("PIL", reason="Omniglot tests need Pillow (meta-tasks[images])")

REPO_ROOT = Path(__file__).resolve().parents[3]
DATA_ROOT = Path(
    os.environ.get("META_OMNIGLOT_ROOT", REPO_ROOT.parent / "shared" / "data" / "omniglot")
)

pytestmark = [
    pytest.mark.data,
    pytest.mark.skipif(
        not (DATA_ROOT / "images_background_small1.zip").is_file(),
        reason=f"real Omniglot data not found in {DATA_ROOT} (set META_OMNIGLOT_ROOT)",
    ),
]


def test_small1_counts() -> None:
    dataset = Omniglot(DATA_ROOT, "background_small1")
    assert dataset.num_classes == 136
    assert len(dataset) == 136 * 20
    assert set(Counter(dataset.labels).values()) == {20}
    assert dataset.alphabets == ["Balinese", "Early_Aramaic", "Greek", "Korean", "Latin"]


def test_small2_counts() -> None:
    dataset = Omniglot(DATA_ROOT, "background_small2")
    assert dataset.num_classes == 156
    assert set(Counter(dataset.labels).values()) == {20}


def test_union_counts() -> None:
    dataset = Omniglot(DATA_ROOT, "background_small")
    assert dataset.num_classes == 242
    assert len(dataset) == 242 * 20
    assert set(Counter(dataset.labels).values()) == {20}
    assert len(set(dataset.classes)) == 242
    assert len(dataset.alphabets) == 8
    assert dataset.alphabets.count("Greek") == 1


def test_images_and_episode_from_real_data(device: torch.device) -> None:
    dataset = Omniglot(DATA_ROOT, "background_small1", cache=True)
    image, label = dataset[0]
    assert image.shape == (1, 28, 28)
    assert label == 0
    assert float(image.min()) >= 0.0
    assert float(image.max()) <= 1.0
    # strokes are bright on a dark background: most pixels are background
    assert float(image.mean()) < 0.3
    assert float(image.max()) > 0.5
    task = FewShotSampler(dataset, ways=5, shots=1, query_shots=3, seed=0).sample(1)[0].to(device)
    assert task.support_x.shape == (5, 1, 28, 28)
    assert task.query_x.shape == (15, 1, 28, 28)
    assert task.support_x.device.type == device.type


def test_one_shot_runs() -> None:
    runs = OmniglotOneShotRuns(DATA_ROOT)
    assert len(runs) == 20
    assert runs.run_names[0] == "run01"
    assert runs.run_names[-1] == "run20"
    for index in (0, 19):
        task = runs[index]
        assert task.support_x.shape == (20, 1, 28, 28)
        assert task.query_x.shape == (20, 1, 28, 28)
        assert task.support_y.tolist() == list(range(20))
        assert sorted(task.query_y.tolist()) == list(range(20))
    # run01/class_labels.txt: item01 -> class08, item02 -> class09, item03 -> class02
    assert runs[0].query_y[:3].tolist() == [7, 8, 1]


def test_constants_name_the_real_archives_and_runs() -> None:
    assert (DATA_ROOT / OMNIGLOT_RUNS_ARCHIVE).is_file()
    for subset in ("background_small1", "background_small2"):
        assert all((DATA_ROOT / name).is_file() for name in OMNIGLOT_SUBSETS[subset])
    runs = OmniglotOneShotRuns(DATA_ROOT)
    assert OMNIGLOT_RUNS_WAYS == 20
    assert {int(runs[index].support_y.unique().numel()) for index in range(len(runs))} == {
        OMNIGLOT_RUNS_WAYS
    }


def test_omniglot_docstring_examples() -> None:
    from meta_tasks import _omniglot

    result = doctest.testmod(_omniglot, extraglobs={"root": DATA_ROOT})
    assert result.attempted > 0
    assert result.failed == 0
