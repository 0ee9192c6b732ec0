"""The assign run: a bounded worker pool that reads, then writes, each valid row.

For every row a worker (1) pre-reads the opportunity (read bucket) unless the snapshot is off,
(2) ends the row UNCHANGED when the assignee already owns it, (3) journals `sending` and takes a
write token, (4) calls AssignOpportunity, retrying what may succeed later. After an ambiguous
failure (read timeout, connection closed) it re-reads before it re-sends. A worker turns every
exception into a RowOutcome; only the runner decides what an outcome means for the run (abort
on credentials, on repeated AccessDenied, on a spent daily quota).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from bulk_assign.client import current_owner, request_id
from bulk_assign.journal import Journal
from bulk_assign.pacer import Pacer
from bulk_assign.privacy import scrub
from bulk_assign.results import (
    ABORTED,
    INTERRUPTED,
    QUOTA_EXHAUSTED,
    Contact,
    Job,
    RowOutcome,
    Status,
)
from bulk_assign.retry import Kind, classify, error_code, error_message, is_retryable, retrying
from bulk_assign.settings import RunSettings

if TYPE_CHECKING:
    from mypy_boto3_partnercentral_selling import PartnerCentralSellingAPIClient

log = logging.getLogger("bulk_assign.run")

_SERVICE = "partnercentral-selling"


class StopReason(StrEnum):
    INTERRUPTED = INTERRUPTED
    ABORTED = ABORTED
    QUOTA_EXHAUSTED = QUOTA_EXHAUSTED


class Progress(Protocol):
    def update(self, n: int = 1) -> Any: ...
    def set_postfix_str(self, s: str = "", refresh: bool = True) -> Any: ...


class _NoProgress:
    def update(self, n: int = 1) -> None:
        return None

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        return None


class _Stopping(Exception):
    """The run is stopping: leave the row unfinished (SKIPPED)."""


@dataclass
class Calls:
    """What this run spent. Thread-safe through the runner's lock."""

    write: int = 0
    read: int = 0
    throttled_write: int = 0
    throttled_read: int = 0

    @property
    def throttled(self) -> int:
        return self.throttled_write + self.throttled_read


@dataclass
class RunReport:
    outcomes: dict[int, RowOutcome]
    calls: Calls
    wall_seconds: float
    stop: StopReason | None = None
    stop_detail: str = ""
    statuses: Counter[str] = field(default_factory=Counter)


@dataclass
class _RowState:
    job: Job
    writes: int = 0
    ambiguous: bool = False
    previous_owner: Contact | None = None
    not_undoable: str = ""
    #: We sent a write for this row before (an earlier run, or this one): a re-read that shows
    #: the assignee means that write landed.
    sent_before: bool = False


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Runner:
    """Runs jobs through the worker pool. One instance per run or resume."""

    def __init__(
        self,
        settings: RunSettings,
        client: PartnerCentralSellingAPIClient,
        journal: Journal,
        *,
        pacer: Pacer | None = None,
        clock: Callable[[], float] = time.monotonic,
        now_iso: Callable[[], str] = _now_iso,
        sent_before: dict[int, Contact | None] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.journal = journal
        self._stop_event = threading.Event()
        self.pacer = pacer or Pacer(
            max_tps=settings.max_tps,
            read_tps=settings.read_tps,
            clock=clock,
            sleep=self._stop_event.wait,
            on_rate_change=self._rate_changed,
        )
        self._clock = clock
        self._now_iso = now_iso
        self._sent_before = sent_before or {}
        self._progress: Progress = progress or _NoProgress()
        self._show_counts = progress is not None and not getattr(progress, "disable", False)
        self._lock = threading.Lock()
        self.calls = Calls()
        self.outcomes: dict[int, RowOutcome] = {}
        self._statuses: Counter[str] = Counter()
        self._denied_in_a_row = 0
        self._last_write_success = clock()
        self.stop_reason: StopReason | None = None
        self.stop_detail = ""
        self._started = clock()
        # Tokens are taken in botocore's before-sign hook, the last step before the request
        # leaves: serialization and parameter checks then happen before the wait, not between
        # the token and the wire, where their jitter would make calls arrive closer together
        # than the pace (and be throttled).
        events = client.meta.events
        events.register(f"before-sign.{_SERVICE}.AssignOpportunity", self._take_write_token)
        events.register(f"before-sign.{_SERVICE}.GetOpportunity", self._take_read_token)

    def _take_write_token(self, **_: Any) -> None:
        if self.stopping or not self.pacer.writes.acquire():
            raise _Stopping
        with self._lock:
            self.calls.write += 1

    def _take_read_token(self, **_: Any) -> None:
        if self.stopping or not self.pacer.reads.acquire():
            raise _Stopping
        with self._lock:
            self.calls.read += 1

    # --- stopping -------------------------------------------------------------------------

    @property
    def stopping(self) -> bool:
        return self._stop_event.is_set()

    def stop(self, reason: StopReason, detail: str) -> None:
        """Stop dispatching; in-flight calls finish, the rest become SKIPPED with `reason`."""
        with self._lock:
            if self.stop_reason is None:
                self.stop_reason = reason
                self.stop_detail = detail
                log.warning("stop: %s: %s", reason, detail)
        self._stop_event.set()

    # --- the pool -------------------------------------------------------------------------

    def run(self, jobs: Iterable[Job]) -> RunReport:
        """Work through `jobs` with the worker pool; returns once every worker is done.

        Workers pull the next job themselves when they are free, so nothing is queued: a
        100,000-row file holds no more rows in flight than there are workers.
        """
        iterator = iter(jobs)
        pull = threading.Lock()

        def next_job() -> Job | None:
            with pull:
                return None if self.stopping else next(iterator, None)

        def worker() -> None:
            while (job := next_job()) is not None:
                self._work(job)

        threads = [
            threading.Thread(target=worker, name=f"assign-{i}", daemon=True)
            for i in range(self.settings.worker_count)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.2)  # short waits: Ctrl-C is handled between them
        with pull:
            undispatched = list(iterator)
        if undispatched:
            reason = self.stop_reason or StopReason.INTERRUPTED
            skipped = [self._skipped(job, reason) for job in undispatched]
            self.journal.finished_many(skipped)
            for outcome in skipped:
                self._count(outcome)
        return RunReport(
            outcomes=self.outcomes,
            calls=self.calls,
            wall_seconds=self._clock() - self._started,
            stop=self.stop_reason,
            stop_detail=self.stop_detail,
            statuses=self._statuses,
        )

    def _work(self, job: Job) -> None:
        outcome = self.process(job)
        try:
            self._record(outcome, job)
        except Exception as exc:  # e.g. the disk is full: the journal cannot hold the truth
            with self._lock:
                self.outcomes[outcome.row] = outcome
            log.exception("row %d %s: could not record the outcome", job.row, job.identifier)
            self.stop(StopReason.ABORTED, f"could not write to the run folder ({exc}); free "
                      "space or fix permissions, then `bulk-assign resume RUN_DIR`")

    # --- one row --------------------------------------------------------------------------

    def process(self, job: Job) -> RowOutcome:
        """Do one row and say how it ended. Never raises."""
        state = _RowState(job=job, sent_before=job.row in self._sent_before)
        if state.sent_before:
            state.previous_owner = self._sent_before[job.row]
        try:
            return self._process(state)
        except _Stopping:
            return self._skipped(job, self.stop_reason or StopReason.INTERRUPTED,
                                 attempts=state.writes)
        except Exception as exc:
            return self._failed(state, exc)

    def _process(self, state: _RowState) -> RowOutcome:
        job = state.job
        if self.settings.snapshot or state.sent_before:
            owner = self._read_owner(job)
            if owner is not None and owner.email.casefold() == job.assignee.email:
                return self._already_owned(state)
            if not state.sent_before:
                state.previous_owner = owner
                if owner is None:
                    state.not_undoable = "the opportunity had no owner before"
        else:
            state.not_undoable = "pre-read off (--no-snapshot): previous owner unknown"
        try:
            for attempt in retrying(max_attempts=self.settings.max_attempts,
                                    sleep=self._stop_event.wait,
                                    stopping=lambda: self.stopping):
                with attempt:
                    done = self._write_once(state)
                    if done is not None:
                        return done
        except _Stopping:
            raise
        except Exception as exc:
            if self.stopping and is_retryable(exc):
                raise _Stopping from exc  # cut short by the stop, not failed for good
            if state.ambiguous:
                settled = self._settle_after_ambiguous(state)
                if settled is not None:
                    return settled
            return self._failed(state, exc)
        raise _Stopping  # the retry loop gave up because the run is stopping

    def _write_once(self, state: _RowState) -> RowOutcome | None:
        job = state.job
        if self.stopping:
            raise _Stopping
        if state.ambiguous:
            owner = self._read_owner(job)
            if owner is not None and owner.email.casefold() == job.assignee.email:
                return self._already_owned(state)
            state.ambiguous = False
        self.journal.sending(job.row, state.previous_owner, self._now_iso())
        state.sent_before = True
        try:
            state.writes += 1
            response = self.client.assign_opportunity(
                Catalog=job.catalog, Identifier=job.identifier,
                Assignee=job.assignee.to_api(),  # type: ignore[arg-type]
            )
        except _Stopping:
            state.writes -= 1  # the token never came: nothing was sent
            raise
        except Exception as exc:
            self._call_failed(exc, job, write=True)
            if classify(exc) is Kind.AMBIGUOUS:
                state.ambiguous = True
            raise
        self._write_succeeded()
        return self._outcome(state, Status.SUCCEEDED, request=request_id(dict(response)))

    def _settle_after_ambiguous(self, state: _RowState) -> RowOutcome | None:
        """The last attempt may have landed: one more read decides."""
        try:
            owner = self._read_owner(state.job)
        except Exception:
            return None
        if owner is not None and owner.email.casefold() == state.job.assignee.email:
            return self._already_owned(state)
        return None

    def _read_owner(self, job: Job) -> Contact | None:
        for attempt in retrying(max_attempts=self.settings.max_attempts,
                                sleep=self._stop_event.wait, stopping=lambda: self.stopping):
            with attempt:
                if self.stopping:
                    raise _Stopping
                try:
                    response = self.client.get_opportunity(
                        Catalog=job.catalog, Identifier=job.identifier
                    )
                except _Stopping:
                    raise
                except Exception as exc:
                    self._call_failed(exc, job, write=False)
                    raise
                team = response.get("OpportunityTeam") or []
                return current_owner([dict(m) for m in team])
        raise _Stopping

    def _already_owned(self, state: _RowState) -> RowOutcome:
        if state.sent_before:
            # An earlier write of ours landed though its answer was lost.
            return self._outcome(state, Status.SUCCEEDED,
                                 message="confirmed by a re-read: an earlier write had landed")
        return self._outcome(state, Status.UNCHANGED,
                             message="the assignee already owns it: no write spent")

    # --- what calls mean for the run ------------------------------------------------------

    def _call_failed(self, exc: BaseException, job: Job, *, write: bool) -> None:
        kind = classify(exc)
        if kind is Kind.THROTTLED:
            with self._lock:
                if write:
                    self.calls.throttled_write += 1
                else:
                    self.calls.throttled_read += 1
            if write:
                self.pacer.throttled()
                log.info("throttled row %d %s", job.row, job.identifier)
                waited = self._clock() - self._last_write_success
                if waited > self.settings.quota_wait_seconds:
                    self.stop(StopReason.QUOTA_EXHAUSTED, self._quota_advice(waited))
        elif kind is Kind.CREDENTIALS:
            self.stop(StopReason.ABORTED, self._credentials_fix(exc))
            raise _Stopping from exc
        elif kind is not Kind.ACCESS_DENIED:
            log.info("row %d %s: %s on attempt", job.row, job.identifier, error_code(exc))

    def _quota_advice(self, waited: float) -> str:
        # The quota is a rolling 24 h window shared with other writers: it frees up as the
        # writes of a day ago age out, so there is no single reset time to promise.
        later = datetime.now(UTC) + timedelta(hours=1)
        return (f"throttled for {waited / 60:.1f} min without one write going through: the "
                "account's 10,000-writes-per-24 h quota is spent (it is shared with CRM "
                "integrations). It frees up as writes of the last 24 h age out: resume after "
                f"{later:%Y-%m-%d %H:%M} UTC with `bulk-assign resume RUN_DIR`, or tomorrow "
                "at the latest")

    def _credentials_fix(self, exc: BaseException) -> str:
        profile = self.settings.profile
        login = (f"`aws sso login --profile {profile}`" if profile
                 else "`aws sso login` (or refresh your access keys)")
        return (f"the credentials were rejected ({error_code(exc)}). Log in again with "
                f"{login}, then continue with `bulk-assign resume RUN_DIR`")

    def _write_succeeded(self) -> None:
        self.pacer.succeeded()
        with self._lock:
            self._last_write_success = self._clock()

    def _rate_changed(self, old: float, new: float) -> None:
        log.info("write pace %.3f -> %.3f calls/s", old, new)

    def _record(self, outcome: RowOutcome, job: Job) -> None:
        self.journal.finished(outcome)
        abort = False
        with self._lock:
            if outcome.status is Status.FAILED and outcome.error_class in (
                "AccessDeniedException", "AccessDenied"
            ):
                self._denied_in_a_row += 1
                abort = self._denied_in_a_row >= self.settings.access_denied_limit
            elif outcome.status in (Status.SUCCEEDED, Status.UNCHANGED):
                self._denied_in_a_row = 0
        self._count(outcome)
        log.info(
            "row %d %s %s %s attempts=%d%s", outcome.row, job.identifier, outcome.status,
            outcome.error_class, outcome.attempts,
            f" request_id={outcome.request_id}" if outcome.request_id else "",
        )
        if abort:
            self.stop(StopReason.ABORTED,
                      f"AccessDenied on {self._denied_in_a_row} rows in a row: the role lacks "
                      "partnercentral:AssignOpportunity (or the catalog). Fix the IAM "
                      "permissions, then continue with `bulk-assign resume RUN_DIR`")

    def _count(self, outcome: RowOutcome) -> None:
        with self._lock:
            self.outcomes[outcome.row] = outcome
            self._statuses[str(outcome.status)] += 1
            if not self._show_counts:
                self._progress.update(1)
                return
            ok = self._statuses["SUCCEEDED"] + self._statuses["UNCHANGED"]
            failed = self._statuses["FAILED"]
            throttled = self.calls.throttled
            elapsed = max(self._clock() - self._started, 1e-9)
            rate = self.calls.write / elapsed
        self._progress.set_postfix_str(
            f"ok={ok} failed={failed} throttled={throttled} writes/s={rate:.2f}", refresh=False
        )
        self._progress.update(1)

    # --- outcomes -------------------------------------------------------------------------

    def _outcome(self, state: _RowState, status: Status, *, message: str = "",
                 request: str = "") -> RowOutcome:
        return RowOutcome(
            row=state.job.row, status=status, error_message=message, attempts=state.writes,
            request_id=request, finished_at=self._now_iso(),
            previous_owner=state.previous_owner if status is Status.SUCCEEDED else None,
            not_undoable=state.not_undoable if status is Status.SUCCEEDED else "",
        )

    def _failed(self, state: _RowState, exc: BaseException) -> RowOutcome:
        detail = error_message(exc)
        return RowOutcome(
            row=state.job.row, status=Status.FAILED, error_class=error_code(exc),
            error_message=scrub(detail, state.job.assignee)[:500], attempts=state.writes,
            request_id=_request_id_of(exc), finished_at=self._now_iso(),
        )

    def _skipped(self, job: Job, reason: StopReason, *, attempts: int = 0) -> RowOutcome:
        messages = {
            StopReason.INTERRUPTED: "not sent: the run was interrupted; `bulk-assign resume` "
                                    "sends it",
            StopReason.ABORTED: "not sent: the run was aborted; fix the cause, then "
                                "`bulk-assign resume`",
            StopReason.QUOTA_EXHAUSTED: "not sent: the daily write quota is spent; "
                                        "`bulk-assign resume` later",
        }
        return RowOutcome(
            row=job.row, status=Status.SKIPPED, error_class=str(reason),
            error_message=messages[reason], attempts=attempts, finished_at=self._now_iso(),
        )


def _request_id_of(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("ResponseMetadata", {}).get("RequestId", ""))
    return ""
