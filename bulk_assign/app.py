"""The commands as library calls: read, validate, run and report, returning an exit code.

The CLI parses arguments and calls these; tests call them directly too.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bulk_assign import __version__
from bulk_assign.errors import EXIT_OK, EXIT_ROWS_FAILED
from bulk_assign.reader import InputTable, read_table
from bulk_assign.report import OutputPaths, format_summary, write_outputs
from bulk_assign.results import OK_STATUSES
from bulk_assign.runfolder import prepare_run_dir, sha256_of
from bulk_assign.validator import DEFAULT_TITLE, validate

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def input_facts(table: InputTable) -> dict[str, Any]:
    """What the summary says about the input file."""
    return {
        "input": str(table.path),
        "input_sha256": sha256_of(table.path),
        "encoding": table.encoding,
        "delimiter": table.delimiter,
        "sheet": table.sheet,
        "header_row": table.header_row,
        "columns": table.columns,
    }


def exit_code_for(summary: dict[str, Any]) -> int:
    ok = {str(s) for s in OK_STATUSES}
    return EXIT_OK if set(summary["by_status"]) <= ok else EXIT_ROWS_FAILED


def validate_command(
    *,
    input_path: Path,
    catalog: str | None,
    sheet: str | None = None,
    out: Path | None = None,
    default_title: str = DEFAULT_TITLE,
    now: Clock = utc_now,
    stdout: TextIO = sys.stdout,
) -> int:
    """`bulk-assign validate`: check every row offline and write the results files."""
    started = now()
    t0 = time.monotonic()
    table = read_table(input_path, sheet=sheet)
    folder = prepare_run_dir(out, input_path, started)
    print(f"Run folder: {folder}", file=stdout)
    validation = validate(table, catalog=catalog, default_title=default_title)
    summary = write_outputs(
        OutputPaths.in_folder(folder),
        validation,
        {},
        {
            "command": "validate",
            "tool_version": __version__,
            **input_facts(table),
            "catalog": catalog,
            "started_at": iso(started),
            "finished_at": iso(now()),
            "wall_seconds": round(time.monotonic() - t0, 3),
        },
    )
    print(format_summary(summary), file=stdout)
    print(f"\nRun folder: {folder}", file=stdout)
    return exit_code_for(summary)


def run_command(settings: Any, *, yes: bool, quiet: bool) -> int:  # filled in by the run issue
    raise NotImplementedError


def resume_command(run_dir: Path, **kwargs: Any) -> int:
    raise NotImplementedError
