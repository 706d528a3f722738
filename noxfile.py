"""Developer sessions for the meta-* monorepo.

``nox`` alone runs lint, typecheck, every package's tests on the CPU (each in a fresh venv
that holds only that distribution and its declared siblings), the integration tests and the
docs build. CUDA variants skip themselves, with the reason, where there is no NVIDIA GPU.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nox

ROOT = Path(__file__).parent
PACKAGES_DIR = ROOT / "packages"
PACKAGES = [
    "meta-functional",
    "meta-nn",
    "meta-optim",
    "meta-algos",
    "meta-tasks",
    "meta-train",
    "meta-all",
]
DEVICES = ["cpu", "cuda"]
# Optional extras installed with a package wherever it is installed, so its tests cover them.
# meta-train[lightning] makes tests(meta-train) run the Lightning tests (about 2 min on 2 cores);
# meta-nn[svm] (qpth) runs SVClassifier's and MetaOptNet's tests wherever meta-nn is installed.
EXTRAS = {
    "meta-nn": "[svm]",
    "meta-tasks": "[images]",
    "meta-train": "[lightning,plot,tensorboard]",
}
TORCH_SPEC = os.environ.get("TORCH_SPEC", "torch==2.13.0")
# On a GPU machine PyPI's default Linux wheel of torch is a CUDA build.
CUDA_TORCH_SPEC = os.environ.get("CUDA_TORCH_SPEC", "torch==2.13.0")
PYTHON = os.environ.get("NOX_PYTHON", "3.11")

# .ci/run sets it: each session's venv (torch and all, over 1 GB) is deleted when the session
# ends, so the default run needs the disk of one venv rather than of ten.
DISCARD_VENVS = os.environ.get("META_DISCARD_VENVS") == "1"

nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = [
    "lint",
    "typecheck",
    *[f"tests({package}, cpu)" for package in PACKAGES],
    "integration(cpu)",
    "peers",
    "docs",
]


def _discards_venv(session_function: Callable[..., None]) -> Callable[..., None]:
    """Delete the session's venv when it ends (pass or fail) where ``META_DISCARD_VENVS=1``."""

    @functools.wraps(session_function)
    def run_then_discard(session: nox.Session, **parameters: Any) -> None:
        try:
            session_function(session, **parameters)
        finally:
            if DISCARD_VENVS:
                shutil.rmtree(session.virtualenv.location, ignore_errors=True)

    return run_then_discard


def _declared_siblings(package: str) -> list[str]:
    """The meta-* distributions that ``package`` declares as dependencies."""
    with open(PACKAGES_DIR / package / "pyproject.toml", "rb") as file:
        dependencies = tomllib.load(file)["project"]["dependencies"]
    # a requirement's name ends where its extras, version, marker or whitespace begin
    names = [re.split(r"[\[<>=!~;\s]", dependency, maxsplit=1)[0] for dependency in dependencies]
    return [name for name in names if name in PACKAGES]


def _with_siblings(package: str) -> list[str]:
    """``package`` and, transitively, every sibling it declares, dependencies first."""
    ordered: list[str] = []

    def visit(name: str) -> None:
        for sibling in _declared_siblings(name):
            visit(sibling)
        if name not in ordered:
            ordered.append(name)

    visit(package)
    return ordered


def _has_nvidia_gpu() -> bool:
    if shutil.which("nvidia-smi") is None:
        return False
    return subprocess.run(["nvidia-smi", "-L"], capture_output=True, check=False).returncode == 0


def _install_torch(session: nox.Session, device: str) -> None:
    if device == "cuda":
        if not _has_nvidia_gpu():
            session.skip("no NVIDIA GPU here (nvidia-smi missing or failing): CUDA tests need one")
        session.install(*CUDA_TORCH_SPEC.split())
    else:
        session.install(*TORCH_SPEC.split())


def _install_local(session: nox.Session, packages: list[str]) -> None:
    """Install local distributions with their optional extras (always rebuilt, never stale)."""
    paths = [str(PACKAGES_DIR / name) for name in packages]
    with_extras = [
        f"{path}{EXTRAS.get(name, '')}" for name, path in zip(packages, paths, strict=True)
    ]
    session.install("hatchling")
    session.install("--no-build-isolation", *with_extras)
    session.install("--no-build-isolation", "--no-deps", "--force-reinstall", *paths)


@nox.session(python=PYTHON)
@_discards_venv
def lint(session: nox.Session) -> None:
    """Ruff lint and format check over the whole tree."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
@_discards_venv
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every package's src (packages resolved through mypy_path)."""
    _install_torch(session, "cpu")
    session.install("mypy", "pillow", "tqdm", "matplotlib", "pytest", "lightning>=2.4,<3")
    modules = [name.replace("-", "_") for name in PACKAGES]
    session.run("mypy", *[arg for module in modules for arg in ("-p", module)])


def _install_everything(session: nox.Session, device: str = "cpu") -> None:
    _install_torch(session, device)
    _install_local(session, _with_siblings("meta-all"))


def _pytest(session: nox.Session, tests_dir: Path, device: str) -> None:
    session.run("pytest", str(tests_dir), *session.posargs, env={"META_TEST_DEVICE": device})


@nox.session(python=PYTHON)
@nox.parametrize("device", DEVICES, ids=DEVICES)
@nox.parametrize("package", PACKAGES, ids=PACKAGES)
@_discards_venv
def tests(session: nox.Session, package: str, device: str) -> None:
    """One distribution alone (plus its declared siblings) and its own tests."""
    _install_torch(session, device)
    session.install("pytest")
    _install_local(session, _with_siblings(package))
    _pytest(session, PACKAGES_DIR / package / "tests", device)


@nox.session(python=PYTHON)
@nox.parametrize("device", DEVICES, ids=DEVICES)
@_discards_venv
def integration(session: nox.Session, device: str) -> None:
    """Everything installed through meta-all (with extras); runs tests-integration/."""
    _install_everything(session, device)
    session.install("pytest")
    _pytest(session, ROOT / "tests-integration", device)


METANN_SPEC = "metann==0.3.2"


@nox.session(python=PYTHON)
@_discards_venv
def peers(session: nox.Session) -> None:
    """Differential tests: our compat packages against MetaNN 0.3.2 and learn2learn 0.2.0."""
    _install_everything(session)
    session.install("pytest", "numpy")  # MetaNN's metann.meta imports NumPy
    # Without its dependencies: it asks only for torch, installed above. It still imports
    # torch._six (gone since torch 2.0), which tests-integration/peers/conftest.py stands in for.
    session.install("--no-deps", METANN_SPEC)
    # The unpacked sdist stays until pytest ends: tests-integration/peers/
    # test_learn2learn_examples.py runs the examples/ it ships against our compat layer.
    with tempfile.TemporaryDirectory() as work:
        failure = _build_learn2learn(Path(session.virtualenv.bin) / "python", Path(work))
        # Its import check fails here for want of torchvision (PyPI's does not load beside the
        # CPU torch wheel): the conftest stands one in, and the tests fail if learn2learn still
        # cannot load.
        if failure is not None and not failure.startswith("learn2learn: import failed"):
            session.error(failure)
        sources = sorted(path for path in Path(work).glob("learn2learn-*") if path.is_dir())
        if not sources:
            session.error(f"learn2learn: no unpacked sdist (learn2learn-*/) in {work}")
        session.run(
            "pytest",
            str(ROOT / "tests-integration" / "peers"),
            *session.posargs,
            env={"META_PEERS_REQUIRED": "1", "META_LEARN2LEARN_SDIST": str(sources[0])},
        )


SITE_DIR = ROOT / "site"  # site_dir of docs/mkdocs.yml
# Sphinx cross-reference roles: mkdocstrings does not resolve them, so they would reach readers as
# raw text. Docstrings link with autorefs instead: [`MAML`][meta_algos.MAML].
SPHINX_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data):")


@nox.session(python=PYTHON)
@_discards_venv
def docs(session: nox.Session) -> None:
    """Build the documentation site strictly, then fail on any raw Sphinx role left in it."""
    session.install("mkdocs-material", "mkdocstrings[python]")
    session.run("mkdocs", "build", "--strict", "--config-file", "docs/mkdocs.yml")
    counts = {
        path.relative_to(ROOT): count
        for path in sorted(SITE_DIR.rglob("*"))
        if path.is_file()
        and (count := len(SPHINX_ROLE.findall(path.read_text("utf-8", errors="replace"))))
    }
    if counts:
        listing = "\n".join(f"  {path}: {count}" for path, count in counts.items())
        session.error(
            f"{sum(counts.values())} raw Sphinx roles (:class:, :func:, ...) in the built site; "
            f"write them as autorefs ([`Name`][package.Name]):\n{listing}"
        )


@nox.session(python=PYTHON)
@_discards_venv
def demo(session: nox.Session) -> None:
    """The main job: meta-train MAML on sinusoid regression and report where the plots are."""
    _install_everything(session)
    out = ROOT / "runs" / "demo"
    session.run(
        "meta-train",
        "sinusoid",
        "--iterations",
        "10000",
        "--batched",
        "--out",
        str(out),
        "--overwrite",  # the demo's own run directory: a rerun replaces it
    )


# learn2learn 0.2.0 imports torchvision, and PyPI's torchvision does not load beside the CPU
# wheel of torch 2.13 ("operator torchvision::nms does not exist"): the bench runs every row on
# this matching pair instead (override with BENCH_TORCH_SPEC, e.g. to the CPU-only TORCH_SPEC).
BENCH_TORCH_SPEC = os.environ.get("BENCH_TORCH_SPEC", "torch==2.14.1 torchvision==0.29.1")
LEARN2LEARN_SPEC = "learn2learn==0.2.0"


def _failure(peer: str, what: str, result: subprocess.CompletedProcess[str]) -> str:
    """``"peer: what failed (its last error line)"`` for the bench page."""
    lines = (result.stderr + result.stdout).splitlines()
    errors = [line.strip() for line in lines if "error" in line.lower()]
    reason = errors[-1] if errors else f"exit status {result.returncode}"
    return f"{peer}: {what} failed ({reason[:160]})"


def _build_learn2learn(python: Path, work: Path) -> str | None:
    """Install learn2learn from its source distribution, cythonised anew; ``None`` or why not.

    Its sdist ships C files generated by an old Cython that no longer compile on Python 3.11
    (``longintrepr.h``), so its wheel does not build: regenerate them from the ``.pyx`` sources
    with today's Cython (``setup.py build_ext``), as a user would, then install.
    """

    def run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)

    steps = [
        (
            "installing its build and run requirements",
            [
                str(python),
                "-m",
                "pip",
                "install",
                "cython",
                "setuptools",
                "wheel",
                "numpy",
                "tqdm",
                "requests",
                "scipy",
                "gym",
                "qpth",
            ],
        ),
        (
            "downloading its sdist",
            [
                str(python),
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
                str(work),
                LEARN2LEARN_SPEC,
            ],
        ),
    ]
    for what, command in steps:
        result = run(*command)
        if result.returncode != 0:
            return _failure("learn2learn", what, result)
    archive = next(work.glob("learn2learn-*.tar.gz"))
    shutil.unpack_archive(archive, work)
    source = work / archive.name.removesuffix(".tar.gz")
    for what, command in [
        ("cythonising", [str(python), "setup.py", "build_ext", "--inplace"]),
        (
            "installing the build",
            [str(python), "-m", "pip", "install", "--no-build-isolation", "--no-deps", "."],
        ),
    ]:
        result = run(*command, cwd=source)
        if result.returncode != 0:
            return _failure("learn2learn", what, result)
    result = run(str(python), "-c", "import learn2learn")
    if result.returncode != 0:
        return _failure("learn2learn", "import", result)
    return None


def _install_peers(session: nox.Session) -> None:
    """Install the peer libraries one by one; a failure is recorded with pip's error, not fatal."""
    python = Path(session.virtualenv.bin) / "python"
    failures: list[str] = []
    peers = {
        "higher": ["higher"],
        "torchopt": ["torchopt"],
        "metann": ["--no-deps", METANN_SPEC, "numpy"],  # as the peers session installs it
    }
    for peer, arguments in peers.items():
        result = subprocess.run(
            [str(python), "-m", "pip", "install", *arguments],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            failures.append(_failure(peer, "pip install", result))
    with tempfile.TemporaryDirectory() as work:
        learn2learn = _build_learn2learn(python, Path(work))
    if learn2learn is not None:
        failures.append(learn2learn)
    session.env["META_BENCH_INSTALL_FAILURES"] = "; ".join(failures)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Speed and memory benchmarks against the torch.func baseline and installable peers."""
    session.install(*BENCH_TORCH_SPEC.split())
    _install_local(session, _with_siblings("meta-all"))
    _install_peers(session)
    scripts = ROOT / "tests-integration" / "benchmarks"
    out = ROOT / "bench-out"
    out.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as inductor_cache:
        session.run(
            "python",
            str(scripts / "maml_step.py"),
            "--json",
            str(out / "maml_step.json"),
            "--markdown",
            str(ROOT / "docs" / "benchmarks.md"),
            *session.posargs,
            # compile times as a first run measures them, not from an earlier run's cache
            env={"TORCHINDUCTOR_CACHE_DIR": inductor_cache},
        )
    sections = {
        "engines.py": "Lightning against the native loop",
        "inner_steps.py": "Memory against inner steps: checkpointing the inner loop",
        "conv_settings.py": "CPU settings for the conv4 meta-step",
        "sinusoid_batched.py": "Batched against per-task adaptation (sinusoid)",
        "kronecker.py": "KroneckerLinear against a dense layer",
        "episodes.py": "Few-shot episode sampling",
        "task_descriptions.py": "Task descriptions of the episodic-data API",
    }
    for script, title in sections.items():
        table = session.run(
            "python", str(scripts / script), "--json", str(out / f"{script[:-3]}.json"), silent=True
        )
        if table is None:  # nox --install-only: nothing ran, the page stays as it is
            continue
        print(table)
        with open(ROOT / "docs" / "benchmarks.md", "a") as page:
            body = str(table).strip().replace("\n## ", "\n### ").removeprefix("## ")
            page.write(f"\n## {title} (`{script}`)\n\n{body}\n")


@nox.session(python=PYTHON)
def results(session: nox.Session) -> None:
    """Learning-quality runs on real data (long: not part of the default run)."""
    _install_everything(session)
    scripts = ROOT / "tests-integration" / "results"
    session.run(
        "python", str(scripts / "run_all.py"), "--markdown", str(ROOT / "docs" / "results.md")
    )
