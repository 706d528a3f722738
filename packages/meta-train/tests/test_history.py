"""History: dict / JSON / CSV round trips, atomic writes and input errors."""

from __future__ import annotations

import json
import math
import os

import pytest
from meta_train import History
from meta_train import _io as io_module


def _history() -> History:
    return History(
        meta_loss=[1.5, 1.25, 0.1 + 0.2, 0.5],
        meta_accuracy=[0.2, 0.4, 0.6, 0.8],
        eval_loss=[(0, 2.0), (2, 1.0), (4, 0.25)],
        eval_accuracy=[(0, 0.2), (2, 0.5), (4, 0.75)],
    )


def test_dict_round_trip_is_exact_and_plain():
    history = _history()
    data = history.to_dict()
    assert data["eval_loss"] == [[0, 2.0], [2, 1.0], [4, 0.25]]
    assert all(type(v) is float for v in data["meta_loss"])
    assert History.from_dict(data) == history
    assert history.iterations == 4


def test_json_round_trip(tmp_path):
    history = _history()
    path = history.to_json(tmp_path / "sub" / "history.json")
    assert path == tmp_path / "sub" / "history.json"
    assert json.loads(path.read_text())["meta_loss"][2] == 0.1 + 0.2
    assert History.from_json(path) == history
    assert [p.name for p in path.parent.iterdir()] == ["history.json"]  # no temp files left


def test_csv_round_trip_and_layout(tmp_path):
    history = _history()
    path = history.to_csv(tmp_path / "history.csv")
    lines = path.read_text().splitlines()
    assert lines[0] == "iteration,meta_loss,meta_accuracy,eval_loss,eval_accuracy"
    assert lines[1] == "0,,,2.0,0.2"  # the evaluation before training has its own row
    assert lines[2] == "1,1.5,0.2,,"
    assert len(lines) == 1 + 5
    assert History.from_csv(path) == history


def test_csv_regression_history_without_accuracy(tmp_path):
    history = History(meta_loss=[3.0, 2.0], eval_loss=[(2, 1.5)])
    path = history.to_csv(tmp_path / "h.csv")
    assert path.read_text().splitlines()[1:] == ["1,3.0,,,", "2,2.0,,1.5,"]
    assert History.from_csv(path) == history


def test_nan_survives_json_and_csv(tmp_path):
    history = History(meta_loss=[float("nan"), 1.0])
    assert math.isnan(History.from_json(history.to_json(tmp_path / "h.json")).meta_loss[0])
    assert math.isnan(History.from_csv(history.to_csv(tmp_path / "h.csv")).meta_loss[0])


def test_failed_write_keeps_previous_file(tmp_path, monkeypatch):
    path = History(meta_loss=[1.0]).to_json(tmp_path / "history.json")
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(io_module.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        History(meta_loss=[2.0, 3.0]).to_json(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["history.json"]


def test_new_files_respect_umask(tmp_path):
    path = History(meta_loss=[1.0]).to_json(tmp_path / "h.json")
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(KeyError, match=r"unknown keys \['loss'\]; expected some of"):
        History.from_dict({"loss": [1.0]})


def test_from_dict_rejects_bad_records():
    with pytest.raises(
        ValueError, match=r"eval_loss record must be \[iteration, value\], got \[1\]"
    ):
        History.from_dict({"eval_loss": [[1]]})


def test_from_json_rejects_non_objects(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(TypeError, match="expected a JSON object, got list"):
        History.from_json(path)


def test_from_csv_rejects_other_headers(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"expected header \['iteration', 'meta_loss'"):
        History.from_csv(path)


def test_progress_fields_show_the_newest_values():
    history = _history()
    history.skipped.append(3)
    assert history.progress_fields() == {
        "meta_loss": "0.5000",
        "accuracy": "80.0%",
        "eval_loss": "0.2500",
        "eval_accuracy": "75.0%",
        "skipped": "1",
    }
    assert History().progress_fields() == {}
    regression = History(meta_loss=[2.0, 1.0 / 3.0], eval_loss=[(1, 1.5)])
    assert regression.progress_fields() == {"meta_loss": "0.3333", "eval_loss": "1.5000"}
