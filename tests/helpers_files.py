"""Helpers that write real input files for the offline tests, and run the CLI on them."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd

from bulk_assign.sheet.reader import read_table
from bulk_assign.sheet.table import InputTable

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"

HEADER = ["Identifier", "Email", "FirstName", "LastName", "Phone"]
GOOD = ["O1001", "ana@example.com", "Ana", "Silva", "+15550100199"]


def row(**changes: str) -> list[str]:
    """A valid row of HEADER with some cells changed, e.g. `row(Email="")`."""
    values = dict(zip(HEADER, GOOD, strict=True))
    values.update(changes)
    return [values[h] for h in HEADER]


def csv_text(rows: Sequence[Sequence[str]], *, delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def write_csv(
    path: Path,
    rows: Sequence[Sequence[str]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> Path:
    """Write `rows` (header first) as a CSV file in `encoding` (e.g. "utf-8-sig", "cp1252")."""
    path.write_bytes(csv_text(rows, delimiter=delimiter).encode(encoding))
    return path


def write_xlsx(
    path: Path,
    sheets: dict[str, Sequence[Sequence[Any]]],
    *,
    merge: str | None = None,
) -> Path:
    """Write a workbook with one sheet per entry (first entry first); `merge` e.g. "A1:B1"."""
    workbook = openpyxl.Workbook()
    first = True
    for title, rows in sheets.items():
        sheet = workbook.active if first else workbook.create_sheet()
        first = False
        sheet.title = title
        for values in rows:
            sheet.append(list(values))
        if merge and sheet is workbook.worksheets[0]:
            sheet.merge_cells(merge)
    workbook.save(path)
    return path


def table(path: Path, **kwargs: Any) -> InputTable:
    return read_table(path, **kwargs)


def run_validate(
    path: Path, out: Path, *, catalog: str | None = None, sheet: str | None = None
) -> tuple[int, pd.DataFrame, str]:
    """Run `validate_command` and return (exit code, results.csv as text cells, stdout)."""
    from bulk_assign.commands.validate import (
        validate_command,  # late: the commands pull in the run stack
    )

    stdout = io.StringIO()
    code = validate_command(
        input_path=path, catalog=catalog, sheet=sheet, out=out, stdout=stdout
    )
    return code, read_results(out / "results.csv"), stdout.getvalue()


def read_results(path: Path) -> pd.DataFrame:
    """A results/failed CSV as Excel would show it: text cells, row numbers as the index."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if "row" in frame.columns:
        frame = frame.set_index(frame["row"].astype(int))
    return frame


def run_cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m bulk_assign ARGS` in a fresh interpreter, as an analyst would run it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "bulk_assign", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=60, check=False,
    )


def assert_rollback_validates(path: Path) -> None:
    """rollback.csv through `bulk-assign validate`'s reader and validator: no INVALID row."""
    from bulk_assign.check.validator import validate

    validation = validate(read_table(path), catalog=None)
    invalid = validation.error_message[validation.status.eq("INVALID")]
    assert invalid.empty, f"{path}: INVALID rows {dict(invalid)}"
