"""learn2learn 0.2.0's own examples as clients of ``meta_all.compat.learn2learn``.

Each example is taken from the ``examples/`` folder of learn2learn's sdist (the
``learn2learn_examples`` fixture: ``nox -s peers`` keeps the sdist and names it in
``META_LEARN2LEARN_SDIST``), never copied into this repository. Only its learn2learn import
lines change (``import learn2learn as l2l`` becomes ``import meta_all.compat.learn2learn as
l2l``); the rewrite is checked to have changed exactly those lines. ``maml_toy.py`` and
``metamodule_toy.py`` run as scripts in a subprocess, and their output must equal the unchanged
example's under learn2learn 0.2.0 for the same seed; ``vision/maml_omniglot.py`` is imported
and its ``main`` called on a synthetic full Omniglot under a temporary ``HOME``. The examples
that cannot run here are listed, with the reason, in the migration guide
(docs/migration/learn2learn.md).
"""

from __future__ import annotations

import importlib.util
import io
import math
import re
import runpy
import socket
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

COMPAT = "meta_all.compat.learn2learn"
# ``import learn2learn as l2l`` and ``import learn2learn.nn.metalayers as ml``: the import
# forms the examples run here use.
IMPORT_LINE = re.compile(r"^(?P<indent>\s*)import learn2learn(?P<submodule>(?:\.\w+)*) as ")
ANY_LEARN2LEARN_IMPORT = re.compile(r"^\s*(?:import|from)\s+learn2learn\b")

# maml_toy.py hard-codes 1000 meta-updates of 50 tasks each; it takes about 18 s on one idle
# CPU thread (OMP_NUM_THREADS=1), so this leaves room for a loaded machine.
SCRIPT_TIMEOUT_S = 600
# A fixed seed: maml_toy.py draws its model and tasks from torch's global generator unseeded.
# The runner seeds it and then runs the (rewritten) file unchanged as __main__.
RUNNER = (
    "import runpy, sys, torch; torch.manual_seed(int(sys.argv[2])); "
    "runpy.run_path(sys.argv[1], run_name='__main__')"
)

# learn2learn's FullOmniglot: torchvision's Omniglot background set (964 characters in 30
# alphabets) then its evaluation set (659 characters in 20 alphabets).
OMNIGLOT_SETS = {"images_background": (30, 964), "images_evaluation": (20, 659)}
OMNIGLOT_CLASSES = 1623
# maml_omniglot.py's main(shots=1) asks get_tasksets for train_samples = test_samples = 2 * shots
# drawings of each class in a task (the real set has 20).
DRAWINGS_PER_CLASS = 2
DRAWING_SIDE = 8


def rewrite_imports(source: str) -> tuple[str, list[str]]:
    """Point an example's learn2learn import lines at the compat package, and nothing else.

    Args:
        source: The example's text.

    Returns:
        The rewritten text and the original lines that changed, in order.
    """
    lines = source.splitlines(keepends=True)
    changed = []
    for number, line in enumerate(lines):
        match = IMPORT_LINE.match(line)
        if match is not None:
            lines[number] = line.replace("import learn2learn", f"import {COMPAT}", 1)
            changed.append(line.rstrip("\n"))
    return "".join(lines), changed


def example_copy(examples: Path, name: str, expected: list[str], out: Path) -> Path:
    """Write the example ``name`` with its import lines rewritten into ``out``.

    Asserts that exactly the ``expected`` lines changed, that every other line is the
    original's, and that no learn2learn import is left.
    """
    original = (examples / name).read_text("utf-8")
    rewritten, changed = rewrite_imports(original)
    assert changed == expected, f"{name}: rewrote {changed}, expected exactly {expected}"
    before, after = original.splitlines(), rewritten.splitlines()
    assert len(before) == len(after)
    differing = [old for old, new in zip(before, after, strict=True) if old != new]
    assert differing == expected, f"{name}: lines other than the imports changed: {differing}"
    left = [line for line in after if ANY_LEARN2LEARN_IMPORT.match(line)]
    assert not left, f"{name}: learn2learn imports left after the rewrite: {left}"
    path = out / Path(name).name
    path.write_text(rewritten, "utf-8")
    return path


def run_script(script: Path, *, seed: int = 0) -> str:
    """Run ``script`` as ``__main__`` in a fresh interpreter (cwd: its folder); its stdout.

    Warnings are errors there, as in this suite.
    """
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", RUNNER, str(script), str(seed)],
        cwd=script.parent,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, (
        f"{script.name} failed (exit {result.returncode}):\n{result.stderr[-4000:]}"
    )
    return result.stdout


def test_rewrite_changes_only_learn2learn_import_lines() -> None:
    source = (
        "import learn2learn as l2l\n"
        "import learn2learn.nn.metalayers as ml\n"
        "x = 'import learn2learn as l2l'\n"
        "import learn2learnx as other\n"
    )
    rewritten, changed = rewrite_imports(source)
    assert changed == ["import learn2learn as l2l", "import learn2learn.nn.metalayers as ml"]
    assert rewritten.splitlines() == [
        f"import {COMPAT} as l2l",
        f"import {COMPAT}.nn.metalayers as ml",
        "x = 'import learn2learn as l2l'",
        "import learn2learnx as other",
    ]


def run_with_learn2learn(
    learn2learn: ModuleType, example: Path, capsys: pytest.CaptureFixture[str], *, seed: int = 0
) -> str:
    """Run the unchanged ``example`` as ``__main__`` here, with learn2learn 0.2.0; its stdout.

    ``learn2learn`` (the conftest fixture, imported with a torchvision stand-in where the real
    one does not load) is what its ``import learn2learn`` finds. The peer's own warnings (its
    gym import's) are not this suite's to judge.
    """
    assert sys.modules["learn2learn"] is learn2learn
    capsys.readouterr()
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runpy.run_path(str(example), run_name="__main__")
    return capsys.readouterr().out


def test_maml_toy(
    learn2learn_examples: Path,
    learn2learn: ModuleType,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """MAML on Gaussian-fitting tasks: 1000 logged meta-updates, learn2learn's to the digit."""
    script = example_copy(
        learn2learn_examples, "maml_toy.py", ["import learn2learn as l2l"], tmp_path
    )
    output = run_script(script)
    steps = [line.split() for line in output.splitlines()]
    assert [int(step) for step, _ in steps] == list(range(1000))
    losses = [float(loss) for _, loss in steps]
    assert all(math.isfinite(loss) for loss in losses)
    first, last = sum(losses[:100]) / 100, sum(losses[-100:]) / 100
    assert last < 0.9 * first, f"mean loss {first:.3f} over the first 100 steps, {last:.3f} last"
    # The same seed under learn2learn prints the same 1000 losses: the compat MAML's clone,
    # adapt and meta-gradient do learn2learn's arithmetic.
    reference = run_with_learn2learn(learn2learn, learn2learn_examples / "maml_toy.py", capsys)
    assert output.splitlines() == reference.splitlines()


def test_metamodule_toy(
    learn2learn_examples: Path,
    learn2learn: ModuleType,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """MetaModule's substitutions: LayerNorm after each Linear, GELU for ReLU, originals frozen."""
    script = example_copy(
        learn2learn_examples,
        "metamodule_toy.py",
        ["import learn2learn as l2l", "import learn2learn.nn.metalayers as ml"],
        tmp_path,
    )
    output = run_script(script)
    wrapped = output.split("Wrapped model:", 1)[1]
    assert wrapped.count("LayerNorm((10,)") == 2
    assert wrapped.count("GELU(") == 2
    assert "ReLU" not in wrapped
    table = output.split("(only layer norms):", 1)[1].split()
    flags = dict(zip(table[0::3], table[2::3], strict=True))
    assert flags == {
        "wrapped_module.0.0.weight": "False",
        "wrapped_module.0.0.bias": "False",
        "wrapped_module.0.1.weight": "True",
        "wrapped_module.0.1.bias": "True",
        "wrapped_module.2.0.weight": "False",
        "wrapped_module.2.0.bias": "False",
        "wrapped_module.2.1.weight": "True",
        "wrapped_module.2.1.bias": "True",
    }
    reference = run_with_learn2learn(
        learn2learn, learn2learn_examples / "metamodule_toy.py", capsys
    )
    assert output.splitlines() == reference.splitlines()


def _drawing(label: int, number: int) -> bytes:
    """A tiny PNG of class ``label``: black strokes on white, as Omniglot's drawings."""
    from PIL import Image

    image = Image.new("L", (DRAWING_SIDE, DRAWING_SIDE), 255)
    for bit in range(DRAWING_SIDE * DRAWING_SIDE // 2):
        if (label >> (bit % 11)) & 1:
            image.putpixel((bit % DRAWING_SIDE, bit // DRAWING_SIDE), 0)
    image.putpixel((DRAWING_SIDE - 1, DRAWING_SIDE - 1 - number), 0)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def write_synthetic_omniglot(root: Path) -> None:
    """Omniglot's two full archives in ``root``, with 1623 tiny synthetic characters.

    ``images_background.zip`` and ``images_evaluation.zip`` hold ``<set>/<alphabet>/
    character<NN>/<drawing>.png`` as the real ones do, with the real alphabet and character
    counts, and ``DRAWINGS_PER_CLASS`` drawings of each character.
    """
    root.mkdir(parents=True)
    label = 0
    for folder, (alphabets, characters) in OMNIGLOT_SETS.items():
        with zipfile.ZipFile(root / f"{folder}.zip", "w") as archive:
            for character in range(characters):
                alphabet = f"Alphabet_{character % alphabets + 1:02d}"
                number = character // alphabets + 1
                for drawing in range(DRAWINGS_PER_CLASS):
                    character_folder = f"{folder}/{alphabet}/character{number:02d}"
                    name = f"{character_folder}/{label:04d}_{drawing:02d}.png"
                    archive.writestr(name, _drawing(label, drawing))
                label += 1
    assert label == OMNIGLOT_CLASSES


def _refuse_connection(*args: Any, **kwargs: Any) -> None:
    raise OSError("the network is off in this test: the Omniglot archives must be read locally")


def _import_module(path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"l2l_example_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_maml_omniglot(
    learn2learn_examples: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """vision/maml_omniglot.py's main(num_iterations=2, meta_batch_size=2) on ~/data."""
    pytest.importorskip("PIL", reason="the Omniglot reader needs Pillow (meta-tasks[images])")
    home = tmp_path / "home"
    write_synthetic_omniglot(home / "data")  # the example hard-codes root='~/data'
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(socket, "create_connection", _refuse_connection)
    monkeypatch.setattr(socket.socket, "connect", _refuse_connection)
    script = example_copy(
        learn2learn_examples, "vision/maml_omniglot.py", ["import learn2learn as l2l"], tmp_path
    )
    example = _import_module(script, monkeypatch)
    from meta_all.compat.learn2learn.vision.datasets import FullOmniglot

    omniglot = FullOmniglot("~/data")
    assert (omniglot.subsets, omniglot.num_classes) == (
        ("background", "evaluation"),
        OMNIGLOT_CLASSES,
    )
    assert len(omniglot) == OMNIGLOT_CLASSES * DRAWINGS_PER_CLASS

    # main's cuda=True selects 'cuda' without asking whether there is one.
    example.main(num_iterations=2, meta_batch_size=2, cuda=torch.cuda.is_available())

    printed = capsys.readouterr().out
    assert re.findall(r"^Iteration (\d+)$", printed, re.MULTILINE) == ["0", "1"]
    metrics: dict[str, list[float]] = {}
    for name, value in re.findall(r"^(Meta [A-Za-z ]+?) (\S+)$", printed, re.MULTILINE):
        metrics.setdefault(name, []).append(float(value))
    assert {name: len(values) for name, values in metrics.items()} == {
        "Meta Train Error": 2,
        "Meta Train Accuracy": 2,
        "Meta Valid Error": 2,
        "Meta Valid Accuracy": 2,
        "Meta Test Error": 1,
        "Meta Test Accuracy": 1,
    }
    for name, values in metrics.items():
        assert all(math.isfinite(value) for value in values), (name, values)
        if name.endswith("Error"):
            assert all(value > 0.0 for value in values), (name, values)
        else:
            assert all(0.0 <= value <= 1.0 for value in values), (name, values)
