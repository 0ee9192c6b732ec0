"""The commands as library calls: read, validate, run and report, returning an exit code.

The CLI parses arguments and calls these; tests call them directly too.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from bulk_assign import __version__
from bulk_assign.console import (
    ProgressListener,
    precise_scheduling,
    progress_bar,
    run_log,
    stop_advice,
    stop_on_signals,
)
from bulk_assign.errors import (
    EXIT_ABORTED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ROWS_FAILED,
    UsageError,
)
from bulk_assign.guard import StopReason
from bulk_assign.journal import JOURNAL, Journal
from bulk_assign.plan import RunPlan, plan_resume, plan_run
from bulk_assign.reader import InputTable, read_table
from bulk_assign.report import OutputPaths, format_summary, write_outputs
from bulk_assign.results import OK_STATUSES, RowOutcome, Status
from bulk_assign.runfolder import prepare_run_dir, sha256_of, write_record
from bulk_assign.runner import Runner, RunReport
from bulk_assign.settings import DAILY_WRITE_QUOTA, RunSettings
from bulk_assign.sharing import OtherWriters, SharePlan, look_back, our_identifiers, quota_facts
from bulk_assign.timestamps import iso, utc_now
from bulk_assign.validator import DEFAULT_TITLE, validate

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
    plan = plan_run(settings)
    share = observe_share(plan, may_call=not settings.dry_run and _may_ask(settings, yes, stdin))
    # The plan comes first, so a production confirmation is given knowing what it costs.
    print(plan_text(plan) + "\n" + share.text(plan.count, wait=settings.wait), file=stdout)
    if not settings.dry_run:
        confirm_production(settings, plan.count, yes=yes, stdin=stdin, stdout=stdout)
    folder = prepare_run_dir(settings.out_dir, settings.input_path, started)
    write_record(folder, {
        "tool_version": __version__,
        "started_at": iso(started),
        "input": str(settings.input_path.resolve()),
        "input_sha256": plan.input_sha256,
        "settings": settings.to_json(),
    })
    print(f"Run folder: {folder}", file=stdout)
    if settings.dry_run:
        return _dry_run(plan, folder, started=started, now=now, stdout=stdout)
    return execute(plan, folder, started=started, now=now, quiet=quiet, stdout=stdout,
                   share=share)


def resume_command(
    run_dir: Path,
    *,
    profile: str | None = None,
    endpoint_url: str | None = None,
    yes: bool = False,
    quiet: bool = False,
    wait: bool | None = None,
    now: Clock = utc_now,
    stdout: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """`bulk-assign resume`: send only the rows of a run that have no final outcome."""
    stdout, stdin = stdout or sys.stdout, stdin or sys.stdin
    started = now()
    plan = plan_resume(run_dir, profile=profile, endpoint_url=endpoint_url)
    if wait is not None:
        plan = dataclasses.replace(plan, settings=plan.settings.replace(wait=wait))
    print(f"Run folder: {run_dir}", file=stdout)
    print(f"Resuming: {len(plan.earlier)} row(s) already final, {plan.count} to send "
          f"({len(plan.sent_before)} of them re-read first: a write may have landed).",
          file=stdout)
    share = observe_share(plan, may_call=_may_ask(plan.settings, yes, stdin))
    print(plan_text(plan) + "\n" + share.text(plan.count, wait=plan.settings.wait), file=stdout)
    confirm_production(plan.settings, plan.count, yes=yes, stdin=stdin, stdout=stdout)
    return execute(plan, run_dir, started=started, now=now, quiet=quiet, stdout=stdout,
                   share=share)


def _may_ask(settings: RunSettings, yes: bool, stdin: TextIO) -> bool:
    """False when production would be refused anyway: no call before that refusal."""
    return settings.catalog != "AWS" or yes or stdin.isatty()


def observe_share(plan: RunPlan, *, may_call: bool) -> SharePlan:
    """The look-back (read-only) and the pace it leads to; no call for a dry run or no row."""
    settings = plan.settings
    others = OtherWriters(settings.lookback_seconds)
    if may_call and plan.count and settings.lookback_seconds > 0 and settings.share is None:
        from bulk_assign.client import make_client

        others = look_back(make_client(settings, pool_size=1), catalog=settings.catalog,
                           lookback_seconds=settings.lookback_seconds,
                           ours=our_identifiers(plan), read_tps=settings.read_tps)
    return SharePlan.decide(settings, others)


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


def plan_text(plan: RunPlan) -> str:
    settings, rows = plan.settings, plan.count
    counts = plan.validation.counts()
    held = ", ".join(f"{counts[s]} {s}" for s in ("INVALID", "DUPLICATE") if counts.get(s))
    seconds = rows / settings.max_tps
    lines = [
        f"Plan: {rows} row(s) to send" + (f" ({held} not sent)" if held else "") + ".",
        f"  Writes at {settings.max_tps:g}/s: at most {_duration(seconds)}"
        + (f"; each row is read first at {settings.read_tps:g}/s, so rows already in place "
           "cost no write." if settings.pre_read else "."),
    ]
    if rows > DAILY_WRITE_QUOTA:
        lines.append(
            f"  WARNING: {rows} writes exceed the {DAILY_WRITE_QUOTA:,} per rolling 24 h "
            "quota (shared with CRM integrations). The run stops with QuotaExhausted when it is "
            "spent; `bulk-assign resume` it the next day."
        )
    if settings.dry_run:
        lines.append("  Dry run: nothing will be sent.")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def _summary_head(plan: RunPlan, started: datetime, now: Clock) -> dict[str, Any]:
    settings = plan.settings
    return {
        "command": plan.command,
        "tool_version": __version__,
        **input_facts(plan.validation.table, sha256=plan.input_sha256),
        "catalog": settings.catalog,
        "dry_run": settings.dry_run,
        "started_at": iso(started),
        "finished_at": iso(now()),
        "settings": settings.to_json(),
    }


def _dry_run(plan: RunPlan, folder: Path, *, started: datetime, now: Clock,
             stdout: TextIO) -> int:
    outcomes = {
        row: RowOutcome(row=row, status=Status.DRY_RUN, error_message="valid: would be sent")
        for row in plan.rows.tolist()
    }
    summary = write_outputs(OutputPaths.in_folder(folder), plan.validation, outcomes,
                            _summary_head(plan, started, now))
    print(format_summary(summary), file=stdout)
    return exit_code_for(summary)


def execute(plan: RunPlan, folder: Path, *, started: datetime, now: Clock, quiet: bool,
            stdout: TextIO, share: SharePlan | None = None) -> int:
    """Send the plan's rows, write every file, and say how the run ended."""
    from bulk_assign.client import make_client  # boto3 import costs ~0.3 s: only when needed

    settings = plan.settings
    client = make_client(settings, pool_size=settings.worker_count)
    journal = Journal(folder / JOURNAL)
    with run_log(folder), precise_scheduling(), progress_bar(plan.count, quiet=quiet) as bar:
        runner = Runner(settings, client, journal, sent_before=plan.sent_before,
                        listener=ProgressListener(bar), share=share)
        with stop_on_signals(runner.guard, stdout=stdout):
            report = runner.run(plan.jobs())
    journal.close()
    head = _summary_head(plan, started, now)
    head.update(_run_facts(report, endpoint=str(client.meta.endpoint_url), folder=folder))
    head["quota_use"] = quota_facts(runner, journal_path=folder / JOURNAL)
    summary = write_outputs(OutputPaths.in_folder(folder), plan.validation,
                            {**plan.earlier, **report.outcomes}, head)
    print(format_summary(summary), file=stdout)
    if report.stop is not None:
        print("\n" + stop_advice(report.stop, folder), file=stdout)
    print(f"\nRun folder: {folder}", file=stdout)
    if report.stop is None:
        return exit_code_for(summary)
    return EXIT_INTERRUPTED if report.stop.reason is StopReason.INTERRUPTED else EXIT_ABORTED


def _run_facts(report: RunReport, *, endpoint: str, folder: Path) -> dict[str, Any]:
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
        "stop": None if report.stop is None else {
            "reason": str(report.stop.reason), "detail": report.stop.sentence(),
            "resume": f"bulk-assign resume {folder}",
        },
    }
