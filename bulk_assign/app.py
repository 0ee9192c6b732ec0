"""The commands as library calls: read, validate, run and report, returning an exit code.

The CLI parses arguments and calls these; tests call them directly too.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bulk_assign import __version__, hidden
from bulk_assign.console import precise_scheduling, progress_bar, run_log, stop_on_signals
from bulk_assign.errors import (
    EXIT_ABORTED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ROWS_FAILED,
    UsageError,
)
from bulk_assign.journal import JOURNAL, Journal, load
from bulk_assign.reader import InputTable, read_table
from bulk_assign.report import OutputPaths, format_summary, write_outputs
from bulk_assign.results import HIDDEN_ROW, OK_STATUSES, Contact, Job, RowOutcome, Status
from bulk_assign.retry import is_resumable_code
from bulk_assign.runfolder import prepare_run_dir, read_record, sha256_of, write_record
from bulk_assign.runner import Runner, RunReport, StopReason
from bulk_assign.settings import DAILY_WRITE_QUOTA, RunSettings
from bulk_assign.validator import DEFAULT_TITLE, Validation, validate

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


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


def exit_code_for(summary: dict[str, Any]) -> int:
    ok = {str(s) for s in OK_STATUSES}
    # Rows left out with --hidden-rows skip were meant to be left out, as a DUPLICATE is.
    bad = sum(n for s, n in summary["by_status"].items() if s not in ok)
    bad -= summary["by_error_class"].get(HIDDEN_ROW, 0)
    return EXIT_OK if bad == 0 else EXIT_ROWS_FAILED


def validate_command(
    *,
    input_path: Path,
    catalog: str | None,
    sheet: str | None = None,
    out: Path | None = None,
    default_title: str = DEFAULT_TITLE,
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
    validation = validate(table, catalog=catalog, default_title=default_title)
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
    )
    print(format_summary(summary), file=stdout)
    for line in hidden.notes(table, choice=None):
        print(line, file=stdout)
    print(f"\nRun folder: {folder}", file=stdout)
    return exit_code_for(summary)


def run_command(
    settings: RunSettings,
    *,
    yes: bool = False,
    quiet: bool = False,
    now: Clock = utc_now,
    stdout: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """`bulk-assign run`: validate, then reassign every valid row at the allowed pace."""
    stdout, stdin = stdout or sys.stdout, stdin or sys.stdin
    started = now()
    table = read_table(settings.input_path, sheet=settings.sheet)
    validation = hidden.validate_for_run(table, choice=settings.hidden_rows,
                                         catalog=settings.catalog,
                                         default_title=settings.default_title)
    jobs_count = int(validation.status.eq(Status.VALID).sum())
    # The plan comes first, so a production confirmation is given knowing what it costs.
    print(plan_text(settings, validation, jobs_count), file=stdout)
    hidden.check(table, choice=settings.hidden_rows)
    if not settings.dry_run:
        confirm_production(settings, jobs_count, yes=yes, stdin=stdin, stdout=stdout)
    folder = prepare_run_dir(settings.out_dir, settings.input_path, started)
    digest = sha256_of(settings.input_path)
    write_record(folder, {
        "tool_version": __version__,
        "started_at": iso(started),
        "input": str(settings.input_path.resolve()),
        "input_sha256": digest,
        "settings": settings.to_json(),
    })
    print(f"Run folder: {folder}", file=stdout)
    if settings.dry_run:
        outcomes = {
            job.row: RowOutcome(row=job.row, status=Status.DRY_RUN,
                                error_message="valid: would be sent")
            for job in validation.jobs()
        }
        summary = write_outputs(
            OutputPaths.in_folder(folder), validation, outcomes,
            _summary_head("run", settings, table, started, now, sha256=digest),
        )
        print(format_summary(summary), file=stdout)
        return exit_code_for(summary)
    return _execute(
        settings, validation, folder, jobs=validation.jobs(), jobs_count=jobs_count,
        previous={}, sent_before={}, started=started, now=now, quiet=quiet, stdout=stdout,
        command="run", sha256=digest,
    )


def resume_command(
    run_dir: Path,
    *,
    profile: str | None = None,
    endpoint_url: str | None = None,
    yes: bool = False,
    quiet: bool = False,
    now: Clock = utc_now,
    stdout: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """`bulk-assign resume`: send only the rows of a run that have no final outcome."""
    stdout, stdin = stdout or sys.stdout, stdin or sys.stdin
    started = now()
    record = read_record(run_dir)
    settings = RunSettings.from_json(record["settings"])
    settings = settings.but(input_path=Path(record["input"]), out_dir=run_dir)
    if profile is not None:
        settings = settings.but(profile=profile)
    if endpoint_url is not None:
        settings = settings.but(endpoint_url=endpoint_url)
    if not settings.input_path.is_file():
        raise UsageError(
            f"{settings.input_path}: the run's input file is gone; put it back where it was "
            "to resume (the run folder records its path and checksum)."
        )
    digest = sha256_of(settings.input_path)
    if digest != record["input_sha256"]:
        raise UsageError(
            f"{settings.input_path}: changed since the run started (checksum differs); resume "
            "needs the same file. Start a new run with the changed file instead."
        )
    table = read_table(settings.input_path, sheet=settings.sheet)
    # The run's own --hidden-rows choice, from run.json (the file is the same, checked above).
    validation = hidden.validate_for_run(table, choice=settings.hidden_rows,
                                         catalog=settings.catalog,
                                         default_title=settings.default_title)
    state = load(run_dir / JOURNAL)
    final = {row for row, o in state.outcomes.items() if _is_final(o)}
    pending = [job for job in validation.jobs() if job.row not in final]
    previous = {row: o for row, o in state.outcomes.items() if row in final}
    sent_before = {row: owner for row, owner in state.sent.items() if row not in final}
    print(f"Run folder: {run_dir}", file=stdout)
    print(f"Resuming: {len(final)} row(s) already final, {len(pending)} to send "
          f"({len(sent_before)} of them re-read first: a write may have landed).", file=stdout)
    print(plan_text(settings, validation, len(pending)), file=stdout)
    confirm_production(settings, len(pending), yes=yes, stdin=stdin, stdout=stdout)
    return _execute(
        settings, validation, run_dir, jobs=pending, jobs_count=len(pending), previous=previous,
        sent_before=sent_before, started=started, now=now, quiet=quiet, stdout=stdout,
        command="resume", sha256=digest,
    )


def _is_final(outcome: RowOutcome) -> bool:
    if outcome.status in (Status.SUCCEEDED, Status.UNCHANGED):
        return True
    if outcome.status is Status.FAILED:
        return not is_resumable_code(outcome.error_class)
    return False  # SKIPPED


def confirm_production(settings: RunSettings, rows: int, *, yes: bool, stdin: TextIO,
                       stdout: TextIO) -> None:
    """`--catalog AWS` is production: the user types the row count back, or passes --yes."""
    if settings.catalog != "AWS" or yes or rows == 0:
        return
    if not stdin.isatty():
        raise UsageError(
            "--catalog AWS changes production opportunities and there is no terminal to "
            f"confirm on; pass --yes to send {rows} row(s) anyway. Nothing was sent."
        )
    print(f"--catalog AWS: this reassigns {rows} PRODUCTION opportunities.", file=stdout)
    print(f"Type {rows} to continue, anything else to stop: ", end="", file=stdout, flush=True)
    answer = stdin.readline().strip().replace(",", "")
    if answer != str(rows):
        raise UsageError("not confirmed; nothing was sent.")


def plan_text(settings: RunSettings, validation: Validation, rows: int) -> str:
    counts = validation.counts()
    held = ", ".join(f"{counts[s]} {s}" for s in ("INVALID", "DUPLICATE", "SKIPPED")
                     if counts.get(s))
    seconds = rows / settings.max_tps
    lines = [
        f"Plan: {rows} row(s) to send" + (f" ({held} not sent)" if held else "") + ".",
        f"  Writes at {settings.max_tps:g}/s: at most {_duration(seconds)}"
        + (f"; each row is read first at {settings.read_tps:g}/s, so rows already in place "
           "cost no write." if settings.snapshot else "."),
    ]
    if rows > DAILY_WRITE_QUOTA:
        lines.append(
            f"  WARNING: {rows} writes exceed the {DAILY_WRITE_QUOTA:,} per rolling 24 h "
            "quota (shared with CRM integrations). The run stops with QuotaExhausted when it is "
            "spent; `bulk-assign resume` it the next day."
        )
    lines += [f"  {line}" for line in hidden.notes(validation.table, choice=settings.hidden_rows)]
    if settings.dry_run:
        lines.append("  Dry run: nothing will be sent.")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _summary_head(command: str, settings: RunSettings, table: InputTable, started: datetime,
                  now: Clock, *, sha256: str) -> dict[str, Any]:
    return {
        "command": command,
        "tool_version": __version__,
        **input_facts(table, sha256=sha256),
        "catalog": settings.catalog,
        "dry_run": settings.dry_run,
        "started_at": iso(started),
        "finished_at": iso(now()),
        "settings": settings.to_json(),
    }


def _execute(
    settings: RunSettings,
    validation: Validation,
    folder: Path,
    *,
    jobs: Iterable[Job],
    jobs_count: int,
    previous: dict[int, RowOutcome],
    sent_before: dict[int, Contact | None],
    started: datetime,
    now: Clock,
    quiet: bool,
    stdout: TextIO,
    command: str,
    sha256: str,
) -> int:
    from bulk_assign.client import make_client  # boto3 import costs ~0.3 s: only when needed

    client = make_client(settings, pool_size=settings.worker_count)
    journal = Journal(folder / JOURNAL)
    with run_log(folder), precise_scheduling(), progress_bar(jobs_count, quiet=quiet) as bar:
        runner = Runner(settings, client, journal, sent_before=sent_before, progress=bar)
        with stop_on_signals(runner, stdout=stdout):
            report = runner.run(jobs)
    journal.close()
    outcomes = {**previous, **report.outcomes}
    head = _summary_head(command, settings, validation.table, started, now, sha256=sha256)
    head.update(_run_facts(report, endpoint=str(client.meta.endpoint_url)))
    summary = write_outputs(OutputPaths.in_folder(folder), validation, outcomes, head)
    print(format_summary(summary), file=stdout)
    if report.stop is not None:
        print(f"\nStopped ({report.stop}): {report.stop_detail.replace('RUN_DIR', str(folder))}",
              file=stdout)
        print(f"Continue with: bulk-assign resume {folder}", file=stdout)
    print(f"\nRun folder: {folder}", file=stdout)
    if report.stop in (StopReason.ABORTED, StopReason.QUOTA_EXHAUSTED):
        return EXIT_ABORTED
    if report.stop is StopReason.INTERRUPTED:
        return EXIT_INTERRUPTED
    return exit_code_for(summary)


def _run_facts(report: RunReport, *, endpoint: str) -> dict[str, Any]:
    changed = report.statuses.get("SUCCEEDED", 0)
    calls = report.calls
    return {
        "endpoint": endpoint,
        "wall_seconds": round(report.wall_seconds, 3),
        "calls": {
            "write": calls.write,
            "read": calls.read,
            "throttled": calls.throttled,
            "throttled_write": calls.throttled_write,
            "throttled_read": calls.throttled_read,
            "changed": changed,
            "unchanged": report.statuses.get("UNCHANGED", 0),
            "writes_per_changed": round(calls.write / changed, 3) if changed else None,
        },
        "effective_writes_per_second": round(calls.write / report.wall_seconds, 3)
        if report.wall_seconds > 0 else None,
        "stop": None if report.stop is None
        else {"reason": str(report.stop), "detail": report.stop_detail},
    }
