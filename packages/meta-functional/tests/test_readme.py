"""The README's example runs."""

from __future__ import annotations

import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs_and_reaches_the_meta_parameters() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert len(blocks) == 1
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    net = namespace["net"]
    assert isinstance(net, torch.nn.Module)
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
