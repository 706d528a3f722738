"""meta-tasks.

`Task`, `TaskBatch`, task samplers (sinusoid regression, N-way K-shot episodes over any labeled
dataset), the episodic-data API (`MetaDataset` label bookkeeping with union and filtered views,
`TaskDataset` with composable task transforms, `split_by_shots`, `InfiniteIterator`), the
Omniglot dataset and its downloader, and the few-shot vision benchmarks' readers (mini- and
tiered-ImageNet, CIFAR-FS, FC100, Quick Draw; Meta-Dataset's CUB, DTD, FGVC-Aircraft, FGVCx
Fungi and VGG Flowers folders). Depends on torch; `pip install meta-tasks[images]` adds Pillow
and numpy for the image data sets.
"""

from __future__ import annotations

from .__about__ import __version__
from ._archives import OMNIGLOT_BASE_URL, ArchiveDownload
from ._cifarfs import CIFARFS, CIFARFS_URL
from ._fewshot import FewShotSampler, LabeledDataset, RotatedClasses, split_classes
from ._metadataset import FilteredMetaDataset, Label, MetaDataset, UnionMetaDataset
from ._omniglot import (
    OMNIGLOT_IMAGE_SIZE,
    OMNIGLOT_RUNS_ARCHIVE,
    OMNIGLOT_RUNS_WAYS,
    OMNIGLOT_SUBSETS,
    Omniglot,
    OmniglotOneShotRuns,
    download_omniglot,
)
from ._ondevice import OnDeviceDataset
from ._quickdraw import QUICKDRAW_BASE_URL, QUICKDRAW_SPLITS, QuickDraw, quickdraw_classes
from ._sinusoid import SinusoidParams, SinusoidTaskSampler
from ._task import Task, TaskBatch, TaskSampler, stack_tasks
from ._taskdataset import (
    InfiniteIterator,
    TaskDataset,
    TaskTransformFn,
    derive_seed,
    split_by_shots,
)
from ._transforms import (
    ConsecutiveLabels,
    FilterLabels,
    FusedNWaysKShots,
    ItemDescription,
    KShots,
    LoadData,
    NWays,
    RandomClassRotation,
    RemapLabels,
    TaskDescription,
    TaskTransform,
)
from ._vision_folders import (
    VISION_FOLDER_MODES,
    VISION_FOLDER_URLS,
    CUBirds200,
    DescribableTextures,
    FGVCAircraft,
    FGVCFungi,
    VGGFlower102,
)
from ._vision_pickles import (
    FC100,
    FC100_URL,
    MINI_IMAGENET_URLS,
    TIERED_IMAGENET_BASE_URL,
    MiniImageNet,
    TieredImageNet,
)

__all__ = [
    "CIFARFS",
    "CIFARFS_URL",
    "FC100",
    "FC100_URL",
    "MINI_IMAGENET_URLS",
    "OMNIGLOT_BASE_URL",
    "OMNIGLOT_IMAGE_SIZE",
    "OMNIGLOT_RUNS_ARCHIVE",
    "OMNIGLOT_RUNS_WAYS",
    "OMNIGLOT_SUBSETS",
    "QUICKDRAW_BASE_URL",
    "QUICKDRAW_SPLITS",
    "TIERED_IMAGENET_BASE_URL",
    "VISION_FOLDER_MODES",
    "VISION_FOLDER_URLS",
    "ArchiveDownload",
    "CUBirds200",
    "ConsecutiveLabels",
    "DescribableTextures",
    "FGVCAircraft",
    "FGVCFungi",
    "FewShotSampler",
    "FilterLabels",
    "FilteredMetaDataset",
    "FusedNWaysKShots",
    "InfiniteIterator",
    "ItemDescription",
    "KShots",
    "Label",
    "LabeledDataset",
    "LoadData",
    "MetaDataset",
    "MiniImageNet",
    "NWays",
    "Omniglot",
    "OmniglotOneShotRuns",
    "OnDeviceDataset",
    "QuickDraw",
    "RandomClassRotation",
    "RemapLabels",
    "RotatedClasses",
    "SinusoidParams",
    "SinusoidTaskSampler",
    "Task",
    "TaskBatch",
    "TaskDataset",
    "TaskDescription",
    "TaskSampler",
    "TaskTransform",
    "TaskTransformFn",
    "TieredImageNet",
    "UnionMetaDataset",
    "VGGFlower102",
    "__version__",
    "derive_seed",
    "download_omniglot",
    "quickdraw_classes",
    "split_by_shots",
    "split_classes",
    "stack_tasks",
]
