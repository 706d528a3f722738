"""The package can be vendored: copied under another package's tree and imported from there."""

from __future__ import annotations

import ast
import importlib
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import meta_functional
import pytest
import torch

PACKAGE_DIR = Path(meta_functional.__file__).parent
ALLOWED_TOP_LEVEL = set(sys.stdlib_module_names) | {"torch"}


def absolute_imports(source: Path) -> Iterator[str]:
    """Yield the top-level module of every absolute import in ``source``."""
    for node in ast.walk(ast.parse(source.read_text(), filename=str(source))):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            assert node.module is not None
            yield node.module.split(".")[0]


def test_sources_import_only_stdlib_torch_and_relative_modules() -> None:
    sources = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(sources) >= 5
    offenders = {
        f"{source.name}: {module}"
        for source in sources
        for module in absolute_imports(source)
        if module not in ALLOWED_TOP_LEVEL
    }
    assert not offenders, f"non-stdlib, non-torch absolute imports: {sorted(offenders)}"


@pytest.fixture
def vendored(tmp_path: Path) -> Iterator[str]:
    vendor_dir = tmp_path / "otherlib" / "_vendor"
    shutil.copytree(
        PACKAGE_DIR, vendor_dir / "mfcore", ignore=shutil.ignore_patterns("__pycache__")
    )
    (tmp_path / "otherlib" / "__init__.py").write_text(
        '"""A project vendoring meta-functional."""\n'
    )
    (vendor_dir / "__init__.py").write_text('"""Vendored dependencies."""\n')
    sys.path.insert(0, str(tmp_path))
    try:
        yield "otherlib._vendor.mfcore"
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.split(".")[0] == "otherlib"]:
            del sys.modules[name]
        importlib.invalidate_caches()


def test_vendored_copy_imports_and_adapts(vendored: str, tmp_path: Path) -> None:
    core = importlib.import_module(vendored)
    assert Path(core.__file__).parent == tmp_path / "otherlib" / "_vendor" / "mfcore"
    assert core.adapt is not meta_functional.adapt
    assert sorted(core.__all__) == sorted(meta_functional.__all__)
    # Nothing of the installed distribution was needed by the copy.
    copied_modules = [name for name in sys.modules if name.startswith(vendored + ".")]
    assert f"{vendored}._functional" in copied_modules

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x, y = torch.randn(10, 2), torch.randn(10, 1)

    def support_loss(params: dict[str, torch.Tensor]) -> torch.Tensor:
        return ((core.functional_forward(net, params, x) - y) ** 2).mean()

    params = core.named_params(net)
    adapted = core.adapt(net, params, support_loss, lr=0.1, inner_steps=3)
    assert support_loss(adapted) < support_loss(params)
    expected = meta_functional.adapt(net, params, support_loss, lr=0.1, inner_steps=3)
    for name in params:
        torch.testing.assert_close(adapted[name], expected[name], rtol=0, atol=0)
    support_loss(adapted).backward()
    assert all(p.grad is not None for p in net.parameters())
    clone = core.clone_module(net)
    torch.testing.assert_close(clone(x), net(x), rtol=0, atol=0)
