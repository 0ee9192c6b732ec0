"""What one row does: pre-read, write, and re-read after an ambiguous failure.

1. Unless the pre-read is off, read the opportunity (read bucket); when the assignee already
   owns it the row ends UNCHANGED with no write spent; when someone other than the row's
   expected owner owns it, SKIPPED / OwnerChanged (owners.py), unless --overwrite-changed.
2. Pass the write gate (window, budget: budget.py), then call AssignOpportunity; the pacer's
   hook takes a write token just before the request leaves, and at that moment, before it
   leaves, the journal gets the `sending` line (with the owner seen before) and the budget
   counts the write (`_leaves`). A write that never left has no `sending` line and costs no
   budget. tenacity retries what may succeed later; a row's first throttle may go again at once
   instead, if its departure says so (jitter: bucket.Departure.retry_at_once).
3. After an ambiguous failure (read timeout, connection closed) the write may have landed: read
   again before sending again.

Every exception becomes a RowOutcome: a failing row never kills the pool (what slips through
anyway, a bug, is caught at the pool's edge and ends the row FAILED: runner.py). What an
outcome means for the run is the guard's business.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Protocol

from bulk_assign.api.client import request_id
from bulk_assign.api.retry import Kind, classify, error_code, error_message
from bulk_assign.check.owners import current_owner, has_changed, owned_by
from bulk_assign.check.owners import skipped as owner_changed
from bulk_assign.quota.budget import WriteClaim
from bulk_assign.quota.flight import Outgoing
from bulk_assign.report.privacy import scrub
from bulk_assign.results import CallCounts, Contact, Job, RowOutcome, Status
from bulk_assign.run.guard import RunGuard, with_retries
from bulk_assign.run.outage import is_outage_failure
from bulk_assign.settings import RunSettings
from bulk_assign.stops import RunStopping, StopReason
from bulk_assign.store.journal import Journal

if TYPE_CHECKING:
    from mypy_boto3_partnercentral_selling import PartnerCentralSellingAPIClient

    from bulk_assign.quota.bucket import Departure

log = logging.getLogger("bulk_assign.run")

_SKIPPED_MESSAGES = {
    StopReason.INTERRUPTED: "not sent: the run was interrupted; `bulk-assign resume` sends it",
    StopReason.ABORTED: "not sent: the run was aborted; fix the cause, then `bulk-assign resume`",
    StopReason.QUOTA_EXHAUSTED: "not sent: the daily write quota is spent; "
                                "`bulk-assign resume` later",
    StopReason.UNREACHABLE: "not sent: the service could not be reached; check the network, "
                            "then `bulk-assign resume`",
    StopReason.SERVICE_UNAVAILABLE: "not sent: the service kept failing (5xx); "
                                    "`bulk-assign resume` later",
    StopReason.BUDGET_SPENT: "not sent: the run's daily budget is spent; `bulk-assign resume` "
                             "after the time the run names (or run with --wait)",
}


@dataclass
class _Row:
    """What is known about one row while it is being worked on."""

    job: Job
    writes: int = 0
    ambiguous: bool = False
    previous_owner: Contact | None = None
    not_undoable_reason: str = ""
    #: A write left for this row before (an earlier run, or this one): a re-read that shows
    #: the assignee means that write landed.
    sent_before: bool = False
    #: The departure the pacer gave this row's latest write (bucket.Departure): whether a
    #: throttled write goes again at once is its decision, and it holds the grant.
    departure: Departure | None = None

    def goes_again_at_once(self) -> bool:
        """Whether the next attempt goes at once, without backoff (the retry policy asks)."""
        return self.departure is not None and self.departure.goes_again_at_once


class OnThrottled(Protocol):
    """Told of each throttled write with the departure it had (None: it was not paced) and
    whether the row has attempts left; may grant it a retry at once on that departure."""

    def __call__(self, departure: Departure | None, *, attempts_left: bool) -> None: ...


class RowAssigner:
    """Does rows, one call at a time each; shared by every worker of a run."""

    def __init__(self, settings: RunSettings, client: PartnerCentralSellingAPIClient,
                 journal: Journal, guard: RunGuard, *, calls: CallCounts,
                 on_write_success: Callable[[], None], on_write_throttled: OnThrottled,
                 now_iso: Callable[[], str], sent_before: dict[int, Contact | None],
                 before_write: Callable[[], WriteClaim] = WriteClaim,
                 outgoing: Outgoing | None = None,
                 on_outage_over: Callable[[], None] = lambda: None,
                 on_sending: Callable[[str], None] | None = None) -> None:
        self._settings = settings
        self._client = client
        self._journal = journal
        self._guard = guard
        self._calls = calls
        self._on_write_success = on_write_success
        self._on_write_throttled = on_write_throttled
        self._now_iso = now_iso
        self._sent_before = sent_before
        #: Owners read before the pool started (the preflight probe): the rows' pre-read.
        self._prefetched: dict[int, Contact | None] = {}
        #: The write gate (budget.py): may wait, or raise RunStopping.
        self._before_write = before_write
        #: What the pacing hook does the moment this thread's write leaves (quota/flight.py).
        self._outgoing = outgoing or Outgoing()
        #: An answer ended an outage the run was waiting out (the bar and status.json).
        self._on_outage_over = on_outage_over
        #: Told the Identifier of each write as it leaves (the live look-back: ours).
        self._on_sending = on_sending

    def assign(self, job: Job) -> RowOutcome:
        """Do one row and say how it ended. Never raises."""
        row = _Row(job=job, sent_before=job.row in self._sent_before,
                   previous_owner=self._sent_before.get(job.row))
        while True:
            outages_before = self._guard.outages.count
            try:
                return self._pre_read_then_write(row)
            except RunStopping:
                return self.skipped(job, self._guard.reason, attempts=row.writes)
            except Exception as exc:
                # An outage that began while the row was tried (and may be over by now) is
                # why its attempts ran out, as much as one still going on.
                during = self._guard.outages.count > outages_before
                if is_outage_failure(exc) and (during or self._guard.outage_holds()):
                    # The row's retries ran out for a reason that is not the row's: skipped
                    # when the run stops, or (--wait) its next call waits for the service.
                    if self._guard.stopping:
                        return self.skipped(job, self._guard.reason, attempts=row.writes)
                    log.info("row %d %s: waiting out the outage", job.row, job.identifier)
                    continue
                return _failed(row, exc, at=self._now_iso())

    def skipped(self, job: Job, reason: StopReason, *, attempts: int = 0) -> RowOutcome:
        return RowOutcome(row=job.row, status=Status.SKIPPED, error_class=str(reason),
                          error_message=_SKIPPED_MESSAGES[reason], attempts=attempts,
                          finished_at=self._now_iso())

    def broke(self, job: Job, exc: Exception) -> RowOutcome:
        """The row met an exception nobody expected (a bug; the runner logs its traceback)."""
        message = scrub(str(exc), job.assignee)[:300]
        return RowOutcome(
            row=job.row, status=Status.FAILED, error_class=type(exc).__name__,
            error_message=f"unexpected error{': ' + message if message else ''} (details in "
                          "run.log); if a write left for it, `bulk-assign verify` tells "
                          "whether it landed",
            finished_at=self._now_iso(),
        )

    def _pre_read_then_write(self, row: _Row) -> RowOutcome:
        job = row.job
        if self._settings.pre_read or row.sent_before:
            owner = (self._prefetched.pop(job.row) if job.row in self._prefetched
                     else self.read_owner(job))
            if owned_by(owner, job.assignee):
                return _already_owned(row, at=self._now_iso())
            if not self._settings.overwrite_changed and has_changed(owner, job):
                return owner_changed(owner, job, finished_at=self._now_iso())
            if not row.sent_before:
                row.previous_owner = owner
                if owner is None:
                    row.not_undoable_reason = "the opportunity had no owner before"
        else:
            row.not_undoable_reason = "pre-read off (--no-snapshot): previous owner unknown"
        try:
            return with_retries(self._guard, partial(self._write_once, row),
                                max_attempts=self._settings.max_attempts,
                                at_once=row.goes_again_at_once)
        except RunStopping:
            raise
        except Exception as exc:
            if is_outage_failure(exc) and self._guard.outage_holds():
                raise  # the outage's failure, not the row's: `assign` skips or waits
            if row.ambiguous and self._landed_after_all(row):
                return _already_owned(row, at=self._now_iso())
            return _failed(row, exc, at=self._now_iso())

    def _write_once(self, row: _Row) -> RowOutcome:
        job = row.job
        if row.ambiguous:
            if owned_by(self.read_owner(job), job.assignee):
                return _already_owned(row, at=self._now_iso())
            row.ambiguous = False
        claim = self._before_write()
        writes = row.writes
        try:
            with self._outgoing.on_leaving(partial(self._leaves, row, claim),
                                           after=row.departure) as flight:
                try:
                    response = self._client.assign_opportunity(
                        Catalog=job.catalog, Identifier=job.identifier,
                        Assignee=job.assignee.to_api(),  # type: ignore[arg-type]
                    )
                finally:
                    row.departure = flight.departure or row.departure
        except RunStopping:
            raise  # the slot never came: nothing was sent
        except Exception as exc:
            if row.writes == writes:
                raise  # it never left (the journal could not take its line): not the call's
            self._call_failed(exc, job, write=True)
            kind = classify(exc)
            row.ambiguous = kind is Kind.AMBIGUOUS
            if kind is Kind.THROTTLED:
                self._write_throttled(row)
            raise
        finally:
            claim.close()  # a write that did not leave gives its place in the budget back
        self._answered()
        self._on_write_success()
        return _outcome(row, Status.SUCCEEDED, at=self._now_iso(),
                        request=request_id(response))

    def _leaves(self, row: _Row, claim: WriteClaim) -> None:
        """The write is about to leave (the pacer gave it its slot; it goes out even if the run
        stops now): its `sending` line is on disk first, so a kill -9 from here on finds it
        and resume re-reads the row before writing again; then it counts in the budget."""
        self._journal.sending(row.job.row, row.previous_owner, self._now_iso())
        if self._on_sending is not None:
            self._on_sending(row.job.identifier)
        claim.left()
        row.sent_before = True
        row.writes += 1

    def _write_throttled(self, row: _Row) -> None:
        """Tell the run, with the write's departure: it may go again at once (runner.py)."""
        self._on_write_throttled(row.departure,
                                 attempts_left=row.writes < self._settings.max_attempts)

    def _answered(self) -> None:
        """The service answered (any answer but 5xx); if that ended an outage, say so."""
        if self._guard.call_answered():
            self._on_outage_over()

    def _landed_after_all(self, row: _Row) -> bool:
        """The last attempt may have landed: one more read decides."""
        try:
            return owned_by(self.read_owner(row.job), row.job.assignee)
        except Exception:
            return False

    def prefetch(self, job: Job, *, max_attempts: int | None = None) -> None:
        """Read the row's owner now (the preflight probe); its pre-read will use it."""
        self._prefetched[job.row] = self.read_owner(job, max_attempts=max_attempts)

    def read_owner(self, job: Job, *, max_attempts: int | None = None) -> Contact | None:
        return with_retries(self._guard, partial(self._read_once, job),
                            max_attempts=max_attempts or self._settings.max_attempts)

    def _read_once(self, job: Job) -> Contact | None:
        try:
            response = self._client.get_opportunity(Catalog=job.catalog, Identifier=job.identifier)
        except RunStopping:
            raise
        except Exception as exc:
            self._call_failed(exc, job, write=False)
            raise
        self._answered()
        team = response.get("OpportunityTeam") or []
        return current_owner([dict(m) for m in team])

    def _call_failed(self, exc: BaseException, job: Job, *, write: bool) -> None:
        kind = classify(exc)
        if is_outage_failure(exc):
            self._guard.call_failed(exc)
        elif kind is not Kind.CREDENTIALS:
            self._answered()  # an answer, even a refusal: the service is up
        if kind is Kind.THROTTLED:
            self._calls.add(write=write, throttled=True)
            if write:
                log.info("throttled row %d %s", job.row, job.identifier)
        elif kind is Kind.CREDENTIALS:
            self._guard.credentials_rejected(exc)
            raise RunStopping from exc
        elif kind is not Kind.ACCESS_DENIED:
            log.info("row %d %s: %s on attempt", job.row, job.identifier, error_code(exc))


# --- outcomes ---------------------------------------------------------------------------------


def _already_owned(row: _Row, *, at: str) -> RowOutcome:
    if row.sent_before:
        # An earlier write of ours landed though its answer was lost.
        return _outcome(row, Status.SUCCEEDED, at=at,
                        message="confirmed by a re-read: an earlier write had landed")
    return _outcome(row, Status.UNCHANGED, at=at,
                    message="the assignee already owns it: no write spent")


def _outcome(row: _Row, status: Status, *, at: str, message: str = "",
             request: str = "") -> RowOutcome:
    changed = status is Status.SUCCEEDED
    return RowOutcome(
        row=row.job.row, status=status, error_message=message, attempts=row.writes,
        request_id=request, finished_at=at,
        previous_owner=row.previous_owner if changed else None,
        not_undoable_reason=row.not_undoable_reason if changed else "",
    )


def _failed(row: _Row, exc: BaseException, *, at: str) -> RowOutcome:
    return RowOutcome(
        row=row.job.row, status=Status.FAILED, error_class=error_code(exc),
        error_message=scrub(error_message(exc), row.job.assignee)[:500],
        attempts=row.writes, request_id=request_id(exc), finished_at=at,
    )
