"""The other writers' rate, measured: the look-back before the run and the live look during it.

`ListOpportunities` sorted by `LastModifiedDate`, newest first, lists what changed on the
account; minus our own writes (the opportunities this run sent, and those an earlier invocation
of it sent: the journal), that is the other writers' activity, at one read per page of 100,
taken from the read quota.

- Their rate is measured from their recent writes (`recent_rate`), not as the look-back's
  average: a CRM that started a minute ago at 1 write/s is 1 write/s, not 60 writes over an
  hour.
- The look-back (`look_back`) reads the last 24 h once, before the plan.
- The live look (`LiveLookBack`) reads what changed since its last look, about once a minute
  (sooner at a higher quota, so that a look is about one page, and soon after a throttle that
  the retry at once did not absorb) on its own thread, its reads paced by the run's read bucket,
  never by the write bucket: a look never delays a write. What it measures goes to the share
  controller (sharing.py), which moves the pace.

Neither ever fails a run: a look that fails says so in the log and changes nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from bulk_assign.api.retry import error_code, retrying
from bulk_assign.quota.bucket import TokenBucket
from bulk_assign.timestamps import iso, utc_now

if TYPE_CHECKING:
    from mypy_boto3_partnercentral_selling import PartnerCentralSellingAPIClient

log = logging.getLogger("bulk_assign.run")

#: The others' rate is measured over at most their writes of this long ago...
RECENT_SECONDS: Final = 120.0
#: ...from their first write inside that, if later (a writer that just started), but never
#: over less than this: one stray write is not a writer at 1 write/s.
MIN_SPAN_SECONDS: Final = 15.0
#: The look-back reads at most this many pages of 100 (more than a day's quota of writes).
LOOKBACK_PAGES: Final = 110
PAGE_SIZE: Final = 100
#: The live look: about once a minute, sooner at a quota where a minute's changes would not
#: fit one page (this many changes between two looks at the full quota)...
LOOK_EVERY_SECONDS: Final = 60.0
LOOK_CHANGES: Final = 60
#: ...but never closer than this, even after a throttle.
LOOK_MIN_SECONDS: Final = 5.0
#: Pages one live look reads at most (a look that finds more says "at least").
LIVE_PAGES: Final = 10
#: Each look reads from a little before the last one: a change the service recorded just
#: before that look but listed only after it is still counted (once: by id and time).
OVERLAP_SECONDS: Final = 5.0
#: Attempts of one page's read (throttled or 5xx: tenacity's backoff, cut short by a stop).
PAGE_ATTEMPTS: Final = 4
#: summary.json keeps at most this many of the run's measurements, evenly spread.
KEPT_MEASUREMENTS: Final = 8


@dataclass(frozen=True)
class Rate:
    """The others' current rate: `count` writes over the last `seconds`."""

    per_second: float = 0.0
    count: int = 0
    seconds: float = 0.0

    def text(self) -> str:
        return f"{self.per_second:.3g} writes/s ({self.count:,} over the last {span(self.seconds)})"


def recent_rate(times: Iterable[datetime], *, now: datetime, window: float) -> Rate:
    """The others' rate from the times of their writes: those of the last `window` seconds (at
    most RECENT_SECONDS), counted from the first of them when that came later (a writer that
    started a minute ago is measured over that minute), never over less than MIN_SPAN_SECONDS.

    >>> from datetime import UTC
    >>> now = datetime(2026, 1, 1, tzinfo=UTC)
    >>> recent_rate([now - timedelta(seconds=s) for s in range(60)], now=now, window=3600)
    Rate(per_second=1.0169491525423728, count=60, seconds=59.0)
    """
    horizon = min(window, RECENT_SECONDS)
    start = now - timedelta(seconds=horizon)
    inside = [t for t in times if t >= start]
    if not inside or horizon <= 0:
        return Rate(seconds=max(horizon, 0.0))
    since_first = (now - min(inside)).total_seconds()
    seconds = min(horizon, max(MIN_SPAN_SECONDS, since_first))
    return Rate(len(inside) / seconds, len(inside), seconds)


def span(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:.0f} s"


@dataclass(frozen=True)
class OtherWriters:
    """What the look-back saw: the account's writes not ours, before the run."""

    lookback_seconds: float
    #: Opportunities others changed in the look-back, and in the last 24 h (None: unknown).
    in_lookback: int | None = None
    last_24h: int | None = None
    #: False when the 24 h count stopped at LOOKBACK_PAGES (it is then "at least").
    complete: bool = True
    pages: int = 0
    error: str = ""
    #: Why there was no look-back (shown in the plan when `in_lookback` is None).
    not_looked: str = "not looked up"
    #: Their current rate (`recent_rate`); None: the look-back's average.
    recent: Rate | None = None
    #: What they changed in the look-back (Identifier, LastModifiedDate), and when it looked:
    #: the live look goes on from there.
    seen: tuple[tuple[str, datetime], ...] = field(default=(), repr=False, compare=False)
    at: datetime | None = None

    @property
    def per_second(self) -> float:
        if self.recent is not None:
            return self.recent.per_second
        if not self.in_lookback or self.lookback_seconds <= 0:
            return 0.0
        return self.in_lookback / self.lookback_seconds

    def to_json(self) -> dict[str, Any]:
        recent = self.recent or Rate()
        return {"lookback_seconds": self.lookback_seconds, "writes_in_lookback": self.in_lookback,
                "writes_per_second": round(self.per_second, 4),
                "measured_over_seconds": round(recent.seconds, 1),
                "writes_last_24h": self.last_24h, "complete": self.complete,
                "pages_read": self.pages, "error": self.error or None}


@dataclass(frozen=True)
class Changes:
    """One listing of what changed since a moment: (Identifier, LastModifiedDate), newest
    first; `complete` False when it stopped at its page limit."""

    entries: list[tuple[str, datetime]]
    pages: int
    complete: bool


def list_changes(client: PartnerCentralSellingAPIClient, *, catalog: str, since: datetime,
                 max_pages: int, turn: Callable[[], bool], stop: threading.Event,
                 sleep: Callable[[float], object] | None = None) -> Changes:
    """Opportunities changed after `since`, newest first, at most `max_pages` pages; each page
    waits for `turn()` (a read token; False: the run is stopping, the listing ends there) and
    is retried under the retry policy (api/retry.py), which a set `stop` cuts short, each
    attempt after its own `turn()`. Raises the last attempt's exception."""
    request: dict[str, Any] = {
        "Catalog": catalog, "MaxResults": PAGE_SIZE,
        "LastModifiedDate": {"AfterLastModifiedDate": since},
        "Sort": {"SortBy": "LastModifiedDate", "SortOrder": "DESCENDING"},
    }
    entries: list[tuple[str, datetime]] = []
    pages = 0
    token: str | None = None
    while pages < max_pages:
        if token:
            request["NextToken"] = token
        page: dict[str, Any] | None = None
        for attempt in retrying(max_attempts=PAGE_ATTEMPTS, stop_event=stop, sleep=sleep):
            with attempt:
                if not turn():  # every attempt waits for its read token
                    break
                page = dict(client.list_opportunities(**request))
        if page is None:
            return Changes(entries, pages, complete=False)
        pages += 1
        for summary in page.get("OpportunitySummaries", []):
            modified = summary.get("LastModifiedDate")
            if isinstance(modified, datetime) and summary.get("Id"):
                entries.append((str(summary["Id"]), modified))
        token = page.get("NextToken")
        if not token:
            return Changes(entries, pages, complete=True)
    return Changes(entries, pages, complete=False)


def look_back(client: PartnerCentralSellingAPIClient, *, catalog: str, lookback_seconds: float,
              ours: Iterable[str] = (), now: Callable[[], datetime] = utc_now,
              read_tps: float = 10.0, sleep: Callable[[float], object] | None = None,
              clock: Callable[[], float] = time.monotonic) -> OtherWriters:
    """Count opportunities changed in the last 24 h that are not `ours`, and the rate of the
    others' recent writes among them.

    Never raises: a look-back that fails (no permission, throttled, offline) says so and the
    run plans as if nobody else wrote.
    """
    moment = now()
    recent_since = moment - timedelta(seconds=lookback_seconds)
    mine = set(ours)
    bucket = TokenBucket(read_tps, clock=clock, sleep=_never_cut_short(sleep))
    try:
        changes = list_changes(client, catalog=catalog, since=moment - timedelta(days=1),
                               max_pages=LOOKBACK_PAGES, turn=lambda: bucket.acquire() is not None,
                               stop=threading.Event(), sleep=sleep)
    except Exception as exc:  # the look-back only informs the plan: never fail a run over it
        log.warning("look-back failed: %s", error_code(exc))
        return OtherWriters(lookback_seconds, error=error_code(exc))
    theirs = [entry for entry in changes.entries if entry[0] not in mine]
    recent = tuple(entry for entry in theirs if entry[1] >= recent_since)
    # The pages hold the writes made until the last one answered: the rate runs to then.
    return OtherWriters(lookback_seconds, in_lookback=len(recent), last_24h=len(theirs),
                        complete=changes.complete, pages=changes.pages,
                        recent=recent_rate((t for _, t in recent), now=max(moment, now()),
                                           window=lookback_seconds),
                        seen=recent, at=moment)


def _never_cut_short(sleep: Callable[[float], object] | None) -> Callable[[float], bool]:
    """A bucket's sleep that no stop cuts short (the look-back runs before the run)."""
    wait = sleep or time.sleep

    def nap(seconds: float) -> bool:
        wait(seconds)
        return False

    return nap


def look_every(quota: float) -> float:
    """Seconds between two live looks at this quota: about a page of changes, at most a
    minute, at least LOOK_MIN_SECONDS."""
    return max(LOOK_MIN_SECONDS, min(LOOK_EVERY_SECONDS, LOOK_CHANGES / max(quota, 1e-9)))


@dataclass(frozen=True)
class Measurement:
    at: datetime
    rate: Rate
    #: The look listed every change since the last one (False: at least `rate`).
    complete: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"at": iso(self.at), "writes_per_second": round(self.rate.per_second, 4),
                "over_seconds": round(self.rate.seconds, 1), "complete": self.complete}


class LiveLookBack:
    """During the run, the others' rate, looked at again and again (see the module's text).

    `look()` does one look (tests call it); `start()` runs looks on a daemon thread every
    `every` seconds, and `soon()` asks for one early (a throttle the retry at once did not
    absorb); `close()` ends the thread. Each look hands the others' rate to `on_rate` (the
    share controller), outside any lock of this object.
    """

    def __init__(self, connect: Callable[[], PartnerCentralSellingAPIClient], *, catalog: str,
                 window: float, every: float, turn: Callable[[], bool], stop: threading.Event,
                 on_rate: Callable[[Rate], None], before: OtherWriters | None = None,
                 ours: Iterable[str] = (), now: Callable[[], datetime] = utc_now,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] | None = None) -> None:
        #: Makes the look's own client, at the first look (a short run never needs one).
        self._connect = connect
        self._client: PartnerCentralSellingAPIClient | None = None
        self._catalog = catalog
        self._window = window
        self.every = every
        self._turn = turn
        self._stop = stop
        self._on_rate = on_rate
        self._now = now
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._ours: set[str] = set(ours)
        #: What the others changed (Identifier, LastModifiedDate) still inside the window,
        #: each counted once; the look-back's are the first.
        self._counted: set[tuple[str, datetime]] = set(before.seen if before else ())
        self._last_look: datetime | None = before.at if before else None
        self._last_clock = float("-inf")
        self.looks = self.pages = self.failed = 0
        self.measured: list[Measurement] = []
        self._wake = threading.Event()
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def ours(self, identifier: str) -> None:
        """This run is about to write `identifier`: its change is ours, not the others'. By
        identifier, not by time (our clock and the service's may differ by seconds): another
        writer's change to an opportunity this run wrote is taken for ours too."""
        with self._lock:
            self._ours.add(identifier)

    def look(self) -> Rate | None:
        """One look: what changed since the last one, minus ours; the others' rate, handed to
        `on_rate`. None (nothing changes) when the listing failed or the run is stopping."""
        asked = self._now()
        self._last_clock = self._clock()
        since = (asked - timedelta(seconds=min(self._window, RECENT_SECONDS))
                 if self._last_look is None else
                 self._last_look - timedelta(seconds=OVERLAP_SECONDS))
        try:
            self._client = self._client or self._connect()
            changes = list_changes(self._client, catalog=self._catalog, since=since,
                                   max_pages=LIVE_PAGES, turn=self._turn, stop=self._stop,
                                   sleep=self._sleep)
        except Exception as exc:  # the look only informs the pace: never fail a run over it
            with self._lock:
                self.failed += 1
            log.warning("live look-back failed: %s; the pace stays as it is", error_code(exc))
            return None
        if self._stop.is_set():
            return None
        # The listing holds the writes made until it answered (its read may have waited for
        # its turn, the first look for its client): the rate runs to that moment.
        moment = self._now()
        with self._lock:
            self._last_look = asked
            self.looks += 1
            self.pages += changes.pages
            self._counted.update(key for key in changes.entries if key[0] not in self._ours)
            horizon = moment - timedelta(seconds=RECENT_SECONDS + OVERLAP_SECONDS)
            self._counted = {key for key in self._counted if key[1] >= horizon}
            rate = recent_rate((t for _, t in self._counted), now=moment, window=self._window)
            self.measured.append(Measurement(moment, rate, changes.complete))
        self._on_rate(rate)
        return rate

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="live-look-back", daemon=True)
        self._thread.start()

    def __enter__(self) -> LiveLookBack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def soon(self) -> None:
        """Look early (at most every LOOK_MIN_SECONDS): a throttle may show a new writer."""
        self._wake.set()

    def close(self) -> None:
        self._done.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.every)
            self._wake.clear()
            early = LOOK_MIN_SECONDS - (self._clock() - self._last_clock)
            if early > 0 and self._done.wait(early):
                return
            if self._done.is_set() or self._stop.is_set():
                return
            self.look()

    def facts(self) -> dict[str, Any]:
        """What summary.json and status.json say: a few of the run's measurements, evenly
        spread, the last one included, and how many looks and pages it took."""
        with self._lock:
            kept = _spread(self.measured, KEPT_MEASUREMENTS)
            return {"looks": self.looks, "pages_read": self.pages, "failed": self.failed,
                    "every_seconds": round(self.every, 1),
                    "measured": [m.to_json() for m in kept]}

    def latest(self) -> Measurement | None:
        with self._lock:
            return self.measured[-1] if self.measured else None


def _spread(items: list[Measurement], count: int) -> list[Measurement]:
    if len(items) <= count:
        return list(items)
    step = (len(items) - 1) / (count - 1)
    return [items[round(i * step)] for i in range(count)]


def timeline(measured: Iterable[dict[str, Any]]) -> str:
    """The summary's line: the others' rate at each kept measurement."""
    return " -> ".join(f"{m['writes_per_second']:.3g}" for m in measured)
