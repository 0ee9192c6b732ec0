"""`bulk-assign status RUN_DIR`: where a running or stopped run stands, read without a lock.

The run keeps `status.json` up to date (store/statusfile.py): its process, the current pace,
what writes wait for and until when. The rows come from the run folder, as `resume` would see
them. Nothing here writes to the run folder, so an analyst can check a multi-day run from
another terminal."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TextIO

from bulk_assign.quota.budget import DAY, WriteBudget, local_time
from bulk_assign.quota.lookback import timeline
from bulk_assign.run.intent import NOT_REACHED, load_intent
from bulk_assign.run.plan import final_status
from bulk_assign.store.journal import journal_write_times
from bulk_assign.store.runfolder import JOURNAL, SUMMARY_JSON
from bulk_assign.store.statusfile import alive, read_status
from bulk_assign.timestamps import utc_now


def status_command(run_dir: Path, *, stdout: TextIO,
                   now: Callable[[], datetime] = utc_now) -> int:
    """Print rows done by status, rows left, pace, what writes wait for, the ETA, and (for a
    stopped run) why it stopped and when writes can go on. From the run folder alone."""
    # reads the folder, writes nothing; the input sheet may have changed since

    intent = load_intent(run_dir)
    settings = intent.settings
    facts = read_status(run_dir) or {}
    running = facts.get("state") == "running" and alive(facts.get("pid"))
    lines = [f"Run folder: {run_dir}"]
    if intent.dry_run:
        lines += [f"State: a dry run (nothing was sent); {len(intent.rows):,} row(s) would "
                  "be sent by the real run.",
                  f"Start it with: bulk-assign run {settings.input_path} --catalog "
                  f"{settings.catalog}"]
        print("\n".join(lines), file=stdout)
        return 0
    by_status = Counter(r.status for r in intent.rows if r.status != NOT_REACHED)
    left = sum(not final_status(r.status, r.error_class) for r in intent.rows)
    moment = now()
    state = "running" if running else (
        "stopped (its process is gone)" if facts.get("state") == "running"
        else str(facts.get("state") or ("not started" if not intent.started else "stopped")))
    lines.append(f"State: {state}" + (f", last word at {facts['updated_at']}"
                                      if facts.get("updated_at") else ""))
    counts = ", ".join(f"{n} {s}" for s, n in sorted(by_status.items())) or "none yet"
    lines.append(f"Rows finished (last outcome per row): {counts}")
    lines.append(f"Rows left to send: {left:,}")
    pace = float(facts.get("pace") or settings.max_tps)
    lines.append(f"Pace: {pace:.3g} writes/s" + ("" if running else " (when it last ran)"))
    summary = _last_summary(run_dir)
    lines += _others_lines(facts if running else {}, summary)
    wait_until = _waiting_line(facts.get("waiting") if running else None, moment, lines)
    if running and left:
        eta = _eta(settings.daily_budget, run_dir, left, pace, moment, wait_until)
        lines.append(f"ETA: {local_time(eta)}")
    elif left:
        lines += _why_stopped(run_dir, summary, settings.daily_budget, moment)
        lines.append(f"Continue with: bulk-assign resume {run_dir}")
    print("\n".join(lines), file=stdout)
    return 0


def _last_summary(run_dir: Path) -> dict[str, Any]:
    """The last invocation's summary.json ({} when there is none or it cannot be read)."""
    try:
        summary = json.loads((run_dir / SUMMARY_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def _others_lines(facts: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    """What the live look-back measured of the other writers: its latest look while the run
    runs (status.json), else the few measurements summary.json kept."""
    latest = facts.get("others")
    if isinstance(latest, dict):
        return [f"Other writers: {latest['writes_per_second']:.3g} writes/s, measured at "
                f"{latest['at']} over the last {latest['over_seconds']:.0f} s"]
    try:
        during = summary["quota_use"]["other_writers_during_run"] or {}
    except (KeyError, TypeError):
        return []
    measured = during.get("measured") or []
    if not measured:
        return []
    return [f"Other writers during the last invocation (writes/s, {during.get('looks', 0)} "
            f"looks): {timeline(measured)}"]


def _why_stopped(run_dir: Path, summary: dict[str, Any], budget_limit: int,
                 moment: datetime) -> list[str]:
    """Why the last invocation stopped (its summary) and when writes can go on."""
    stop = summary.get("stop")
    stop = stop if isinstance(stop, dict) else {}
    lines = []
    if stop.get("reason"):
        lines.append(f"Stopped ({stop['reason']}): {stop.get('detail', '')}")
    budget = WriteBudget(budget_limit, journal_write_times(run_dir / JOURNAL))
    allowed = budget.next_allowed(moment.astimezone(UTC).timestamp())
    if allowed is not None:
        until = datetime.fromtimestamp(allowed, UTC)
        lines.append(f"Writes can go on at {local_time(until)}: the daily budget of "
                     f"{budget_limit:,} writes in 24 h is spent until then.")
    else:
        lines.append(_WHEN.get(str(stop.get("reason")), "Writes can go on now."))
    return lines


#: When writes can go on after each kind of stop, the daily budget having room.
_WHEN: Final = {
    "BudgetSpent": "Writes can go on now: the daily budget has room again.",
    "QuotaExhausted": "Writes can go on once the account's daily quota frees up (the time "
                      "above), or with `resume --wait`.",
    "Unreachable": "Writes can go on once the service can be reached again.",
    "ServiceUnavailable": "Writes can go on once the service answers again.",
    "Aborted": "Writes can go on once the cause above is fixed (credentials, permissions, "
               "endpoint).",
    "Interrupted": "Writes can go on now.",
}


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
