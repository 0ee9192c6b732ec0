"""What stops a run, and why: the one place that decides (s3transfer's TransferCoordinator).

Workers, the pacer, the retry policy and the signal handler all ask the guard whether the run is
stopping; nobody else keeps a stop flag. The rules that stop a run live here: rejected
credentials, AccessDenied on several rows in a row, the account's daily quota spent (throttled
without a success for too long), a run folder that cannot be written, a signal.

A stop is data (reason, what happened, what to do): the console and the summary show it with the
real run folder and the resume command.

Locks: a signal handler runs in the main thread, between any two of its bytecodes, so it may
find the main thread inside one of the guard's critical sections. Recording a stop therefore
takes no lock (`interrupted` is safe in a signal handler: an append and an event); the stop's
line in run.log is written later, outside any lock, by `announce`. Nothing here logs or calls
back while holding a lock.

Time is injected (clock, sleep, now), so waits and outages run on a fake clock in tests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from bulk_assign.api.retry import ACCESS_DENIED_CODES, error_code, is_retryable, retrying
from bulk_assign.results import (
    IN_PLACE,
    UNREACHABLE,
    RowOutcome,
    Status,
)
from bulk_assign.run.outage import Outage, OutageBreaker
from bulk_assign.stops import RunStopping, Stop, StopReason
from bulk_assign.timestamps import iso, utc_now

log = logging.getLogger("bulk_assign.run")


class RunGuard:
    """Owns the stop event, the stop and the rules that trigger one. Thread-safe.

    About 200 lines on purpose: the one stop flag and each rule that sets it, under one lock;
    the breaker (outage.py), the stop (stops.py) and the advice already stand apart.

    `clock` measures waits (monotonic seconds), `sleep` waits (up to the given seconds; True
    when woken because the run is stopping; default: the stop event's own wait), `now` says
    the wall time shown to the user."""

    def __init__(self, *, quota_wait_seconds: float, access_denied_limit: int,
                 outage_seconds: float, profile: str | None = None,
                 wait_outages: bool = False, where: str = "", next_step: str = "resume",
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], bool] | None = None,
                 now: Callable[[], datetime] = utc_now) -> None:
        self.event = threading.Event()
        #: Waits up to the given seconds; True when woken because the run is stopping.
        self._sleep = sleep or self.event.wait
        self._now = now
        #: Outages: stop the run, or (wait_outages) pause until the service is back.
        self.outages = OutageBreaker(quiet_seconds=outage_seconds, clock=clock,
                                     now_iso=lambda: iso(now(), milliseconds=True))
        self._wait_outages = wait_outages
        self._where = where  # "http://... (region us-east-1)", for the advice
        #: What the user does after a stop: "resume" for a run, "run verify again" for verify.
        self.next_step = next_step
        self._lock = threading.Lock()
        self._clock = clock
        self._quota_wait = quota_wait_seconds
        self._access_denied_limit = access_denied_limit
        self._profile = profile
        self._denied_in_a_row = 0
        self._last_write_success = clock()
        #: The stops asked for; the first one is the run's. Appended without a lock (a list's
        #: append is atomic), so that a signal handler never waits for the main thread.
        self._stops: list[Stop] = []
        self._announce_lock = threading.Lock()
        self._announced = False

    # --- asking ---------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self.event.is_set()

    def sleep(self, seconds: float) -> bool:
        """Wait up to `seconds`; True when woken because the run is stopping."""
        return self._sleep(seconds)

    def now(self) -> datetime:
        """The wall time as the run's injected clock says (for times shown to the user)."""
        return self._now()

    def check(self) -> None:
        """Raise RunStopping when the run is stopping."""
        if self.event.is_set():
            raise RunStopping

    @property
    def stop_info(self) -> Stop | None:
        """The run's stop (the first asked for), or None while it goes on."""
        return self._stops[0] if self._stops else None

    @property
    def reason(self) -> StopReason:
        """Why unsent rows are left: the stop's reason, or an interruption."""
        return self.stop_info.reason if self.stop_info else StopReason.INTERRUPTED

    # --- deciding -------------------------------------------------------------------------

    def stop(self, stop: Stop) -> None:
        """Stop dispatching; calls in flight finish, the rest become SKIPPED. First stop wins.
        Logs it: not for a signal handler (see `interrupted`)."""
        self._record(stop)
        self.announce()

    def interrupted(self, signal_name: str) -> None:
        """A signal stops the run. Safe in a signal handler: it takes no lock and never
        blocks, logs nothing, calls nothing back; `announce` logs it later."""
        self._record(Stop(StopReason.INTERRUPTED, f"interrupted by {signal_name}"))

    def _record(self, stop: Stop) -> None:
        if not self._stops:
            self._stops.append(stop)  # two at once: both appended, the first still wins
        self.event.set()

    def announce(self) -> None:
        """Write the run's stop to run.log, once. Never from a signal handler."""
        stop = self.stop_info
        if stop is None:
            return
        with self._announce_lock:
            if self._announced:
                return
            self._announced = True
        log.warning("stop: %s: %s", stop.reason, stop.sentence())

    def write_succeeded(self) -> None:
        with self._lock:
            self._last_write_success = self._clock()

    def write_throttled(self, on_quota_spent: Callable[[], None] | None = None) -> None:
        """Throttled for longer than the quota wait without one success: the day's quota is
        spent (the account's, shared with CRM integrations). `on_quota_spent` (with --wait:
        the write gate's, budget.py) is told instead of stopping."""
        with self._lock:
            waited = self._clock() - self._last_write_success
        if waited > self._quota_wait and on_quota_spent is not None:
            log.warning("throttled for %.1f min without one success: the account's daily "
                        "quota is spent; waiting (--wait)", waited / 60)
            self.write_succeeded()  # count the next quota wait from now
            on_quota_spent()
        elif waited > self._quota_wait:
            self.quota_spent(
                f"throttled for {waited / 60:.1f} min without one write going through: the "
                "account's 10,000-writes-per-24 h quota is spent (it is shared with CRM "
                "integrations)", calls="writes", tail=", or tomorrow at the latest")

    def quota_spent(self, detail: str, *, calls: str, tail: str = "") -> None:
        """Throttled too long: the account's daily quota of `calls` is spent. The one home of
        that stop, for writes (above) and reads (reads.py)."""
        self.stop(_quota_stop(detail, calls=calls, then=self.next_step, now=self.now(),
                              tail=tail))

    def credentials_rejected(self, exc: BaseException) -> None:
        login = (f"`aws sso login --profile {self._profile}`" if self._profile
                 else "`aws sso login` (or refresh your access keys)")
        self.stop(Stop(StopReason.ABORTED,
                       f"the credentials were rejected ({error_code(exc)})",
                       f"Log in again with {login}, then {self.next_step}"))

    def row_finished(self, outcome: RowOutcome) -> None:
        """AccessDenied on several rows in a row: the role lacks the permission."""
        with self._lock:
            if outcome.status is Status.FAILED and outcome.error_class in ACCESS_DENIED_CODES:
                self._denied_in_a_row += 1
            elif outcome.status in IN_PLACE:
                self._denied_in_a_row = 0
            streak = self._denied_in_a_row
        if streak >= self._access_denied_limit:
            self.stop(Stop(StopReason.ABORTED,
                           f"AccessDenied on {streak} rows in a row: the role lacks "
                           "partnercentral:AssignOpportunity (or the catalog)",
                           "Fix the IAM permissions, then resume"))

    # --- outages -------------------------------------------------------------------------

    def call_answered(self) -> bool:
        """The service answered a call (any answer but 5xx): it is up and reachable. True if
        that ended an outage (the caller tells whoever showed the wait)."""
        ended = self.outages.succeeded()
        if ended is not None:
            log.warning("outage over after %.0f s (%d failed calls): continuing",
                        ended.seconds or 0, ended.failed_calls)
        return ended is not None

    def call_failed(self, exc: BaseException) -> None:
        """A call failed at the transport or with 5xx: an outage when nothing succeeds."""
        began = self.outages.failed(exc)
        if began is not None:
            self._outage_began(began)

    def outage_holds(self) -> bool:
        """A row's attempts ran out on a transport failure or 5xx. True when that is the
        outage's doing, not the row's: one is declared, or is once the quiet is long enough
        (waited for here, at most `outage_seconds`), or the run is stopping. The row is then
        skipped, or (--wait) waits and starts again."""
        asked = self.outages.last_answer()
        give_up_at = self._clock() + self.outages.quiet_seconds_needed
        while not self.stopping and not self.in_outage:
            left = self.outages.undecided()
            if left is None:
                # Too few failed calls since the last answer to tell yet (an answer to a call
                # sent before the trouble began can land after the first failures). None: the
                # row failed before the service last answered, so the failure is its own.
                # Some: an answer from now on says the service is up; more failures and no
                # answer make the outage. Wait a while to see which.
                if (self.outages.failures_since_answer() == 0
                        or self.outages.last_answer() > asked or self._clock() >= give_up_at):
                    return False
                if self._sleep(0.2):
                    break
                continue
            if left <= 0:
                began = self.outages.overdue()
                if began is not None:
                    self._outage_began(began)
            elif self._sleep(min(left, 1.0)):
                break
        return True

    def _outage_began(self, began: Outage) -> None:
        what = (f"no call has succeeded for {self.outages.quiet_seconds():.0f} s: "
                f"{began.failed_calls} calls failed ({_listed(began.by_class)}) at {self._where}")
        if self._wait_outages:
            log.warning("outage: %s; waiting (--wait), trying again with growing pauses", what)
            return
        self.stop(self.outage_stop(began.kind, what))

    def outage_stop(self, kind: str, what: str) -> Stop:
        return Stop(StopReason(kind), f"the service is out of reach: {what}",
                    _outage_fix(kind, self.next_step))

    @property
    def in_outage(self) -> bool:
        return self.outages.ongoing is not None

    def before_call(self, on_wait: Callable[[datetime], None] | None = None) -> None:
        """During an outage (with --wait) calls wait; one tries after each growing pause.
        `on_wait` is told until when (the progress bar and status.json: runner.py)."""
        while (left := self.outages.wait_before_call()) > 0:
            if on_wait is not None:
                on_wait(self.now() + timedelta(seconds=left))
            if self._sleep(min(left, 1.0)) or self.stopping:
                raise RunStopping

    def folder_unwritable(self, exc: BaseException) -> None:
        self.stop(Stop(StopReason.ABORTED, f"could not write to the run folder ({exc})",
                       "Free space or fix permissions, then resume"))


def _quota_stop(detail: str, *, calls: str, then: str, now: datetime, tail: str) -> Stop:
    # A rolling 24 h window shared with other writers frees up as the calls of a day ago age
    # out, so there is no single reset time to promise.
    later = now.astimezone(UTC) + timedelta(hours=1)
    return Stop(StopReason.QUOTA_EXHAUSTED, detail, f"It frees up as {calls} of the last 24 h "
                f"age out: {then} after {later:%Y-%m-%d %H:%M} UTC{tail}")


def _outage_fix(kind: str, next_step: str) -> str:
    check = ("Check the network, VPN and proxy, and --endpoint-url / --region" if
             kind == UNREACHABLE else "The service answers 5xx: check the AWS Health Dashboard")
    if next_step == "resume":
        then = "; then resume" if kind == UNREACHABLE else ", then resume later"
        return f"{check}{then} (add --wait to a run to wait out an outage instead)"
    return f"{check}; then {next_step}"


def _listed(counts: Counter[str]) -> str:
    return ", ".join(f"{n} {code}" for code, n in counts.most_common(3))


T = TypeVar("T")


def with_retries(guard: RunGuard, call: Callable[[], T], *, max_attempts: int,
                 at_once: Callable[[], bool] = lambda: False) -> T:
    """`call` under the retry policy (api/retry.py), for as long as the run goes on: the one
    retry-and-stop wrapper of the row's writes, its reads and the paced reads.

    Raises RunStopping when the run stops before or between attempts, or when a retryable
    failure was cut short by the stop; otherwise the last attempt's exception (an outage's
    failure included: `guard.outage_holds` tells the caller whose it is).
    """
    try:
        for attempt in retrying(max_attempts=max_attempts, stop_event=guard.event,
                                at_once=at_once):
            with attempt:
                guard.check()
                return call()
    except RunStopping:
        raise
    except Exception as exc:
        if guard.stopping and is_retryable(exc):
            raise RunStopping from exc  # cut short by the stop, not failed for good
        raise
    raise RunStopping  # the retries ended because the run is stopping
