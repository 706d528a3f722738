"""learn2learn's mini-ImageNet, tiered-ImageNet, CIFAR-FS, FC100 and Quick Draw data sets.

meta-tasks reads the files; these classes keep learn2learn's names, argument order and item
types (a float tensor, a PIL image or a numpy array, as learn2learn returns each).
"""

from __future__ import annotations

import abc
import io
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import meta_tasks
from meta_tasks._task import check_index
from meta_tasks._vision_files import transform_item
from torch.utils.data import Dataset

__all__ = ["CIFARFS", "FC100", "MiniImagenet", "Quickdraw", "TieredImagenet"]

Transform = Callable[[Any], Any]


def _pil_image() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:  # pragma: no cover - the readers need Pillow before this
        raise ImportError("PIL images need Pillow: pip install meta-tasks[images]") from exc
    return Image


class _Adapter(Dataset[tuple[Any, Any]], abc.ABC):
    """``(image, label)`` items of a meta-tasks reader, converted and transformed."""

    def __init__(
        self,
        native: Any,
        root: str | os.PathLike[str],
        mode: str,
        transform: Transform | None,
        target_transform: Transform | None,
    ) -> None:
        self.native = native
        self.root = os.path.expanduser(root)
        self.mode = mode
        self.transform = transform
        self.target_transform = target_transform
        self.labels = native.labels

    @abc.abstractmethod
    def _image(self, index: int) -> Any:
        """The PIL image of item ``index``, read from the native data set."""

    def __len__(self) -> int:
        return len(self.native)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """Return ``(image, label)``, each passed through its transform if given.

        Raises:
            IndexError: If ``index`` is out of range.
        """
        name = type(self).__name__
        index = check_index(
            index,
            len(self.native),
            f"index {{index}} is out of range for {name} with {{size}} items",
        )
        image = self._image(index)
        label = int(self.labels[index])
        return transform_item(image, label, self.transform, self.target_transform)

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(root={self.root!r}, mode={self.mode!r}, items={len(self)})"


class MiniImagenet(_Adapter):
    """learn2learn's ``MiniImagenet``, over [`meta_tasks.MiniImageNet`][meta_tasks.MiniImageNet].

    Reads ``<root>/mini-imagenet-cache-<mode>.pkl``. Items are ``(image, label)``: ``image`` a
    float32 tensor ``(3, 84, 84)`` with values in ``[0, 255]`` (learn2learn's convention, not
    divided by 255), ``label`` an int numbering the classes of the pickle's ``class_dict`` in
    order. Unlike learn2learn, ``target_transform`` is applied (learn2learn ignores it).

    Args:
        root: Directory of the pickles (``~`` is expanded).
        mode: ``"train"``, ``"validation"`` or ``"test"``.
        transform: Applied to each image tensor.
        target_transform: Applied to each label.
        download: Fetch a missing pickle (default URL ``meta_tasks.MINI_IMAGENET_URLS[mode]``;
            learn2learn's Google Drive fallback is not followed, so offline pass ``url``).
        url: Download from this URL instead (a mirror).
        checksums: ``{file name: sha256 hex}`` to verify the pickle against.

    Raises:
        ValueError: If ``mode`` is unknown or the pickle is malformed.
        FileNotFoundError: If the pickle is missing and ``download`` is false.

    Examples:
        >>> train = MiniImagenet(root="~/data", mode="train", download=True)  # doctest: +SKIP
        >>> image, label = train[0]  # doctest: +SKIP
        >>> image.shape, image.dtype  # doctest: +SKIP
        (torch.Size([3, 84, 84]), torch.float32)
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        mode: str = "train",
        transform: Transform | None = None,
        target_transform: Transform | None = None,
        download: bool = False,
        *,
        url: str | None = None,
        checksums: Mapping[str, str] | None = None,
    ) -> None:
        native = meta_tasks.MiniImageNet(
            root, mode, download=download, url=url, checksums=checksums
        )
        super().__init__(native, root, mode, transform, target_transform)

    def _image(self, index: int) -> Any:
        return self.native.image(index).float()


class TieredImagenet(_Adapter):
    """learn2learn's ``TieredImagenet``, over [`TieredImageNet`][meta_tasks.TieredImageNet].

    Reads ``<root>/tiered-imagenet/<s>_images_png.pkl`` and ``<s>_labels.pkl``. Items are
    ``(image, label)``: ``image`` the PIL image opened from the stored PNG (as learn2learn),
    ``label`` the int of ``"label_specific"``.

    Args:
        root: Directory holding ``tiered-imagenet/`` (``~`` is expanded).
        mode: ``"train"``, ``"validation"`` or ``"test"``.
        transform: Applied to each PIL image.
        target_transform: Applied to each label.
        download: Fetch this split's two missing files (default URL prefix
            ``meta_tasks.TIERED_IMAGENET_BASE_URL``; learn2learn fetches all eight and falls
            back to a Google Drive tar, not followed here, so offline pass ``base_url``).
        base_url: URL prefix of the files on a mirror.
        checksums: ``{"tiered-imagenet/<file name>": sha256 hex}``.

    Raises:
        ValueError: If ``mode`` is unknown or a pickle is malformed.
        FileNotFoundError: If a file is missing and ``download`` is false.

    Examples:
        >>> test = TieredImagenet(root="~/data", mode="test", download=True)  # doctest: +SKIP
        >>> image, label = test[0]  # doctest: +SKIP
        >>> image.size  # doctest: +SKIP
        (84, 84)
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        mode: str = "train",
        transform: Transform | None = None,
        target_transform: Transform | None = None,
        download: bool = False,
        *,
        base_url: str = meta_tasks.TIERED_IMAGENET_BASE_URL,
        checksums: Mapping[str, str] | None = None,
    ) -> None:
        native = meta_tasks.TieredImageNet(
            root, mode, download=download, base_url=base_url, checksums=checksums
        )
        super().__init__(native, root, mode, transform, target_transform)

    def _image(self, index: int) -> Any:
        return _pil_image().open(io.BytesIO(self.native.encoded(index)))


class FC100(_Adapter):
    """learn2learn's ``FC100``, over [`meta_tasks.FC100`][meta_tasks.FC100].

    Reads ``<root>/FC100_<s>.pickle``. Items are ``(image, label)``: ``image`` a 32 x 32 RGB
    PIL image (as learn2learn), ``label`` the CIFAR-100 class (an int).

    Args:
        root: Directory of the pickles (``~`` is expanded).
        mode: ``"train"``, ``"validation"`` or ``"test"``.
        transform: Applied to each PIL image.
        target_transform: Applied to each label.
        download: Fetch and extract ``fc100.zip`` when the pickle is missing (default URL
            ``meta_tasks.FC100_URL``; learn2learn's Google Drive and Dropbox fallbacks are not
            followed, so offline pass ``url``).
        url: The zip's URL on a mirror.
        checksums: ``{file name: sha256 hex}``.

    Raises:
        ValueError: If ``mode`` is unknown or the pickle is malformed.
        FileNotFoundError: If the pickle is missing and ``download`` is false.

    Examples:
        >>> train = FC100(root="~/data", mode="train", download=True)  # doctest: +SKIP
        >>> train[0][0].size  # doctest: +SKIP
        (32, 32)
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        mode: str = "train",
        transform: Transform | None = None,
        target_transform: Transform | None = None,
        download: bool = False,
        *,
        url: str = meta_tasks.FC100_URL,
        checksums: Mapping[str, str] | None = None,
    ) -> None:
        native = meta_tasks.FC100(root, mode, download=download, url=url, checksums=checksums)
        super().__init__(native, root, mode, transform, target_transform)

    def _image(self, index: int) -> Any:
        return _pil_image().fromarray(self.native.pixels[index])


class CIFARFS(_Adapter):
    """learn2learn's ``CIFARFS``, over [`meta_tasks.CIFARFS`][meta_tasks.CIFARFS].

    Reads the ``<root>/cifarfs`` tree (learn2learn's ``processed/<s>`` copy when there, else
    the extracted ``cifar100/`` folders and split files; no copy is made). Items are ``(image,
    label)`` as torchvision's ``ImageFolder`` gives them: an RGB PIL image and the index of
    the class in sorted name order. ``classes`` and ``samples`` are ``ImageFolder``'s.

    Args:
        root: Directory holding ``cifarfs/`` (``~`` is expanded).
        mode: ``"train"``, ``"validation"`` or ``"test"``.
        transform: Applied to each PIL image.
        target_transform: Applied to each label.
        download: Fetch and extract ``cifar100.zip`` when missing (default URL
            ``meta_tasks.CIFARFS_URL``; learn2learn's Google Drive fallback is not followed,
            so offline pass ``url``).
        url: The zip's URL on a mirror.
        checksums: ``{"cifar100.zip": sha256 hex}``.

    Raises:
        ValueError: If ``mode`` is unknown or the tree is malformed.
        FileNotFoundError: If the data is missing and ``download`` is false.

    Examples:
        >>> test = CIFARFS(root="~/data", mode="test", download=True)  # doctest: +SKIP
        >>> len(test.classes)  # doctest: +SKIP
        20
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        mode: str = "train",
        transform: Transform | None = None,
        target_transform: Transform | None = None,
        download: bool = False,
        *,
        url: str = meta_tasks.CIFARFS_URL,
        checksums: Mapping[str, str] | None = None,
    ) -> None:
        native = meta_tasks.CIFARFS(root, mode, download=download, url=url, checksums=checksums)
        super().__init__(native, root, mode, transform, target_transform)
        self.classes: list[str] = native.classes
        self.samples = [(str(path), label) for path, label in native.samples]
        self.targets: list[int] = native.labels

    def _image(self, index: int) -> Any:
        with _pil_image().open(self.native.samples[index][0]) as image:
            return image.convert("RGB")


class Quickdraw(_Adapter):
    """learn2learn's ``Quickdraw``, over [`meta_tasks.QuickDraw`][meta_tasks.QuickDraw].

    Reads ``<root>/quickdraw/<class name>.npy`` (memory-mapped). Items are ``(image, label)``:
    ``image`` the numpy uint8 ``(28, 28)`` drawing (as learn2learn), ``label`` the class
    number in the split's order (``meta_tasks.QUICKDRAW_SPLITS``). Unlike learn2learn,
    ``labels`` gives one label per item (learn2learn: the list of class numbers) and no
    bookkeeping pickle is written to ``root``.

    Args:
        root: Directory holding ``quickdraw/`` (``~`` is expanded).
        mode: ``"all"``, ``"train"``, ``"validation"`` or ``"test"``.
        transform: Applied to each numpy drawing.
        target_transform: Applied to each label.
        download: Fetch the split's missing class files over HTTPS (default URL prefix
            ``meta_tasks.QUICKDRAW_BASE_URL``, the bucket learn2learn copies with
            ``gsutil``).
        base_url: URL prefix of the files on a mirror.
        checksums: ``{"quickdraw/<class name>.npy": sha256 hex}``.
        classes: Read only these class names (a subset).

    Raises:
        ValueError: If ``mode`` is unknown or a file is malformed.
        FileNotFoundError: If a file is missing and ``download`` is false.

    Examples:
        >>> drawings = Quickdraw(root="~/data", mode="test")  # doctest: +SKIP
        >>> drawings[0][0].shape  # doctest: +SKIP
        (28, 28)
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        mode: str = "all",
        transform: Transform | None = None,
        target_transform: Transform | None = None,
        download: bool = False,
        *,
        base_url: str = meta_tasks.QUICKDRAW_BASE_URL,
        checksums: Mapping[str, str] | None = None,
        classes: Sequence[str] | None = None,
    ) -> None:
        native = meta_tasks.QuickDraw(
            root,
            mode,
            download=download,
            base_url=base_url,
            checksums=checksums,
            classes=classes,
        )
        super().__init__(native, root, mode, transform, target_transform)

    def _image(self, index: int) -> Any:
        return self.native.drawing(index)
