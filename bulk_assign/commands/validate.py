"""`bulk-assign validate`: check every row offline and write the results files; and the one
exit-code rule for rows that validate, run, resume and the dry run share."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from bulk_assign import __version__
from bulk_assign.check import hidden
from bulk_assign.check.validator import validate
from bulk_assign.errors import (
    EXIT_OK,
    EXIT_ROWS_FAILED,
)
from bulk_assign.report.files import OutputPaths, format_summary, workbook_wanted, write_outputs
from bulk_assign.results import HIDDEN_ROW, OK_STATUSES, OWNER_CHANGED
from bulk_assign.sheet.reader import read_table
from bulk_assign.sheet.table import InputTable
from bulk_assign.store.runfolder import (
    sha256_of,
)
from bulk_assign.store.runlock import prepare_run_dir
from bulk_assign.timestamps import iso, utc_now

Clock = Callable[[], datetime]


def input_facts(table: InputTable, *, sha256: str) -> dict[str, Any]:
    """What the summary says about the input file."""
    return {
        "input": str(table.path),
        "input_sha256": sha256,
        "encoding": table.encoding,
        "delimiter": table.delimiter,
        "sheet": table.sheet,
        "header_row": table.header_row,
        "columns": table.columns,
        **hidden.facts(table),
    }


def rows_exit_code(by_status: Mapping[str, int], *, left_out: int = 0) -> int:
    """0 when every row ended well, 1 otherwise. `left_out`: SKIPPED rows that were meant to
    be left out (--hidden-rows skip; OwnerChanged, left to the analyst), as a DUPLICATE is."""
    ok = {str(s) for s in OK_STATUSES}
    bad = sum(n for s, n in by_status.items() if s not in ok) - left_out
    return EXIT_OK if bad == 0 else EXIT_ROWS_FAILED


def exit_code_for(summary: dict[str, Any]) -> int:
    classes = summary["by_error_class"]
    return rows_exit_code(summary["by_status"],
                          left_out=classes.get(HIDDEN_ROW, 0) + classes.get(OWNER_CHANGED, 0))


def validate_command(
    *,
    input_path: Path,
    catalog: str | None,
    sheet: str | None = None,
    out: Path | None = None,
    allow_other_titles: bool = False,
    output_format: str | None = None,
    now: Clock = utc_now,
    stdout: TextIO | None = None,
) -> int:
    """`bulk-assign validate`: check every row offline and write the results files."""
    stdout = stdout or sys.stdout
    started = now()
    t0 = time.monotonic()
    table = read_table(input_path, sheet=sheet)
    folder = prepare_run_dir(out, input_path, started)
    print(f"Run folder: {folder}", file=stdout)
    validation = validate(table, catalog=catalog, allow_other_titles=allow_other_titles)
    summary = write_outputs(
        OutputPaths.in_folder(folder),
        validation,
        {},
        {
            "command": "validate",
            "tool_version": __version__,
            **input_facts(table, sha256=sha256_of(input_path)),
            "catalog": catalog,
            "started_at": iso(started),
            "finished_at": iso(now()),
            "wall_seconds": round(time.monotonic() - t0, 3),
        },
        workbook=workbook_wanted(input_path, output_format),
    )
    print(format_summary(summary), file=stdout)
    for line in hidden.notes(table, choice=None):
        print(line, file=stdout)
    print(f"\nRun folder: {folder}", file=stdout)
    return exit_code_for(summary)
