"""Token buckets and daily caps per operation group, as the service quotas behave."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from bulk_assign.emulator.config import EmulatorConfig

GROUPS = ("write", "read")
DAY_SECONDS = 86_400.0


class QuotaBucket:
    """The service's side of a rate quota: ``rate`` tokens per second up to ``burst``;
    starts full. (Not the tool's pacer: that one waits for a token, this one refuses.)

    >>> t = [0.0]
    >>> b = QuotaBucket(rate=1.0, burst=1, clock=lambda: t[0])
    >>> b.try_take(), b.try_take()
    (True, False)
    """

    def __init__(self, *, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    def try_take(self, at: float | None = None) -> bool:
        """Take a token at `at` (the request's arrival; default now)."""
        now = self._clock() if at is None else at
        # Requests are admitted in lock order, which can differ from arrival order by a few
        # microseconds: time never runs backwards for the bucket.
        now = max(now, self._last)
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class DailyCap:
    """At most ``cap`` accepted calls in any rolling 24 hours."""

    def __init__(self, *, cap: int, clock: Callable[[], float]) -> None:
        self.cap = cap
        self._clock = clock
        self._accepted: deque[float] = deque()

    def allows(self) -> bool:
        now = self._clock()
        while self._accepted and now - self._accepted[0] >= DAY_SECONDS:
            self._accepted.popleft()
        return len(self._accepted) < self.cap

    def record(self) -> None:
        self._accepted.append(self._clock())


class QuotaGate:
    """Admits or throttles a call of a group; thread-safe; reconfigurable at run time."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._lock = threading.Lock()
        self._buckets: dict[str, QuotaBucket | None] = {}
        self._caps: dict[str, DailyCap | None] = {}
        self.reconfigure(config)

    def reconfigure(self, config: EmulatorConfig) -> None:
        """Apply ``config``: a bucket whose rate or burst changed starts again full, the
        others keep their tokens (switching faults mid-run must not hand out a burst);
        daily counts survive unless the cap changes."""
        with self._lock:
            for group in GROUPS:
                self._buckets[group] = self._bucket(config, group)
                self._caps[group] = self._cap(config, group)

    def _bucket(self, config: EmulatorConfig, group: str) -> QuotaBucket | None:
        rate = getattr(config, f"{group}_rate")
        burst = getattr(config, f"{group}_burst")
        if not config.quotas or rate is None:
            return None
        old = self._buckets.get(group)
        if old is not None and old.rate == rate and old.burst == float(burst):
            return old
        return QuotaBucket(rate=rate, burst=burst, clock=config.clock)

    def _cap(self, config: EmulatorConfig, group: str) -> DailyCap | None:
        # quotas=False switches off the daily caps as well as the buckets.
        cap = getattr(config, f"{group}_daily_cap") if config.quotas else None
        old = self._caps.get(group)
        if cap is None:
            return None
        if old is not None and old.cap == cap:
            return old
        new = DailyCap(cap=cap, clock=config.clock)
        if old is not None:
            # Keep the calls already counted today when only the cap moves.
            new._accepted = old._accepted
        return new

    def admit(self, group: str, at: float | None = None) -> bool:
        """True if a call of ``group`` arriving at ``at`` (default now) may proceed."""
        with self._lock:
            cap = self._caps[group]
            if cap is not None and not cap.allows():
                return False
            bucket = self._buckets[group]
            if bucket is not None and not bucket.try_take(at):
                return False
            if cap is not None:
                cap.record()
            return True
