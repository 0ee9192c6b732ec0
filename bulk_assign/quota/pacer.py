"""Pacing: token buckets for writes and reads, and the write rate's AIMD control.

The write quota (1/s, burst 1, shared with every other writer of the partner account) is the
scarce resource: calls leave one interval apart, the interval measured from the previous call's
actual departure, so no two calls leave closer than that. After a ThrottlingException the rate
drops multiplicatively; each success adds a step back, never above the configured maximum.

Three refinements keep that from wasting the quota:
- While nothing suggests another writer (sharing.ShareController.alone), a throttle is first
  taken for jitter (two calls arriving a few milliseconds closer than they left, so the token
  came just after the call): the call is sent again at once, a tenth of an interval after it
  left, ahead of the queue (`TokenBucket.retry_at_once`), and costs that tenth instead of a
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

Clock = Callable[[], float]
#: Waits up to `seconds`; returns True if woken early because the run is stopping.
Sleep = Callable[[float], bool]
#: Waits `seconds`, whatever happens.
Pause = Callable[[float], object]

#: Calls leave this much later than 1/rate (share of the interval, plus a fixed part): the
#: arrival jitter of a millisecond or two must not cost a throttle.
PACE_MARGIN: Final = 0.01
PACE_MARGIN_SECONDS: Final = 0.0005
#: A call's slot is reserved up to this long before it is due, then the request is signed and
#: waits for the slot itself: more than signing takes, far less than a signature lives.
SIGN_LEAD: Final = 0.05
#: A throttled call is sent again this share of an interval after it left (retry_at_once): later
#: than the arrival jitter that made it early, far sooner than its next slot.
RETRY_AT_ONCE_SHARE: Final = 0.1
#: Times this close count as equal (a sleep may return a rounding error early).
_TOLERANCE: Final = 1e-9
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

    A call takes its slot in two steps, so that the long wait comes before the request is
    signed (a signature is only good for a few minutes) and only a short, exact one after it
    (signing takes a millisecond or more, and its jitter must not fall between the pace and the
    wire, where it would make two calls arrive closer than they left):

    - `reserve()`, before signing: waits its turn (acquirers queue on a lock, so a retry waits
      like any other call) until its slot is at most `lead` seconds away, and holds it;
    - `depart()`, once signed: waits for the slot itself, and for one interval after the call
      before it actually left; that departure is what the next interval counts from. Given
      `leaving`, it calls it before that last wait (the write's journal line and its place in
      the budget: runner.py), and from then on the call leaves even if the run stops: what
      `leaving` recorded must be what happened.

    `acquire()` does both at once. `retry_at_once()`, after a throttle, lets the same thread
    send the refused call again a moment later, before the queue.

    >>> clock = FakeClock()
    >>> bucket = TokenBucket(rate=2.0, clock=clock.now, sleep=clock.sleep, margin=0.0,
    ...                      margin_seconds=0.0)
    >>> [bucket.acquire() for _ in range(3)], clock.t
    ([True, True, True], 1.0)
    >>> bucket.reserve(), clock.t, bucket.depart(), clock.t
    (True, 1.45, True, 1.5)
    """

    def __init__(self, rate: float, *, clock: Clock = time.monotonic, sleep: Sleep | None = None,
                 margin: float = PACE_MARGIN, margin_seconds: float = PACE_MARGIN_SECONDS,
                 lead: float = SIGN_LEAD, pause: Pause = time.sleep) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be greater than 0, not {rate}")
        self._rate = rate
        self._clock = clock
        self._sleep: Sleep = sleep or threading.Event().wait
        #: A wait the stop does not cut short: a call already committed to leave.
        self._pause = pause
        self._margin = margin
        self._margin_seconds = margin_seconds
        self._lead = lead
        #: Held by the caller whose turn it is while it waits for its slot.
        self._queue = threading.Lock()
        #: Guards the two times below; never held while sleeping.
        self._marks = threading.Lock()
        #: The latest slot handed out (reserved or departed), and the latest actual departure.
        self._last: float | None = None
        self._departed: float | None = None
        #: Per thread: `due`, its reserved slot; `left` and `before`, when its last call left
        #: and the departure before that; `again`, when its call refused by a throttle may go
        #: again (retry_at_once).
        self._slot = threading.local()
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
        return self.reserve(lead=0.0) and self.depart()

    def reserve(self, *, lead: float | None = None) -> bool:
        """Wait in turn until this thread's next slot is at most `lead` seconds away (default:
        the bucket's), and hold it. False if the sleep was cut short: no slot is taken."""
        lead = self._lead if lead is None else lead
        again: tuple[float, float] | None = getattr(self._slot, "again", None)
        if again is not None:
            self._slot.again = None
            due, until = again
            if self._clock() <= until:  # the retry at once came in time: skip the queue
                self._slot.due = due
                return True
        with self._queue:
            while True:
                now = self._clock()
                with self._marks:
                    slot = now if self._last is None else max(now, self._last + self.interval)
                    if slot - now <= lead + _TOLERANCE:
                        self._last = slot
                        self._slot.due = slot
                        return True
                if self._sleep(slot - now - lead):
                    return False

    def depart(self, leaving: Callable[[], None] | None = None) -> bool:
        """Wait for the slot `reserve` gave this thread, and one interval after the previous
        call's actual departure; record this departure. False if the sleep was cut short.

        `leaving`: called (no lock held) once the slot is this thread's and at most a lead
        away, before the last wait; the call then leaves whatever happens, and True is
        returned. If `leaving` raises, no slot is taken and the exception goes on."""
        due: float | None = getattr(self._slot, "due", None)
        if due is None:  # nothing reserved (the hooks came in mid-call): take a slot now
            if leaving is None:
                return self.acquire()
            if not self.reserve(lead=0.0):
                return False
            due = self._slot.due
        if leaving is not None:
            try:
                leaving()
            except BaseException:
                self._slot.due = None
                raise
        while True:
            now = self._clock()
            with self._marks:
                ready = due if self._departed is None else max(due, self._departed + self.interval)
                if now + _TOLERANCE >= ready:
                    self._slot.due = None
                    self._slot.left, self._slot.before = now, self._departed
                    self._departed = now if self._departed is None else max(self._departed, now)
                    self._last = now if self._last is None else max(self._last, now)
                    self.acquired += 1
                    return True
            if self._sleep(ready - now):  # the run is stopping
                if leaving is None:
                    self._slot.due = None
                    return False
                self._pause(max(0.0, ready - self._clock()))  # committed: it leaves all the same

    def retry_at_once(self, share: float = RETRY_AT_ONCE_SHARE) -> bool:
        """This thread's last call was throttled: let it go again `share` of an interval after
        it left, ahead of the queue. The refused call took no token, so the next interval counts
        from the departure before it; calls already reserved wait one interval after the retry.
        False (nothing changes) if another call has left since."""
        left: float | None = getattr(self._slot, "left", None)
        with self._marks:
            if left is None or self._departed != left:
                return False
            self._departed = self._slot.before
            self._slot.left = None
            # Good until the slot after the refused call's: later, the retry waits in line.
            self._slot.again = (left + share * self.interval, left + self.interval)
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
                 | None = None, start_tps: float | None = None,
                 pause: Pause = time.sleep) -> None:
        """`start_tps` (default `max_tps`): the first write rate; successes climb from there
        one step at a time, as after a decrease. `pause`: the buckets' wait that a stop does
        not cut short (TokenBucket)."""
        self.max_tps = max_tps
        start = max_tps if start_tps is None else max(max_tps * FLOOR_SHARE,
                                                      min(start_tps, max_tps))
        self.writes = TokenBucket(start, clock=clock, sleep=sleep, pause=pause)
        self.reads = TokenBucket(read_tps, clock=clock, sleep=sleep, pause=pause)
        self._state = AimdState(rate=start)
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
        self.rate_changed(*self.change_ceiling(ceiling))

    def change_ceiling(self, ceiling: float | None) -> tuple[float, float]:
        """`set_ceiling` without telling the listener: returns (old, new) rate for the
        caller's `rate_changed` once it holds no lock of its own (sharing.py)."""
        with self._lock:
            self._ceiling = ceiling
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
