"""The commands as library calls: read, validate, run and report, returning an exit code.

The CLI parses arguments and calls these; tests call them directly too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bulk_assign import __version__, fields, hidden, history, owners
from bulk_assign.client import pinned_connection
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
from bulk_assign.guard import RunGuard, StopReason
from bulk_assign.journal import JOURNAL, Journal
from bulk_assign.plan import RunPlan, plan_resume, plan_run
from bulk_assign.reader import read_table
from bulk_assign.report import OutputPaths, format_summary, workbook_wanted, write_outputs
from bulk_assign.results import HIDDEN_ROW, OK_STATUSES, OWNER_CHANGED, RowOutcome, Status
from bulk_assign.runfolder import (
    check_out_dir,
    prepare_run_dir,
    read_record,
    sha256_of,
    write_record,
)
from bulk_assign.runlock import HeldRunFolder, hold_run_folder
from bulk_assign.runner import Runner, RunReport, run_guard
from bulk_assign.settings import DAILY_WRITE_QUOTA, RunSettings
from bulk_assign.sharing import OtherWriters, SharePlan, look_back, our_identifiers, quota_facts
from bulk_assign.sheet_table import InputTable
from bulk_assign.timestamps import iso, utc_now
from bulk_assign.validator import validate

if TYPE_CHECKING:
    from mypy_boto3_partnercentral_selling import PartnerCentralSellingAPIClient

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


def run_command(
    settings: RunSettings,
    *,
    yes: bool = False,
    quiet: bool = False,
    now: Clock = utc_now,
    stdout: TextIO | None = None,
    stdin: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """`bulk-assign run`: validate, then reassign every valid row at the allowed pace."""
    stdout, stdin = stdout or sys.stdout, stdin or sys.stdin
    started = now()
    settings, sources = pinned_connection(settings, os.environ if environ is None else environ)
    plan = with_preview(plan_run(settings))
    # Refusals that need no call come before the look-back's first one.
    try:
        hidden.check(plan.validation.table, choice=settings.hidden_rows)
    except UsageError:
        print(plan_text(plan), file=stdout)  # which rows are hidden, and how many
        raise
    check_out_dir(settings.out_dir)
    share = observe_share(plan, may_call=not settings.dry_run and _may_ask(settings, yes, stdin))
    show_plan_and_confirm(plan, yes=yes, stdin=stdin, stdout=stdout, share=share)
    client = _client(settings)  # a bad profile: exit 2 before any folder is made
    folder = prepare_run_dir(settings.out_dir, settings.input_path, started)
    with hold_run_folder(folder, command="run", new_run=True) as held:
        return _start(plan, folder, held, client=client, sources=sources, share=share,
                      started=started, now=now, quiet=quiet, stdout=stdout)


def _start(plan: RunPlan, folder: Path, held: HeldRunFolder, *,
           client: PartnerCentralSellingAPIClient, sources: dict[str, str],
           share: SharePlan, started: datetime, now: Clock, quiet: bool,
           stdout: TextIO) -> int:
    settings = plan.settings
    if held.warning:
        print(held.warning, file=stdout)
    record: dict[str, Any] = {
        "tool_version": __version__,
        "started_at": iso(started),
        "input": str(settings.input_path.resolve()),
        "input_sha256": plan.input_sha256,
        "settings": settings.to_json(),
        "sources": sources,
    }
    write_record(folder, record)
    print(f"Run folder: {folder}", file=stdout)
    return execute(plan, folder, client=client, record=record, started=started, now=now,
                   quiet=quiet, stdout=stdout, share=share)


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
    read_record(run_dir)  # a run folder at all? (before a lock file is made in it)
    with hold_run_folder(run_dir, command="resume") as held:
        if held.warning:
            print(held.warning, file=stdout)
        return _resume(run_dir, profile=profile, endpoint_url=endpoint_url, yes=yes,
                       quiet=quiet, wait=wait, started=started, now=now, stdout=stdout,
                       stdin=stdin)


def _resume(run_dir: Path, *, profile: str | None, endpoint_url: str | None, yes: bool,
            quiet: bool, wait: bool | None, started: datetime, now: Clock, stdout: TextIO,
            stdin: TextIO) -> int:
    plan, record = plan_resume(run_dir, profile=profile, endpoint_url=endpoint_url)
    plan = with_preview(plan)
    if wait is not None:
        plan = dataclasses.replace(plan, settings=plan.settings.replace(wait=wait))
    print(f"Run folder: {run_dir}", file=stdout)
    print(f"Resuming: {len(plan.earlier)} row(s) already final, {plan.count} to send "
          f"({len(plan.sent_before)} of them re-read first: a write may have landed).",
          file=stdout)
    share = observe_share(plan, may_call=_may_ask(plan.settings, yes, stdin))
    show_plan_and_confirm(plan, yes=yes, stdin=stdin, stdout=stdout, share=share)
    return execute(plan, run_dir, client=_client(plan.settings), record=record,
                   started=started, now=now, quiet=quiet, stdout=stdout, share=share)


def with_preview(plan: RunPlan) -> RunPlan:
    """With --from-preview, the owners the preview read are the rows' expected owners."""
    folder = plan.settings.from_preview
    if folder is None:
        return plan
    from bulk_assign.preview import expected_from_preview

    validation = expected_from_preview(plan.validation, Path(folder), sha256=plan.input_sha256,
                                       catalog=plan.settings.catalog)
    return dataclasses.replace(plan, validation=validation)


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


def _client(settings: RunSettings) -> PartnerCentralSellingAPIClient:
    from bulk_assign.client import make_client  # boto3 import costs ~0.3 s: only when needed

    return make_client(settings, pool_size=settings.worker_count)


def show_plan_and_confirm(plan: RunPlan, *, yes: bool, stdin: TextIO, stdout: TextIO,
                          share: SharePlan) -> None:
    """Print the plan; `--catalog AWS` is production: the user types the row count back, or
    passes --yes. The plan and the question go to the terminal (stderr), so a redirected
    stdout never hides a question."""
    rows, settings = plan.count, plan.settings
    asks = settings.catalog == "AWS" and not yes and rows > 0 and not settings.dry_run
    print(plan_text(plan) + "\n" + share.text(plan.count, wait=settings.wait),
          file=sys.stderr if asks else stdout, flush=True)
    if not asks:
        return
    if not stdin.isatty():
        raise UsageError(
            "--catalog AWS changes production opportunities and there is no terminal to "
            f"confirm on; pass --yes to send {rows} row(s) anyway. Nothing was sent."
        )
    print(f"--catalog AWS: this reassigns {rows} PRODUCTION opportunities.", file=sys.stderr)
    print(f"Type {rows} to continue, anything else to stop: ", end="", file=sys.stderr,
          flush=True)
    answer = stdin.readline().strip().replace(",", "")
    if answer != str(rows):
        raise UsageError("not confirmed; nothing was sent.")


def plan_text(plan: RunPlan) -> str:
    settings, rows = plan.settings, plan.count
    counts = plan.validation.counts()
    held = ", ".join(f"{counts[s]} {s}" for s in ("INVALID", "DUPLICATE", "SKIPPED")
                     if counts.get(s))
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
    for name, (before, after) in plan.overrides.items():
        lines.append(f"  {name} changed from {before} to {after} for this resume.")
    lines += [f"  {line}" for line in hidden.notes(plan.validation.table,
                                                  choice=settings.hidden_rows)]
    lines += [f"  {line}" for line in owners.plan_lines(
        expects=expecting(plan), pre_read=settings.pre_read,
        overwrite=settings.overwrite_changed, from_preview=settings.from_preview)]
    if settings.dry_run:
        lines.append("  Dry run: nothing will be sent.")
    return "\n".join(lines)


def expecting(plan: RunPlan) -> int:
    """The plan's rows that name an expected owner (owners.py)."""
    column = plan.validation.values.loc[plan.rows, fields.EXPECTED_OWNER]
    return int(column.notna().sum())


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


def execute(plan: RunPlan, folder: Path, *, client: PartnerCentralSellingAPIClient,
            record: dict[str, Any], started: datetime, now: Clock, quiet: bool,
            stdout: TextIO, share: SharePlan | None = None) -> int:
    """Send the plan's rows, write every file, and say how the run ended.

    The signal handler is in place before the first file of the invocation is written: a
    SIGTERM or SIGHUP from then on stops the run with every file written (rows SKIPPED)."""
    guard = run_guard(plan.settings, endpoint=str(client.meta.endpoint_url))
    with stop_on_signals(guard, stdout=stdout):
        return _execute(plan, folder, client=client, guard=guard, record=record,
                        started=started, now=now, quiet=quiet, stdout=stdout, share=share)


def _execute(plan: RunPlan, folder: Path, *, client: PartnerCentralSellingAPIClient,
             guard: RunGuard, record: dict[str, Any], started: datetime, now: Clock,
             quiet: bool, stdout: TextIO, share: SharePlan | None) -> int:
    settings = plan.settings
    index = history.started(record, command=plan.command, at=iso(started),
                            endpoint=str(client.meta.endpoint_url),
                            overrides={k: v[1] for k, v in plan.overrides.items()})
    write_record(folder, record)
    journal = Journal(folder / JOURNAL)
    with run_log(folder), precise_scheduling(), progress_bar(plan.count, quiet=quiet) as bar:
        runner = Runner(settings, client, journal, guard=guard, sent_before=plan.sent_before,
                        listener=ProgressListener(bar), share=share)
        report = runner.run(plan.jobs())
    journal.close()
    outcomes = {**plan.earlier, **report.outcomes}
    code = _exit_code(plan, outcomes, report)
    history.finished(record, index, at=iso(now()), exit_code=code,
                     running_seconds=report.wall_seconds, calls=report.calls.as_dict(),
                     outages=report.outages)
    write_record(folder, record)
    head = _summary_head(plan, started, now)
    head.update(history.totals(record, changed=_count(outcomes, Status.SUCCEEDED),
                               unchanged=_count(outcomes, Status.UNCHANGED)))
    head["endpoint"] = str(client.meta.endpoint_url)
    head["quota_use"] = quota_facts(runner, journal_path=folder / JOURNAL)
    head["stop"] = None if report.stop is None else {
        "reason": str(report.stop.reason), "detail": report.stop.sentence(),
        "resume": f"bulk-assign resume {folder}"}
    summary = write_outputs(OutputPaths.in_folder(folder), plan.validation, outcomes, head,
                            workbook=_workbook(plan))
    _say(format_summary(summary), stdout)
    if report.stop is not None:
        _say("\n" + stop_advice(report.stop, folder), stdout)
    _say(f"\nRun folder: {folder}", stdout)
    return code


def _exit_code(plan: RunPlan, outcomes: dict[int, RowOutcome], report: RunReport) -> int:
    if report.stop is not None:
        interrupted = report.stop.reason is StopReason.INTERRUPTED
        return EXIT_INTERRUPTED if interrupted else EXIT_ABORTED
    # Rows not in `outcomes` ended in validation: only INVALID ones count against the run
    # (DUPLICATE is fine; SKIPPED there is --hidden-rows skip, meant).
    statuses = Counter(str(o.status) for o in outcomes.values())
    statuses[str(Status.INVALID)] += plan.validation.counts().get(str(Status.INVALID), 0)
    changed = sum(o.error_class == OWNER_CHANGED for o in outcomes.values())
    return rows_exit_code(statuses, left_out=changed)


def _workbook(plan: RunPlan) -> bool:
    return workbook_wanted(plan.settings.input_path, plan.settings.output_format)


def _count(outcomes: dict[int, RowOutcome], status: Status) -> int:
    return sum(o.status is status for o in outcomes.values())


def _say(text: str, stdout: TextIO) -> None:
    """Print, unless the terminal is gone (SIGHUP): the files already hold everything."""
    with contextlib.suppress(OSError):
        print(text, file=stdout, flush=True)
