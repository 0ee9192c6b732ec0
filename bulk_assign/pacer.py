"""Pacing: token buckets for writes and reads, and the write rate's AIMD control.

The write quota (1/s, burst 1, shared with every other writer of the partner account) is the
scarce resource: calls leave one interval apart, the interval measured from the previous call's
actual departure, so no two calls leave closer than that. After a ThrottlingException the rate
drops multiplicatively; each success adds a step back, never above the configured maximum.

Two refinements keep that from wasting the quota:
- A lone throttle among many successes is jitter (two calls arriving closer than they left),
  not another writer: it costs a small decrease, recovered in a few successes.
- Against another writer on a burst-1 bucket, the chance of a throttle barely depends on our
  own rate, so reacting to every throttle would drive the rate to the floor and leave the
  quota unused. Like TCP, which halves once per window of losses, the rate drops at most once
  per REACT_WINDOW write results; it settles where the successes' steps balance the drops.

Clock and sleep are injected (s3transfer's TimeUtils, tenacity's sleep=) so tests check the
exact pace without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

Clock = Callable[[], float]
#: Waits up to `seconds`; returns True if woken early because the run is stopping.
Sleep = Callable[[float], bool]

#: Calls leave this much later than 1/rate (share of the interval, plus a fixed part): the
#: arrival jitter of a millisecond or two must not cost a throttle.
PACE_MARGIN: Final = 0.01
PACE_MARGIN_SECONDS: Final = 0.0005
#: On a throttle the rate is multiplied by this...
DECREASE: Final = 0.8
#: ...or by this for a lone throttle (none in the previous ISOLATION_WINDOW write results)...
DECREASE_ISOLATED: Final = 0.95
ISOLATION_WINDOW: Final = 20
#: ...at most once per this many write results...
REACT_WINDOW: Final = 10
#: ...and never below this share of the maximum.
FLOOR_SHARE: Final = 0.05
#: Each success adds this share of the maximum.
STEP: Final = 0.02


class TokenBucket:
    """Burst-1 token bucket: one call per interval, measured from the last actual departure.

    Acquirers queue on a lock, so a retry waits its turn like any other call.

    >>> clock = FakeClock()
    >>> bucket = TokenBucket(rate=2.0, clock=clock.now, sleep=clock.sleep, margin=0.0,
    ...                      margin_seconds=0.0)
    >>> [bucket.acquire() for _ in range(3)], clock.t
    ([True, True, True], 1.0)
    """

    def __init__(self, rate: float, *, clock: Clock = time.monotonic, sleep: Sleep | None = None,
                 margin: float = PACE_MARGIN, margin_seconds: float = PACE_MARGIN_SECONDS) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be greater than 0, not {rate}")
        self._rate = rate
        self._clock = clock
        self._sleep: Sleep = sleep or threading.Event().wait
        self._margin = margin
        self._margin_seconds = margin_seconds
        self._lock = threading.Lock()
        self._last: float | None = None
        self.acquired = 0

    @property
    def rate(self) -> float:
        return self._rate

    def set_rate(self, rate: float) -> None:
        self._rate = rate

    @property
    def interval(self) -> float:
        return (1.0 + self._margin) / self._rate + self._margin_seconds

    def acquire(self) -> bool:
        """Wait for the next slot. False if the sleep was cut short (the run is stopping)."""
        with self._lock:
            while True:
                now = self._clock()
                if self._last is None:
                    break
                due = self._last + self.interval
                if now >= due:
                    break
                if self._sleep(due - now):
                    return False
            self._last = now
            self.acquired += 1
            return True


@dataclass
class AimdState:
    rate: float
    #: Write results since the last throttle, and since the last decrease.
    since_throttle: int = ISOLATION_WINDOW
    since_decrease: int = REACT_WINDOW


class Pacer:
    """The run's two buckets and the write rate's control loop."""

    def __init__(self, *, max_tps: float, read_tps: float, clock: Clock = time.monotonic,
                 sleep: Sleep | None = None, on_rate_change: Callable[[float, float], None]
                 | None = None) -> None:
        self.max_tps = max_tps
        self.writes = TokenBucket(max_tps, clock=clock, sleep=sleep)
        self.reads = TokenBucket(read_tps, clock=clock, sleep=sleep)
        self._state = AimdState(rate=max_tps)
        self._lock = threading.Lock()
        self._on_rate_change = on_rate_change
        #: A lower maximum for a while (sharing.ShareController); None: max_tps.
        self._ceiling: float | None = None

    @property
    def write_rate(self) -> float:
        return self._state.rate

    @property
    def floor(self) -> float:
        return self.max_tps * FLOOR_SHARE

    @property
    def top(self) -> float:
        """The highest the rate may climb now."""
        return self.max_tps if self._ceiling is None else min(self.max_tps, self._ceiling)

    def set_ceiling(self, ceiling: float | None) -> None:
        """Keep the rate at or below `ceiling` (None: back to max_tps); it climbs back by
        successes as before."""
        with self._lock:
            self._ceiling = ceiling
            old = self._state.rate
            if old > self.top:
                self._state.rate = self.top
                self._apply(old)

    def throttled(self) -> None:
        """A write was throttled: someone else writes on the account too, slow down."""
        with self._lock:
            state = self._state
            old = state.rate
            isolated = state.since_throttle >= ISOLATION_WINDOW
            state.since_throttle = 0
            if isolated:
                factor = DECREASE_ISOLATED
            elif state.since_decrease >= REACT_WINDOW:
                factor = DECREASE
            else:
                state.since_decrease += 1  # already slowed down for this window
                return
            state.since_decrease = 0
            state.rate = max(self.floor, old * factor)
            self._apply(old)

    def succeeded(self) -> None:
        """A write went through: step back towards the maximum."""
        with self._lock:
            state = self._state
            state.since_throttle += 1
            state.since_decrease += 1
            old = state.rate
            state.rate = min(self.top, old + STEP * self.max_tps)
            self._apply(old)

    def _apply(self, old: float) -> None:
        new = self._state.rate
        if new != old:
            self.writes.set_rate(new)
            if self._on_rate_change is not None:
                self._on_rate_change(old, new)


class FakeClock:
    """A clock whose sleep advances time instantly: for tests and doctests."""

    def __init__(self, start: float = 0.0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        self.t += seconds
        return False
