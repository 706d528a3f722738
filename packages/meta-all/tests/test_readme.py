"""The Python examples of this package's README run."""

from __future__ import annotations

import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"

# Names the README's sketches assume the reader already has.
PRELUDE = """
import torch
import torch.nn.functional as F
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
net = model
loss_fn = F.cross_entropy
support_x, support_y = torch.randn(6, 4), torch.arange(3).repeat(2)
query_x, query_y = torch.randn(9, 4), torch.arange(3).repeat(3)
tasks = [(support_x, support_y, query_x, query_y)] * 2
data_train, data_test = (support_x, support_y), (query_x, query_y)
"""


def test_readme_python_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert len(blocks) == 3
    for block in blocks:
        namespace: dict[str, object] = {"__name__": "__readme__"}
        exec(compile(PRELUDE + block, str(README), "exec"), namespace)
        model = namespace["model"]
        assert isinstance(model, torch.nn.Module)
    # The learn2learn and MetaNN sketches back-propagate into the model.
    assert all(p.grad is not None for p in model.parameters())
