"""What `verify` finds, row by row: the verdicts, the reads that judge them (continuing an
interrupted verify from `verify.partial.jsonl`), and the verify files, each complete one kept.

Verdicts: MATCH; DRIFTED (someone changed it since: who owns it now); NOT_FOUND; UNREADABLE
(the read failed for good, with the error class); NOT_SENT (the run never sent the row).
The command around it (plan, bar, stops, exit code) is commands/verify.py.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import pandas as pd

from bulk_assign.api.retry import error_code, http_status
from bulk_assign.check.owners import current_owner
from bulk_assign.check.rules import OWNER_TITLE
from bulk_assign.report.files import write_csv
from bulk_assign.report.workbook import AMBER, BAD, GOOD, StatusLook, write_table_workbook
from bulk_assign.results import NOT_FOUND, SERVICE_UNAVAILABLE, UNREACHABLE, Job
from bulk_assign.run.guard import RunGuard
from bulk_assign.run.intent import Intended
from bulk_assign.run.pool import run_pool
from bulk_assign.run.preflight import PROBE_ATTEMPTS, PROBE_ROWS, probe
from bulk_assign.run.reads import PacedReader
from bulk_assign.stops import RunStopping, Stop
from bulk_assign.store.runfolder import atomic_binary, open_private_append
from bulk_assign.timestamps import now_iso, utc_now

VERIFY_CSV: Final = "verify.csv"
VERIFY_XLSX: Final = "verify.xlsx"
VERIFY_PARTIAL: Final = "verify.partial.jsonl"
VERIFY_SHEET: Final = "Verify"
VERIFY_COLUMNS: Final = ("row", "Identifier", "intended assignee", "owner now", "verdict",
                         "run status", "error_class")
#: An interrupted verify's reads are reused by the next one for this long.
REUSE_HOURS: Final = 24


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
