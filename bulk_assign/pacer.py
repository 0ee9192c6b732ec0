"""Pacing: token buckets for writes and reads, and the write rate's AIMD control.

The write quota (1/s, burst 1, shared with every other writer of the partner account) is the
scarce resource: calls leave exactly one interval apart, the interval measured from the previous
call's actual departure, so no two calls ever reach the service closer than that. After a
ThrottlingException the rate drops multiplicatively; successes bring it back additively, fast up
to just below where it was throttled and slowly beyond, never above the configured maximum.

A lone throttle among many successes is network jitter (two calls arriving closer than they
left), not another writer: it costs a small decrease and a fast recovery. Throttles that come
close together mean the quota is shared: then the full decrease and a slow probe apply.

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

#: Calls leave this much later than 1/rate: arrival jitter of a few ms must not cost a throttle.
PACE_MARGIN: Final = 0.01
#: On a throttle the rate is multiplied by this...
DECREASE: Final = 0.8
#: ...or by this for a lone throttle (none in the previous ISOLATION_WINDOW write results).
DECREASE_ISOLATED: Final = 0.95
ISOLATION_WINDOW: Final = 20
#: ...but never drops below this share of the maximum.
FLOOR_SHARE: Final = 0.05
#: Success steps, as shares of the maximum: fast while well below the last throttled rate,
#: slow when probing around or above it.
FAST_STEP: Final = 0.05
SLOW_STEP: Final = 0.005


def event_sleep(event: threading.Event) -> Sleep:
    """A sleep that a stopping run cuts short."""
    return event.wait


class TokenBucket:
    """Burst-1 token bucket: one call per interval, measured from the last actual departure.

    Acquirers queue on a lock, so a retry waits its turn like any other call.

    >>> clock = FakeClock()
    >>> bucket = TokenBucket(rate=2.0, clock=clock.now, sleep=clock.sleep, margin=0.0)
    >>> [bucket.acquire() for _ in range(3)], clock.t
    ([True, True, True], 1.0)
    """

    def __init__(self, rate: float, *, clock: Clock = time.monotonic, sleep: Sleep | None = None,
                 margin: float = PACE_MARGIN) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be greater than 0, not {rate}")
        self._rate = rate
        self._clock = clock
        self._sleep: Sleep = sleep or threading.Event().wait
        self._margin = margin
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
        return (1.0 + self._margin) / self._rate

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
    last_throttled_rate: float
    #: Write results (successes) since the last throttle.
    since_throttle: int = ISOLATION_WINDOW


class Pacer:
    """The run's two buckets and the write rate's control loop."""

    def __init__(self, *, max_tps: float, read_tps: float, clock: Clock = time.monotonic,
                 sleep: Sleep | None = None, on_rate_change: Callable[[float, float], None]
                 | None = None) -> None:
        self.max_tps = max_tps
        self.writes = TokenBucket(max_tps, clock=clock, sleep=sleep)
        self.reads = TokenBucket(read_tps, clock=clock, sleep=sleep)
        self._state = AimdState(rate=max_tps, last_throttled_rate=max_tps)
        self._lock = threading.Lock()
        self._on_rate_change = on_rate_change

    @property
    def write_rate(self) -> float:
        return self._state.rate

    @property
    def floor(self) -> float:
        return self.max_tps * FLOOR_SHARE

    def throttled(self) -> None:
        """A write was throttled: another writer shares the quota, slow down."""
        with self._lock:
            state = self._state
            old = state.rate
            if state.since_throttle >= ISOLATION_WINDOW:
                state.rate = max(self.floor, old * DECREASE_ISOLATED)
            else:
                state.last_throttled_rate = old
                state.rate = max(self.floor, old * DECREASE)
            state.since_throttle = 0
            self._apply(old)

    def succeeded(self) -> None:
        """A write went through: creep back towards the maximum."""
        with self._lock:
            self._state.since_throttle += 1
            old = self._state.rate
            if old >= self.max_tps:
                return
            near = old >= self._state.last_throttled_rate * 0.95
            step = (SLOW_STEP if near else FAST_STEP) * self.max_tps
            self._state.rate = min(self.max_tps, old + step)
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
