"""Pacing: the run's write and read buckets (bucket.py), and the write rate's AIMD control.

The write quota (1/s, burst 1, shared with every other writer of the partner account) is the
scarce resource: calls leave one interval apart, the interval measured from the previous call's
actual departure, so no two calls leave closer than that. After a ThrottlingException the rate
drops multiplicatively; each success adds a step back, never above the configured maximum.

Three refinements keep that from wasting the quota:
- While nothing suggests another writer (sharing.ShareController.alone), a throttle is first
  taken for jitter (two calls arriving a few milliseconds closer than they left, so the token
  came just after the call): the call is sent again at once, a tenth of an interval after it
  left, ahead of the queue (`Departure.retry_at_once`), and costs that tenth instead of a
  whole slot. Only when that retry is throttled too does the rate drop.
- A lone throttle among many successes is jitter, not another writer: it costs a small
  decrease, recovered in a few successes.
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

from bulk_assign.quota.bucket import Clock, Pause, Sleep, TokenBucket

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
                 | None = None, start_tps: float | None = None,
                 pause: Pause = time.sleep, allowance: float | None = None) -> None:
        """`start_tps` (default `max_tps`): the first write rate; successes climb from there
        one step at a time, as after a decrease. `pause`: the buckets' wait that a stop does
        not cut short (TokenBucket). `allowance` (default `max_tps`): what the others leave
        us (sharing.py), which the live look-back moves during the run."""
        self.max_tps = max_tps
        #: What the others leave us (sharing.ShareController.measured); None: max_tps.
        self._allowance = allowance
        #: A lower maximum for a while (sharing.ShareController); None: max_tps.
        self._ceiling: float | None = None
        start = self.top if start_tps is None else max(max_tps * FLOOR_SHARE,
                                                       min(start_tps, self.top))
        self.writes = TokenBucket(start, clock=clock, sleep=sleep, pause=pause)
        self.reads = TokenBucket(read_tps, clock=clock, sleep=sleep, pause=pause)
        self._state = AimdState(rate=start)
        self._lock = threading.Lock()
        self._on_rate_change = on_rate_change

    @property
    def write_rate(self) -> float:
        return self._state.rate

    @property
    def floor(self) -> float:
        return self.max_tps * FLOOR_SHARE

    @property
    def allowance(self) -> float:
        return self.max_tps if self._allowance is None else min(self.max_tps, self._allowance)

    @property
    def top(self) -> float:
        """The highest the rate may climb now: max_tps, what the others leave us, and the
        hold's ceiling, whichever is lowest."""
        ceiling = self.max_tps if self._ceiling is None else self._ceiling
        return min(self.allowance, ceiling)

    def set_ceiling(self, ceiling: float | None) -> None:
        """Keep the rate at or below `ceiling` (None: back to max_tps); it climbs back by
        successes as before."""
        self.rate_changed(*self.change_ceiling(ceiling))

    def change_ceiling(self, ceiling: float | None) -> tuple[float, float]:
        """`set_ceiling` without telling the listener: returns (old, new) rate for the
        caller's `rate_changed` once it holds no lock of its own (sharing.py)."""
        with self._lock:
            self._ceiling = ceiling
            return self._lower_to_top()

    def change_allowance(self, allowance: float) -> tuple[float, float]:
        """What the others leave us changed (a live look): the rate drops to it at once if
        above, or climbs to it by successes; (old, new) as for `change_ceiling`."""
        with self._lock:
            self._allowance = allowance
            return self._lower_to_top()

    def _lower_to_top(self) -> tuple[float, float]:
        old = self._state.rate
        if old > self.top:
            self._state.rate = self.top
        return old, self._apply(old)

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
            new = self._apply(old)
        self.rate_changed(old, new)

    def succeeded(self) -> None:
        """A write went through: step back towards the maximum."""
        with self._lock:
            state = self._state
            state.since_throttle += 1
            state.since_decrease += 1
            old = state.rate
            state.rate = min(self.top, old + STEP * self.max_tps)
            new = self._apply(old)
        self.rate_changed(old, new)

    def _apply(self, old: float) -> float:
        """The bucket takes the new rate (under the lock, so rates apply in order)."""
        new = self._state.rate
        if new != old:
            self.writes.set_rate(new)
        return new

    def rate_changed(self, old: float, new: float) -> None:
        """The listener hears of a change outside any lock: it logs and writes files."""
        if new != old and self._on_rate_change is not None:
            self._on_rate_change(old, new)
