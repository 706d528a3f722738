"""The README's library example runs (with fewer iterations, to stay fast)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) == 1
    code = blocks[0]
    code, count = re.subn(r"trainer\.fit\(\s*1000,\s*25,", "trainer.fit(10, 4,", code)
    assert count == 1
    code = code.replace("checkpoint_every=500", "checkpoint_every=5")
    code = code.replace("eval_every=100", "eval_every=5")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, str(README), "exec"), namespace)
    assert namespace["history"].iterations == 10
    assert namespace["history"].eval_loss[-1][0] == 10
    assert (tmp_path / "runs" / "ck.pt").is_file()
    assert (tmp_path / "runs" / "history.csv").is_file()
    assert len(namespace["result"].post_loss) == 100
