"""Sharing the account's write quota with its other writers (CRM integrations).

Two parts:
- the look-back, before the first write: the account's writes that landed before the run, seen
  as opportunities' `LastModifiedDate` through `ListOpportunities` (read quota), minus our own.
  It is the one signal our own run does not distort. The run's pace is the quota minus what
  the others used, minus a margin (`SharePlan`); when there were others, it starts at half the
  quota and climbs there, so that throttles show them before they are starved.
- the `ShareController`, during the run. On a burst-1 bucket a writer arriving at random gets
  a token only while one is waiting, about 1 - r/Q of the time when we pace at r of Q, and the
  throttles we see are the other writer's successes (one we starve is invisible). So throttles
  that are not lone jitter mean someone else writes: the pace drops to a share that leaves the
  token waiting half the time, and holds there while throttles keep showing them, instead of
  racing back to the full quota.

An explicit `--share` takes that share of the quota whatever the others do; `--max-tps` stays a
ceiling on everything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from bulk_assign.settings import DAILY_WRITE_QUOTA, RunSettings

if TYPE_CHECKING:
    from mypy_boto3_partnercentral_selling import PartnerCentralSellingAPIClient

    from bulk_assign.quota.pacer import Pacer

log = logging.getLogger("bulk_assign.run")

#: Room kept for the others beyond what they used: this share of the quota (at most their own
#: rate: a stray write costs little). The look-back's count is itself noisy (a Poisson count of
#: n writes is off by about 1/sqrt(n)), and a bigger margin only adds to what noise takes from
#: our pace: on a bucket with a burst the others spend tokens we leave anyway, and on a burst-1
#: bucket the ShareController, not the margin, keeps their writes going.
QUOTA_MARGIN: Final = 0.03
#: Never plan below this share of the quota.
MIN_SHARE: Final = 0.05
#: When throttles show another writer: the most we take, so the token waits half the time...
CONTENDED_SHARE: Final = 0.5
#: ...once this many throttles fall in the last CONTENTION_WINDOW write results (when the
#: look-back saw others; more when it saw nobody, so that jitter never halves a run that is
#: alone). A throttle whose retry at once lands is jitter and never counts (runner.py); a
#: loaded machine's jitter throttled 3-8% of the calls on a burst-1 bucket before that retry
#: existed, and 10 in 50 is four standard deviations above that...
CONTENTION_THROTTLES: Final = 2
CONTENTION_THROTTLES_ALONE: Final = 10
CONTENTION_WINDOW: Final = 50
#: ...and we keep to it this long after the last throttle.
HOLD_SECONDS: Final = 120.0
#: The look-back reads at most this many pages of 100 (more than a day's quota of writes).
LOOKBACK_PAGES: Final = 110


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

    @property
    def per_second(self) -> float:
        if not self.in_lookback or self.lookback_seconds <= 0:
            return 0.0
        return self.in_lookback / self.lookback_seconds

    def to_json(self) -> dict[str, Any]:
        return {"lookback_seconds": self.lookback_seconds, "writes_in_lookback": self.in_lookback,
                "writes_per_second": round(self.per_second, 4), "writes_last_24h":
                self.last_24h, "complete": self.complete, "pages_read": self.pages,
                "error": self.error or None}


def look_back(client: PartnerCentralSellingAPIClient, *, catalog: str, lookback_seconds: float,
              ours: Iterable[str] = (), now: Callable[[], datetime] | None = None,
              read_tps: float = 10.0, sleep: Callable[[float], Any] = time.sleep) -> OtherWriters:
    """Count opportunities changed in the last 24 h (newest first) that are not `ours`.

    Never raises: a look-back that fails (no permission, throttled, offline) says so and the
    run plans as if nobody else wrote.
    """
    moment = (now or (lambda: datetime.now(UTC)))()
    recent_since = moment - timedelta(seconds=lookback_seconds)
    mine = set(ours)
    recent = day = pages = 0
    token: str | None = None
    try:
        while pages < LOOKBACK_PAGES:
            page = _list_page(client, catalog=catalog, since=moment - timedelta(days=1),
                              token=token, sleep=sleep)
            pages += 1
            for summary in page.get("OpportunitySummaries", []):
                if summary.get("Id") in mine:
                    continue
                day += 1
                modified = summary.get("LastModifiedDate")
                if isinstance(modified, datetime) and modified >= recent_since:
                    recent += 1
            token = page.get("NextToken")
            if not token:
                break
            sleep(1.0 / read_tps)
    except Exception as exc:  # the look-back only informs the plan: never fail a run over it
        from bulk_assign.api.retry import error_code

        log.warning("look-back failed: %s", error_code(exc))
        return OtherWriters(lookback_seconds, pages=pages, error=error_code(exc))
    return OtherWriters(lookback_seconds, in_lookback=recent, last_24h=day,
                        complete=token is None, pages=pages)


def _list_page(client: PartnerCentralSellingAPIClient, *, catalog: str, since: datetime,
               token: str | None, sleep: Callable[[float], Any]) -> dict[str, Any]:
    from bulk_assign.api.retry import Kind, classify

    request: dict[str, Any] = {
        "Catalog": catalog, "MaxResults": 100,
        "LastModifiedDate": {"AfterLastModifiedDate": since},
        "Sort": {"SortBy": "LastModifiedDate", "SortOrder": "DESCENDING"},
    }
    if token:
        request["NextToken"] = token
    for attempt in range(4):
        try:
            return dict(client.list_opportunities(**request))
        except Exception as exc:
            if classify(exc) is not Kind.THROTTLED or attempt == 3:
                raise
            sleep(0.5 * 2 ** attempt)
    raise AssertionError("unreachable")  # pragma: no cover


# --- the plan -----------------------------------------------------------------------------------


def account_quota(settings: RunSettings) -> float:
    """The account's writes/s: the documented quota, or more if the analyst allowed more."""
    return max(settings.account_tps, settings.max_tps)


@dataclass(frozen=True)
class SharePlan:
    """The pace a run starts at, and why."""

    quota: float
    pace: float
    others: OtherWriters
    explicit: bool
    ceiling: float
    daily_budget: int

    @property
    def share(self) -> float:
        return self.pace / self.quota

    @property
    def start(self) -> float:
        """The first write rate. When the look-back saw others writing, the run starts at the
        contended share and climbs to `pace` one step per write that goes through: on a burst-1
        bucket a writer we starve is invisible to us, so the throttles that show it must be
        found at a pace that leaves it tokens, not after a stretch of taking them all."""
        if self.explicit or self.others.per_second <= 0:
            return self.pace
        return min(self.pace, CONTENDED_SHARE * self.quota)

    @classmethod
    def decide(cls, settings: RunSettings, others: OtherWriters) -> SharePlan:
        quota = account_quota(settings)
        if settings.share is not None:
            pace = settings.share * quota
        else:
            used = others.per_second
            margin = min(QUOTA_MARGIN * quota, used)
            pace = max(MIN_SHARE * quota, quota - used - margin)
        return cls(quota=quota, pace=min(pace, settings.max_tps), others=others,
                   explicit=settings.share is not None, ceiling=settings.max_tps,
                   daily_budget=settings.daily_budget)

    def text(self, rows: int, *, wait: bool) -> str:
        """The plan's lines about the quota: others seen, our pace and share, what is left."""
        o = self.others
        if o.error:
            seen = f"unknown (the look-back failed: {o.error}; planned as if nobody else wrote)"
        elif o.in_lookback is None:
            seen = o.not_looked
        else:
            day = f"{o.last_24h:,}" + ("" if o.complete else "+")
            seen = (f"{o.per_second:.3g} writes/s over the last {_span(o.lookback_seconds)}, "
                    f"{day} opportunities changed in the last 24 h")
        how = ("--share: taken whatever the others do" if self.explicit else
               "leaves the others what they used, plus a margin; settles lower if throttles "
               "show them")
        if self.start < self.pace:
            how += f"; starts at {self.start:.3g}/s and climbs while no throttle shows them"
        ours_day = min(rows, self.daily_budget, round(self.pace * 86400))
        lines = [
            f"  Other writers on the account: {seen}.",
            f"  Pace: {self.pace:.3g} writes/s = {self.share:.0%} of the account's "
            f"{self.quota:g}/s ({how}); left for others: {self.quota - self.pace:.3g}/s and "
            f"{max(0, DAILY_WRITE_QUOTA - ours_day):,} of {DAILY_WRITE_QUOTA:,} writes per 24 h.",
        ]
        if rows > self.daily_budget:
            days = -(-rows // self.daily_budget)
            then = (f"waits (--wait) and finishes over about {days} days" if wait else
                    "stops with BudgetSpent (exit 3); resume it a day later, or pass --wait")
            lines.append(f"  Daily budget {self.daily_budget:,} writes per 24 h: {rows:,} rows "
                         f"need more, so the run {then}.")
        return "\n".join(lines)


def _span(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds / 60:g} min"


def our_identifiers(plan: Any) -> set[str]:
    """Opportunities this run wrote before (a resume): their changes are ours, not others'."""
    rows = sorted(set(plan.sent_before) | {r for r, o in plan.earlier.items()
                                           if str(o.status) == "SUCCEEDED"})
    if not rows:
        return set()
    import pandas as pd

    return {job.identifier for job in plan.validation.jobs(pd.Index(rows))}


# --- during the run -----------------------------------------------------------------------------


class ShareController:
    """Caps the pacer at a share once throttles show another writer, and holds it."""

    def __init__(self, pacer: Pacer, *, quota: float, explicit: bool, others_seen: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._pacer = pacer
        self._others_seen = others_seen
        self._threshold = CONTENTION_THROTTLES if others_seen else CONTENTION_THROTTLES_ALONE
        #: Climbing from a start below the plan (SharePlan.start): the bucket has room to spare
        #: for everyone then, so a single throttle already shows the others.
        self._climbing = others_seen and pacer.write_rate < pacer.top
        self._cap = CONTENDED_SHARE * quota
        self._explicit = explicit
        self._clock = clock
        self._lock = threading.Lock()
        self._recent: deque[bool] = deque(maxlen=CONTENTION_WINDOW)
        self._hold_until: float | None = None
        self.contended_seconds = 0.0
        self._since: float | None = None

    @property
    def holding(self) -> bool:
        return self._hold_until is not None

    @property
    def alone(self) -> bool:
        """Nothing suggests another writer: the look-back saw none and no hold is on. Only then
        is a throttle taken for jitter and its write sent again at once (runner.py): with
        another writer there, that retry would take the token after the one it just took."""
        return not self._others_seen and self._hold_until is None

    def throttled(self) -> None:
        with self._lock:
            self._recent.append(True)
            if self._explicit:
                return
            now = self._clock()
            if self._hold_until is not None:
                self._hold_until = now + HOLD_SECONDS
                return
            if not (self._climbing or sum(self._recent) >= self._threshold):
                return
            self._hold_until = now + HOLD_SECONDS
            self._since = now
            # The ceiling changes under the lock, in the order of the decisions; the log and
            # the pacer's listener (which logs and writes files) hear of it outside.
            change = self._pacer.change_ceiling(self._cap)
        log.info("throttles show another writer: pace held at most %.3g writes/s for %.0f s",
                 self._cap, HOLD_SECONDS)
        self._pacer.rate_changed(*change)

    def succeeded(self) -> None:
        with self._lock:
            self._recent.append(False)
            self._climbing = self._climbing and self._pacer.write_rate < self._pacer.top
            if self._hold_until is None or self._clock() < self._hold_until:
                return
            self._release()
            change = self._pacer.change_ceiling(None)
        log.info("no throttle for %.0f s: the pace may climb back", HOLD_SECONDS)
        self._pacer.rate_changed(*change)

    def _release(self) -> None:
        now = self._clock()
        if self._since is not None:
            self.contended_seconds += now - self._since
        self._hold_until = self._since = None
        self._recent.clear()


def quota_facts(runner: Any, *, journal_path: Any) -> dict[str, Any]:
    """What summary.json says about the quota: pace, share, others seen, budget, peak, waits."""
    from bulk_assign.quota.budget import peak_in_a_day
    from bulk_assign.store.journal import journal_write_times

    share: SharePlan = runner.share
    return {
        "account_writes_per_second": share.quota,
        "planned_pace": round(share.pace, 4),
        "share": round(share.share, 4),
        "share_explicit": share.explicit,
        "max_tps": share.ceiling,
        "other_writers": share.others.to_json(),
        "contended_seconds": round(runner.sharing.contended_seconds, 1),
        **runner.gate.facts(),
        "peak_writes_in_24h": peak_in_a_day(journal_write_times(journal_path)),
    }
