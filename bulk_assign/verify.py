"""`bulk-assign verify RUN_DIR`: does every opportunity the run changed sit with its assignee?

Re-reads (GetOpportunity, read pace) every row the journal says SUCCEEDED, or with `--all`
every valid row of the run's input, and writes `verify.csv` beside the run's other files:
row, Identifier, intended assignee, owner now, verdict and error class; and `verify.xlsx`, the
same with verdicts coloured, where the run writes workbooks (results.xlsx). It holds the run
folder (`runlock`) from its first read of the journal to its last file, like `resume`.

Verdicts: MATCH; DRIFTED (someone changed it since: who owns it now); NOT_FOUND; UNREADABLE
(the read failed for good, or the check was stopped, with the error class).
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final, TextIO

import pandas as pd

from bulk_assign.client import current_owner, owned_by
from bulk_assign.console import stop_on_signals
from bulk_assign.errors import (
    EXIT_ABORTED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ROWS_FAILED,
)
from bulk_assign.guard import RunStopping, StopReason
from bulk_assign.plan import journal_state, recorded_settings, unchanged_input, validated
from bulk_assign.pool import run_pool
from bulk_assign.reads import DEFAULT_READ_WORKERS, PacedReader, make_guard, read_seconds
from bulk_assign.report import workbook_wanted, write_csv
from bulk_assign.results import Job, Status
from bulk_assign.retry import error_code
from bulk_assign.runfolder import atomic_binary, read_record
from bulk_assign.runlock import hold_run_folder
from bulk_assign.settings import RunSettings
from bulk_assign.workbook import AMBER, BAD, GOOD, StatusLook, write_table_workbook

VERIFY_CSV: Final = "verify.csv"
VERIFY_XLSX: Final = "verify.xlsx"
VERIFY_SHEET: Final = "Verify"
VERIFY_COLUMNS: Final = ("row", "Identifier", "intended assignee", "owner now", "verdict",
                         "error_class")


class Verdict(StrEnum):
    MATCH = "MATCH"
    DRIFTED = "DRIFTED"
    NOT_FOUND = "NOT_FOUND"
    UNREADABLE = "UNREADABLE"


#: How verify.xlsx colours a verdict: green in place, red moved or gone, amber not known.
VERDICT_LOOKS: Final[Mapping[str, StatusLook]] = {
    Verdict.MATCH: StatusLook(*GOOD, "the intended assignee owns it"),
    Verdict.DRIFTED: StatusLook(*BAD, "someone else owns it now: see owner now"),
    Verdict.NOT_FOUND: StatusLook(*BAD, "no such opportunity (any more)"),
    Verdict.UNREADABLE: StatusLook(*AMBER, "could not be read: see error_class; verify again"),
}


@dataclass(frozen=True)
class Check:
    """One row's verdict."""

    row: int
    identifier: str
    intended: str
    owner_now: str
    verdict: Verdict
    error_class: str = ""


def run_settings(run_dir: Path, *, profile: str | None = None,
                 endpoint_url: str | None = None) -> RunSettings:
    """The run's own settings (its input must be unchanged), with optional overrides."""
    record = read_record(run_dir)
    settings = recorded_settings(run_dir, record)
    overrides = {k: v for k, v in (("profile", profile), ("endpoint_url", endpoint_url))
                 if v is not None}
    settings = settings.replace(**overrides)
    unchanged_input(settings.input_path, record["input_sha256"])
    return settings


def jobs_to_check(settings: RunSettings, run_dir: Path, *, all_rows: bool) -> list[Job]:
    """SUCCEEDED rows of the journal, or (`all_rows`) every valid row of the input."""
    validation = validated(settings)
    rows = validation.valid_rows()
    if not all_rows:
        outcomes = journal_state(run_dir, rows=set(rows.tolist())).outcomes
        rows = rows[rows.isin([r for r, o in outcomes.items() if o.status is Status.SUCCEEDED])]
    return list(validation.jobs(rows))


def check_all(reader: PacedReader, jobs: list[Job], *, workers: int) -> dict[int, Check]:
    """Read each job's opportunity and judge it; rows left when the check stops are absent."""
    checks: dict[int, Check] = {}
    lock = threading.Lock()

    def work(job: Job) -> None:
        try:
            answer = reader.get(catalog=job.catalog, identifier=job.identifier)
        except RunStopping:
            return
        except Exception as exc:
            code = error_code(exc)
            verdict = Verdict.NOT_FOUND if code == "ResourceNotFoundException" \
                else Verdict.UNREADABLE
            check = _check(job, "", verdict, code)
        else:
            owner = current_owner([dict(m) for m in answer.get("OpportunityTeam") or []])
            verdict = Verdict.MATCH if owned_by(owner, job.assignee) else Verdict.DRIFTED
            check = _check(job, owner.email if owner else "", verdict)
        with lock:
            checks[job.row] = check

    with reader.paced():
        run_pool(jobs, work, workers=workers, stopping=lambda: reader.guard.stopping)
    return checks


def _check(job: Job, owner_now: str, verdict: Verdict, error_class: str = "") -> Check:
    return Check(row=job.row, identifier=job.identifier, intended=job.assignee.email,
                 owner_now=owner_now, verdict=verdict, error_class=error_class)


def verify_frame(checks: Iterable[Check]) -> pd.DataFrame:
    lines = [(c.row, c.identifier, c.intended, c.owner_now, str(c.verdict), c.error_class)
             for c in sorted(checks, key=lambda c: c.row)]
    return pd.DataFrame(lines, columns=list(VERIFY_COLUMNS), dtype=object)


def write_verify_files(frame: pd.DataFrame, folder: Path, *, workbook: bool) -> list[Path]:
    """verify.csv and, with `workbook` (where the run writes results.xlsx), verify.xlsx: the
    same cells, every one a string, verdicts coloured. Both atomic and 0600."""
    path = folder / VERIFY_CSV
    write_csv(frame, path)
    if not workbook:
        return [path]
    book = folder / VERIFY_XLSX
    with atomic_binary(book) as fh:
        write_table_workbook(fh, frame=frame, title=VERIFY_SHEET, look_column="verdict",
                             looks=VERDICT_LOOKS)
    return [path, book]


def verify_command(run_dir: Path, *, all_rows: bool = False, profile: str | None = None,
                   endpoint_url: str | None = None, stdout: TextIO | None = None) -> int:
    """`bulk-assign verify`: exit 0 when every checked row is MATCH, 1 otherwise."""
    stdout = stdout or sys.stdout
    read_record(run_dir)  # a run folder at all? (before a lock file is made in it)
    with hold_run_folder(run_dir, command="verify") as held:
        if held.warning:
            print(held.warning, file=stdout)
        return _verify(run_dir, all_rows=all_rows, profile=profile,
                       endpoint_url=endpoint_url, stdout=stdout)


def _verify(run_dir: Path, *, all_rows: bool, profile: str | None, endpoint_url: str | None,
            stdout: TextIO) -> int:
    from bulk_assign.client import make_client  # boto3 import costs ~0.3 s: only when needed

    settings = run_settings(run_dir, profile=profile, endpoint_url=endpoint_url)
    jobs = jobs_to_check(settings, run_dir, all_rows=all_rows)
    what = "valid row(s) of the input" if all_rows else "row(s) the run changed"
    seconds = round(read_seconds(len(jobs), settings.read_tps))
    print(f"Verify: {len(jobs)} {what}, one read each at {settings.read_tps:g}/s: about "
          f"{seconds // 60}m {seconds % 60:02d}s.", file=stdout)
    guard = make_guard()
    reader = PacedReader(make_client(settings, pool_size=DEFAULT_READ_WORKERS), guard,
                         read_tps=settings.read_tps, max_attempts=settings.max_attempts,
                         next_step="run verify again")
    with stop_on_signals(guard, stdout=stdout):
        checks = check_all(reader, jobs, workers=DEFAULT_READ_WORKERS)
    stop = guard.stop_info
    for job in jobs:  # rows the stop left unread
        if job.row not in checks:
            reason = str(stop.reason) if stop else str(StopReason.INTERRUPTED)
            checks[job.row] = _check(job, "", Verdict.UNREADABLE, reason)
    paths = write_verify_files(
        verify_frame(checks.values()), run_dir,
        workbook=workbook_wanted(settings.input_path, settings.output_format))
    counts = Counter(c.verdict for c in checks.values())
    print(summary_text(counts, reads=reader.calls.read), file=stdout)
    for path in paths:
        print(f"  {path}", file=stdout)
    if stop is not None:
        print(f"Stopped ({stop.reason}): {stop.sentence()}", file=stdout)
        return EXIT_INTERRUPTED if stop.reason is StopReason.INTERRUPTED else EXIT_ABORTED
    return EXIT_OK if set(counts) <= {Verdict.MATCH} else EXIT_ROWS_FAILED


def summary_text(counts: Counter[Verdict], *, reads: int) -> str:
    lines = ["", "Verdict           Rows"]
    lines += [f"  {v!s:<15} {counts.get(v, 0):>6}" for v in Verdict]
    lines += [f"  {'total':<15} {sum(counts.values()):>6}", f"Reads: {reads}", ""]
    return "\n".join(lines)
