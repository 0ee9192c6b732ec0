"""The other writers' rate: measured from their recent writes, by the look-back before the run
and the live look during it, and what the share controller does with it.

No network: a fake `ListOpportunities` lists a fake account's changes, clocks are fakes, and
the only real waits (the live look's thread) end on events, with generous timeouts.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import botocore.exceptions as bce
import pytest

from bulk_assign.api.retry import BACKOFF_CAP
from bulk_assign.quota.bucket import FakeClock
from bulk_assign.quota.lookback import (
    KEPT_MEASUREMENTS,
    LIVE_PAGES,
    LOOK_EVERY_SECONDS,
    LOOK_MIN_SECONDS,
    LOOKBACK_PAGES,
    MIN_SPAN_SECONDS,
    OVERLAP_SECONDS,
    PAGE_ATTEMPTS,
    PAGE_SIZE,
    RECENT_SECONDS,
    LiveLookBack,
    OtherWriters,
    Rate,
    look_back,
    look_every,
    recent_rate,
)
from bulk_assign.quota.pacer import STEP, Pacer
from bulk_assign.quota.sharing import (
    CONTENDED_SHARE,
    CONTENTION_THROTTLES,
    QUOTA_MARGIN,
    SETTLE_SECONDS,
    ShareController,
)
from bulk_assign.timestamps import iso

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


def _ago(seconds: float, now: datetime = NOW) -> datetime:
    return now - timedelta(seconds=seconds)


def _error(code: str, status: int) -> bce.ClientError:
    return bce.ClientError(
        {"Error": {"Code": code, "Message": code},
         "ResponseMetadata": {"HTTPStatusCode": status}},  # type: ignore[typeddict-item]
        "ListOpportunities",
    )


def _throttled() -> bce.ClientError:
    return _error("ThrottlingException", 400)


def _denied() -> bce.ClientError:
    return _error("AccessDeniedException", 403)


class Account:
    """A partner account as ListOpportunities lists it: each opportunity once, at its latest
    change, newest first, only those changed after the request's moment, in pages."""

    def __init__(self, *, page_size: int = PAGE_SIZE) -> None:
        self.changed: dict[str, datetime] = {}
        self.page_size = page_size
        #: Every request, as sent (one per page read, and one per attempt).
        self.requests: list[dict[str, Any]] = []
        #: Raised by the next calls, in order, before any answer.
        self.failures: list[BaseException] = []

    def write(self, identifier: str, at: datetime) -> None:
        self.changed[identifier] = at

    def writer(self, name: str, times: Iterable[datetime]) -> None:
        """A writer changing a new opportunity at each of `times`."""
        for n, at in enumerate(times):
            self.write(f"O-{name}-{n}", at)

    def list_opportunities(self, **request: Any) -> dict[str, Any]:
        self.requests.append(copy.deepcopy(request))
        if self.failures:
            raise self.failures.pop(0)
        after = request["LastModifiedDate"]["AfterLastModifiedDate"]
        newest = sorted(((at, i) for i, at in self.changed.items() if at > after), reverse=True)
        first = int(request.get("NextToken", "0"))
        size = min(self.page_size, request["MaxResults"])
        answer: dict[str, Any] = {"OpportunitySummaries": [
            {"Id": i, "LastModifiedDate": at} for at, i in newest[first:first + size]]}
        if first + size < len(newest):
            answer["NextToken"] = str(first + size)
        return answer

    def client(self) -> Any:
        """Itself, where the code expects a boto3 Partner Central client."""
        return cast(Any, self)

    def since(self, request: int = -1) -> datetime:
        """The moment a request listed changes after."""
        return cast(datetime, self.requests[request]["LastModifiedDate"]["AfterLastModifiedDate"])


class Moment:
    """A wall clock the test moves."""

    def __init__(self, at: datetime = NOW) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def _look_back(account: Account, *, lookback_seconds: float = 3600.0, ours: Iterable[str] = (),
               clock: FakeClock | None = None) -> OtherWriters:
    clock = clock or FakeClock()
    return look_back(account.client(), catalog="Sandbox", lookback_seconds=lookback_seconds,
                     ours=ours, now=lambda: NOW, read_tps=10.0, sleep=clock.sleep,
                     clock=clock.now)


def _live(account: Account, moment: Moment, *, before: OtherWriters | None = None,
          ours: Iterable[str] = (), stop: threading.Event | None = None,
          on_rate: Callable[[Rate], None] | None = None, window: float = 3600.0,
          ) -> tuple[LiveLookBack, list[Rate]]:
    rates: list[Rate] = []
    looks = LiveLookBack(account.client, catalog="Sandbox", window=window, every=60.0,
                         turn=lambda: True, stop=stop or threading.Event(),
                         on_rate=on_rate or rates.append, before=before, ours=ours,
                         now=moment, clock=FakeClock().now, sleep=FakeClock().sleep)
    return looks, rates


# --- recent_rate: the others' rate from their recent writes ---------------------------------


def test_a_writer_that_started_a_minute_ago_is_measured_at_its_own_rate() -> None:
    crm = [_ago(s) for s in range(1, 61)]  # 1 write/s for the last minute
    rate = recent_rate(crm, now=NOW, window=3600.0)
    assert rate.count == 60 and rate.seconds == 60.0
    assert rate.per_second == pytest.approx(1.0)  # not the hour's average, 60 / 3600


def test_nobody_writing_measures_zero() -> None:
    rate = recent_rate([], now=NOW, window=3600.0)
    assert rate.per_second == 0.0 and rate.count == 0


def test_one_stray_write_is_not_a_writer_at_one_write_per_second() -> None:
    rate = recent_rate([NOW], now=NOW, window=3600.0)
    assert rate.count == 1
    assert 0 < rate.per_second <= 1 / MIN_SPAN_SECONDS


def test_writes_older_than_the_recent_span_are_not_counted() -> None:
    earlier = [_ago(s) for s in range(int(RECENT_SECONDS) + 1, 600)]  # stopped 2 min ago
    assert recent_rate(earlier, now=NOW, window=3600.0).per_second == 0.0
    now_and_then = [*earlier, _ago(1), _ago(2), _ago(3)]
    rate = recent_rate(now_and_then, now=NOW, window=3600.0)
    assert rate.count == 3
    assert rate.per_second == pytest.approx(3 / MIN_SPAN_SECONDS)


def test_a_look_back_shorter_than_the_recent_span_bounds_the_measurement() -> None:
    steady = [_ago(s) for s in range(1, 101)]  # 1 write/s for 100 s
    short = recent_rate(steady, now=NOW, window=30.0)
    assert short.seconds == 30.0 and short.count == 30
    assert short.per_second == pytest.approx(1.0)
    stopped = [_ago(s) for s in range(40, 101)]  # the same writer, stopped 40 s ago
    assert recent_rate(stopped, now=NOW, window=30.0).per_second == 0.0
    assert recent_rate(stopped, now=NOW, window=3600.0).per_second > 0.5


def test_a_rate_reads_as_writes_per_second_over_a_span() -> None:
    assert Rate(2.5, 300, 120.0).text() == "2.5 writes/s (300 over the last 2 min)"
    assert Rate(1 / 15, 1, 15.0).text() == "0.0667 writes/s (1 over the last 15 s)"
    assert Rate(0.5, 1800, 3600.0).text() == "0.5 writes/s (1,800 over the last 1 h)"


# --- look_back: before the run -------------------------------------------------------------


def test_the_look_back_counts_the_others_writes_but_not_ours() -> None:
    account = Account()
    account.writer("crm", [_ago(s) for s in range(1, 61)])  # 1 write/s for the last minute
    account.writer("hour", [_ago(60 * m) for m in range(10, 50, 4)])  # 10 earlier this hour
    account.writer("day", [_ago(3600 * h) for h in range(2, 22)])  # 20 earlier today
    account.writer("yesterday", [_ago(25 * 3600)])  # more than 24 h ago
    ours = [f"O-ours-{n}" for n in range(5)]
    for n, identifier in enumerate(ours):
        account.write(identifier, _ago(n + 0.5))  # our own writes of the last seconds
    others = _look_back(account, ours=ours)
    assert others.error == "" and others.complete
    assert others.last_24h == 60 + 10 + 20
    assert others.in_lookback == 60 + 10
    assert others.recent is not None and others.recent.count == 60
    assert others.per_second == pytest.approx(1.0)  # the CRM's rate, not 70 / 3600
    # The live look goes on from what the look-back saw, and from when.
    assert others.at == NOW and len(others.seen) == 70
    assert not {identifier for identifier, _ in others.seen} & set(ours)


def test_the_look_back_lists_the_last_day_newest_first() -> None:
    account = Account()
    _look_back(account)
    [request] = account.requests
    assert request["Catalog"] == "Sandbox" and request["MaxResults"] == PAGE_SIZE
    assert request["Sort"] == {"SortBy": "LastModifiedDate", "SortOrder": "DESCENDING"}
    assert request["LastModifiedDate"] == {"AfterLastModifiedDate": NOW - timedelta(days=1)}


def test_the_look_back_follows_the_pages_to_the_end() -> None:
    account = Account(page_size=2)
    account.writer("crm", [_ago(10 * s) for s in range(1, 6)])
    others = _look_back(account)
    assert others.pages == 3 and others.complete and others.last_24h == 5
    assert [r.get("NextToken") for r in account.requests] == [None, "2", "4"]


def test_the_look_back_stops_at_its_page_limit_and_says_at_least() -> None:
    account = Account(page_size=1)
    account.writer("busy", [_ago(s) for s in range(1, LOOKBACK_PAGES + 6)])
    clock = FakeClock()
    others = _look_back(account, clock=clock)
    assert len(account.requests) == others.pages == LOOKBACK_PAGES
    assert not others.complete and others.last_24h == LOOKBACK_PAGES
    assert others.to_json()["complete"] is False
    # Its reads are paced at the read rate (10/s), on the injected clock: no real wait.
    assert clock.t >= (LOOKBACK_PAGES - 1) / 10.0


def test_a_throttled_page_is_read_again_at_the_read_pace_and_nothing_really_waits() -> None:
    account = Account()
    account.writer("crm", [_ago(s) for s in range(1, 31)])
    account.failures = [_throttled()]
    clock = FakeClock()
    sent: list[float] = []
    listing = account.list_opportunities

    def timed(**request: Any) -> dict[str, Any]:
        sent.append(clock.t)
        return listing(**request)

    account.list_opportunities = timed  # type: ignore[method-assign]
    started = time.monotonic()
    others = _look_back(account, clock=clock)
    assert time.monotonic() - started < 1.0
    assert others.error == "" and others.in_lookback == 30
    assert len(account.requests) == 2
    # The retry waited for its backoff and for its own read token (10/s), on the fake clock.
    assert sent[1] - sent[0] >= 0.1
    assert clock.sleeps and all(0.0 <= s <= BACKOFF_CAP for s in clock.sleeps)


def test_a_look_back_throttled_on_every_attempt_gives_up_and_says_so() -> None:
    account = Account()
    account.failures = [_throttled() for _ in range(PAGE_ATTEMPTS + 5)]
    clock = FakeClock()
    others = _look_back(account, clock=clock)
    assert others.error == "ThrottlingException"
    assert len(account.requests) == PAGE_ATTEMPTS
    # Backoffs between the attempts (each then waits for its read token too), on the fake
    # clock: nothing really waited.
    assert len(clock.sleeps) >= PAGE_ATTEMPTS - 1 and clock.t < PAGE_ATTEMPTS * BACKOFF_CAP


def test_a_look_back_without_permission_says_so_and_never_raises() -> None:
    account = Account()
    account.failures = [_denied()]
    others = _look_back(account)
    assert others.error == "AccessDeniedException"
    assert others.in_lookback is None and others.per_second == 0.0
    assert len(account.requests) == 1  # not retried: it cannot succeed
    assert others.to_json()["error"] == "AccessDeniedException"


# --- LiveLookBack: during the run ----------------------------------------------------------


def test_the_first_live_look_goes_on_from_the_look_back_and_counts_the_overlap_once() -> None:
    account = Account()
    account.write("O-1", _ago(2))  # seen by the look-back, listed again by the live look
    before = _look_back(account)
    assert before.seen == (("O-1", _ago(2)),)
    moment = Moment()
    moment.advance(60)
    account.write("O-2", _ago(-30))  # half a minute into the run
    looks, rates = _live(account, moment, before=before)
    rate = looks.look()
    assert account.since() == NOW - timedelta(seconds=OVERLAP_SECONDS)
    assert rate is not None and rate.count == 2
    assert rates == [rate]


def test_the_first_live_look_still_counts_what_the_look_back_saw_before_its_overlap() -> None:
    account = Account()
    account.writer("crm", [_ago(s) for s in range(1, 61)])  # 1 write/s, up to the look-back
    before = _look_back(account)
    moment = Moment()
    moment.advance(10)  # the CRM pauses; the run starts
    looks, _ = _live(account, moment, before=before)
    rate = looks.look()
    assert rate is not None and rate.count == 60  # not just the 4 inside the overlap
    assert rate.per_second == pytest.approx(60 / 70)


def test_the_live_look_makes_its_own_client_once_and_only_when_it_looks() -> None:
    account = Account()
    made: list[Any] = []

    def connect() -> Any:
        made.append(account.client())
        return made[-1]

    moment = Moment()
    looks = LiveLookBack(connect, catalog="Sandbox", window=3600.0, every=60.0,
                         turn=lambda: True, stop=threading.Event(), on_rate=lambda _: None,
                         now=moment, clock=FakeClock().now)
    assert made == []  # a short run never needs one
    for _ in range(3):
        looks.look()
        moment.advance(60)
    assert len(made) == 1 and len(account.requests) == 3


def test_a_change_listed_by_two_looks_is_counted_once() -> None:
    account = Account()
    moment = Moment()
    looks, rates = _live(account, moment)
    account.write("O-1", _ago(1))
    first = looks.look()
    assert first is not None and first.count == 1
    moment.advance(30)
    second = looks.look()
    assert account.since() == NOW - timedelta(seconds=OVERLAP_SECONDS) < _ago(1)  # O-1 again
    assert second is not None and second.count == 1
    assert [r.count for r in rates] == [1, 1]


def test_without_a_look_back_the_first_live_look_reads_the_recent_writes() -> None:
    account = Account()
    account.writer("crm", [_ago(s) for s in range(1, 61)])
    account.write("O-old", _ago(RECENT_SECONDS + 60))
    looks, _ = _live(account, Moment())
    rate = looks.look()
    assert account.since() == _ago(RECENT_SECONDS)
    assert rate is not None and rate.count == 60 and rate.per_second == pytest.approx(1.0)


def test_our_own_writes_are_not_counted_as_the_others() -> None:
    account = Account()
    moment = Moment()
    looks, _ = _live(account, moment, ours=["O-earlier-run"])
    account.write("O-earlier-run", _ago(5))  # an earlier invocation's write (the journal)
    looks.ours("O-ours")  # this run is about to write it...
    account.write("O-ours", _ago(3))  # ...and does
    account.write("O-crm", _ago(2))
    rate = looks.look()
    assert rate is not None and rate.count == 1


def test_a_writer_that_starts_during_the_run_is_measured_from_its_first_write() -> None:
    account = Account()
    moment = Moment()
    looks, rates = _live(account, moment)
    assert looks.look() == Rate(0.0, 0, RECENT_SECONDS)  # nobody yet
    account.writer("crm", [_ago(-s) for s in range(30, 60)])  # 1 write/s from 30 s on
    moment.advance(60)
    rate = looks.look()
    assert rate is not None and rate.count == 30
    assert rate.per_second == pytest.approx(1.0, rel=0.05)  # not 30 / 120
    assert [r.per_second > 0 for r in rates] == [False, True]


def test_writes_made_while_a_look_waited_for_its_answer_are_measured_to_the_answer() -> None:
    """A look waits for its read turn (and the first one for its client): the listing then
    holds writes made after the look began. Measured to the moment it began, a writer at 1/s
    looked like 1.5/s here (30 writes over 20 s); a CI run saw 14/s for a 10/s writer."""
    account = Account()
    account.writer("crm", [_ago(-s) for s in range(-20, 10)])  # 1/s, from 20 s ago to 10 s on
    moment = Moment()

    def slow_turn() -> bool:
        moment.advance(10)  # the read's turn came 10 s after the look began
        return True

    rates: list[Rate] = []
    looks = LiveLookBack(account.client, catalog="Sandbox", window=3600.0, every=60.0,
                         turn=slow_turn, stop=threading.Event(), on_rate=rates.append,
                         now=moment, clock=FakeClock().now, sleep=FakeClock().sleep)
    rate = looks.look()
    assert rate is not None and rate.count == 30
    assert rate.per_second == pytest.approx(1.0, rel=0.05)
    assert looks.facts()["measured"][-1]["at"] == iso(NOW + timedelta(seconds=10))
    # The next look lists from when this one began (less the overlap), not from its answer.
    looks.look()
    assert account.since() == NOW - timedelta(seconds=OVERLAP_SECONDS)


def test_a_look_back_that_reads_for_a_while_measures_to_its_last_page() -> None:
    account = Account()
    account.writer("crm", [_ago(-s) for s in range(-20, 10)])
    clock = iter([NOW, NOW + timedelta(seconds=10)])
    others = look_back(account.client(), catalog="Sandbox", lookback_seconds=3600.0,
                       now=lambda: next(clock), read_tps=10.0, sleep=FakeClock().sleep)
    assert others.recent is not None and others.recent.count == 30
    assert others.recent.per_second == pytest.approx(1.0, rel=0.05)


def test_when_the_others_stop_their_rate_falls_as_their_writes_age() -> None:
    account = Account()
    moment = Moment()
    looks, rates = _live(account, moment)
    account.writer("crm", [_ago(s) for s in range(1, 31)])  # 1 write/s, then stops
    for _ in range(6):
        looks.look()
        moment.advance(30)
    speeds = [r.per_second for r in rates]
    assert speeds[0] == pytest.approx(1.0)
    assert speeds[0] > speeds[1] > speeds[2] > speeds[3] > 0  # 30 writes over ever more time
    assert speeds[4:] == [0.0, 0.0]  # all older than RECENT_SECONDS


def test_a_look_that_fails_changes_nothing_and_is_counted() -> None:
    account = Account()
    moment = Moment()
    looks, rates = _live(account, moment)
    account.writer("crm", [_ago(s) for s in range(1, 31)])
    assert looks.look() is not None
    moment.advance(30)
    account.failures = [_denied()]
    assert looks.look() is None
    assert len(rates) == 1  # the share controller heard nothing
    assert looks.facts()["failed"] == 1 and looks.facts()["looks"] == 1
    assert len(looks.measured) == 1
    # The next look reads from the last good one: nothing in between is missed.
    moment.advance(30)
    assert looks.look() is not None
    assert account.since() == account.since(-2) == NOW - timedelta(seconds=OVERLAP_SECONDS)


def test_a_look_while_the_run_stops_changes_nothing() -> None:
    account = Account()
    moment = Moment()
    stop = threading.Event()
    looks, rates = _live(account, moment, stop=stop)
    account.writer("crm", [_ago(s) for s in range(1, 31)])
    stop.set()
    assert looks.look() is None
    assert rates == [] and looks.measured == [] and looks.latest() is None
    assert looks.facts()["looks"] == 0


def test_a_look_with_more_changes_than_its_pages_says_at_least() -> None:
    account = Account(page_size=1)
    account.writer("burst", [_ago(s / 10) for s in range(1, LIVE_PAGES + 5)])
    looks, _ = _live(account, Moment())
    rate = looks.look()
    assert rate is not None and rate.count == LIVE_PAGES
    assert looks.facts()["pages_read"] == LIVE_PAGES
    assert looks.facts()["measured"][-1]["complete"] is False


def test_the_facts_keep_a_few_measurements_evenly_spread_with_the_last() -> None:
    account = Account(page_size=4)
    moment = Moment()
    looks, _ = _live(account, moment)
    ats = []
    for n in range(20):
        account.writer(f"crm{n}", [_ago(s, moment.at) for s in (0.5, 1.0, 1.5)])
        ats.append(iso(moment.at))
        looks.look()
        moment.advance(6)
    facts = looks.facts()
    assert facts["looks"] == 20
    assert facts["pages_read"] == len(account.requests) > 20  # pages, not looks
    kept = [ats.index(m["at"]) for m in facts["measured"]]
    assert len(kept) == KEPT_MEASUREMENTS
    assert kept[0] == 0 and kept[-1] == 19  # the first and the last
    gaps = [b - a for a, b in itertools.pairwise(kept)]
    assert max(gaps) - min(gaps) <= 1 and min(gaps) >= 1
    assert facts["measured"][-1]["writes_per_second"] > 0


def test_the_facts_keep_every_measurement_of_a_short_run() -> None:
    account = Account()
    moment = Moment()
    looks, _ = _live(account, moment)
    for _ in range(3):
        looks.look()
        moment.advance(60)
    facts = looks.facts()
    assert [m["at"] for m in facts["measured"]] == [iso(_ago(-60 * n)) for n in range(3)]
    assert facts["looks"] == 3 and facts["failed"] == 0


# --- how often -----------------------------------------------------------------------------


def test_looks_come_once_a_minute_at_one_write_per_second_and_sooner_at_more() -> None:
    assert look_every(1.0) == LOOK_EVERY_SECONDS == 60.0
    assert look_every(10.0) == pytest.approx(6.0)
    assert look_every(1000.0) == LOOK_MIN_SECONDS
    assert look_every(0.1) == LOOK_EVERY_SECONDS


# --- the thread ----------------------------------------------------------------------------


class Heard:
    """The rates the live look handed on, for a test thread to wait on."""

    def __init__(self) -> None:
        self.rates: list[Rate] = []
        self._changed = threading.Condition()

    def __call__(self, rate: Rate) -> None:
        with self._changed:
            self.rates.append(rate)
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.rates) >= count, timeout)


class Ticks:
    """A monotonic clock the test moves (by `step` at each reading), that says when read."""

    def __init__(self, step: float = 0.0) -> None:
        self.t = 1000.0
        self.step = step
        self.readings = 0
        self._read = threading.Condition()

    def __call__(self) -> float:
        with self._read:
            self.t += self.step
            self.readings += 1
            self._read.notify_all()
            return self.t

    def wait_for(self, readings: int, timeout: float = 5.0) -> bool:
        with self._read:
            return self._read.wait_for(lambda: self.readings >= readings, timeout)


def _threaded(clock: Callable[[], float], heard: Heard, *, every: float = 60.0,
              stop: threading.Event | None = None) -> LiveLookBack:
    return LiveLookBack(Account().client, catalog="Sandbox", window=3600.0, every=every,
                        turn=lambda: True, stop=stop or threading.Event(), on_rate=heard,
                        now=Moment(), clock=clock)


def _running(looks: LiveLookBack) -> bool:
    return looks._thread is not None and looks._thread.is_alive()


def _close(looks: LiveLookBack) -> float:
    started = time.monotonic()
    looks.close()
    return time.monotonic() - started


def test_soon_brings_a_look_at_once_and_close_ends_the_thread() -> None:
    heard = Heard()
    looks = _threaded(time.monotonic, heard)  # every 60 s: only soon() brings a look
    looks.start()
    try:
        assert not heard.wait_for(1, timeout=0.05)
        looks.soon()
        assert heard.wait_for(1)
    finally:
        took = _close(looks)
    assert not _running(looks) and took < 2.0
    assert looks.facts()["looks"] == 1


def test_close_ends_an_idle_thread_at_once() -> None:
    heard = Heard()
    looks = _threaded(time.monotonic, heard)
    looks.start()
    assert _running(looks)
    took = _close(looks)
    assert not _running(looks) and took < 2.0
    assert heard.rates == []


def test_a_look_asked_for_soon_after_another_waits_for_the_minimum_gap() -> None:
    clock = Ticks()
    heard = Heard()
    looks = _threaded(clock, heard)
    looks.start()
    try:
        looks.soon()
        assert heard.wait_for(1)
        clock.t += LOOK_MIN_SECONDS  # the gap has passed: a look comes at once
        looks.soon()
        assert heard.wait_for(2)
        clock.t += 1.0  # only 1 s after the last look
        read = clock.readings
        looks.soon()
        assert clock.wait_for(read + 1)  # the thread woke and saw how long ago it looked...
        assert not heard.wait_for(3, timeout=0.2)  # ...and does not look yet
    finally:
        took = _close(looks)
    # close() ends the wait for the gap at once (LOOK_MIN_SECONDS - 1 = 4 s were left).
    assert not _running(looks) and took < (LOOK_MIN_SECONDS - 1.0) / 2
    assert len(heard.rates) == 2


def test_the_live_look_comes_again_by_itself_every_so_often() -> None:
    heard = Heard()
    looks = _threaded(Ticks(step=LOOK_EVERY_SECONDS), heard, every=0.01)
    with looks:
        assert heard.wait_for(3)
    assert not _running(looks)


def test_the_live_look_ends_when_the_run_stops() -> None:
    heard = Heard()
    stop = threading.Event()
    looks = _threaded(time.monotonic, heard, stop=stop)
    looks.start()
    stop.set()
    looks.soon()
    assert looks._thread is not None
    looks._thread.join(timeout=5.0)
    assert not _running(looks) and heard.rates == []
    looks.close()


# --- with the share controller -------------------------------------------------------------


def _controller(quota: float = 10.0, *, explicit: bool = False
                ) -> tuple[Pacer, ShareController, FakeClock]:
    clock = FakeClock()
    pacer = Pacer(max_tps=quota, read_tps=10.0, clock=clock.now, sleep=clock.sleep)
    share = ShareController(pacer, quota=quota, explicit=explicit, others_seen=False,
                            clock=clock.now)
    return pacer, share, clock


def test_others_appearing_cut_the_pace_at_once_and_their_going_lets_it_climb_back() -> None:
    pacer, share, _ = _controller(10.0)
    assert pacer.write_rate == pacer.top == 10.0 and share.alone
    share.measured(Rate(2.0, 240, 120.0))
    left = 10.0 - 2.0 - QUOTA_MARGIN * 10.0
    assert pacer.allowance == pytest.approx(left) and pacer.top == pytest.approx(left)
    assert pacer.write_rate == pytest.approx(left)  # at once, not by throttles
    assert pacer.writes.rate == pytest.approx(left)  # the bucket paces slower too
    assert not share.alone  # a throttle is no longer taken for jitter
    share.measured(Rate(0.0, 0, 120.0))  # they stopped
    assert pacer.allowance == pacer.top == 10.0 and share.alone
    assert pacer.write_rate == pytest.approx(left)  # not at once...
    pacer.succeeded()
    share.succeeded()
    assert pacer.write_rate == pytest.approx(left + STEP * 10.0)  # ...one step per success
    for _ in range(20):
        pacer.succeeded()
        share.succeeded()
    assert pacer.write_rate == 10.0


def test_a_stray_write_barely_moves_the_pace() -> None:
    pacer, share, _ = _controller(10.0)
    share.measured(recent_rate([NOW], now=NOW, window=3600.0))
    assert pacer.top >= 10.0 - 2 / MIN_SPAN_SECONDS


def test_one_console_edit_does_not_make_a_lone_run_act_as_contended() -> None:
    """One write is not a writer: the retry at once for jitter stays, and ten throttles, not
    two, hold the pace. Three writes in the span measured are one."""
    _, share, _ = _controller(1.0)
    share.measured(recent_rate([_ago(10)], now=NOW, window=3600.0))
    assert share.alone
    share.measured(recent_rate([_ago(s) for s in (5, 10, 20)], now=NOW, window=3600.0))
    assert not share.alone


def test_throttles_right_after_a_cut_do_not_hold_the_pace_but_later_ones_do() -> None:
    pacer, share, clock = _controller(10.0)
    share.measured(Rate(2.0, 240, 120.0))
    for _ in range(5):  # the others' tokens from before we made room
        clock.t += 1.0
        pacer.throttled()
        share.throttled()
    assert not share.holding
    clock.t = SETTLE_SECONDS + 1.0
    for _ in range(CONTENTION_THROTTLES - 1):
        pacer.throttled()
        share.throttled()
    assert not share.holding
    pacer.throttled()
    share.throttled()  # throttles go on once room is made: a writer the looks cannot see
    assert share.holding and not share.alone
    assert pacer.top <= CONTENDED_SHARE * 10.0 and pacer.write_rate <= CONTENDED_SHARE * 10.0


def test_an_explicit_share_ignores_what_the_looks_measure() -> None:
    pacer, share, _ = _controller(10.0, explicit=True)
    share.measured(Rate(4.0, 480, 120.0))
    assert pacer.allowance == pacer.top == pacer.write_rate == 10.0


def test_the_live_look_moves_the_pace_through_the_share_controller() -> None:
    pacer, share, _ = _controller(10.0)
    account = Account()
    moment = Moment()
    looks, _ = _live(account, moment, on_rate=share.measured)
    account.writer("crm", [_ago(s / 2) for s in range(1, 241)])  # 2 writes/s for 2 min
    looks.look()
    assert pacer.top == pytest.approx(10.0 - 2.0 - QUOTA_MARGIN * 10.0, abs=0.05)
    assert pacer.write_rate == pytest.approx(pacer.top)
    moment.advance(RECENT_SECONDS + 10)  # they stopped
    looks.look()
    assert pacer.top == 10.0 and pacer.write_rate < 10.0  # climbs back by successes


def test_while_climbing_from_a_contended_start_a_throttle_holds_even_right_after_a_cut() -> None:
    """The look-back saw others, so the run starts at half the quota and climbs: a throttle
    there is them (a burst-1 bucket), even if a live look just lowered the pace."""
    clock = FakeClock()
    pacer = Pacer(max_tps=10.0, read_tps=10.0, clock=clock.now, sleep=clock.sleep,
                  start_tps=5.0, allowance=9.0)
    share = ShareController(pacer, quota=10.0, explicit=False, others_seen=True,
                            clock=clock.now)
    share.measured(Rate(1.5, 180, 120.0))  # 10 - 1.5 - 0.3 = 8.2: a cut of more than the margin
    assert pacer.allowance == pytest.approx(8.2)
    pacer.throttled()
    share.throttled()
    assert share.holding and pacer.top <= CONTENDED_SHARE * 10.0
