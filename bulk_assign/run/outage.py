"""Outages: the service cannot be reached, or answers 5xx to everything.

A failed call alone says little: `make bench` and the fault tests sprinkle 10% 500s and 5%
connection resets over a healthy run, and retries absorb them. An outage is different: no call
has succeeded for a while and the calls keep failing at the transport (connection refused, DNS,
TLS, timeouts) or with 5xx. Then every further attempt burns a row for a reason that has
nothing to do with the row, so the run stops (or, with --wait, pauses with growing pauses and
lets one call through after each to see whether the service is back).

Thresholds: `quiet_seconds` (RunSettings.outage_seconds, 15 s) without a success and at least
MIN_FAILURES failed calls since the last one. With the default 8 attempts a row's retries take
about 26 s, so a total outage is recognised before the first row runs out of attempts, well
within a minute.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from bulk_assign.api.retry import Kind, classify, error_code, http_status
from bulk_assign.results import SERVICE_UNAVAILABLE, UNREACHABLE

MIN_FAILURES: Final = 6
#: With --wait: the first pause is a third of the quiet time, then each doubles up to this.
MAX_PAUSE: Final = 300.0


def is_outage_failure(exc: BaseException) -> bool:
    """A failure that says nothing about the row: transport, or a 5xx answer."""
    kind = classify(exc)
    return kind in (Kind.TRANSIENT, Kind.AMBIGUOUS)


@dataclass
class Outage:
    """One outage as summary.json reports it."""

    began_at: str
    began: float
    failed_calls: int = 0
    by_class: Counter[str] = field(default_factory=Counter)
    ended_at: str | None = None
    seconds: float | None = None

    @property
    def kind(self) -> str:
        """Unreachable when the calls mostly never got an answer, else ServiceUnavailable."""
        answered = sum(n for code, n in self.by_class.items() if code.startswith("HTTP "))
        return SERVICE_UNAVAILABLE if answered * 2 > self.failed_calls else UNREACHABLE

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "began_at": self.began_at, "ended_at": self.ended_at,
                "seconds": None if self.seconds is None else round(self.seconds, 1),
                "failed_calls": self.failed_calls, "by_class": dict(self.by_class)}


class OutageBreaker:
    """Counts failures since the last success; says when they make an outage, and (when the
    run waits one out) when the next call may try. Thread-safe."""

    def __init__(self, *, quiet_seconds: float, clock: Callable[[], float],
                 now_iso: Callable[[], str]) -> None:
        self._quiet_seconds = quiet_seconds
        self._first_pause = quiet_seconds / 3
        self._clock = clock
        self._now_iso = now_iso
        self._lock = threading.Lock()
        self._last_success = clock()
        self._failures: Counter[str] = Counter()
        self._pause = self._first_pause
        self._next_try = 0.0
        self.ongoing: Outage | None = None
        self.past: list[Outage] = []

    def succeeded(self) -> Outage | None:
        """A call got an answer from the service; returns the outage this ends, if any."""
        with self._lock:
            self._last_success = self._clock()
            self._failures.clear()
            ended, self.ongoing = self.ongoing, None
            self._pause = self._first_pause
            if ended is not None:
                ended.ended_at = self._now_iso()
                ended.seconds = self._clock() - ended.began
            return ended

    def failed(self, exc: BaseException) -> Outage | None:
        """A call failed at the transport or with 5xx; returns the outage it starts, if any."""
        status = http_status(exc)
        code = f"HTTP {status} {error_code(exc)}" if status else error_code(exc)
        with self._lock:
            self._failures[code] += 1
            if self.ongoing is not None:
                self.ongoing.failed_calls += 1
                self.ongoing.by_class[code] += 1
                return None
            return self._declare_if_due()

    def undecided(self) -> float | None:
        """Calls keep failing (at least MIN_FAILURES since the last success) but not yet for
        long enough to call it an outage: seconds until it is (0: now). None: no outage in
        sight, or one already declared."""
        with self._lock:
            if self.ongoing is not None or sum(self._failures.values()) < MIN_FAILURES:
                return None
            return max(0.0, self._quiet_seconds - (self._clock() - self._last_success))

    def overdue(self) -> Outage | None:
        """Declare the outage the failures so far make, without another failed call (the
        rows that would make one are waiting to know)."""
        with self._lock:
            return None if self.ongoing is not None else self._declare_if_due()

    def _declare_if_due(self) -> Outage | None:
        quiet = self._clock() - self._last_success
        if quiet < self._quiet_seconds or sum(self._failures.values()) < MIN_FAILURES:
            return None
        self.ongoing = Outage(began_at=self._now_iso(), began=self._last_success,
                              failed_calls=sum(self._failures.values()),
                              by_class=Counter(self._failures))
        self.past.append(self.ongoing)
        self._next_try = self._clock() + self._pause
        return self.ongoing

    def wait_before_call(self) -> float:
        """Seconds until a call may leave during an outage (0: go now, as the one call that
        tries; the pause before the next try then grows, up to MAX_PAUSE)."""
        with self._lock:
            if self.ongoing is None:
                return 0.0
            left = self._next_try - self._clock()
            if left > 0:
                return left
            self._pause = min(MAX_PAUSE, self._pause * 2)
            self._next_try = self._clock() + self._pause
            return 0.0

    @property
    def quiet_seconds_needed(self) -> float:
        """How long no call may be answered before it is an outage."""
        return self._quiet_seconds

    def failures_since_answer(self) -> int:
        with self._lock:
            return sum(self._failures.values())

    def last_answer(self) -> float:
        """When (this breaker's clock) a call was last answered."""
        with self._lock:
            return self._last_success

    @property
    def count(self) -> int:
        """How many outages began so far in this run."""
        return len(self.past)

    def quiet_seconds(self) -> float:
        with self._lock:
            return self._clock() - self._last_success
