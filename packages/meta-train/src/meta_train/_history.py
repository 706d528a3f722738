"""The [`History`][meta_train.History] record of a meta-training run and its JSON / CSV export."""

from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._io import PathLike, atomic_write_text

_LIST_FIELDS = ("meta_loss", "meta_accuracy")
_RECORD_FIELDS = ("eval_loss", "eval_accuracy")
_CSV_COLUMNS = ("iteration", "meta_loss", "meta_accuracy", "eval_loss", "eval_accuracy")
#: Appended to the CSV header only when some meta-update was skipped, so the files of runs
#: without skips keep the layout that older readers expect.
_SKIPPED_COLUMN = "skipped"


@dataclass
class History:
    """Records produced by [`MetaTrainer.fit`][meta_train.MetaTrainer.fit].

    Iterations are counted from 1: ``meta_loss[i]`` is the mean query loss of meta-update
    ``i + 1``, and an evaluation record ``(k, value)`` was taken after ``k`` meta-updates.

    Attributes:
        meta_loss: Mean query (meta-training) loss of every meta-update.
        meta_accuracy: Mean query accuracy of every meta-update; filled only when the query
            targets are class labels (an integer dtype) and the trainer runs the per-task
            loop (``batched=False``), otherwise empty.
        eval_loss: ``(iteration, mean post-adaptation query loss)`` of each evaluation.
        eval_accuracy: ``(iteration, mean post-adaptation query accuracy)`` of each
            evaluation on classification tasks; empty for regression.
        skipped: Iterations whose meta-update was skipped because its meta-loss or
            meta-gradient was not finite (``MetaTrainer(on_nonfinite="skip")``): their
            ``meta_loss`` is recorded, but no optimizer step was made. ``len(skipped)`` counts
            them.

    Examples:
        >>> history = History(meta_loss=[0.9, 0.7], eval_loss=[(2, 0.65)])
        >>> History.from_dict(history.to_dict()) == history
        True
    """

    meta_loss: list[float] = field(default_factory=list)
    meta_accuracy: list[float] = field(default_factory=list)
    eval_loss: list[tuple[int, float]] = field(default_factory=list)
    eval_accuracy: list[tuple[int, float]] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)

    @property
    def iterations(self) -> int:
        """Number of meta-updates recorded (``len(meta_loss)``)."""
        return len(self.meta_loss)

    def progress_fields(self) -> dict[str, str]:
        """The newest value of each record, formatted for a progress display.

        Returns:
            ``{"meta_loss": ..., "accuracy": ..., "eval_loss": ..., "eval_accuracy": ...}``
            with only the records that hold a value (accuracies in percent; the evaluation
            values are the latest evaluation's, whenever it was taken), then ``"skipped"``
            when meta-updates were skipped.

        Examples:
            >>> History(meta_loss=[0.9, 0.7], eval_accuracy=[(2, 0.625)]).progress_fields()
            {'meta_loss': '0.7000', 'eval_accuracy': '62.5%'}
        """
        latest = {
            "meta_loss": self.meta_loss[-1] if self.meta_loss else None,
            "accuracy": self.meta_accuracy[-1] if self.meta_accuracy else None,
            "eval_loss": self.eval_loss[-1][1] if self.eval_loss else None,
            "eval_accuracy": self.eval_accuracy[-1][1] if self.eval_accuracy else None,
        }
        fields = {
            name: f"{100 * value:.1f}%" if name.endswith("accuracy") else f"{value:.4f}"
            for name, value in latest.items()
            if value is not None
        }
        if self.skipped:
            fields["skipped"] = str(len(self.skipped))
        return fields

    def to_dict(self) -> dict[str, list[Any]]:
        """Return the history as plain lists (JSON- and ``weights_only``-safe).

        Returns:
            ``{"meta_loss": [...], "meta_accuracy": [...], "eval_loss": [[it, v], ...],
            "eval_accuracy": [[it, v], ...], "skipped": [it, ...]}`` holding only ints and
            floats.
        """
        out: dict[str, list[Any]] = {
            name: [float(v) for v in getattr(self, name)] for name in _LIST_FIELDS
        }
        for name in _RECORD_FIELDS:
            out[name] = [[int(it), float(v)] for it, v in getattr(self, name)]
        out[_SKIPPED_COLUMN] = [int(it) for it in self.skipped]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        """Rebuild a history from [`to_dict`][meta_train.History.to_dict]'s output.

        Args:
            data: Mapping with the list fields; missing fields are taken as empty (so
                histories written before ``skipped`` existed still load).

        Returns:
            The history.

        Raises:
            KeyError: If ``data`` holds a key that is not a history field.
            ValueError: If an evaluation record is not an ``[iteration, value]`` pair.
        """
        known = {*_LIST_FIELDS, *_RECORD_FIELDS, _SKIPPED_COLUMN}
        unknown = sorted(set(data) - known)
        if unknown:
            raise KeyError(
                f"History.from_dict got unknown keys {unknown}; expected some of {sorted(known)}"
            )
        kwargs: dict[str, Any] = {
            name: [float(v) for v in data.get(name, [])] for name in _LIST_FIELDS
        }
        for name in _RECORD_FIELDS:
            records = []
            for record in data.get(name, []):
                if len(record) != 2:
                    raise ValueError(
                        f"History.from_dict: each {name} record must be [iteration, value], "
                        f"got {record!r}"
                    )
                records.append((int(record[0]), float(record[1])))
            kwargs[name] = records
        kwargs[_SKIPPED_COLUMN] = [int(it) for it in data.get(_SKIPPED_COLUMN, [])]
        return cls(**kwargs)

    def to_json(self, path: PathLike) -> Path:
        """Write the history as JSON, atomically (temp file in the same directory, then rename).

        Args:
            path: Destination file.

        Returns:
            The path written.

        Examples:
            >>> import tempfile, pathlib
            >>> target = pathlib.Path(tempfile.mkdtemp()) / "history.json"
            >>> History(meta_loss=[1.0]).to_json(target).name
            'history.json'
        """
        return atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def from_json(cls, path: PathLike) -> History:
        """Read a history written by [`to_json`][meta_train.History.to_json].

        Args:
            path: A JSON file.

        Returns:
            The history.

        Raises:
            TypeError: If the file does not hold a JSON object.
        """
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise TypeError(
                f"History.from_json({str(path)!r}) expected a JSON object, "
                f"got {type(data).__name__}"
            )
        return cls.from_dict(data)

    def to_csv(self, path: PathLike) -> Path:
        """Write one CSV row per meta-update, atomically.

        Columns: ``iteration, meta_loss, meta_accuracy, eval_loss, eval_accuracy``, plus
        ``skipped`` (``1`` on skipped meta-updates) when some meta-update was skipped; a cell
        is empty where nothing was recorded (no accuracy for regression, no evaluation at that
        iteration). Evaluations recorded at iteration 0 (before training) get their own row.

        Args:
            path: Destination file.

        Returns:
            The path written.
        """
        eval_loss = dict(self.eval_loss)
        eval_accuracy = dict(self.eval_accuracy)
        last = max([self.iterations, *eval_loss, *eval_accuracy])
        first = 0 if (0 in eval_loss or 0 in eval_accuracy) else 1
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        skipped = set(self.skipped)
        writer.writerow(_CSV_COLUMNS + ((_SKIPPED_COLUMN,) if skipped else ()))
        for iteration in range(first, last + 1):
            index = iteration - 1
            row = [
                iteration,
                _cell(self.meta_loss, index),
                _cell(self.meta_accuracy, index),
                _fmt(eval_loss.get(iteration)),
                _fmt(eval_accuracy.get(iteration)),
            ]
            if skipped:
                row.append("1" if iteration in skipped else "")
            writer.writerow(row)
        return atomic_write_text(path, buffer.getvalue())

    @classmethod
    def from_csv(cls, path: PathLike) -> History:
        """Read a history written by [`to_csv`][meta_train.History.to_csv].

        Args:
            path: A CSV file with [`to_csv`][meta_train.History.to_csv]'s header.

        Returns:
            The history.

        Raises:
            ValueError: If the header is not one that
                [`to_csv`][meta_train.History.to_csv] writes.
        """
        with open(path, encoding="utf-8", newline="") as file:
            reader = csv.reader(file)
            header = tuple(next(reader, ()))
            if header not in (_CSV_COLUMNS, (*_CSV_COLUMNS, _SKIPPED_COLUMN)):
                raise ValueError(
                    f"History.from_csv: expected header {list(_CSV_COLUMNS)} (optionally "
                    f"followed by {_SKIPPED_COLUMN!r}), got {list(header)}"
                )
            history = cls()
            for row in reader:
                iteration = int(row[0])
                if row[1]:
                    history.meta_loss.append(float(row[1]))
                if row[2]:
                    history.meta_accuracy.append(float(row[2]))
                if row[3]:
                    history.eval_loss.append((iteration, float(row[3])))
                if row[4]:
                    history.eval_accuracy.append((iteration, float(row[4])))
                if len(row) > 5 and row[5]:
                    history.skipped.append(iteration)
        return history


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return repr(float(value)) if math.isfinite(value) else str(value)


def _cell(values: list[float], index: int) -> str:
    return _fmt(values[index]) if 0 <= index < len(values) else ""
