"""Token buckets: when a call may leave, one interval after the previous call's actual departure.

The write quota (1/s, burst 1, shared with every other writer of the partner account) is the
scarce resource: calls leave one interval apart, the interval measured from the previous call's
actual departure, so no two calls leave closer than that. Each call gets a `Departure`; a
throttled call's departure decides whether it goes again at once (`Departure.retry_at_once`:
while nothing suggests another writer, a throttle is first taken for arrival jitter and the call
goes again a tenth of an interval after it left, ahead of the queue). The write rate's control
(AIMD) is pacer.py's.

Clock and sleep are injected (s3transfer's TimeUtils, tenacity's sleep=) so tests check the
exact pace without waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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
@dataclass(eq=False)
class Departure:
    """One call's place in a TokenBucket's pace, handed out by `reserve()` and completed by
    `depart()`: its slot, when it actually left and the interval then, and whether the call,
    refused by a throttle, may go again at once.

    The whole "retry at once" rule lives here (`retry_at_once`): a caller keeps the departure
    of its last call (a row keeps its write's: assigner.py) and hands it back to the bucket as
    `after` when it calls again, so a grant travels with the call it belongs to.
    """

    #: When the call may leave (reserved).
    slot: float
    #: This call is a throttled call's retry at once: it skipped the queue.
    at_once: bool = False
    #: An earlier call of the same caller (a row's write) already had its retry at once.
    earlier_at_once: bool = False
    #: When it actually left (None until it has), and the bucket's interval at that moment.
    left: float | None = None
    interval: float | None = None
    #: The bucket's departure before this one: what the pace counts from if this call is
    #: refused and sent again at once (it took no token).
    before: float | None = None
    _bucket: TokenBucket | None = field(default=None, repr=False)
    #: Granted by `retry_at_once`: (when the retry may leave, until when it skips the queue).
    _again: tuple[float, float] | None = field(default=None, repr=False)
    _granted: bool = field(default=False, repr=False)

    @property
    def had_at_once(self) -> bool:
        """This call, or an earlier one of its caller, was let go again at once."""
        return self.earlier_at_once or self.at_once or self._granted

    @property
    def goes_again_at_once(self) -> bool:
        """A retry at once was granted and not used yet: the next attempt has no backoff
        (retry.retrying's `at_once`)."""
        return self._again is not None

    def retry_at_once(self, *, alone: bool, attempts_left: bool,
                      share: float = RETRY_AT_ONCE_SHARE) -> bool:
        """This call was throttled: may it go again at once? The one place that decides.

        Yes only while nothing suggests another writer (`alone`: sharing.ShareController), if
        the caller has attempts left, if neither this call nor an earlier one of its caller
        already went again at once (a row's first throttle only: a throttle of that retry is
        a real one), and if no other call has left since this one (else the retry waits in
        line). Then the call goes `share` of an interval after it left, ahead of the queue,
        until the slot after its own; the refused call took no token, so the next interval
        counts from the departure before it. False: nothing changes."""
        if self.had_at_once or not attempts_left or not alone or self._bucket is None:
            return False
        return self._bucket.give_again(self, share)

    def take_again(self, now: float) -> float | None:
        """The slot of the retry at once, if granted and still in time; the grant is used
        (or lapses) either way."""
        again, self._again = self._again, None
        if again is None:
            return None
        due, until = again
        return due if now <= until else None


class TokenBucket:
    """Burst-1 token bucket: one call per interval, measured from the last actual departure.

    A call takes its slot in two steps, so that the long wait comes before the request is
    signed (a signature is only good for a few minutes) and only a short, exact one after it
    (signing takes a millisecond or more, and its jitter must not fall between the pace and the
    wire, where it would make two calls arrive closer than they left):

    - `reserve()`, before signing: waits its turn (acquirers queue on a lock, so a retry waits
      like any other call) until its slot is at most `lead` seconds away, and holds it as a
      `Departure`;
    - `depart()`, once signed: waits for the slot itself, and for one interval after the call
      before it actually left; that departure is what the next interval counts from. Given
      `leaving`, it calls it before that last wait (the write's journal line and its place in
      the budget: RowAssigner._leaves via quota/flight.py), and from then on the call leaves
      even if the run stops: what `leaving` recorded must be what happened.

    `acquire()` does both at once. Each returns the `Departure` (None if the run stops first);
    after a throttle, `Departure.retry_at_once()` may let the refused call go again at once,
    ahead of the queue, when the caller hands that departure back as `reserve(after=...)`.

    Between `reserve()` and `depart()` the reserved departure is kept per thread: the two are
    called from botocore's before-sign and before-send hooks, which botocore runs on the
    thread that makes the call (client.paced), so `depart()` finds its reservation by thread.
    That is the bucket's only per-thread state.

    >>> clock = FakeClock()
    >>> bucket = TokenBucket(rate=2.0, clock=clock.now, sleep=clock.sleep, margin=0.0,
    ...                      margin_seconds=0.0)
    >>> [bucket.acquire().left for _ in range(3)], clock.t
    ([0.0, 0.5, 1.0], 1.0)
    >>> bucket.reserve().slot, clock.t, bucket.depart().left, clock.t
    (1.5, 1.45, 1.5, 1.5)
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
        #: Per thread, `departure`: the one `reserve` handed out, until `depart` takes it.
        self._reserved = threading.local()
        self.acquired = 0

    @property
    def rate(self) -> float:
        return self._rate

    def set_rate(self, rate: float) -> None:
        self._rate = rate

    @property
    def interval(self) -> float:
        return (1.0 + self._margin) / self._rate + self._margin_seconds

    def acquire(self, *, after: Departure | None = None) -> Departure | None:
        """Wait for the next slot. None if the sleep was cut short (the run is stopping)."""
        if self.reserve(lead=0.0, after=after) is None:
            return None
        return self.depart()

    def reserve(self, *, lead: float | None = None,
                after: Departure | None = None) -> Departure | None:
        """Wait in turn until this thread's next slot is at most `lead` seconds away (default:
        the bucket's), and hold it. `after`: the caller's previous departure; if it was granted
        a retry at once still in time, this call skips the queue. None if the sleep was cut
        short: no slot is taken."""
        lead = self._lead if lead is None else lead
        earlier = after is not None and after.had_at_once
        if after is not None:
            due = after.take_again(self._clock())
            if due is not None:  # the retry at once came in time: skip the queue
                return self._hold(Departure(slot=due, at_once=True, earlier_at_once=earlier,
                                            _bucket=self))
        with self._queue:
            while True:
                now = self._clock()
                with self._marks:
                    slot = now if self._last is None else max(now, self._last + self.interval)
                    if slot - now <= lead + _TOLERANCE:
                        self._last = slot
                        return self._hold(Departure(slot=slot, earlier_at_once=earlier,
                                                    _bucket=self))
                if self._sleep(slot - now - lead):
                    return None

    def _hold(self, departure: Departure) -> Departure:
        self._reserved.departure = departure
        return departure

    def depart(self, leaving: Callable[[], None] | None = None, *,
               after: Departure | None = None) -> Departure | None:
        """Wait for the slot `reserve` gave this thread, and one interval after the previous
        call's actual departure; record this departure and return it. None if the sleep was
        cut short.

        `leaving`: called (no lock held) once the slot is this thread's and at most a lead
        away, before the last wait; the call then leaves whatever happens, and the departure
        is returned. If `leaving` raises, no slot is taken and the exception goes on.
        `after`: as for `reserve`, used only when nothing was reserved."""
        departure: Departure | None = getattr(self._reserved, "departure", None)
        if departure is None:  # nothing reserved (the hooks came in mid-call): take a slot now
            if leaving is None:
                return self.acquire(after=after)
            departure = self.reserve(lead=0.0, after=after)
            if departure is None:
                return None
        if leaving is not None:
            try:
                leaving()
            except BaseException:
                self._reserved.departure = None
                raise
        while True:
            now = self._clock()
            with self._marks:
                ready = (departure.slot if self._departed is None
                         else max(departure.slot, self._departed + self.interval))
                if now + _TOLERANCE >= ready:
                    self._reserved.departure = None
                    departure.left, departure.before = now, self._departed
                    departure.interval = self.interval
                    self._departed = now if self._departed is None else max(self._departed, now)
                    self._last = now if self._last is None else max(self._last, now)
                    self.acquired += 1
                    return departure
            if self._sleep(ready - now):  # the run is stopping
                if leaving is None:
                    self._reserved.departure = None
                    return None
                self._pause(max(0.0, ready - self._clock()))  # committed: it leaves all the same

    def give_again(self, departure: Departure, share: float) -> bool:
        """`Departure.retry_at_once`'s part in the bucket: unless another call has left since
        `departure`, the pace counts from the departure before it again, and `departure` holds
        a grant to go `share` of an interval after it left, good until the slot after its own
        (later, the retry waits in line). Calls already reserved wait one interval after the
        retry."""
        left = departure.left
        with self._marks:
            if left is None or departure.had_at_once or self._departed != left:
                return False
            self._departed = departure.before
            departure._granted = True
            departure._again = (left + share * self.interval, left + self.interval)
            return True


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
