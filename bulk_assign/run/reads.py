"""Paced reads for `export` and `verify`: GetOpportunity and ListOpportunities at the read pace.

Reads have their own quota (10/s and 100,000 per 24 h per partner account). One token bucket
paces both operations, attached by `client.paced` as for the run, so several threads can wait
on the network while calls still leave one interval apart. tenacity retries what may succeed
later; the guard stops everything when the credentials fail, when reads stay throttled for too
long (the daily read quota is spent), or on Ctrl-C.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Final

from bulk_assign.api.client import Turn, paced
from bulk_assign.api.retry import Kind, classify
from bulk_assign.quota.bucket import Clock, TokenBucket
from bulk_assign.quota.budget import local_time
from bulk_assign.results import CallCounts
from bulk_assign.run.guard import RunGuard, with_retries
from bulk_assign.run.outage import is_outage_failure
from bulk_assign.settings import default
from bulk_assign.stops import RunStopping

if TYPE_CHECKING:
    from mypy_boto3_partnercentral_selling import PartnerCentralSellingAPIClient

#: The documented GetOpportunity / ListOpportunities quota per partner account.
DAILY_READ_QUOTA: Final = 100_000
#: Enough threads that a call's latency never holds the pace back (10/s x ~0.5 s + margin).
DEFAULT_READ_WORKERS: Final = 8
#: Reads throttled this long without one going through: say that they wait, and until when.
HOLD_NOTICE_SECONDS: Final = 5.0
_READ_OPERATIONS: Final = ("GetOpportunity", "ListOpportunities")


class PacedReader:
    """Reads through one shared client at `read_tps`, with retries; thread-safe.

    `get` and `list_page` raise the call's final exception (not found, validation...), or
    RunStopping when the run stops before or during the call.
    """

    def __init__(self, client: PartnerCentralSellingAPIClient, guard: RunGuard, *,
                 read_tps: float = default("read_tps"),
                 max_attempts: int = default("max_attempts"),
                 quota_wait_seconds: float = 600.0, clock: Clock = time.monotonic) -> None:
        self._client = client
        self.guard = guard
        self.bucket = TokenBucket(read_tps, clock=clock, sleep=guard.sleep)
        self.calls = CallCounts()
        self._max_attempts = max_attempts
        self._quota_wait = quota_wait_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._last_success = clock()
        self._held = False  # reads are throttled: the user was told they wait
        #: Told when reads start waiting for the read quota (what, until when) and when they
        #: go through again (None): the bar or the terminal shows it.
        self.on_wait: Callable[[str | None], None] = lambda text: None

    @contextmanager
    def paced(self) -> Iterator[None]:
        """Take a read slot as each read leaves, for as long as the block runs."""
        turn = Turn(self._reserve, self._depart)
        with paced(self._client, dict.fromkeys(_READ_OPERATIONS, turn)):
            yield

    def _reserve(self) -> None:
        if not self.bucket.reserve():
            raise RunStopping  # cancels the call before anything is sent

    def _depart(self) -> None:
        if not self.bucket.depart():
            raise RunStopping
        self.calls.add(write=False)

    def get(self, *, catalog: str, identifier: str,
            max_attempts: int | None = None) -> dict[str, Any]:
        """GetOpportunity's answer (`max_attempts`: fewer than the reader's, for a probe)."""
        return self._call(lambda: dict(self._client.get_opportunity(
            Catalog=catalog, Identifier=identifier)), max_attempts=max_attempts)

    def list_page(self, params: dict[str, Any]) -> dict[str, Any]:
        """One ListOpportunities page."""
        return self._call(lambda: dict(self._client.list_opportunities(**params)))

    def _call(self, call: Callable[[], dict[str, Any]], *,
              max_attempts: int | None = None) -> dict[str, Any]:
        try:
            return with_retries(self.guard, partial(self._once, call),
                                max_attempts=max_attempts or self._max_attempts)
        except RunStopping:
            raise
        except Exception as exc:
            if is_outage_failure(exc) and self.guard.outage_holds():
                raise RunStopping from exc  # the outage's failure, not the opportunity's
            raise

    def _once(self, call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            answer = call()
        except RunStopping:
            raise
        except Exception as exc:
            self._failed(exc)
            raise
        self.guard.call_answered()
        with self._lock:
            self._last_success = self._clock()
            held, self._held = self._held, False
        if held:
            self.on_wait(None)
        return answer

    def _failed(self, exc: BaseException) -> None:
        kind = classify(exc)
        # The run's outage rule (outage.py): calls failing at the transport or with 5xx and
        # none answered for a while stop the reads, as they stop a run.
        if is_outage_failure(exc):
            self.guard.call_failed(exc)
        elif kind is not Kind.CREDENTIALS:
            self.guard.call_answered()  # an answer, even a refusal: the service is up
        if kind is Kind.CREDENTIALS:
            self.guard.credentials_rejected(exc)
            raise RunStopping from exc
        if kind is not Kind.THROTTLED:
            return
        self.calls.add(write=False, throttled=True)
        with self._lock:
            waited = self._clock() - self._last_success
            first = not self._held and waited >= min(HOLD_NOTICE_SECONDS,
                                                         self._quota_wait / 2)
            self._held = self._held or first
        if first and waited <= self._quota_wait:
            until = self.guard.now().astimezone(UTC) + timedelta(seconds=self._quota_wait - waited)
            self.on_wait(f"reads throttled: waiting for the read quota, at most until "
                         f"{local_time(until)} (--quota-wait)")
        if waited > self._quota_wait:
            self.guard.quota_spent(
                f"reads throttled for {waited / 60:.1f} min without one going through: the "
                f"account's {DAILY_READ_QUOTA:,}-reads-per-24 h quota is spent", calls="reads")


def make_guard(*, outage_seconds: float | None = None, where: str = "",
               next_step: str = "run the same command again",
               clock: Clock = time.monotonic) -> RunGuard:
    """A guard for reads: the run's outage rule (stop after `outage_seconds` without an
    answer, default the run's); access rules are the caller's, so no AccessDenied streak
    stops it. `where`: the endpoint and region, named in the outage's advice."""
    return RunGuard(quota_wait_seconds=default("quota_wait_seconds"),
                     access_denied_limit=1_000_000,
                     outage_seconds=outage_seconds or default("outage_seconds"), where=where,
                     next_step=next_step, clock=clock)


def read_seconds(reads: int, read_tps: float) -> float:
    """How long `reads` take at the pace (the bucket's small margin included)."""
    return reads * 1.01 / read_tps
