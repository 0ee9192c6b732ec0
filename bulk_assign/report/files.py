"""The files an analyst acts on: results.csv, failed.csv, rollback.csv, summary.json and,
for Excel users, results.xlsx (see `workbook.py`).

Every file is written through `runfolder`'s atomic writers (temporary name, fsync, `os.replace`,
mode 0600), so a crash never leaves half a file and only its owner can read it. CSVs are UTF-8
with BOM (Excel opens them right) and formula-injection safe.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from bulk_assign.check.owners import results_message
from bulk_assign.check.validator import Validation, validate
from bulk_assign.report.workbook import write_workbook
from bulk_assign.results import FAILED_STATUSES, HIDDEN_ROW, RowOutcome, Status
from bulk_assign.sheet import fields
from bulk_assign.sheet.cells import escape_formulas, escape_header
from bulk_assign.sheet.table import InputTable
from bulk_assign.store.runfolder import (
    FAILED_CSV,
    RESULTS_CSV,
    RESULTS_XLSX,
    ROLLBACK_CSV,
    SUMMARY_JSON,
    atomic_binary,
    atomic_text,
    write_atomic,
)

RESULT_COLUMNS: Final = (
    "row", "status", "error_class", "error_message", "attempts", "request_id", "finished_at",
)
ERROR_COLUMNS: Final = ("error_class", "error_message")
#: rollback.csv's expected owner: the assignee the run set, so that an undo leaves an
#: opportunity someone moved on since alone (owners.py). The export's name for it.
ROLLBACK_EXPECTED: Final = "Current Email"
ROLLBACK_COLUMNS: Final = (
    fields.IDENTIFIER, fields.CATALOG, fields.EMAIL, fields.FIRST_NAME, fields.LAST_NAME,
    fields.PHONE, fields.BUSINESS_TITLE, ROLLBACK_EXPECTED,
)
EXCEL_SUFFIXES: Final = (".xlsx", ".xlsm")


def workbook_wanted(input_path: Path, output_format: str | None) -> bool:
    """Whether results.xlsx is written besides the CSVs.

    >>> workbook_wanted(Path("q3.XLSX"), None), workbook_wanted(Path("q3.xlsx"), "csv")
    (True, False)
    >>> workbook_wanted(Path("q3.csv"), None), workbook_wanted(Path("q3.csv"), "xlsx")
    (False, True)
    """
    if output_format is None:
        return input_path.suffix.casefold() in EXCEL_SUFFIXES
    return output_format == "xlsx"


@dataclass(frozen=True)
class OutputPaths:
    results: Path
    failed: Path
    rollback: Path
    summary: Path
    workbook: Path

    @classmethod
    def in_folder(cls, folder: Path) -> OutputPaths:
        return cls(
            results=folder / RESULTS_CSV,
            failed=folder / FAILED_CSV,
            rollback=folder / ROLLBACK_CSV,
            summary=folder / SUMMARY_JSON,
            workbook=folder / RESULTS_XLSX,
        )


#: Rows escaped and written at a time: an escaped copy of a million-row frame at once would
#: add hundreds of MB to the peak.
WRITE_CHUNK_ROWS: Final = 100_000


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` as an Excel-friendly, formula-safe CSV, atomically."""
    header = [escape_header(c) for c in frame.columns]
    with atomic_text(path, encoding="utf-8-sig", newline="") as fh:
        for start in range(0, max(len(frame), 1), WRITE_CHUNK_ROWS):
            safe = escape_formulas(frame.iloc[start : start + WRITE_CHUNK_ROWS])
            safe.to_csv(fh, index=False, header=header if start == 0 else False,
                        lineterminator="\r\n")


def write_xlsx(
    path: Path, *, results: pd.DataFrame, failed: pd.DataFrame, summary: Mapping[str, Any]
) -> dict[str, int]:
    """Write results.xlsx atomically; return what had to change to fit (see `workbook`)."""
    with atomic_binary(path) as fh:
        return write_workbook(fh, results=results, failed=failed, summary=summary)


def write_json(data: Mapping[str, Any], path: Path) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


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
        expected = (validation.values[fields.EXPECTED_OWNER].to_numpy(dtype=object)
                    if fields.EXPECTED_OWNER in validation.values else [None] * len(index))
        for pos, o in zip(positions, outcomes.values(), strict=True):
            if pos < 0:
                continue  # a journal row the (same) input no longer has: cannot happen
            columns["status"][pos] = str(o.status)
            columns["error_class"][pos] = o.error_class
            columns["error_message"][pos] = results_message(o, expected[pos])
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


@dataclass(frozen=True)
class Rollback:
    """rollback.csv's rows, and the changed opportunities it cannot put back, with the reason.

    Every row of `frame` passes the tool's own validation, so rollback.csv run as it is has no
    INVALID row: a previous owner the API recorded without a name, say, is listed in
    `not_undoable` instead of becoming a row the tool would refuse on the way back.
    """

    frame: pd.DataFrame
    not_undoable: list[dict[str, Any]]


def rollback_plan(validation: Validation, outcomes: Mapping[int, RowOutcome]) -> Rollback:
    """What puts every opportunity this run changed back to its previous owner."""
    changed = [o for o in outcomes.values() if o.status is Status.SUCCEEDED]
    where = validation.values.loc[[o.row for o in changed],
                                  [fields.IDENTIFIER, fields.CATALOG, fields.EMAIL]]
    refused: list[dict[str, Any]] = []
    lines: list[tuple[str, ...]] = []
    sources: list[tuple[int, str]] = []
    for outcome, identifier, catalog, assignee in zip(
            changed, where[fields.IDENTIFIER].tolist(), where[fields.CATALOG].tolist(),
            where[fields.EMAIL].tolist(), strict=True):
        owner = outcome.previous_owner
        if owner is None:
            reason = (outcome.not_undoable_reason
                      or "previous owner unknown (run with the pre-read on)")
            refused.append({"row": outcome.row, "identifier": identifier, "reason": reason})
            continue
        lines.append((identifier, catalog, owner.email, owner.first_name, owner.last_name,
                      owner.phone, owner.business_title, assignee))
        sources.append((outcome.row, identifier))
    frame = pd.DataFrame(lines, columns=list(ROLLBACK_COLUMNS), dtype=object)
    if not lines:
        return Rollback(frame=frame, not_undoable=refused)
    check = _validate_rollback(frame)
    sendable = check.status.ne(Status.INVALID).to_numpy()
    for position in np.flatnonzero(~sendable).tolist():
        row, identifier = sources[position]
        refused.append({
            "row": row,
            "identifier": identifier,
            "reason": "the previous owner cannot be sent back as recorded "
            f"({check.error_message.iat[position]}); restore it in Partner Central by hand",
        })
    refused.sort(key=lambda item: int(item["row"]))
    return Rollback(frame=frame.loc[sendable].reset_index(drop=True), not_undoable=refused)


def _validate_rollback(frame: pd.DataFrame) -> Validation:
    """rollback.csv's rows through the validator the tool will read them back with."""
    rows = frame.set_axis(pd.RangeIndex(2, 2 + len(frame)), axis=0)
    table = InputTable(path=Path(ROLLBACK_CSV), frame=rows,
                       columns={str(fields.field_for(name)): name for name in ROLLBACK_COLUMNS},
                       encoding="utf-8")
    return validate(table, catalog=None)


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
    *,
    workbook: bool = False,
) -> dict[str, Any]:
    """Write every output file and return the summary as written (with counts and paths).

    `workbook`: also write results.xlsx (see `workbook_wanted`).
    """
    results = results_frame(validation, outcomes)
    write_csv(results, paths.results)
    failed = failed_frame(results, validation)
    files = {"results": str(paths.results)}
    if len(failed):
        write_csv(failed, paths.failed)
        files["failed"] = str(paths.failed)
    elif paths.failed.exists():
        paths.failed.unlink()  # a resume fixed them all
    rollback = rollback_plan(validation, outcomes)
    if len(rollback.frame):
        write_csv(rollback.frame, paths.rollback)
        files["rollback"] = str(paths.rollback)
    if workbook:
        files["workbook"] = str(paths.workbook)
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
        full["not_undoable"] = rollback.not_undoable
    if workbook:
        full["workbook"] = write_xlsx(paths.workbook, results=results, failed=failed, summary=full)
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
        lines.append(f"Not undoable by rollback.csv: {len(undo)} row(s), see summary.json")
    lines.append("")
    for name, path in summary["files"].items():
        lines.append(f"  {name + ':':<10} {path}")
    return "\n".join(lines)
