"""Tiny runs of the benchmark and results scripts: they must keep working.

The real runs are long (``nox -s bench``, ``nox -s results``) and not part of CI; these prove
that every script runs end to end in the integration venv and writes what it promises.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
OMNIGLOT_ROOT = Path(
    os.environ.get("META_OMNIGLOT_ROOT", HERE.parents[1] / "shared" / "data" / "omniglot")
)
HAS_OMNIGLOT = (OMNIGLOT_ROOT / "images_background_small1.zip").is_file()
needs_omniglot = pytest.mark.skipif(
    not HAS_OMNIGLOT, reason=f"Omniglot archives not found in {OMNIGLOT_ROOT}"
)


def run_script(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=False, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_maml_step_benchmark_checks_and_reports(tmp_path):
    out = tmp_path / "maml_step.json"
    table = tmp_path / "benchmarks.md"
    run_script(
        str(HERE / "benchmarks" / "maml_step.py"),
        "--workloads",
        "A1",
        "--repeats",
        "1",
        "--drop-in-repeats",
        "3",
        "--json",
        str(out),
        "--markdown",
        str(table),
    )
    report = json.loads(out.read_text())
    rows = {row["implementation"]: row for row in report["rows"]}
    assert {"torch.func loop", "meta-* loop", "meta-* batched", "plain training step"} <= set(rows)
    # learn2learn-API code on our compat layer (the drop-in's rows; learn2learn's own need it)
    assert {
        "meta-* compat.learn2learn",
        "meta-* compat.learn2learn (MetaModule)",
        "meta-* compat.learn2learn (maml_update)",
    } <= set(rows)
    assert rows["torch.func loop"]["ratio_to_torch_func"] == 1.0
    assert set(rows["meta-* loop"]) == {
        "workload",
        "implementation",
        "median_ms",
        "min_ms",
        "ratio_to_torch_func",
        "ratio_to_plain_step",
        "peak_mb",
        "compile_s",
        "samples_ms",
    }
    # one time per round, the median among them
    samples = rows["meta-* loop"]["samples_ms"]
    assert len(samples) == len(rows["torch.func loop"]["samples_ms"]) == 1
    assert min(samples) == rows["meta-* loop"]["min_ms"]
    # a drop-in runs its own rounds only beside its original (where that is installed)
    compat = rows["meta-* compat.learn2learn (maml_update)"]
    original = rows.get("learn2learn (maml_update)")
    assert len(compat["samples_ms"]) == 1
    assert compat["median_ms"] == compat["samples_ms"][0]
    if original is None:
        assert "pair_samples_ms" not in compat
    else:
        assert len(original["pair_samples_ms"]) == len(compat["pair_samples_ms"]) == 3
    assert rows["meta-* batched, compiled"]["compile_s"] > 0
    assert rows["torch.func batched, compiled"]["compile_s"] > 0  # the compiled floor row
    # our implementations passed the float64 meta-gradient check against torch.func
    assert not [key for key in report["failures"] if "meta-*" in key]
    assert "| A1 | meta-* batched |" in table.read_text()


@needs_omniglot
@pytest.mark.data
def test_maml_step_benchmark_measures_conv_memory(tmp_path):
    out = tmp_path / "maml_step.json"
    run_script(
        str(HERE / "benchmarks" / "maml_step.py"),
        "--quick",
        "--no-compile",  # compiling the conv net alone takes minutes
        "--workloads",
        "C",
        "--repeats",
        "1",
        "--json",
        str(out),
    )
    rows = json.loads(out.read_text())["rows"]
    peaks = {row["implementation"]: row["peak_mb"] for row in rows}
    assert peaks["meta-* loop"] is not None
    assert peaks["meta-* loop"] > 0


@pytest.mark.parametrize(
    ("script", "args"),
    [
        ("sinusoid_batched.py", ("--quick",)),
        ("kronecker.py", ("--quick", "--sizes", "16", "32")),
    ],
)
def test_benchmark_scripts_run(tmp_path, script, args):
    out = tmp_path / "out.json"
    stdout = run_script(str(HERE / "benchmarks" / script), *args, "--json", str(out))
    assert "|" in stdout
    assert json.loads(out.read_text())


@needs_omniglot
@pytest.mark.data
def test_conv_settings_benchmark_compares_each_row_with_the_default_loop(tmp_path):
    out = tmp_path / "conv_settings.json"
    stdout = run_script(
        str(HERE / "benchmarks" / "conv_settings.py"), "--quick", "--json", str(out)
    )
    rows = json.loads(out.read_text())["rows"]
    assert [(row["path"], row["setting"]) for row in rows] == [
        ("loop", "defaults"),
        ("batched", "defaults"),
        ("batched", "channels_last"),
        ("loop", "oneDNN off"),
    ]
    assert rows[0]["difference"] == rows[0]["difference64"] == 0.0  # the reference itself
    # the same meta-gradient under every setting: equal in float64, up to rounding
    assert all(row["difference64"] < 1e-9 for row in rows)
    assert all(row["ms"] > 0 and row["peak_mb"] > 0 for row in rows)
    assert "issue 14's target" in stdout


@needs_omniglot
@pytest.mark.data
def test_episodes_benchmark_runs(tmp_path):
    out = tmp_path / "episodes.json"
    run_script(
        str(HERE / "benchmarks" / "episodes.py"),
        "--root",
        str(OMNIGLOT_ROOT),
        "--quick",
        "--json",
        str(out),
    )
    assert json.loads(out.read_text())


def test_results_smoke_sinusoid(tmp_path):
    page = tmp_path / "results.md"
    run_script(
        str(HERE / "results" / "run_all.py"),
        "--smoke",
        "--only",
        "sinusoid",
        "--markdown",
        str(page),
    )
    text = page.read_text()
    assert "Smoke run" in text
    assert "| maml | MLP 1-80-80-1, 0.003 | 2 |" in text
    assert "| metasgd | MLP 1-80-80-1, 0.003 | 2 |" in text


def test_results_reuse_reads_finished_runs_of_the_same_settings_only(tmp_path):
    script = str(HERE / "results" / "run_all.py")
    common = ["--smoke", "--only", "sinusoid", "--out", str(tmp_path / "runs")]
    run_script(script, *common, "--json", str(tmp_path / "first.json"))
    reused = run_script(script, *common, "--reuse", "--json", str(tmp_path / "second.json"))
    assert reused.count("reusing the finished run") == 4
    first = json.loads((tmp_path / "first.json").read_text())
    second = json.loads((tmp_path / "second.json").read_text())
    assert {name: m["test"] for name, m in second.items()} == {
        name: m["test"] for name, m in first.items()
    }
    # a run recorded with other settings is not taken for this one, nor overwritten
    config = tmp_path / "runs" / "sinusoid_maml" / "config.toml"
    config.write_text(config.read_text().replace("seed = 0", "seed = 1"))
    metrics = (tmp_path / "runs" / "sinusoid_maml" / "metrics.json").read_text()
    rerun = subprocess.run(
        [sys.executable, script, *common, "--reuse"], capture_output=True, text=True, timeout=600
    )
    assert rerun.returncode != 0
    assert "already holds a run" in rerun.stderr
    assert (tmp_path / "runs" / "sinusoid_maml" / "metrics.json").read_text() == metrics


@needs_omniglot
@pytest.mark.data
def test_results_smoke_omniglot(tmp_path):
    results = tmp_path / "results.json"
    run_script(
        str(HERE / "results" / "run_all.py"),
        "--smoke",
        "--only",
        "omniglot",
        "--root",
        str(OMNIGLOT_ROOT),
        "--json",
        str(results),
    )
    metrics = json.loads(results.read_text())
    # ProtoNet and MAML trained 5-way and 20-way, ProtoNet 5-way again through Lightning
    assert len(metrics) == 5
    for run in metrics.values():
        assert "post_accuracy" in run["test"]  # scored the way it was trained
        if (OMNIGLOT_ROOT / "all_runs.zip").is_file():
            assert run["lake_runs"]["queries"] == 400


def _maml_step_module():
    sys.path.insert(0, str(HERE / "benchmarks"))
    try:
        import maml_step
    finally:
        sys.path.remove(str(HERE / "benchmarks"))
    return maml_step


@pytest.mark.parametrize("float64_exact", [True, False])
def test_a_compiled_row_outside_the_float32_tolerance_is_judged_in_float64(float64_exact):
    maml_step = _maml_step_module()
    workload = maml_step.make_workloads(["A1"])[0]

    def off_by_a_kink(model, w):
        """The eager batched step, then one float32 gradient entry moved by 1e-2 of the largest."""
        step = maml_step.meta_batched(model, w)

        def run():
            step()
            if float64_exact and next(model.parameters()).dtype == torch.float64:
                return
            grads = [p.grad for p in model.parameters()]
            largest = max(g.abs().max() for g in grads)
            grads[0].view(-1)[0] += 1e-2 * largest

        return run

    torch.manual_seed(0)
    model = workload.make_model()
    notes: dict[str, str] = {}
    failure = maml_step.check_compiled_first_call(
        off_by_a_kink(model, workload), model, workload, 0, off_by_a_kink, notes, "compiled"
    )
    if float64_exact:
        assert failure is None
        assert "equals the float64 loop" in notes["A1/compiled"]
    else:
        assert "in float64 by 1.0e-02" in failure
        assert notes == {}


def test_compiled_misses_tell_the_compiled_floor_from_our_overhead():
    maml_step = _maml_step_module()

    def row(workload, name, ms, peak=None):
        return {"workload": workload, "implementation": name, "median_ms": ms, "peak_mb": peak}

    rows = [
        row("A1", "meta-* batched", 6.0),
        row("A1", maml_step.BATCHED_COMPILED, 3.0),
        row("A1", maml_step.TORCH_FUNC_COMPILED, 2.0),
        row("A1", maml_step.PLAIN, 1.6),
        row("A1", "torchopt", 30.0),
        row("B", maml_step.PER_TASK_LOOP, 600.0, 160.0),
        row("B", maml_step.BATCHED_COMPILED, 750.0, 900.0),
        row("B", maml_step.TORCH_FUNC_COMPILED, 300.0, 150.0),
        row("C", "meta-* loop", 1200.0, 800.0),
        row("C", maml_step.BATCHED_COMPILED, 1000.0, 1000.0),
    ]
    lines = "\n".join(maml_step.compiled_misses(rows))
    assert "- A1: the hand-written compiled function misses it too (1.25x the plain step" in lines
    assert "meta-*'s compiled step takes 1.50x its time" in lines
    assert "- B: the hand-written compiled function meets it (300.00 ms)" in lines
    assert "900 MB against 160 MB for meta-* loop, backward per task" in lines
    assert "- C: no hand-written compiled row here" in lines
    assert "1000 MB against 800 MB for meta-* loop." in lines
    met = [row("A1", "meta-* batched", 6.0), row("A1", maml_step.BATCHED_COMPILED, 0.1)]
    assert maml_step.compiled_misses([*met, row("A1", maml_step.PLAIN, 1.6)]) == []


def test_markdown_rebuilt_from_json_keeps_every_section(tmp_path, capsys):
    maml_step = _maml_step_module()
    rows = [
        {
            "workload": "B",
            "implementation": name,
            "median_ms": ms,
            "min_ms": ms,
            "ratio_to_torch_func": 1.0,
            "ratio_to_plain_step": 1.0,
            "peak_mb": 100.0,
            "compile_s": 60.0 if name == maml_step.BATCHED_COMPILED else None,
        }
        for name, ms in (
            (maml_step.REFERENCE, 600.0),
            (maml_step.PER_TASK_LOOP, 550.0),
            (maml_step.BATCHED_COMPILED, 700.0),
        )
    ]
    report = {
        "settings": "test settings",
        "workloads": {"B": "conv4"},
        "rows": rows,
        "missing": {"higher": "not installed"},
        "failures": {},
        "float64_checked": {"B/meta-* batched, compiled": "kept after the float64 check"},
    }
    source, table = tmp_path / "report.json", tmp_path / "table.md"
    source.write_text(json.dumps(report))
    assert maml_step.main(["--from-json", str(source), "--markdown", str(table)]) == 0
    text = table.read_text()
    assert "- B/meta-* batched, compiled: kept after the float64 check" in text
    assert "- higher: not installed" in text
    assert "Why the batched compiled rows miss their targets" in text
    capsys.readouterr()


def test_drop_ins_run_right_after_their_originals():
    maml_step = _maml_step_module()
    keys = [
        ("A1", "learn2learn"),
        ("A1", "torchopt"),
        ("A1", "meta-* compat.learn2learn"),
        ("A1", "meta-* compat.metann (GDLearner)"),  # its original did not run: stays put
        ("B", "meta-* compat.learn2learn"),  # B's original comes later in the list
        ("B", "learn2learn"),
    ]
    assert maml_step.drop_ins_adjacent(keys) == [
        ("A1", "learn2learn"),
        ("A1", "meta-* compat.learn2learn"),
        ("A1", "torchopt"),
        ("A1", "meta-* compat.metann (GDLearner)"),
        ("B", "learn2learn"),
        ("B", "meta-* compat.learn2learn"),
    ]


def test_sign_test_against_binomial_tails():
    sign_test = _maml_step_module().sign_test
    # 9 wins in 30 rounds: 2 * P(X <= 9), X ~ Binomial(30, 1/2) = 2 * 22,964,087 / 2**30
    assert abs(sign_test(9, 21) - 2 * 22_964_087 / 2**30) < 1e-15
    assert sign_test(21, 9) == sign_test(9, 21)
    assert sign_test(30, 0) == 2 / 2**30
    assert sign_test(15, 15) == 1.0
    assert sign_test(0, 0) == 1.0


def test_drop_in_rows_compare_the_same_code_on_both_libraries():
    maml_step = _maml_step_module()

    def row(workload, implementation, median, samples=None):
        return {
            "workload": workload,
            "implementation": implementation,
            "median_ms": median,
            **({} if samples is None else {"samples_ms": samples}),
        }

    rows = [
        # per-round ratios 1.5, 0.9, 1.2: their median, and ours faster in 2 rounds of 3; the
        # times are medians over all three rounds, not the main table's (its first round only)
        row("A1", "learn2learn (maml_update)", 30.0, [30.0, 27.0, 36.0]),
        row("A1", "meta-* compat.learn2learn (maml_update)", 20.0, [20.0, 30.0, 30.0]),
        row("A1", "learn2learn", 31.0, [31.0]),  # no compat row in this run: no line for it
        # a report without per-round samples: the ratio of the medians
        row("B", "MetaNN (GDLearner)", 500.0),
        row("B", "meta-* compat.metann (GDLearner)", 400.0),
    ]
    lines = maml_step.drop_in_lines(rows)
    assert "| B | MetaNN (GDLearner) | 500.00 | 400.00 | 1.25 |  |  |" in lines
    # 2 of 3 rounds: as even as 3 rounds can split, so the sign test finds nothing (p = 1)
    assert "| A1 | learn2learn (maml_update) | 30.00 | 30.00 | 1.20 | 2 of 3 | 1 |" in lines
    assert not [line for line in lines if line.startswith("| A1 | learn2learn |")]
    assert maml_step.drop_in_lines([]) == []


def test_drop_in_pairs_run_their_own_rounds_in_a_fresh_process():
    maml_step = _maml_step_module()
    keys = [
        ("A1", maml_step.REFERENCE),
        ("A1", maml_step.PLAIN),
        ("A1", "learn2learn"),
        ("A1", "meta-* compat.learn2learn"),
        ("A1", "meta-* compat.metann (GDLearner)"),  # its original did not run
        ("B", "learn2learn (MetaModule)"),  # its drop-in did not run
    ]
    assert maml_step.drop_in_pairs(keys) == {
        ("A1", "learn2learn"),
        ("A1", "meta-* compat.learn2learn"),
    }
    # the process runs the rows asked for, and times each of them in every round
    names = ["meta-* compat.learn2learn", "meta-* compat.learn2learn (maml_update)"]
    pair_rounds = maml_step.drop_in_rounds("A1", names, rounds=3, warmup=0, seed=0)
    assert sorted(pair_rounds) == sorted(names)
    assert all(len(samples) == 3 and min(samples) > 0 for samples in pair_rounds.values())
    with pytest.raises(RuntimeError, match=r"of A1 \(no such row\) failed.*no such rows"):
        maml_step.drop_in_rounds("A1", ["no such row"], rounds=1, warmup=0, seed=0)
    times = {key: [10.0] for key in keys[:2]}
    times[("A1", "learn2learn")] = [12.0]
    times[("A1", "meta-* compat.learn2learn")] = [8.0]
    pair_times = {
        ("A1", "learn2learn"): [12.0, 1.0, 1.0],
        ("A1", "meta-* compat.learn2learn"): [8.0, 2.0, 2.0],
    }
    rows = {row["implementation"]: row for row in maml_step.summarise(times, {}, {}, pair_times)}
    # the main table: the main round, against the reference's
    assert rows["learn2learn"]["median_ms"] == 12.0
    assert rows["learn2learn"]["ratio_to_torch_func"] == 1.2
    assert rows["meta-* compat.learn2learn"]["min_ms"] == 8.0
    assert "pair_samples_ms" not in rows[maml_step.REFERENCE]
    # the drop-in table: the pair's own rounds
    assert rows["learn2learn"]["pair_samples_ms"] == [12.0, 1.0, 1.0]
    lines = maml_step.drop_in_lines(list(rows.values()))
    assert "| A1 | learn2learn | 1.00 | 2.00 | 0.50 | 1 of 3 | 1 |" in lines
