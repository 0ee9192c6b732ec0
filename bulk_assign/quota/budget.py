"""When a write may leave: the daily budget, the write window, and a hold on the daily quota.

Every write attempt passes the `WriteGate` before it queues for its slot. The gate answers one
of three ways: go (with a `WriteClaim` on one place in the budget), wait until a given moment
(outside the window; the budget or the account's quota spent with `--wait`), or stop the run
(`BudgetSpent` without `--wait`). Waits go through the guard's sleep, so Ctrl-C ends one at
once.

What counts, and when (the contract the journal, `status` and `resume` rely on):
- A write counts when it leaves for the service, throttled or not, and only then. It leaves
  when the pacer hands it its slot (botocore's before-send hook, signed, at most the pacer's
  lead before its exact departure): there, first its `sending` line is written to the journal
  and fsynced (runner.py's write turn, assigner.py's `_leaves`), then `WriteClaim.left` counts
  it, and from that moment the call goes out even if the run stops meanwhile (its last short
  wait is no longer cut short). So every `sending` line is a write the service saw, or, if the
  process dies in the few ms between the line and the socket or the connection cannot be
  opened, one it may have seen: counted, never missed. A kill -9 never leaves a write that left
  without its line, and resume re-reads such a row before writing it again.
- A write that waited in the queue and never left (the run stopped; the budget ran out under
  it) has no `sending` line and gives its place back (`Claim.close`): a stopped run holds no
  budget for writes it did not make.
- While claims are out, the budget's last places are taken: a further write waits for those
  writes to leave or give their place back before the gate decides that the budget is spent.
- The summary's writes (CallCounts, counted in the same hook) therefore equal the service's
  count of AssignOpportunity calls and the journal's `sending` lines.
The journal keeps the times, so the rolling 24 h survives a crash and a resume.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Protocol

from bulk_assign.errors import UsageError
from bulk_assign.settings import RunSettings
from bulk_assign.stops import RunStopping, Stop, StopReason
from bulk_assign.store.journal import journal_write_times
from bulk_assign.timestamps import utc_now

log = logging.getLogger("bulk_assign.run")

DAY: Final = 24 * 3600.0
#: A write counts this much longer than 24 h: the journal's time is taken a moment before the
#: write leaves (at most the pacer's lead, plus an interval in rare cases), and the account's
#: clock is not ours.
AGE_MARGIN: Final = 60.0
#: While other writes hold the budget's last places: look again this often whether they left.
CLAIM_POLL: Final = 0.02
#: With --wait, once the account's daily quota is spent: try again after this long.
QUOTA_RETRY_SECONDS: Final = 900.0
#: Longest single sleep of a wait: the status file and the bar get a fresh word this often.
WAIT_SLICE: Final = 30.0

Now = Callable[[], datetime]
Sleep = Callable[[float], bool]


class WaitCause(StrEnum):
    WINDOW = "window"
    BUDGET = "budget"
    QUOTA = "quota"
    SERVICE = "service"  # an outage (--wait): the service out of reach or failing


# --- the write window ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """Local hours in which writes may leave; `start > end` crosses midnight.

    >>> w = Window.parse("22:00-06:00")
    >>> w.opens_at(datetime(2026, 1, 5, 23, 0)) is None, w.opens_at(datetime(2026, 1, 5, 12, 0))
    (True, datetime.datetime(2026, 1, 5, 22, 0))
    """

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> Window:
        try:
            if not re.fullmatch(r"\s*\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}\s*", text):
                raise ValueError(text)
            first, second = text.split("-")
            start, end = (time.fromisoformat(part.strip().zfill(5)) for part in (first, second))
        except ValueError:
            raise UsageError(f"--window {text!r}: give local times as HH:MM-HH:MM, e.g. "
                             "22:00-06:00 (may cross midnight).") from None
        if start == end:
            raise UsageError(f"--window {text!r}: start and end are the same; to allow writes "
                             "at any time, leave --window out.")
        return cls(start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def is_open(self, local: datetime) -> bool:
        now = local.time()
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def opens_at(self, local: datetime) -> datetime | None:
        """None inside the window, else the next local moment it opens (naive or aware as
        `local` is)."""
        if self.is_open(local):
            return None
        opening = local.replace(hour=self.start.hour, minute=self.start.minute, second=0,
                                microsecond=0)
        return opening if opening > local else opening + timedelta(days=1)


# --- the daily budget ---------------------------------------------------------------------------


def peak_in_a_day(times: Iterable[float]) -> int:
    """The most writes in any 24 h.

    >>> peak_in_a_day([0, 10, DAY - 5, DAY + 20])  # 0, 10 and DAY - 5 fall in one day
    3
    """
    ordered = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(ordered):
        while ordered[lo] <= t - DAY:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


class WriteBudget:
    """At most `limit` writes in any rolling 24 h (plus AGE_MARGIN). Not locked: the gate is."""

    def __init__(self, limit: int, times: Iterable[float] = ()) -> None:
        self.limit = limit
        self._times: deque[float] = deque(sorted(times))

    def _age_out(self, now: float) -> None:
        while self._times and self._times[0] <= now - DAY - AGE_MARGIN:
            self._times.popleft()

    def used(self, now: float) -> int:
        self._age_out(now)
        return len(self._times)

    def next_allowed(self, now: float, *, claimed: int = 0) -> float | None:
        """None if a write may leave now, else the epoch second when one may. `claimed`: writes
        about to leave, which take places too (when they all leave, the time is right)."""
        self._age_out(now)
        if len(self._times) + claimed < self.limit:
            return None
        index = len(self._times) + claimed - self.limit
        return self._times[index] + DAY + AGE_MARGIN if index < len(self._times) else now

    def record(self, now: float) -> None:
        self._times.append(now)


# --- the gate -----------------------------------------------------------------------------------


class WaitListener(Protocol):
    """Told when writes start and stop waiting (the console, the status file)."""

    def waiting(self, cause: WaitCause | None, until: datetime | None) -> None: ...


@dataclass(frozen=True)
class Hold:
    cause: WaitCause
    until: datetime


class WriteClaim:
    """One write's place in the budget, from the gate until the write leaves or never does.

    `left()` when it leaves (counted from that moment); `close()` afterwards in any case: a
    claim that did not leave gives its place back. Both are idempotent."""

    def __init__(self, gate: WriteGate | None = None) -> None:
        self._gate = gate
        self.open = True

    def left(self) -> None:
        if self._gate is not None:
            self._gate.settle(self, left=True)
        self.open = False

    def close(self) -> None:
        if self._gate is not None:
            self._gate.settle(self, left=False)
        self.open = False


class Stopper(Protocol):
    """What the gate needs of the run's guard (run/guard.py): whether the run is stopping, a
    way to stop it, and its sleep (which a stop cuts short). The quota stage imports no run."""

    @property
    def stopping(self) -> bool: ...

    def stop(self, stop: Stop) -> None: ...

    def sleep(self, seconds: float) -> bool: ...


class WriteGate:
    """Decides, before each write attempt, whether it may go. Thread-safe."""

    def __init__(self, *, guard: Stopper, budget: WriteBudget, window: Window | None,
                 wait: bool, now: Now, sleep: Sleep, local_tz: tzinfo | None = None,
                 listener: WaitListener | None = None) -> None:
        self._guard = guard
        self._budget = budget
        self._window = window
        self._wait = wait
        self._now = now
        self._sleep = sleep
        self._listener = listener
        self._tz = local_tz  # None: the machine's own time zone
        self._lock = threading.Lock()
        self._quota_until: datetime | None = None
        #: Claims handed out whose write has neither left nor given its place back.
        self._claimed = 0
        self.waited: dict[str, float] = {str(cause): 0.0 for cause in WaitCause}
        self._waiters: Counter[str] = Counter()
        self._wait_began: dict[str, datetime] = {}
        self.current: Hold | None = None

    def before_write(self) -> WriteClaim:
        """Return when a write may go, with its claim on the budget (see the module's
        contract); raise RunStopping if the run stops."""
        while True:
            with self._lock:
                hold = self._hold()
                if hold is None:
                    self._claimed += 1
                    break
                claimed = self._claimed
            if hold.cause is WaitCause.BUDGET and claimed:
                # The last places are claimed by writes about to leave: whether they do decides.
                if self._sleep(CLAIM_POLL) or self._guard.stopping:
                    raise RunStopping
                continue
            if hold.cause is WaitCause.BUDGET and not self._wait:
                self._guard.stop(budget_stop(self._budget.limit, hold.until))
                raise RunStopping
            self._wait_out(hold)
        self._set_current(None)
        return WriteClaim(self)

    def settle(self, claim: WriteClaim, *, left: bool) -> None:
        """The claimed write left now (counted), or will not (its place is given back)."""
        with self._lock:
            if not claim.open:
                return
            claim.open = False
            self._claimed -= 1
            if left:
                self._budget.record(self._now().timestamp())

    def quota_spent(self) -> None:
        """The account's daily quota refused writes too long (guard): hold writes a while."""
        with self._lock:
            self._quota_until = self._now() + timedelta(seconds=QUOTA_RETRY_SECONDS)

    def _hold(self) -> Hold | None:
        now = self._now()
        if self._window is not None:
            opens = self._window.opens_at(now.astimezone(self._tz))
            if opens is not None:
                return Hold(WaitCause.WINDOW, opens.astimezone(UTC))
        if self._quota_until is not None:
            if now < self._quota_until:
                return Hold(WaitCause.QUOTA, self._quota_until)
            self._quota_until = None
        allowed = self._budget.next_allowed(now.timestamp(), claimed=self._claimed)
        if allowed is not None:
            return Hold(WaitCause.BUDGET, datetime.fromtimestamp(allowed, UTC))
        return None

    def _wait_out(self, hold: Hold) -> None:
        self._set_current(hold)
        seconds = (hold.until - self._now()).total_seconds()
        slept = min(max(seconds, 0.05), WAIT_SLICE)
        cause = str(hold.cause)
        with self._lock:
            # Every worker waits at once: `waited` is the time the run waited (the union of
            # the workers' waits), not their sum.
            self._waiters[cause] += 1
            if self._waiters[cause] == 1:
                self._wait_began[cause] = self._now()
        try:
            stopping = self._sleep(slept)
        finally:
            with self._lock:
                self._waiters[cause] -= 1
                if self._waiters[cause] == 0:
                    began = self._wait_began.pop(cause)
                    self.waited[cause] += (self._now() - began).total_seconds()
        if stopping:
            raise RunStopping

    def _set_current(self, hold: Hold | None) -> None:
        with self._lock:
            changed = hold != self.current
            self.current = hold
        if not changed:
            return
        if hold is not None:
            log.info("waiting for the %s until %s", hold.cause, local_time(hold.until))
        if self._listener is not None:
            self._listener.waiting(hold.cause if hold else None, hold.until if hold else None)

    def facts(self) -> dict[str, Any]:
        """What summary.json says about the budget and the waits."""
        with self._lock:
            now = self._now().timestamp()
            return {
                "daily_budget": self._budget.limit,
                "budget_used_last_24h": self._budget.used(now),
                "window": None if self._window is None else str(self._window),
                "wait": self._wait,
                "waited_seconds": {k: round(v, 1) for k, v in self.waited.items()},
            }


def make_gate(settings: RunSettings, *, guard: Stopper, journal_path: Path,
              now: Now | None = None, sleep: Sleep | None = None,
              local_tz: tzinfo | None = None, listener: WaitListener | None = None) -> WriteGate:
    """The run's gate: its budget counted from the journal's earlier writes."""
    return WriteGate(
        guard=guard, budget=WriteBudget(settings.daily_budget, journal_write_times(journal_path)),
        window=Window.parse(settings.window) if settings.window else None, wait=settings.wait,
        now=now or utc_now, sleep=sleep or guard.sleep, local_tz=local_tz, listener=listener,
    )


def budget_stop(limit: int, until: datetime) -> Stop:
    return Stop(StopReason.BUDGET_SPENT,
                f"the daily budget of {limit:,} writes in 24 h is spent",
                f"The next write is allowed at {local_time(until)}: resume then, or run with "
                "--wait to let it wait")


def local_time(moment: datetime) -> str:
    """`2026-11-29 23:00 CET (22:00 UTC)`: the user's own time first."""
    local = moment.astimezone()
    shown = f"{local:%Y-%m-%d %H:%M:%S %Z}"
    if local.utcoffset() == timedelta(0):
        return shown if shown.endswith("UTC") else f"{shown} UTC"
    return f"{shown} ({moment.astimezone(UTC):%H:%M:%S} UTC)"
