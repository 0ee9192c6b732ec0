"""Sharing the account's write quota with its other writers (CRM integrations).

Two parts:
- the plan (`SharePlan`), before the first write: the others' rate as the look-back measured
  it (lookback.py: their recent writes, seen as opportunities' `LastModifiedDate`, minus our
  own; the one signal our own run does not distort). The run's pace is the quota minus what
  they use, minus a margin; when there were others, it starts at half the quota and climbs
  there, so that throttles show them before they are starved.
- the `ShareController`, during the run. Each live look (lookback.LiveLookBack) hands it the
  others' rate, and the pace moves to the quota minus that rate minus the margin (`measured`).
  Throttles then only matter where the look-back cannot see the others: on a burst-1 bucket a
  writer arriving at random gets a token only while one is waiting, about 1 - r/Q of the time
  when we pace at r of Q, so the throttles we see are the other writer's successes, and its
  refused writes are invisible to a listing. So throttles that are not lone jitter, and that
  go on once the pace has made room for what the look-back measured, mean a writer we starve:
  the pace drops to a share that leaves the token waiting half the time, and holds there while
  throttles keep showing it, instead of racing back to the full quota.

An explicit `--share` takes that share of the quota whatever the others do; `--max-tps` stays a
ceiling on everything.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from bulk_assign.quota.lookback import OtherWriters, Rate, look_every, span
from bulk_assign.settings import DAILY_WRITE_QUOTA, RunSettings

if TYPE_CHECKING:
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
#: A live look sees another writer (no retry at once, two throttles hold) from this many of
#: its writes in the span it measures: one console edit is not a writer.
OTHERS_SEEN_WRITES: Final = 3
#: After a live look lowered the pace for the others (by more than QUOTA_MARGIN of the quota),
#: throttles count towards a hold only this much later: a bucket the others drained before we
#: made room for them refills meanwhile.
SETTLE_SECONDS: Final = 30.0


# --- the plan -----------------------------------------------------------------------------------


def account_quota(settings: RunSettings) -> float:
    """The account's writes/s: the documented quota, or more if the analyst allowed more."""
    return max(settings.account_tps, settings.max_tps)


def leaves_them(quota: float, others: float, ceiling: float) -> float:
    """The pace that leaves the others what they use (`others` writes/s), plus a margin."""
    margin = min(QUOTA_MARGIN * quota, others)
    return min(ceiling, max(MIN_SHARE * quota, quota - others - margin))


@dataclass(frozen=True)
class SharePlan:
    """The pace a run starts at, and why."""

    quota: float
    pace: float
    others: OtherWriters
    explicit: bool
    ceiling: float
    daily_budget: int
    #: Seconds between the live looks during the run (None: no live look: --share, a dry run,
    #: --lookback 0).
    live_every: float | None = None

    @property
    def share(self) -> float:
        return self.pace / self.quota

    @property
    def limit(self) -> float:
        """The most the pace may reach during the run: the plan's pace, or, while live looks
        can move it, the quota (or --max-tps)."""
        return self.pace if self.live_every is None else min(self.quota, self.ceiling)

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
        explicit = settings.share is not None
        if settings.share is not None:
            pace = min(settings.share * quota, settings.max_tps)
        else:
            pace = leaves_them(quota, others.per_second, settings.max_tps)
        live = not (explicit or settings.dry_run or settings.lookback_seconds <= 0)
        return cls(quota=quota, pace=pace, others=others, explicit=explicit,
                   ceiling=settings.max_tps, daily_budget=settings.daily_budget,
                   live_every=look_every(quota) if live else None)

    def text(self, rows: int, *, wait: bool) -> str:
        """The plan's lines about the quota: others seen, our pace and share, what is left."""
        how = ("--share: taken whatever the others do" if self.explicit else
               "leaves the others what they use, plus a margin; settles lower if throttles "
               "show them")
        if self.start < self.pace:
            how += f"; starts at {self.start:.3g}/s and climbs while no throttle shows them"
        ours_day = min(rows, self.daily_budget, round(self.pace * 86400))
        lines = [
            f"  Other writers on the account: {self._seen()}.",
            f"  Pace: {self.pace:.3g} writes/s = {self.share:.0%} of the account's "
            f"{self.quota:g}/s ({how}); left for others: {self.quota - self.pace:.3g}/s and "
            f"{max(0, DAILY_WRITE_QUOTA - ours_day):,} of {DAILY_WRITE_QUOTA:,} writes per 24 h.",
        ]
        if self.live_every is not None:
            lines.append(f"  During the run: looks at the others again about every "
                         f"{self.live_every:.0f} s (read quota) and moves the pace to leave "
                         "them what they use then.")
        if rows > self.daily_budget:
            days = -(-rows // self.daily_budget)
            then = (f"waits (--wait) and finishes over about {days} days" if wait else
                    "stops with BudgetSpent (exit 3); resume it a day later, or pass --wait")
            lines.append(f"  Daily budget {self.daily_budget:,} writes per 24 h: {rows:,} rows "
                         f"need more, so the run {then}.")
        return "\n".join(lines)

    def _seen(self) -> str:
        o = self.others
        if o.error:
            return f"unknown (the look-back failed: {o.error}; planned as if nobody else wrote)"
        if o.in_lookback is None:
            return o.not_looked
        day = (f"{o.last_24h:,}" + ("" if o.complete else "+") +
               " opportunities changed in the last 24 h")
        if o.recent is None:
            return f"{o.per_second:.3g} writes/s over the last {span(o.lookback_seconds)}, {day}"
        return (f"{o.per_second:.3g} writes/s, measured over the last {span(o.recent.seconds)} "
                f"({o.in_lookback:,} writes in the {span(o.lookback_seconds)} look-back), {day}")


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
    """Moves the pacer's allowance to what the live looks measure, and caps it at a share
    once throttles show a writer they cannot see, and holds it."""

    def __init__(self, pacer: Pacer, *, quota: float, explicit: bool, others_seen: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._pacer = pacer
        self._quota = quota
        self._others_seen = others_seen
        #: Climbing from a start below the plan (SharePlan.start): the bucket has room to spare
        #: for everyone then, so a single throttle already shows the others.
        self._climbing = others_seen and pacer.write_rate < pacer.top
        self._cap = CONTENDED_SHARE * quota
        self._explicit = explicit
        self._clock = clock
        self._lock = threading.Lock()
        self._recent: deque[bool] = deque(maxlen=CONTENTION_WINDOW)
        self._hold_until: float | None = None
        #: Throttles before this moment do not count towards a hold (SETTLE_SECONDS).
        self._settle_until = float("-inf")
        self.contended_seconds = 0.0
        self._since: float | None = None

    @property
    def _threshold(self) -> int:
        return CONTENTION_THROTTLES if self._others_seen else CONTENTION_THROTTLES_ALONE

    @property
    def holding(self) -> bool:
        return self._hold_until is not None

    @property
    def alone(self) -> bool:
        """Nothing suggests another writer: the look-backs see none and no hold is on. Only
        then is a throttle taken for jitter and its write sent again at once (runner.py): with
        another writer there, that retry would take the token after the one it just took."""
        return not self._others_seen and self._hold_until is None

    def measured(self, others: Rate) -> None:
        """A live look measured the others at `others`: the pace may reach the quota minus
        their rate, minus the margin; a lower pace is applied at once, a higher one is climbed
        to by successes (pacer.py). After a lower one, throttles count towards a hold only
        SETTLE_SECONDS later: those before are the others' tokens from before we made room."""
        if self._explicit:
            return
        allowance = leaves_them(self._quota, others.per_second, self._pacer.max_tps)
        with self._lock:
            before = self._pacer.allowance
            self._others_seen = others.count >= OTHERS_SEEN_WRITES
            if allowance < before - QUOTA_MARGIN * self._quota:  # more than the noise
                self._recent.clear()
                self._settle_until = self._clock() + SETTLE_SECONDS
            change = self._pacer.change_allowance(allowance)
        if abs(allowance - before) >= 0.01 * self._quota:
            log.info("the others write %s: the pace may reach %.3g writes/s", others.text(),
                     allowance)
        self._pacer.rate_changed(*change)

    def throttled(self) -> None:
        with self._lock:
            if self._explicit:
                return
            now = self._clock()
            if self._hold_until is not None:
                self._hold_until = now + HOLD_SECONDS
                return
            if now < self._settle_until and not self._climbing:
                return  # (climbing from a contended start, throttles are the others: hold)
            self._recent.append(True)
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
    """What summary.json says about the quota: pace, share, others seen before and during the
    run, budget, peak, waits."""
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
        "other_writers_during_run": None if runner.looks is None else runner.looks.facts(),
        "contended_seconds": round(runner.sharing.contended_seconds, 1),
        **runner.gate.facts(),
        "peak_writes_in_24h": peak_in_a_day(journal_write_times(journal_path)),
    }
