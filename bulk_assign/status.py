"""`bulk-assign status RUN_DIR`: where a running or stopped run stands, read without a lock.

The run keeps `status.json` up to date (written to a temp name and `os.replace`d, every few
seconds and at each change of wait): its process, the current pace, what writes wait for and
until when. The rows come from the journal and the input, as `resume` would see them. Nothing
here writes to the run folder, so an analyst can check a multi-day run from another terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TextIO

from bulk_assign.budget import DAY, WaitCause, WriteBudget, journal_write_times, local_time
from bulk_assign.journal import JOURNAL
from bulk_assign.results import Tally
from bulk_assign.runfolder import write_atomic
from bulk_assign.timestamps import iso, utc_now

STATUS: Final = "status.json"
#: status.json is rewritten at most this often while rows finish.
EVERY_SECONDS: Final = 2.0


class StatusFile:
    """The run's side of `status`: a small JSON file, replaced atomically. Never raises."""

    def __init__(self, path: Path, *, pace: Callable[[], float], tally: Tally,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.path = path
        self._pace = pace
        #: The run's counts (results.Tally): read, not kept here.
        self._tally = tally
        self._clock = clock
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._facts: dict[str, Any] = {"pid": os.getpid(), "state": "running",
                                       "started_at": iso(utc_now()), "waiting": None}

    def row_finished(self) -> None:
        self._write(force=False)

    def waiting(self, cause: WaitCause | None, until: datetime | None) -> None:
        with self._lock:
            self._facts["waiting"] = (None if cause is None or until is None else
                                      {"cause": str(cause), "until": iso(until)})
        self._write(force=True)

    def pace_changed(self) -> None:
        self._write(force=False)

    def ended(self, state: str) -> None:
        with self._lock:
            self._facts["state"] = state
            self._facts["waiting"] = None
        self._write(force=True)

    def _write(self, *, force: bool) -> None:
        with self._lock:
            now = self._clock()
            if not force and now - self._last < EVERY_SECONDS:
                return
            self._last = now
            facts = {**self._facts, "ok": self._tally.ok, "finished": self._tally.finished,
                     "updated_at": iso(utc_now()), "pace": round(self._pace(), 4)}
            with contextlib.suppress(OSError):  # a courtesy: the journal stays the truth
                write_atomic(self.path, json.dumps(facts) + "\n")  # 0600, like every file


def read_status(folder: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((folder / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def _alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True


def status_command(run_dir: Path, *, stdout: TextIO,
                   now: Callable[[], datetime] = utc_now) -> int:
    """Print rows done by status, rows left, pace, what writes wait for, and the ETA."""
    # reads the folder and the input, writes nothing
    from bulk_assign.plan import journal_state, plan_resume

    plan, _ = plan_resume(run_dir)
    journal = journal_state(run_dir, rows=set(plan.validation.valid_rows().tolist()))
    by_status = Counter(str(o.status) for o in journal.outcomes.values())
    facts = read_status(run_dir) or {}
    running = facts.get("state") == "running" and _alive(facts.get("pid"))
    left = plan.count
    moment = now()
    lines = [f"Run folder: {run_dir}"]
    state = "running" if running else (
        "stopped (its process is gone)" if facts.get("state") == "running"
        else str(facts.get("state") or "not started"))
    lines.append(f"State: {state}" + (f", last word at {facts['updated_at']}"
                                      if facts.get("updated_at") else ""))
    counts = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())) or "none yet"
    lines.append(f"Rows finished (last outcome per row): {counts}")
    lines.append(f"Rows left to send: {left:,}")
    pace = float(facts.get("pace") or plan.settings.max_tps)
    lines.append(f"Pace: {pace:.3g} writes/s" + ("" if running else " (when it last ran)"))
    wait_until = _waiting_line(facts.get("waiting") if running else None, moment, lines)
    if running and left:
        eta = _eta(plan.settings.daily_budget, run_dir, left, pace, moment, wait_until)
        lines.append(f"ETA: {local_time(eta)}")
    elif left:
        lines.append(f"Continue with: bulk-assign resume {run_dir}")
    print("\n".join(lines), file=stdout)
    return 0


def _waiting_line(waiting: dict[str, Any] | None, moment: datetime,
                  lines: list[str]) -> datetime:
    if not waiting:
        return moment
    until = datetime.fromisoformat(str(waiting["until"]).replace("Z", "+00:00"))
    lines.append(f"Waiting for the {waiting['cause']} until {local_time(until)}")
    return max(until, moment)


def _eta(budget_limit: int, run_dir: Path, left: int, pace: float, start: datetime,
         wait_until: datetime) -> datetime:
    """Rows left at the pace after the current wait; a budget too small for them adds days."""
    budget = WriteBudget(budget_limit, journal_write_times(run_dir / JOURNAL))
    room = max(0, budget_limit - budget.used(start.astimezone(UTC).timestamp()))
    extra_days = 0.0 if left <= room else (left - room) / budget_limit
    seconds = left / max(pace, 1e-6) + extra_days * DAY
    return wait_until + timedelta(seconds=seconds)
