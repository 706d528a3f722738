"""learn2learn's ``l2l.vision.models``: the standard few-shot vision models, from meta-nn.

``OmniglotFC``, ``ConvBlock``, ``ConvBase``, ``CNN4``, ``CNN4Backbone``, ``ResNet12``,
``ResNet12Backbone``, ``WRN28``, ``WRN28Backbone`` and the initialisers ``maml_init_`` and
``fc_init_`` are [`meta_nn`][meta_nn]'s, with learn2learn's constructor arguments, submodule
names (so ``state_dict`` keys) and output shapes; ``MiniImagenetCNN`` is ``CNN4``, as in
learn2learn. ``OmniglotCNN(output_size=5, hidden_size=64, layers=4)`` is
[`meta_nn.OmniglotCNN`][meta_nn.OmniglotCNN] with learn2learn's default ``output_size``.
``get_pretrained_backbone`` fetches learn2learn's pretrained backbone checkpoints (URLs in
``BACKBONE_URLS``) with ``download_file`` (``l2l.data.utils``'s, re-exported here as in
learn2learn).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import meta_nn
import torch
from meta_nn import CNN4 as CNN4
from meta_nn import WRN28 as WRN28
from meta_nn import CNN4Backbone as CNN4Backbone
from meta_nn import ConvBase as ConvBase
from meta_nn import ConvBlock as ConvBlock
from meta_nn import OmniglotFC as OmniglotFC
from meta_nn import ResNet12 as ResNet12
from meta_nn import ResNet12Backbone as ResNet12Backbone
from meta_nn import WRN28Backbone as WRN28Backbone
from meta_nn import fc_init_ as fc_init_
from meta_nn import maml_init_ as maml_init_
from torch import nn

from ...data.utils import download_file as download_file

__all__ = [
    "BACKBONE_SHA256",
    "BACKBONE_URLS",
    "CNN4",
    "WRN28",
    "CNN4Backbone",
    "ConvBase",
    "ConvBlock",
    "MiniImagenetCNN",
    "OmniglotCNN",
    "OmniglotFC",
    "ResNet12",
    "ResNet12Backbone",
    "WRN28Backbone",
    "download_file",
    "fc_init_",
    "get_pretrained_backbone",
    "maml_init_",
]

MiniImagenetCNN = CNN4
"""learn2learn's other name for [`CNN4`][meta_nn.CNN4]."""

_ZENODO = "https://zenodo.org/record/5651278/files/"

BACKBONE_URLS: dict[str, dict[str, dict[str, str]]] = {
    "mini-imagenet": {
        "resnet12": {"default": _ZENODO + "25u1gtp5.pth", "supervised": _ZENODO + "25u1gtp5.pth"},
        "wrn28": {"default": _ZENODO + "m8vz9plq.pth", "supervised": _ZENODO + "m8vz9plq.pth"},
    },
    "tiered-imagenet": {
        "resnet12": {"default": _ZENODO + "126od68s.pth", "supervised": _ZENODO + "126od68s.pth"},
        "wrn28": {"default": _ZENODO + "2w8u50q4.pth", "supervised": _ZENODO + "2w8u50q4.pth"},
    },
    "cifar-fs": {
        "cnn4": {"default": _ZENODO + "2mbq7efr.pth", "supervised": _ZENODO + "2mbq7efr.pth"},
    },
    "fc100": {
        "cnn4": {"default": _ZENODO + "w02f5vab.pth", "supervised": _ZENODO + "w02f5vab.pth"},
    },
}
"""Where learn2learn's pretrained backbones are: ``BACKBONE_URLS[dataset][model][spec]``.

learn2learn's table. To fetch from a mirror, pass ``urls=`` (the same nesting) to
[`get_pretrained_backbone`][meta_all.compat.learn2learn.vision.models.get_pretrained_backbone]
or edit this dict.
"""

BACKBONE_SHA256: dict[str, str] = {}
"""SHA-256 hex digest of a checkpoint, by URL. None of learn2learn's is published, so this is
empty: add entries (or a ``SHA256SUMS`` file in the checkpoint's folder, or pass ``sha256=``)
to have downloads and cached files verified."""


def _backbone(model: str) -> nn.Module:
    """The backbone learn2learn loads a ``model`` checkpoint into."""
    if model == "cnn4":
        return CNN4Backbone(channels=3, max_pool=True)
    if model == "resnet12":
        return ResNet12Backbone(avg_pool=False)
    return WRN28Backbone()


def _lookup(table: Mapping[str, Mapping[str, Mapping[str, str]]], *keys: str) -> str:
    """``table[dataset][model][spec]``, or a ``ValueError`` naming what is available."""
    level: object = table
    for name, key in zip(("dataset", "model", "spec"), keys, strict=True):
        if not isinstance(level, Mapping) or key not in level:
            options = sorted(level) if isinstance(level, Mapping) else []
            raise ValueError(
                f"get_pretrained_backbone: no pretrained backbone for {name}={key!r} "
                f"(dataset, model, spec = {keys}); available: {options}"
            )
        level = level[key]
    if not isinstance(level, str):
        raise TypeError(f"get_pretrained_backbone: the URL of {keys} must be a str, got {level!r}")
    return level


def get_pretrained_backbone(
    model: str,
    dataset: str,
    spec: str = "default",
    root: str | os.PathLike[str] = "~/data",
    download: bool = False,
    *,
    urls: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None,
    sha256: str | None = None,
) -> nn.Module:
    """learn2learn's ``get_pretrained_backbone``: a backbone with pretrained weights loaded.

    The checkpoint is ``<root>/pretrained_models/<dataset>/<model>.pth``, fetched with
    [`download_file`][meta_all.compat.learn2learn.data.utils.download_file] (atomic,
    resumable) from ``urls[dataset][model][spec]`` when it is missing and ``download`` is
    true. Its SHA-256 is checked, on download and on every load, when one is known:
    ``sha256``, else ``BACKBONE_SHA256[url]``, else the file's line in a ``SHA256SUMS`` file
    next to it. The state dict (``torch.load(..., weights_only=True)``) is loaded, strictly,
    into ``CNN4Backbone(channels=3, max_pool=True)`` (``"cnn4"``),
    ``ResNet12Backbone(avg_pool=False)`` (``"resnet12"``) or ``WRN28Backbone()``
    (``"wrn28"``), as learn2learn does.

    Args:
        model: ``"cnn4"``, ``"resnet12"`` or ``"wrn28"``.
        dataset: The benchmark the backbone was trained on (``"mini-imagenet"``,
            ``"tiered-imagenet"``, ``"cifar-fs"``, ``"fc100"``).
        spec: Which weights (``"default"`` or ``"supervised"``).
        root: Data directory (``~`` is expanded).
        download: Fetch the checkpoint if it is not in ``root``.
        urls: The URL table to use instead of ``BACKBONE_URLS`` (a mirror, say).
        sha256: The checkpoint's SHA-256 hex digest.

    Returns:
        The backbone, on the CPU, with the checkpoint's weights.

    Raises:
        ValueError: If ``model``, ``dataset`` or ``spec`` has no URL (the message lists the
            available ones), the checksum does not match, or the checkpoint does not fit the
            backbone (missing, unexpected or mis-shaped keys).
        FileNotFoundError: If the checkpoint is missing and ``download`` is false.
        OSError: If the download fails.

    Examples:
        >>> table = {"cifar-fs": {"cnn4": {"default": url + "cnn4.pth"}}}
        >>> backbone = get_pretrained_backbone(
        ...     "cnn4", "cifar-fs", root=folder, download=True, urls=table, sha256=digest
        ... )
        >>> backbone(torch.randn(2, 3, 32, 32)).shape
        torch.Size([2, 256])
    """
    url = _lookup(BACKBONE_URLS if urls is None else urls, dataset, model, spec)
    if model not in ("cnn4", "resnet12", "wrn28"):
        raise ValueError(
            f"get_pretrained_backbone: model must be 'cnn4', 'resnet12' or 'wrn28', got {model!r}"
        )
    path = Path(root).expanduser() / "pretrained_models" / dataset / f"{model}.pth"
    if not path.is_file() and not download:
        raise FileNotFoundError(
            f"get_pretrained_backbone: {path} not found; pass download=True to fetch it from "
            f"{url}, or place the checkpoint there yourself"
        )
    download_file(url, path, sha256=sha256 if sha256 is not None else BACKBONE_SHA256.get(url))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, Mapping):
        raise ValueError(
            f"get_pretrained_backbone: {path} holds a {type(state).__name__}, expected a "
            f"state dict (a mapping of parameter names to tensors)"
        )
    backbone = _backbone(model)
    try:
        backbone.load_state_dict(state)
    except RuntimeError as error:
        raise ValueError(
            f"get_pretrained_backbone: the checkpoint {path} does not fit "
            f"{type(backbone).__name__}: {error}"
        ) from error
    return backbone


class OmniglotCNN(meta_nn.OmniglotCNN):
    """learn2learn's ``OmniglotCNN(output_size=5, hidden_size=64, layers=4)`` for 28x28 images.

    See [`meta_nn.OmniglotCNN`][meta_nn.OmniglotCNN] (the differences from learn2learn's
    network are listed in the migration guide).

    Examples:
        >>> import torch
        >>> OmniglotCNN()(torch.randn(2, 1, 28, 28)).shape
        torch.Size([2, 5])
    """

    def __init__(self, output_size: int = 5, hidden_size: int = 64, layers: int = 4) -> None:
        super().__init__(output_size, hidden_size, layers)
