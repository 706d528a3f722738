"""Quick, Draw! (the few-shot splits of Meta-Dataset), read from its per-class ``.npy`` files."""

from __future__ import annotations

import bisect
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from torch import Tensor

from ._vision_files import ensure_file, require_numpy, url_join
from ._vision_pickles import Transform, _SplitImages

QUICKDRAW_BASE_URL = "https://storage.googleapis.com/quickdraw_dataset/full/numpy_bitmap/"
"""Where [`QuickDraw`][meta_tasks.QuickDraw] downloads ``<class>.npy`` from by default: the
HTTPS address of the bucket learn2learn copies with ``gsutil``
(``gs://quickdraw_dataset/full/numpy_bitmap/``)."""

QUICKDRAW_SIDE = 28
"""Side of the square drawings; each row of a ``.npy`` file is one flattened drawing."""

QUICKDRAW_SPLITS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "train": (
            "hedgehog",
            "swan",
            "police car",
            "castle",
            "horse",
            "stairs",
            "van",
            "screwdriver",
            "marker",
            "duck",
            "oven",
            "dolphin",
            "stove",
            "ambulance",
            "basket",
            "popsicle",
            "whale",
            "alarm clock",
            "crown",
            "teapot",
            "octagon",
            "school bus",
            "potato",
            "eyeglasses",
            "diamond",
            "bowtie",
            "cat",
            "The Eiffel Tower",
            "hurricane",
            "square",
            "river",
            "door",
            "triangle",
            "pear",
            "cup",
            "elephant",
            "compass",
            "tractor",
            "ladder",
            "pineapple",
            "bathtub",
            "tiger",
            "drums",
            "cake",
            "ceiling fan",
            "zigzag",
            "light bulb",
            "sheep",
            "flip flops",
            "sailboat",
            "sink",
            "necklace",
            "toothbrush",
            "snorkel",
            "trombone",
            "watermelon",
            "pliers",
            "camera",
            "cruise ship",
            "string bean",
            "raccoon",
            "rainbow",
            "fork",
            "fan",
            "fence",
            "microphone",
            "motorbike",
            "pool",
            "line",
            "bandage",
            "bracelet",
            "syringe",
            "windmill",
            "lollipop",
            "grass",
            "airplane",
            "sword",
            "boomerang",
            "telephone",
            "guitar",
            "bed",
            "paint can",
            "sandwich",
            "sock",
            "tent",
            "stop sign",
            "scorpion",
            "toothpaste",
            "squiggle",
            "The Great Wall of China",
            "hot tub",
            "bottlecap",
            "mug",
            "baseball bat",
            "belt",
            "sun",
            "rake",
            "pillow",
            "parachute",
            "foot",
            "pencil",
            "traffic light",
            "underwear",
            "calculator",
            "blackberry",
            "shark",
            "nail",
            "ear",
            "cloud",
            "lighthouse",
            "lightning",
            "rain",
            "The Mona Lisa",
            "apple",
            "shorts",
            "star",
            "clock",
            "sea turtle",
            "bicycle",
            "fireplace",
            "lighter",
            "squirrel",
            "chandelier",
            "cannon",
            "paintbrush",
            "tree",
            "jail",
            "pants",
            "envelope",
            "onion",
            "pizza",
            "sleeping bag",
            "lipstick",
            "dragon",
            "t-shirt",
            "snowflake",
            "hot air balloon",
            "cooler",
            "peas",
            "skull",
            "dresser",
            "harp",
            "garden",
            "leaf",
            "camouflage",
            "house plant",
            "see saw",
            "megaphone",
            "map",
            "penguin",
            "dog",
            "peanut",
            "keyboard",
            "strawberry",
            "truck",
            "car",
            "pig",
            "crayon",
            "headphones",
            "floor lamp",
            "hamburger",
            "wine glass",
            "beach",
            "ocean",
            "circle",
            "asparagus",
            "remote control",
            "moon",
            "rifle",
            "shovel",
            "hospital",
            "barn",
            "picture frame",
            "scissors",
            "crab",
            "moustache",
            "brain",
            "lion",
            "banana",
            "chair",
            "skateboard",
            "book",
            "mushroom",
            "shoe",
            "key",
            "passport",
            "broccoli",
            "elbow",
            "leg",
            "dumbbell",
            "bird",
            "cello",
            "hockey puck",
            "submarine",
            "canoe",
            "rhinoceros",
            "bush",
            "flying saucer",
            "arm",
            "frog",
            "train",
            "dishwasher",
            "washing machine",
            "swing set",
            "aircraft carrier",
            "vase",
            "crocodile",
            "monkey",
            "blueberry",
            "cell phone",
            "toe",
            "garden hose",
            "zebra",
            "hexagon",
            "owl",
            "postcard",
            "speedboat",
            "mosquito",
            "birthday cake",
            "pickup truck",
            "hand",
            "computer",
            "piano",
            "fish",
            "soccer ball",
            "bear",
            "mouth",
            "face",
            "violin",
            "bench",
            "stereo",
            "jacket",
            "spreadsheet",
            "power outlet",
            "knee",
            "mountain",
            "octopus",
            "laptop",
            "snail",
            "flamingo",
            "spoon",
        ),
        "test": (
            "angel",
            "animal migration",
            "axe",
            "bat",
            "beard",
            "bee",
            "bridge",
            "broom",
            "bucket",
            "butterfly",
            "cactus",
            "campfire",
            "cookie",
            "couch",
            "cow",
            "diving board",
            "donut",
            "drill",
            "eraser",
            "feather",
            "finger",
            "fire hydrant",
            "flashlight",
            "frying pan",
            "giraffe",
            "goatee",
            "hammer",
            "helicopter",
            "helmet",
            "hockey stick",
            "hourglass",
            "house",
            "kangaroo",
            "lantern",
            "mailbox",
            "mouse",
            "palm tree",
            "parrot",
            "rabbit",
            "rollerskates",
            "saw",
            "saxophone",
            "snowman",
            "spider",
            "stitches",
            "streetlight",
            "sweater",
            "table",
            "umbrella",
            "wheel",
            "wine bottle",
            "yoga",
        ),
        "validation": (
            "ant",
            "anvil",
            "backpack",
            "baseball",
            "basketball",
            "binoculars",
            "bread",
            "bulldozer",
            "bus",
            "calendar",
            "camel",
            "candle",
            "carrot",
            "church",
            "clarinet",
            "coffee cup",
            "eye",
            "firetruck",
            "flower",
            "golf club",
            "grapes",
            "hat",
            "hot dog",
            "ice cream",
            "knife",
            "lobster",
            "matches",
            "mermaid",
            "microwave",
            "nose",
            "panda",
            "paper clip",
            "pond",
            "purse",
            "radio",
            "roller coaster",
            "skyscraper",
            "smiley face",
            "snake",
            "steak",
            "stethoscope",
            "suitcase",
            "teddy-bear",
            "television",
            "tennis racquet",
            "toaster",
            "toilet",
            "tooth",
            "tornado",
            "trumpet",
            "waterslide",
            "wristwatch",
        ),
    }
)
"""The class names of each split (Triantafillou et al. 2020: 241 / 52 / 52), in learn2learn's
order; ``"all"`` is train, test and validation one after the other (read-only)."""


def quickdraw_classes(split: str) -> tuple[str, ...]:
    """The class names of ``split`` (``"all"``, ``"train"``, ``"validation"`` or ``"test"``).

    Args:
        split: The split.

    Returns:
        Its class names in label order.

    Raises:
        ValueError: If ``split`` is unknown.

    Examples:
        >>> len(quickdraw_classes("all")), quickdraw_classes("test")[:2]
        (345, ('angel', 'animal migration'))
    """
    if split == "all":
        return sum(QUICKDRAW_SPLITS.values(), ())
    if not isinstance(split, str) or split not in QUICKDRAW_SPLITS:
        raise ValueError(
            f"split must be one of ['all', 'train', 'validation', 'test'], got {split!r}"
        )
    return QUICKDRAW_SPLITS[split]


class QuickDraw(_SplitImages):
    """Quick, Draw! (Ha & Eck 2017) with Meta-Dataset's class splits, from ``.npy`` files.

    Reads ``<root>/quickdraw/<class name>.npy``, one file per class as Google publishes them
    (and learn2learn downloads): a uint8 array ``(drawings, 784)``, each row a 28 x 28
    drawing. The files are memory-mapped, so only the drawings used are read. Labels number
    the classes in ``QUICKDRAW_SPLITS`` order (``quickdraw_classes(split)``); items of a class
    are contiguous. Items are ``(image, label)`` with ``image`` a uint8 tensor ``(1, 28,
    28)``; learn2learn's ``Quickdraw`` returns the numpy ``(28, 28)`` array.

    Args:
        root: Directory holding ``quickdraw/`` (``~`` is expanded).
        split: ``"all"`` (learn2learn's default), ``"train"``, ``"validation"`` or ``"test"``.
        download: Fetch the split's missing class files from ``base_url`` (each through a
            ``.part`` file, resumed if broken off, checked against ``checksums`` when listed,
            keyed ``"quickdraw/<class name>.npy"``). The full set is about 37 GB.
        transform: Applied to each image tensor.
        base_url: URL prefix the quoted file names are appended to; default
            ``QUICKDRAW_BASE_URL``.
        checksums: ``{"quickdraw/<class name>.npy": sha256 hex}``.
        classes: Read these class names instead of the split's (for a subset).

    Attributes:
        classes: The class names, indexed by label.
        labels: The label of every item, a 1-D int64 tensor (one entry per drawing).
        arrays: The memory-mapped ``(drawings, 784)`` array of every class.

    Raises:
        ValueError: If ``split`` is unknown or a file is not a uint8 ``(drawings, 784)``
            array.
        FileNotFoundError: If a class file is missing and ``download`` is false.
        ImportError: If numpy is not installed.

    Examples:
        >>> test = QuickDraw("~/data", "test", download=True)  # doctest: +SKIP
        >>> image, label = test[0]  # doctest: +SKIP
        >>> image.shape, len(test.classes)  # doctest: +SKIP
        (torch.Size([1, 28, 28]), 52)
    """

    labels: Any  # a tensor here: 50 million Python ints would not fit a list comfortably

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "all",
        *,
        download: bool = False,
        transform: Transform | None = None,
        base_url: str = QUICKDRAW_BASE_URL,
        checksums: Mapping[str, str] | None = None,
        classes: Sequence[str] | None = None,
    ) -> None:
        names = quickdraw_classes(split)
        super().__init__(root, "train", transform)
        self.split = split
        numpy = require_numpy("QuickDraw")
        self.classes: tuple[str, ...] = names if classes is None else tuple(classes)
        if not self.classes:
            raise ValueError("classes must name at least one class, got none")
        self.arrays: list[Any] = []
        for name in self.classes:
            path = ensure_file(
                self.root,
                f"quickdraw/{name}.npy",
                url=url_join(base_url, f"{name}.npy"),
                download=download,
                checksums=checksums,
                what="a uint8 array (drawings, 784) of this class",
            )
            self.arrays.append(_load_drawings(numpy, Path(path)))
        counts = torch.tensor([len(array) for array in self.arrays])
        self.offsets: list[int] = [0, *torch.cumsum(counts, 0).tolist()[:-1]]
        self.labels = torch.repeat_interleave(torch.arange(len(self.classes)), counts)

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.classes)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image, label = super().__getitem__(index)
        return image, int(label)

    def locate(self, index: int) -> tuple[int, int]:
        """``(label, row)``: the class of item ``index`` and its row in that class's file."""
        label = bisect.bisect_right(self.offsets, index) - 1
        return label, index - self.offsets[label]

    def drawing(self, index: int) -> Any:
        """The numpy ``(28, 28)`` uint8 view of item ``index`` (read from the mapped file)."""
        label, row = self.locate(index)
        return self.arrays[label][row].reshape(QUICKDRAW_SIDE, QUICKDRAW_SIDE)

    def image(self, index: int) -> Tensor:
        """The uint8 image ``(1, 28, 28)`` of item ``index`` (no transform)."""
        pixels = require_numpy("QuickDraw").array(self.drawing(index))
        return torch.from_numpy(pixels).unsqueeze(0)


def _load_drawings(numpy: Any, path: Path) -> Any:
    """Memory-map ``path`` after checking it is a uint8 ``(drawings, 784)`` array."""
    try:
        array = numpy.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise ValueError(f"cannot read {path}: not a .npy array ({exc})") from exc
    side = QUICKDRAW_SIDE * QUICKDRAW_SIDE
    if array.ndim != 2 or array.shape[1] != side or array.dtype != numpy.uint8:
        raise ValueError(
            f"{path} holds a {array.dtype} array of shape {array.shape}; expected uint8 "
            f"(drawings, {side})"
        )
    return array
