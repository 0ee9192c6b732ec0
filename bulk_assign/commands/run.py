"""The commands as library calls: read, validate, run and report, returning an exit code.

The CLI parses arguments and calls these; tests call them directly too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from bulk_assign import __version__
from bulk_assign.api.client import make_client, pinned_connection
from bulk_assign.check import hidden, owners
from bulk_assign.commands.validate import input_facts, rows_exit_code
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
    UsageError,
)
from bulk_assign.quota.budget import Window, WriteBudget, local_time
from bulk_assign.quota.lookback import OtherWriters, look_back
from bulk_assign.quota.sharing import SharePlan, our_identifiers, quota_facts
from bulk_assign.report.files import OutputPaths, format_summary, workbook_wanted, write_outputs
from bulk_assign.results import OWNER_CHANGED, RowOutcome, Status
from bulk_assign.run.guard import RunGuard
from bulk_assign.run.plan import RunPlan, plan_run
from bulk_assign.run.preview import expected_from_preview
from bulk_assign.run.runner import Runner, RunReport, run_guard
from bulk_assign.settings import DAILY_WRITE_QUOTA, RunSettings
from bulk_assign.sheet import fields
from bulk_assign.stops import StopReason
from bulk_assign.store import history
from bulk_assign.store.journal import Journal, journal_write_times
from bulk_assign.store.runfolder import (
    JOURNAL,
    write_record,
)
from bulk_assign.store.runlock import HeldRunFolder, check_out_dir, hold_run_folder, prepare_run_dir
from bulk_assign.timestamps import iso, utc_now

if TYPE_CHECKING:
    from mypy_boto3_partnercentral_selling import PartnerCentralSellingAPIClient

Clock = Callable[[], datetime]


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
    share = observe_share(plan, may_call=not settings.dry_run and may_ask(settings, yes, stdin))
    show_plan_and_confirm(plan, yes=yes, stdin=stdin, stdout=stdout, share=share,
                          now=started)
    client = client_for(settings)  # a bad profile: exit 2 before any folder is made
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


def with_preview(plan: RunPlan) -> RunPlan:
    """With --from-preview, the owners the preview read are the rows' expected owners."""
    folder = plan.settings.from_preview
    if folder is None:
        return plan

    validation = expected_from_preview(plan.validation, Path(folder), sha256=plan.input_sha256,
                                       catalog=plan.settings.catalog)
    return dataclasses.replace(plan, validation=validation)


def may_ask(settings: RunSettings, yes: bool, stdin: TextIO) -> bool:
    """False when production would be refused anyway: no call before that refusal."""
    return settings.catalog != "AWS" or yes or stdin.isatty()


def observe_share(plan: RunPlan, *, may_call: bool) -> SharePlan:
    """The look-back (read-only) and the pace it leads to; no call for a dry run or no row."""
    settings = plan.settings
    others = OtherWriters(settings.lookback_seconds, not_looked=_not_looked(settings, plan.count))
    if may_call and plan.count and settings.lookback_seconds > 0 and settings.share is None:
        others = look_back(make_client(settings, pool_size=1), catalog=settings.catalog,
                           lookback_seconds=settings.lookback_seconds,
                           ours=our_identifiers(plan), read_tps=settings.read_tps)
    return SharePlan.decide(settings, others)


def _not_looked(settings: RunSettings, rows: int) -> str:
    """Why the plan shows no look-back at the account's other writers."""
    if settings.dry_run:
        return "not looked up (a dry run makes no call)"
    if not rows:
        return "not looked up (no row to send)"
    if settings.share is not None:
        return "not looked up (--share takes its share whatever they do)"
    if settings.lookback_seconds <= 0:
        return "not looked up (--lookback 0)"
    return "not looked up (production: only once confirmed)"


def client_for(settings: RunSettings) -> PartnerCentralSellingAPIClient:
    return make_client(settings, pool_size=settings.worker_count)


def show_plan_and_confirm(plan: RunPlan, *, yes: bool, stdin: TextIO, stdout: TextIO,
                          share: SharePlan, now: datetime | None = None) -> None:
    """Print the plan; `--catalog AWS` is production: the user types the row count back, or
    passes --yes. The plan and the question go to the terminal (stderr), so a redirected
    stdout never hides a question."""
    rows, settings = plan.count, plan.settings
    asks = settings.catalog == "AWS" and not yes and rows > 0 and not settings.dry_run
    print(plan_text(plan, now=now) + "\n" + share.text(plan.count, wait=settings.wait),
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


def plan_text(plan: RunPlan, *, now: datetime | None = None) -> str:
    settings, rows = plan.settings, plan.count
    counts = plan.validation.counts()
    held = ", ".join(f"{counts[s]} {s}" for s in ("INVALID", "DUPLICATE", "SKIPPED")
                     if counts.get(s))
    seconds = rows / settings.max_tps
    lines = [
        f"Plan: {rows} row(s) to send" + (f" ({held} not sent)" if held else "") + ".",
        f"  Writes at {settings.max_tps:g}/s: at most {_duration(seconds)} of writing"
        + (f"; each row is read first at {settings.read_tps:g}/s, so rows already in place "
           "cost no write." if settings.pre_read else "."),
    ]
    if rows and not settings.dry_run:
        lines += _write_start(plan, now or utc_now())
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


def _write_start(plan: RunPlan, now: datetime) -> list[str]:
    """When writing starts: the write window, and a daily budget spent by earlier
    invocations (a resume), each say until when."""
    settings = plan.settings
    lines = []
    start = now
    if settings.window:
        opens = Window.parse(settings.window).opens_at(now.astimezone())
        lines.append(f"  Write window {settings.window} (local time): " + (
            "open now: writing starts at once." if opens is None else
            f"closed now: writing starts at {local_time(opens)}; the run waits until then."))
        start = now if opens is None else opens.astimezone(UTC)
    if plan.command == "resume" and settings.out_dir is not None:
        budget = WriteBudget(settings.daily_budget,
                             journal_write_times(settings.out_dir / JOURNAL))
        allowed = budget.next_allowed(start.timestamp())
        if allowed is not None:
            then = ("the run waits until then (--wait)" if settings.wait else
                    "without --wait the run stops at once with BudgetSpent (exit 3)")
            lines.append(f"  The daily budget of {settings.daily_budget:,} writes in 24 h is "
                         f"spent: writes can start at "
                         f"{local_time(datetime.fromtimestamp(allowed, UTC))}; {then}.")
    return lines


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
    guard = run_guard(plan.settings, endpoint=str(client.meta.endpoint_url), now=now)
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
        # Whether the run looks again is the plan's (SharePlan.live_every); the look's client
        # is made only at its first look.
        runner = Runner(settings, client, journal, guard=guard, sent_before=plan.sent_before,
                        listener=ProgressListener(bar), share=share, now=now,
                        connect_looks=partial(make_client, settings, pool_size=1),
                        ours=our_identifiers(plan))
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
                               unchanged=_count(outcomes, Status.UNCHANGED),
                               write_times=journal_write_times(folder / JOURNAL)))
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
