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

Verdicts: MATCH; DRIFTED (someone changed it since: who owns it now); NOT_FOUND; UNREADABLE
(the read failed for good, with the error class); NOT_SENT.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, TextIO

import pandas as pd
from tqdm import tqdm

from bulk_assign.api.client import make_client
from bulk_assign.api.retry import error_code, http_status
from bulk_assign.check.owners import current_owner
from bulk_assign.check.rules import OWNER_TITLE
from bulk_assign.commands.transfer import INPUT_NAME
from bulk_assign.console import stop_on_signals
from bulk_assign.errors import (
    EXIT_ABORTED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ROWS_FAILED,
    EXIT_USAGE,
)
from bulk_assign.report.files import workbook_wanted, write_csv
from bulk_assign.report.workbook import AMBER, BAD, GOOD, StatusLook, write_table_workbook
from bulk_assign.results import SERVICE_UNAVAILABLE, UNREACHABLE, Job, Status
from bulk_assign.run.guard import RunGuard
from bulk_assign.run.intent import Intended, RunIntent, load_intent
from bulk_assign.run.pool import run_pool
from bulk_assign.run.preflight import PROBE_ATTEMPTS, PROBE_ROWS, probe
from bulk_assign.run.reads import DEFAULT_READ_WORKERS, PacedReader, make_guard, read_seconds
from bulk_assign.stops import RunStopping, Stop, StopReason
from bulk_assign.store.runfolder import RUN_RECORD, atomic_binary, open_private_append, read_record
from bulk_assign.store.runlock import hold_run_folder
from bulk_assign.timestamps import now_iso, utc_now

VERIFY_CSV: Final = "verify.csv"
VERIFY_XLSX: Final = "verify.xlsx"
VERIFY_PARTIAL: Final = "verify.partial.jsonl"
VERIFY_SHEET: Final = "Verify"
VERIFY_COLUMNS: Final = ("row", "Identifier", "intended assignee", "owner now", "verdict",
                         "run status", "error_class")
EXIT_NOTHING: Final = EXIT_USAGE
#: An interrupted verify's reads are reused by the next one for this long.
REUSE_HOURS: Final = 24
NOT_FOUND: Final = "ResourceNotFoundException"


class Verdict(StrEnum):
    MATCH = "MATCH"
    DRIFTED = "DRIFTED"
    NOT_FOUND = "NOT_FOUND"
    UNREADABLE = "UNREADABLE"
    NOT_SENT = "NOT_SENT"


#: How verify.xlsx colours a verdict: green in place, red moved or gone, amber not known.
VERDICT_LOOKS: Final[Mapping[str, StatusLook]] = {
    Verdict.MATCH: StatusLook(*GOOD, "the intended assignee owns it"),
    Verdict.DRIFTED: StatusLook(*BAD, "someone else owns it now: see owner now"),
    Verdict.NOT_FOUND: StatusLook(*BAD, "no such opportunity (any more)"),
    Verdict.UNREADABLE: StatusLook(*AMBER, "could not be read: see error_class; verify again"),
    Verdict.NOT_SENT: StatusLook(*AMBER, "the run never sent it: see run status and "
                                 "error_class; resume the run"),
}


@dataclass(frozen=True)
class Check:
    """One row's verdict."""

    row: int
    identifier: str
    intended: str
    owner_now: str
    verdict: Verdict
    run_status: str = ""
    error_class: str = ""


def judge(job: Job, answer: Mapping[str, Any], *, run_status: str) -> Check:
    """MATCH when the assignee owns the opportunity; for a row sent with another
    BusinessTitle (--allow-other-titles), when the assignee is on its team."""
    team = [dict(m) for m in answer.get("OpportunityTeam") or []]
    owner = current_owner(team)
    want = job.assignee.email.casefold()
    if job.assignee.business_title == OWNER_TITLE:
        ok = owner is not None and owner.email.casefold() == want
    else:
        ok = any(str(m.get("Email", "")).casefold() == want for m in team)
    return Check(row=job.row, identifier=job.identifier, intended=job.assignee.email,
                 owner_now=owner.email if owner else "",
                 verdict=Verdict.MATCH if ok else Verdict.DRIFTED, run_status=run_status)


def failed_read(job: Job, exc: BaseException, *, run_status: str) -> Check:
    code = error_code(exc)
    verdict = Verdict.NOT_FOUND if code == NOT_FOUND else Verdict.UNREADABLE
    return Check(row=job.row, identifier=job.identifier, intended=job.assignee.email,
                 owner_now="", verdict=verdict, run_status=run_status, error_class=code)


def not_sent(row: Intended) -> Check:
    return Check(row=row.job.row, identifier=row.job.identifier,
                 intended=row.job.assignee.email, owner_now="", verdict=Verdict.NOT_SENT,
                 run_status=row.status, error_class=row.error_class)


class PartialReads:
    """verify.partial.jsonl: the verdicts read so far, one fsynced line each, so an
    interrupted verify continues without reading them again. Thread-safe appends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fh: Any = None

    def load(self, *, now: datetime) -> dict[tuple[int, str, str], Check]:
        """The verdicts read less than REUSE_HOURS ago (an older one may be out of date)."""
        done: dict[tuple[int, str, str], Check] = {}
        if not self.path.exists():
            return done
        oldest = now - timedelta(hours=REUSE_HOURS)
        with self.path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    data = json.loads(line)
                    read_at = datetime.fromisoformat(data.pop("read_at").replace("Z", "+00:00"))
                    check = Check(**{**data, "verdict": Verdict(data["verdict"])})
                except (ValueError, KeyError, TypeError, AttributeError):
                    continue  # the line a kill cut short
                if read_at >= oldest:
                    done[(check.row, check.identifier, check.intended)] = check
        return done

    def add(self, check: Check) -> None:
        record = {**asdict(check), "read_at": now_iso()}
        text = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            if self._fh is None:
                self._fh = open_private_append(self.path)  # 0600: it holds staff emails
                if self._fh.tell() > 0:
                    self._fh.write("\n")  # a kill may have cut the last line short
            self._fh.write(text)
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def check_all(reader: PacedReader, rows: list[Intended], *, workers: int, endpoint: str = "",
              partial: PartialReads | None = None,
              on_check: Callable[[], object] = lambda: None) -> dict[int, Check]:
    """Read each row's opportunity and judge it; rows left when the check stops are absent.

    The first rows are read first (`preflight.probe`, as a run does): when none of them
    exists at the endpoint, the guard stops with the run's own wrong-endpoint sentence."""
    checks: dict[int, Check] = {}
    lock = threading.Lock()

    def record(check: Check) -> None:
        # NOT_FOUND is not kept: at a wrong endpoint every read says so (the probe stops it).
        if partial is not None and check.verdict in (Verdict.MATCH, Verdict.DRIFTED):
            partial.add(check)
        with lock:
            checks[check.row] = check
        on_check()

    def read(row: Intended, *, attempts: int | None = None) -> None:
        """Raises what the read raised, once the row's verdict is recorded."""
        job = row.job
        try:
            answer = reader.get(catalog=job.catalog, identifier=job.identifier,
                                max_attempts=attempts)
        except RunStopping:
            raise
        except Exception as exc:
            check = failed_read(job, exc, run_status=row.status)
            if attempts is None or check.verdict is Verdict.NOT_FOUND:
                record(check)  # else the pool reads it again, with every attempt
            raise
        record(judge(job, answer, run_status=row.status))

    def work(row: Intended) -> None:
        try:
            read(row)
        except Exception:  # RunStopping (left unread), or recorded as NOT_FOUND / UNREADABLE
            return

    with reader.paced():
        first = {r.job.row: r for r in rows[:PROBE_ROWS]}
        catalog = rows[0].job.catalog if rows else ""
        try:
            stop = probe(lambda job: read(first[job.row], attempts=PROBE_ATTEMPTS),
                         [r.job for r in first.values()],
                         endpoint=endpoint, catalog=catalog,
                         unreachable=lambda exc: _unreachable(reader.guard, exc))
        except RunStopping:
            stop = None
        if stop is not None:
            reader.guard.stop(stop)
        rest = [r for r in rows if r.job.row not in checks]
        run_pool(rest, work, workers=workers, stopping=lambda: reader.guard.stopping)
    return checks


def _unreachable(guard: RunGuard, exc: BaseException) -> Stop:
    kind = UNREACHABLE if http_status(exc) is None else SERVICE_UNAVAILABLE
    return guard.outage_stop(kind, f"the first read failed ({error_code(exc)})")


def verify_frame(checks: Iterable[Check]) -> pd.DataFrame:
    lines = [(c.row, c.identifier, c.intended, c.owner_now, str(c.verdict), c.run_status,
              c.error_class) for c in sorted(checks, key=lambda c: c.row)]
    return pd.DataFrame(lines, columns=list(VERIFY_COLUMNS), dtype=object)


def write_verify_files(frame: pd.DataFrame, folder: Path, *, workbook: bool,
                       at: datetime | None = None) -> list[Path]:
    """verify.csv and, with `workbook` (where the run writes results.xlsx), verify.xlsx: the
    same cells, every one a string, verdicts coloured. Each also kept as
    `verify-<UTC time>.csv/.xlsx`, so the next verify never loses this one. Atomic, 0600."""
    stamp = (at or utc_now()).strftime("%Y%m%dT%H%M%S")
    paths: list[Path] = []
    suffixes = (".csv", ".xlsx") if workbook else (".csv",)
    for suffix in suffixes:
        kept = _free_name(folder, f"verify-{stamp}", suffix)
        for path in (kept, folder / f"verify{suffix}"):
            if suffix == ".csv":
                write_csv(frame, path)
            else:
                with atomic_binary(path) as fh:
                    write_table_workbook(fh, frame=frame, title=VERIFY_SHEET,
                                         look_column="verdict", looks=VERDICT_LOOKS)
        paths.append(folder / f"verify{suffix}")
    return paths


def _free_name(folder: Path, stem: str, suffix: str) -> Path:
    path, n = folder / f"{stem}{suffix}", 1
    while path.exists():
        n += 1
        path = folder / f"{stem}-{n}{suffix}"
    return path


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
    wanted = {Status.SUCCEEDED, Status.UNCHANGED} if all_rows else {Status.SUCCEEDED}
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
                         max_attempts=settings.max_attempts, quota_wait_seconds=quota_wait,
                         next_step="run verify again")
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
