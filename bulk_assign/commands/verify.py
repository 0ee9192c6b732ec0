"""`bulk-assign verify RUN_DIR`: does every opportunity the run was to move sit with its assignee?

Works from the run folder alone (`intent.py`: run.json, results.csv, the journal), so an edited,
moved or deleted input sheet does not matter. Re-reads (GetOpportunity, read pace) every row
the run changed (SUCCEEDED), or with `--all` every row it meant to send; a row the run never
sent (SKIPPED, FAILED, not reached yet, a dry run's) is not read: it is `NOT_SENT`, with the
run's status and error class, and keeps the verify from signing off.

`verify.csv` (and `verify.xlsx` where the run writes workbooks) is written only when the verify
is complete, atomically, each complete verify also kept as `verify-<UTC time>.csv`: a verify
stopped by an outage, the read quota or Ctrl-C never replaces the last complete one. What it
read lands in `verify.partial.jsonl` as it goes, so the same command continues where it
stopped. It holds the run folder (`runlock`) like `resume`.

The verdicts, the reads and the files are run/verification.py's; this module is the command:
its plan line, progress bar, stops and exit code.
"""

from __future__ import annotations

import logging
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, TextIO

from tqdm import tqdm

from bulk_assign.api.client import make_client
from bulk_assign.commands.transfer import INPUT_NAME
from bulk_assign.console import stop_on_signals
from bulk_assign.errors import (
    EXIT_ABORTED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ROWS_FAILED,
    EXIT_USAGE,
)
from bulk_assign.report.files import workbook_wanted
from bulk_assign.results import IN_PLACE, Status
from bulk_assign.run.guard import RunGuard
from bulk_assign.run.intent import Intended, RunIntent, load_intent
from bulk_assign.run.reads import DEFAULT_READ_WORKERS, PacedReader, make_guard, read_seconds
from bulk_assign.run.verification import (
    VERIFY_CSV,
    VERIFY_PARTIAL,
    PartialReads,
    Verdict,
    check_all,
    not_sent,
    verify_frame,
    write_verify_files,
)
from bulk_assign.stops import Stop, StopReason
from bulk_assign.store.runfolder import RUN_RECORD, read_record
from bulk_assign.store.runlock import hold_run_folder
from bulk_assign.timestamps import utc_now

EXIT_NOTHING: Final = EXIT_USAGE


def verify_command(run_dir: Path, *, all_rows: bool = False, profile: str | None = None,
                   endpoint_url: str | None = None, quiet: bool = False,
                   quota_wait_seconds: float | None = None,
                   stdout: TextIO | None = None) -> int:
    """`bulk-assign verify`: 0 when every row the run meant to change MATCHes, 1 when one does
    not (or was never sent), 2 when there is nothing to verify, 3 when the service cannot be
    reached, 130 when interrupted."""
    stdout = stdout or sys.stdout
    if not (run_dir / RUN_RECORD).exists() and any(
            (run_dir / name).exists() for name in (INPUT_NAME, INPUT_NAME + ".partial.jsonl")):
        print(f"Nothing to verify: {run_dir}: the transfer never ran (its export was "
              "interrupted or not confirmed): nothing was sent.", file=stdout)
        return EXIT_NOTHING
    read_record(run_dir)  # a run folder at all? (before a lock file is made in it)
    with hold_run_folder(run_dir, command="verify") as held:
        if held.warning:
            print(held.warning, file=stdout)
        intent = load_intent(run_dir, profile=profile, endpoint_url=endpoint_url)
        return _verify(run_dir, intent, all_rows=all_rows, quiet=quiet,
                       quota_wait_seconds=quota_wait_seconds, stdout=stdout)


def _nothing_to_verify(run_dir: Path, intent: RunIntent) -> str | None:
    if intent.dry_run:
        return (f"{run_dir}: is a dry run, nothing was sent. Verify the real run's folder "
                "once it ran.")
    if not intent.started:
        return f"{run_dir}: the run never started (no journal, no results), nothing was sent."
    if not intent.rows:
        return f"{run_dir}: the run had no valid row to send."
    return None


def _verify(run_dir: Path, intent: RunIntent, *, all_rows: bool, quiet: bool,
            quota_wait_seconds: float | None, stdout: TextIO) -> int:
    settings = intent.settings
    workbook = workbook_wanted(settings.input_path, settings.output_format)
    nothing = _nothing_to_verify(run_dir, intent)
    if nothing is not None:
        print(f"Nothing to verify: {nothing}", file=stdout)
        if all_rows and intent.rows:  # a dry run's rows: none of them was sent
            write_verify_files(verify_frame(not_sent(r) for r in intent.rows), run_dir,
                               workbook=workbook)
        return EXIT_NOTHING
    wanted = IN_PLACE if all_rows else {Status.SUCCEEDED}
    to_read = [r for r in intent.rows if r.status in wanted]
    checks = {r.job.row: not_sent(r) for r in intent.rows if not r.sent}
    partial = PartialReads(run_dir / VERIFY_PARTIAL)
    earlier = partial.load(now=utc_now())
    reused = {r.job.row: earlier[_key(r)] for r in to_read if _key(r) in earlier}
    checks.update(reused)
    to_read = [r for r in to_read if r.job.row not in reused]
    print(plan_text(intent, to_read=len(to_read), reused=len(reused),
                    unsent=sum(not r.sent for r in intent.rows), all_rows=all_rows),
          file=stdout)
    reader, guard, endpoint = _reader(intent, quota_wait_seconds=quota_wait_seconds)
    with stop_on_signals(guard, stdout=stdout), _bar(len(to_read), quiet=quiet) as bar, \
            _stops_said_once():
        reader.on_wait = lambda text: _waiting(bar, text, stdout=stdout)
        checks.update(check_all(reader, to_read, workers=DEFAULT_READ_WORKERS,
                                endpoint=endpoint, partial=partial,
                                on_check=lambda: bar.update(1)))
    partial.close()
    stop = guard.stop_info
    counts = Counter(c.verdict for c in checks.values())
    print(summary_text(counts, reads=reader.calls.read), file=stdout)
    if stop is not None:
        return _stopped(stop, run_dir, partial, stdout=stdout)
    paths = write_verify_files(verify_frame(checks.values()), run_dir, workbook=workbook)
    partial.remove()
    for path in paths:
        print(f"  {path}", file=stdout)
    if counts.get(Verdict.NOT_SENT):
        print(f"Not signed off: {counts[Verdict.NOT_SENT]} row(s) the run meant to change "
              f"were never sent (NOT_SENT); `bulk-assign resume {run_dir}` sends them.",
              file=stdout)
    return EXIT_OK if set(counts) <= {Verdict.MATCH} else EXIT_ROWS_FAILED


def _key(row: Intended) -> tuple[int, str, str]:
    return (row.job.row, row.job.identifier, row.job.assignee.email)


def _reader(intent: RunIntent, *, quota_wait_seconds: float | None
            ) -> tuple[PacedReader, RunGuard, str]:

    settings = intent.settings
    client = make_client(settings, pool_size=DEFAULT_READ_WORKERS)
    where = f"{client.meta.endpoint_url} (region {settings.region})"
    guard = make_guard(outage_seconds=settings.outage_seconds, where=where,
                       next_step="run verify again")
    quota_wait = (settings.quota_wait_seconds if quota_wait_seconds is None
                  else quota_wait_seconds)
    reader = PacedReader(client, guard, read_tps=settings.read_tps,
                         max_attempts=settings.max_attempts, quota_wait_seconds=quota_wait)
    return reader, guard, str(client.meta.endpoint_url)


@contextmanager
def _stops_said_once() -> Iterator[None]:
    """The guard logs its stop for run.log; verify prints the stop itself, so the log line
    does not reach the terminal a second time (through the root logger)."""
    logger = logging.getLogger("bulk_assign.run")
    before, quiet = logger.propagate, logging.NullHandler()
    logger.propagate = False
    logger.addHandler(quiet)  # else logging's last resort prints it anyway
    try:
        yield
    finally:
        logger.removeHandler(quiet)
        logger.propagate = before


def _bar(total: int, *, quiet: bool) -> tqdm[Any]:
    """Rows read, reads/s and ETA on a terminal; silent with --quiet or without one."""
    return tqdm(total=total, unit="read", desc="verify", dynamic_ncols=True,
                disable=quiet or not sys.stderr.isatty(), file=sys.stderr)


def _waiting(bar: tqdm[Any], text: str | None, *, stdout: TextIO) -> None:
    """Reads held back by the read quota: the bar says so, or (no bar) one line does."""
    if bar.disable:
        if text:
            print(text, file=stdout, flush=True)
        return
    bar.set_description_str(text or "verify", refresh=True)


def _stopped(stop: Stop, run_dir: Path, partial: PartialReads, *, stdout: TextIO) -> int:
    kept = (f"the last complete one, {run_dir / VERIFY_CSV}, stands"
            if (run_dir / VERIFY_CSV).exists() else "no verify.csv was written")
    print(f"Stopped ({stop.reason}): {stop.sentence()}\n"
          f"Not complete: {kept}. What was read is kept in {partial.path}; run the same "
          "command again to continue without reading it again.", file=stdout)
    return EXIT_INTERRUPTED if stop.reason is StopReason.INTERRUPTED else EXIT_ABORTED


def plan_text(intent: RunIntent, *, to_read: int, reused: int, unsent: int,
              all_rows: bool) -> str:
    seconds = round(read_seconds(to_read, intent.settings.read_tps))
    what = "row(s) the run put in place" if all_rows else "row(s) the run changed"
    lines = [f"Verify: {to_read} {what} to read at {intent.settings.read_tps:g}/s: about "
             f"{seconds // 60}m {seconds % 60:02d}s."]
    if reused:
        lines.append(f"  {reused} read by an interrupted verify are reused.")
    if unsent:
        lines.append(f"  {unsent} row(s) the run meant to change were never sent: NOT_SENT, "
                     "not read.")
    return "\n".join(lines)


def summary_text(counts: Counter[Verdict], *, reads: int) -> str:
    lines = ["", "Verdict           Rows"]
    lines += [f"  {v!s:<15} {counts.get(v, 0):>6}" for v in Verdict]
    lines += [f"  {'total':<15} {sum(counts.values()):>6}", f"Reads: {reads}", ""]
    return "\n".join(lines)
