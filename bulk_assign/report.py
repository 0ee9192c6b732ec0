"""The files an analyst acts on: results.csv, failed.csv, rollback.csv and summary.json.

Every file is written to a temporary name and `os.replace`d, so a crash never leaves half a
file. CSVs are UTF-8 with BOM (Excel opens them right) and formula-injection safe.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from bulk_assign import fields
from bulk_assign.results import FAILED_STATUSES, HIDDEN_ROW, RowOutcome, Status
from bulk_assign.validator import Validation

RESULT_COLUMNS: Final = (
    "row", "status", "error_class", "error_message", "attempts", "request_id", "finished_at",
)
ERROR_COLUMNS: Final = ("error_class", "error_message")
ROLLBACK_COLUMNS: Final = (
    fields.IDENTIFIER, fields.CATALOG, fields.EMAIL, fields.FIRST_NAME, fields.LAST_NAME,
    fields.PHONE, fields.BUSINESS_TITLE,
)
#: A cell starting with one of these is a formula (or a DDE payload) to Excel and its kin.
FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r", "\n")


@dataclass(frozen=True)
class OutputPaths:
    results: Path
    failed: Path
    rollback: Path
    summary: Path

    @classmethod
    def in_folder(cls, folder: Path) -> OutputPaths:
        return cls(
            results=folder / "results.csv",
            failed=folder / "failed.csv",
            rollback=folder / "rollback.csv",
            summary=folder / "summary.json",
        )


def escape_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Prefix `'` to every text cell that Excel would run as a formula.

    One pass over all cells at once: column by column, a sheet with thousands of columns
    took seconds per file.

    >>> escape_formulas(pd.DataFrame({"a": ["=1+1", "ok", "+1555", "\\tx"]}))["a"].tolist()
    ["'=1+1", 'ok', "'+1555", "'\\tx"]
    """
    cells = frame.to_numpy(dtype=object)
    flat = cells.ravel()
    risky = np.fromiter(
        (isinstance(c, str) and c.startswith(FORMULA_TRIGGERS) for c in flat),
        dtype=bool, count=len(flat),
    )
    if risky.any():
        flat = flat.copy()
        flat[risky] = ["'" + c for c in flat[risky]]
        cells = flat.reshape(cells.shape)
    return pd.DataFrame(cells, index=frame.index, columns=frame.columns, dtype=object)


def escape_header(name: object) -> str:
    """A header is a cell too: `=cmd()` as a column name must not run either."""
    text = str(name)
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


#: Rows escaped and written at a time: an escaped copy of a million-row frame at once would
#: add hundreds of MB to the peak.
WRITE_CHUNK_ROWS: Final = 100_000


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` as an Excel-friendly, formula-safe CSV, atomically."""
    tmp = path.with_name(path.name + ".tmp")
    header = [escape_header(c) for c in frame.columns]
    with tmp.open("w", encoding="utf-8-sig", newline="") as fh:
        for start in range(0, max(len(frame), 1), WRITE_CHUNK_ROWS):
            safe = escape_formulas(frame.iloc[start : start + WRITE_CHUNK_ROWS])
            safe.to_csv(fh, index=False, header=header if start == 0 else False,
                        lineterminator="\r\n")
    _fsync_replace(tmp, path)


def write_json(data: Mapping[str, Any], path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    _fsync_replace(tmp, path)


def _fsync_replace(tmp: Path, path: Path) -> None:
    with tmp.open("rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def results_frame(validation: Validation, outcomes: Mapping[int, RowOutcome]) -> pd.DataFrame:
    """One line per input row, in input order: our columns, then the row as it came in."""
    index = validation.status.index
    columns: dict[str, np.ndarray] = {
        "row": index.to_numpy(),
        "status": validation.status.to_numpy(dtype=object).copy(),
        "error_class": validation.error_class.to_numpy(dtype=object).copy(),
        "error_message": validation.error_message.to_numpy(dtype=object).copy(),
        "attempts": np.zeros(len(index), dtype=np.int64),
        "request_id": np.full(len(index), "", dtype=object),
        "finished_at": np.full(len(index), "", dtype=object),
    }
    if outcomes:
        positions = index.get_indexer(pd.Index(list(outcomes)))
        for pos, o in zip(positions, outcomes.values(), strict=True):
            if pos < 0:
                continue  # a journal row the (same) input no longer has: cannot happen
            columns["status"][pos] = str(o.status)
            columns["error_class"][pos] = o.error_class
            columns["error_message"][pos] = o.error_message
            columns["attempts"][pos] = o.attempts
            columns["request_id"][pos] = o.request_id
            columns["finished_at"][pos] = o.finished_at
    result = pd.DataFrame(columns, index=index)
    echo = validation.table.frame.rename(columns=_echo_names(validation.table.frame.columns))
    return pd.concat([result, echo], axis=1)


def _echo_names(names: pd.Index) -> dict[str, str]:
    """Input columns named like one of ours ("status", "row") are echoed as "status (input)",
    not dropped: every input column comes back."""
    taken = {*RESULT_COLUMNS, *map(str, names)}
    renamed = {}
    for name in map(str, names):
        if name in RESULT_COLUMNS:
            new = f"{name} (input)"
            while new in taken:
                new += " (input)"
            taken.add(new)
            renamed[name] = new
    return renamed


def failed_frame(results: pd.DataFrame, validation: Validation) -> pd.DataFrame:
    """The rows to fix and resubmit, in the input's own columns plus the reason."""
    # Rows left out with --hidden-rows skip stay out: fed back as it is, failed.csv must not
    # send what the analyst chose not to.
    failing = results["status"].isin([str(s) for s in FAILED_STATUSES])
    failing &= results["error_class"].ne(HIDDEN_ROW)
    original = validation.table.frame.drop(columns=list(ERROR_COLUMNS), errors="ignore")
    out = original.loc[failing.to_numpy()].copy()
    out["error_class"] = results.loc[failing, "error_class"].to_numpy()
    out["error_message"] = results.loc[failing, "error_message"].to_numpy()
    return out


def rollback_frame(validation: Validation, outcomes: Mapping[int, RowOutcome]) -> pd.DataFrame:
    """An input file that puts every changed opportunity back to its previous owner."""
    values = validation.values
    lines = []
    for outcome in outcomes.values():
        owner = outcome.previous_owner
        if outcome.status is not Status.SUCCEEDED or owner is None:
            continue
        lines.append(
            (
                values.at[outcome.row, fields.IDENTIFIER], values.at[outcome.row, fields.CATALOG],
                owner.email, owner.first_name, owner.last_name, owner.phone,
                owner.business_title,
            )
        )
    return pd.DataFrame(lines, columns=list(ROLLBACK_COLUMNS))


def not_undoable(
    validation: Validation, outcomes: Mapping[int, RowOutcome]
) -> list[dict[str, Any]]:
    """SUCCEEDED rows that rollback.csv cannot restore, with the reason."""
    values = validation.values
    return [
        {
            "row": o.row,
            "identifier": values.at[o.row, fields.IDENTIFIER],
            "reason": o.not_undoable or "previous owner unknown (run with the pre-read on)",
        }
        for o in outcomes.values()
        if o.status is Status.SUCCEEDED and o.previous_owner is None
    ]


def count_by(results: pd.DataFrame) -> tuple[dict[str, int], dict[str, int]]:
    """Counts by status and by error_class (non-empty ones)."""
    by_status = {str(k): int(v) for k, v in results["status"].value_counts(sort=False).items()}
    classes = results["error_class"][results["error_class"].ne("")]
    by_class = dict(Counter(classes.tolist()).most_common())
    return by_status, by_class


def write_outputs(
    paths: OutputPaths,
    validation: Validation,
    outcomes: Mapping[int, RowOutcome],
    summary: dict[str, Any],
) -> dict[str, Any]:
    """Write every output file and return the summary as written (with counts and paths)."""
    results = results_frame(validation, outcomes)
    write_csv(results, paths.results)
    failed = failed_frame(results, validation)
    files = {"results": str(paths.results)}
    if len(failed):
        write_csv(failed, paths.failed)
        files["failed"] = str(paths.failed)
    elif paths.failed.exists():
        paths.failed.unlink()  # a resume fixed them all
    rollback = rollback_frame(validation, outcomes)
    if len(rollback):
        write_csv(rollback, paths.rollback)
        files["rollback"] = str(paths.rollback)
    by_status, by_class = count_by(results)
    full = {
        **summary,
        "rows": len(results),
        "blank_rows_dropped": validation.table.blank_rows,
        "by_status": by_status,
        "by_error_class": by_class,
        "files": {**files, "summary": str(paths.summary)},
    }
    if outcomes:
        full["not_undoable"] = not_undoable(validation, outcomes)
    write_json(full, paths.summary)
    return full


def format_summary(summary: Mapping[str, Any]) -> str:
    """The table printed at the end of every command."""
    lines = ["", "Status            Rows"]
    for status in Status:
        count = summary["by_status"].get(str(status))
        if count:
            lines.append(f"  {status!s:<15} {count:>6}")
    lines.append(f"  {'total':<15} {summary['rows']:>6}")
    if summary.get("blank_rows_dropped"):
        lines.append(f"  (blank rows dropped: {summary['blank_rows_dropped']})")
    if summary["by_error_class"]:
        lines += ["", "Error class                        Rows"]
        lines += [f"  {k:<32} {v:>6}" for k, v in summary["by_error_class"].items()]
    calls = summary.get("calls")
    if calls:
        lines += [
            "",
            f"Writes used: {calls['write']}   reads: {calls['read']}   throttled: "
            f"{calls['throttled']}   wall: {summary.get('wall_seconds', 0):.1f} s",
        ]
        if calls.get("writes_per_changed") is not None:
            lines.append(
                f"Opportunities changed: {calls['changed']}   writes per changed opportunity: "
                f"{calls['writes_per_changed']:.2f}"
            )
    undo = summary.get("not_undoable") or []
    if undo:
        lines.append(f"Not undoable (no previous owner): {len(undo)} row(s), see summary.json")
    lines.append("")
    for name, path in summary["files"].items():
        lines.append(f"  {name + ':':<10} {path}")
    return "\n".join(lines)
