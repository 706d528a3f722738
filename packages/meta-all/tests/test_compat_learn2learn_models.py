"""learn2learn's l2l.vision.models helpers: ConvBlock/ConvBase, init rules, pretrained backbones.

Downloads go to a local HTTP server (the ``serve_folder`` fixture): no network.
"""

from __future__ import annotations

import doctest
import hashlib
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import meta_all.compat.learn2learn as l2l
import meta_nn
import pytest
import torch

if TYPE_CHECKING:
    from conftest import FolderServer

models = l2l.vision.models
UNVERIFIED = "ignore:no known SHA-256:UserWarning"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def saved_cnn4(folder: Path, name: str = "cnn4.pth") -> dict[str, torch.Tensor]:
    """Write a CNN4Backbone(channels=3, max_pool=True) checkpoint with recognisable weights."""
    torch.manual_seed(7)
    state = models.CNN4Backbone(channels=3, max_pool=True).state_dict()
    state["0.conv.bias"] = torch.arange(64, dtype=torch.float32)
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / name)
    return state


def test_names_are_meta_nns_at_learn2learns_paths() -> None:
    for name in ("ConvBlock", "ConvBase", "fc_init_", "maml_init_"):
        assert getattr(models, name) is getattr(meta_nn, name)
    assert models.download_file is l2l.data.utils.download_file
    assert models.__all__ == sorted(
        models.__all__, key=lambda n: (not n.isupper(), n[0].islower(), n)
    )
    for name in models.__all__:
        assert hasattr(models, name)
    assert callable(l2l.vision.benchmarks.omniglot_tasksets)


def test_learn2learn_style_calls() -> None:
    base = models.ConvBase(hidden=32, channels=3, max_pool=True, layers=4)
    assert base(torch.randn(2, 3, 84, 84)).shape == (2, 32, 5, 5)
    block = models.ConvBlock(3, 16, kernel_size=(3, 3), max_pool=False, max_pool_factor=1.0)
    assert block(torch.randn(2, 3, 32, 32)).shape == (2, 16, 16, 16)
    linear = models.fc_init_(torch.nn.Linear(10, 3))
    assert linear.weight.abs().max() <= 0.02
    assert torch.equal(models.maml_init_(torch.nn.Linear(10, 3)).bias, torch.zeros(3))
    with pytest.raises(TypeError, match="ConvBase: layers must be an int"):
        models.ConvBase(layers=4.0)  # type: ignore[arg-type]


def test_download_file_fetches_and_checks_the_sha256(
    tmp_path: Path, serve_folder: Callable[[Path], FolderServer]
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    data = bytes(range(256)) * 40
    (served / "blob.bin").write_bytes(data)
    server = serve_folder(served)
    target = tmp_path / "out" / "sub" / "blob.bin"
    models.download_file(server.url + "blob.bin", target, size=len(data), sha256=sha256(data))
    assert target.read_bytes() == data
    assert sorted(p.name for p in target.parent.iterdir()) == ["blob.bin"]  # no .part left
    # an existing destination is checked, not fetched again
    models.download_file(server.url + "blob.bin", target, sha256=sha256(data))
    assert server.requests == ["blob.bin"]
    # a wrong checksum: refused, nothing left behind
    wrong = tmp_path / "wrong" / "blob.bin"
    with pytest.raises(ValueError, match=r"checksum mismatch for blob\.bin"):
        models.download_file(server.url + "blob.bin", wrong, sha256="0" * 64)
    assert list(wrong.parent.iterdir()) == []
    # a present file whose checksum does not match is refused and kept
    with pytest.raises(ValueError, match="checksum mismatch"):
        models.download_file(server.url + "blob.bin", target, sha256="f" * 64)
    assert target.read_bytes() == data


def test_download_file_without_checksum_warns_and_checks_size(
    tmp_path: Path, serve_folder: Callable[[Path], FolderServer]
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "blob.bin").write_bytes(b"12345")
    server = serve_folder(served)
    with pytest.warns(UserWarning, match=r"no known SHA-256 for blob\.bin"):
        models.download_file(server.url + "blob.bin", str(tmp_path / "a" / "blob.bin"))
    assert (tmp_path / "a" / "blob.bin").read_bytes() == b"12345"
    with (
        pytest.warns(UserWarning, match="no known SHA-256"),
        pytest.raises(ValueError, match=r"holds 5 bytes, expected size=6 .*was deleted"),
    ):
        models.download_file(server.url + "blob.bin", tmp_path / "b" / "blob.bin", size=6)
    assert not (tmp_path / "b" / "blob.bin").exists()
    with pytest.raises(OSError, match=r"could not download missing\.bin from http://127"):
        models.download_file(server.url + "missing.bin", tmp_path / "c" / "missing.bin")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"source": b"http://x/y"}, TypeError, "source must be a URL string"),
        ({"size": 1.5}, TypeError, "size must be an int or None"),
        ({"size": -1}, ValueError, "size must be at least 0 bytes, got -1"),
        ({"sha256": "abc"}, ValueError, r"must be a SHA-256 hex digest \(64 hex digits\)"),
    ],
)
def test_download_file_bad_arguments(tmp_path: Path, kwargs, error, message) -> None:
    arguments = {"source": "http://127.0.0.1:9/y", "destination": tmp_path / "y", **kwargs}
    with pytest.raises(error, match=message):
        models.download_file(**arguments)
    assert list(tmp_path.iterdir()) == []


def test_get_pretrained_backbone_loads_a_served_checkpoint(
    tmp_path: Path, serve_folder: Callable[[Path], FolderServer]
) -> None:
    state = saved_cnn4(tmp_path / "served")
    digest = sha256((tmp_path / "served" / "cnn4.pth").read_bytes())
    server = serve_folder(tmp_path / "served")
    table = {"cifar-fs": {"cnn4": {"default": server.url + "cnn4.pth"}}}
    root = tmp_path / "data"
    backbone = models.get_pretrained_backbone(
        "cnn4", "cifar-fs", root=root, download=True, urls=table, sha256=digest
    )
    assert isinstance(backbone, meta_nn.CNN4Backbone)
    assert backbone[0].max_pool.kernel_size == 2  # max_pool=True, as learn2learn builds it
    loaded = backbone.state_dict()
    assert list(loaded) == list(state)
    assert all(torch.equal(loaded[key], state[key]) for key in state)
    assert (root / "pretrained_models" / "cifar-fs" / "cnn4.pth").is_file()
    # cached: loaded without a request, even without download=True; a SHA256SUMS is honoured
    (root / "pretrained_models" / "cifar-fs" / "SHA256SUMS").write_text(f"{digest}  cnn4.pth\n")
    again = models.get_pretrained_backbone("cnn4", "cifar-fs", root=str(root), urls=table)
    assert torch.equal(again[0].conv.bias, torch.arange(64, dtype=torch.float32))
    assert server.requests == ["cnn4.pth"]
    (root / "pretrained_models" / "cifar-fs" / "SHA256SUMS").write_text(f"{'0' * 64}  cnn4.pth\n")
    with pytest.raises(ValueError, match="checksum mismatch"):
        models.get_pretrained_backbone("cnn4", "cifar-fs", root=root, urls=table)


@pytest.mark.filterwarnings(UNVERIFIED)
def test_get_pretrained_backbone_refuses_bad_checkpoints(
    tmp_path: Path, serve_folder: Callable[[Path], FolderServer]
) -> None:
    served = tmp_path / "served"
    state = saved_cnn4(served)
    del state["3.conv.bias"]
    torch.save(state, served / "short.pth")
    torch.save([torch.zeros(1)], served / "list.pth")
    server = serve_folder(served)
    table = {
        "fc100": {"cnn4": {"default": server.url + "short.pth", "list": server.url + "list.pth"}}
    }
    with pytest.raises(ValueError, match=r"(?s)not fit CNN4Backbone.*Missing.*3\.conv\.bias"):
        models.get_pretrained_backbone(
            "cnn4", "fc100", root=tmp_path / "a", download=True, urls=table
        )
    with pytest.raises(ValueError, match="holds a list, expected a state dict"):
        models.get_pretrained_backbone(
            "cnn4", "fc100", "list", root=tmp_path / "b", download=True, urls=table
        )
    with pytest.raises(ValueError, match="checksum mismatch"):
        models.get_pretrained_backbone(
            "cnn4", "fc100", root=tmp_path / "c", download=True, urls=table, sha256="1" * 64
        )
    assert not (tmp_path / "c" / "pretrained_models" / "fc100" / "cnn4.pth").exists()


def test_get_pretrained_backbone_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"cnn4\.pth not found; pass download=True"):
        models.get_pretrained_backbone("cnn4", "cifar-fs", root=tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match=r"dataset='omniglot'.*available: \['cifar-fs', 'fc100'"):
        models.get_pretrained_backbone("cnn4", "omniglot", root=tmp_path)
    with pytest.raises(ValueError, match=r"model='cnn4'.*available: \['resnet12', 'wrn28'\]"):
        models.get_pretrained_backbone("cnn4", "mini-imagenet", root=tmp_path)
    with pytest.raises(ValueError, match=r"spec='best'.*available: \['default', 'supervised'\]"):
        models.get_pretrained_backbone("wrn28", "tiered-imagenet", "best", root=tmp_path)
    table = {"mine": {"vit": {"default": "http://127.0.0.1:9/vit.pth"}}}
    with pytest.raises(ValueError, match="model must be 'cnn4', 'resnet12' or 'wrn28'"):
        models.get_pretrained_backbone("vit", "mine", root=tmp_path, urls=table)
    # learn2learn's table, as published
    assert models.BACKBONE_URLS["mini-imagenet"]["resnet12"]["default"] == (
        "https://zenodo.org/record/5651278/files/25u1gtp5.pth"
    )
    assert sorted(models.BACKBONE_URLS) == ["cifar-fs", "fc100", "mini-imagenet", "tiered-imagenet"]


def test_docstring_examples(tmp_path: Path, serve_folder: Callable[[Path], FolderServer]) -> None:
    served = tmp_path / "served"
    saved_cnn4(served)
    (served / "weights.pth").write_bytes(b"weights")
    server = serve_folder(served)
    for name, digest_of in (("vision.models", "cnn4.pth"), ("data.utils", "weights.pth")):
        module = importlib.import_module(f"meta_all.compat.learn2learn.{name}")
        extraglobs = {
            "url": server.url,
            "folder": tmp_path / name,
            "digest": sha256((served / digest_of).read_bytes()),
            "served": b"weights",
        }
        result = doctest.testmod(module, extraglobs=extraglobs)
        assert result.attempted > 0
        assert result.failed == 0
