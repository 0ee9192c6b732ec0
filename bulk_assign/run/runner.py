"""The assign run: the pool of workers, each doing rows with the RowAssigner, paced.

The parts, one job each:
- `guard.RunGuard`: what stops a run and why (the only stop flag);
- `assigner.RowAssigner`: what one row does (pre-read, write, re-read after an ambiguity);
- `pool.run_pool`: workers pull rows until there are none or the guard says stop;
- `pacer.Pacer`: the write and read buckets, attached to the client by `client.paced`;
- a `RunListener` (the console's progress bar): told of every finished row and pace change.
The runner wires them together and records each outcome: journal first, then the counts.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from itertools import chain, islice
from typing import TYPE_CHECKING, Any, Protocol

from bulk_assign.api.client import Turn, paced
from bulk_assign.api.retry import error_code, http_status
from bulk_assign.quota.bucket import Departure, TokenBucket
from bulk_assign.quota.budget import WaitCause, WriteGate, make_gate
from bulk_assign.quota.flight import Outgoing
from bulk_assign.quota.lookback import LiveLookBack, OtherWriters
from bulk_assign.quota.pacer import Pacer
from bulk_assign.quota.sharing import ShareController, SharePlan
from bulk_assign.report.privacy import scrub
from bulk_assign.results import (
    SERVICE_UNAVAILABLE,
    UNREACHABLE,
    CallCounts,
    Contact,
    Job,
    RowOutcome,
    Status,
    Tally,
)
from bulk_assign.run.assigner import RowAssigner
from bulk_assign.run.guard import RunGuard
from bulk_assign.run.pool import run_pool
from bulk_assign.run.preflight import PROBE_ATTEMPTS, PROBE_ROWS, probe
from bulk_assign.settings import RunSettings
from bulk_assign.stops import RunStopping, Stop
from bulk_assign.store.journal import Journal
from bulk_assign.store.statusfile import STATUS, StatusFile
from bulk_assign.timestamps import iso, utc_now

if TYPE_CHECKING:
    from mypy_boto3_partnercentral_selling import PartnerCentralSellingAPIClient

log = logging.getLogger("bulk_assign.run")


class RunListener(Protocol):
    """Told what happens during a run (the console renders it; tests record it)."""

    def row_finished(self, outcome: RowOutcome, tally: Tally) -> None: ...
    def pace_changed(self, old: float, new: float) -> None: ...
    def waiting(self, cause: WaitCause | None, until: datetime | None) -> None: ...


class _Silent:
    def row_finished(self, outcome: RowOutcome, tally: Tally) -> None:
        return None

    def pace_changed(self, old: float, new: float) -> None:
        return None

    def waiting(self, cause: WaitCause | None, until: datetime | None) -> None:
        return None


@dataclass
class RunReport:
    outcomes: dict[int, RowOutcome]
    calls: CallCounts
    wall_seconds: float
    stop: Stop | None = None
    statuses: Counter[str] = field(default_factory=Counter)
    #: Outages seen (summary.json): when each began and ended, what failed.
    outages: list[dict[str, Any]] = field(default_factory=list)


def run_guard(settings: RunSettings, *, endpoint: str,
              clock: Callable[[], float] = time.monotonic,
              now: Callable[[], datetime] = utc_now) -> RunGuard:
    """The guard of a run with `settings`: made before the run's first file is written, so a
    signal handler can stop the run from that moment on."""
    return RunGuard(quota_wait_seconds=settings.quota_wait_seconds,
                    access_denied_limit=settings.access_denied_limit,
                    outage_seconds=settings.outage_seconds, profile=settings.profile,
                    wait_outages=settings.wait, where=f"{endpoint} (region {settings.region})",
                    clock=clock, now=now)


def pacing(settings: RunSettings, share: SharePlan, guard: RunGuard,
           connect_looks: Callable[[], PartnerCentralSellingAPIClient] | None, *,
           on_rate_change: Callable[[float, float], None], ours: Iterable[str],
           now: Callable[[], datetime], clock: Callable[[], float],
           ) -> tuple[Pacer, ShareController, LiveLookBack | None]:
    """The run's pacer, its share controller and, if the plan has one and `connect_looks` is
    given (it makes the look's own client, so that a look never waits for a connection of the
    workers' pool), its live look-back: reads from the run's read bucket, measurements to the
    share controller.
    `ours`: the opportunities earlier invocations of the run wrote (not the others')."""
    pacer = Pacer(max_tps=share.limit, read_tps=settings.read_tps, clock=clock,
                  sleep=guard.sleep, on_rate_change=on_rate_change, start_tps=share.start,
                  allowance=share.pace)
    sharing = ShareController(pacer, quota=share.quota, explicit=share.explicit,
                              others_seen=share.others.per_second > 0, clock=clock)
    if connect_looks is None or share.live_every is None:
        return pacer, sharing, None
    looks = LiveLookBack(connect_looks, catalog=settings.catalog, window=settings.lookback_seconds,
                         every=share.live_every, stop=guard.event, on_rate=sharing.measured,
                         turn=lambda: pacer.reads.acquire() is not None, before=share.others,
                         ours=ours, now=now, clock=clock)
    return pacer, sharing, looks


def _latest(looks: LiveLookBack | None) -> dict[str, Any] | None:
    """status.json's word on the others: the live look's latest measurement."""
    latest = None if looks is None else looks.latest()
    return None if latest is None else latest.to_json()


class Runner:
    """Runs jobs through the worker pool. One instance per run or resume. About 200 lines on
    purpose: the parts live in their own modules; what is left is the wiring between them."""

    def __init__(
        self,
        settings: RunSettings,
        client: PartnerCentralSellingAPIClient,
        journal: Journal,
        *,
        guard: RunGuard | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utc_now,
        sent_before: dict[int, Contact | None] | None = None,
        listener: RunListener | None = None,
        share: SharePlan | None = None,
        gate: WriteGate | None = None,
        connect_looks: Callable[[], PartnerCentralSellingAPIClient] | None = None,
        ours: Iterable[str] = (),
    ) -> None:
        """`connect_looks`, `ours`: the live look-back's (see `pacing`)."""
        self.settings = settings
        self.client = client
        self.journal = journal
        self.guard = guard or run_guard(settings, clock=clock, now=now,
                                        endpoint=str(client.meta.endpoint_url))
        self._listener: RunListener = listener or _Silent()
        #: Every count of the run, kept once: the bar, status.json and the report read it.
        self.tally = Tally(clock)
        self.share = share or SharePlan.decide(settings, OtherWriters(settings.lookback_seconds))
        self.pacer, self.sharing, self.looks = pacing(
            settings, self.share, self.guard, connect_looks, on_rate_change=self._pace_changed,
            ours=ours, now=now, clock=clock)
        self.status = StatusFile(journal.path.parent / STATUS, pace=lambda: self.pacer.write_rate,
                                 tally=self.tally, now=now, others=partial(_latest, self.looks))
        # A gate handed in (tests) comes with its own listener.
        self.gate = gate or make_gate(settings, guard=self.guard, journal_path=journal.path,
                                      now=now, listener=self)
        #: With --wait, the guard hands a spent daily quota to the gate instead of stopping.
        self._on_quota_spent = self.gate.quota_spent if settings.wait else None
        self._lock = threading.Lock()
        self.outcomes: dict[int, RowOutcome] = {}
        #: Rows whose outcome of this run is in the journal.
        self._recorded: set[int] = set()
        self._outgoing = Outgoing()
        self._assigner = RowAssigner(
            settings, client, journal, self.guard, calls=self.tally.calls,
            on_write_success=self._write_succeeded, on_write_throttled=self._write_throttled,
            now_iso=lambda: iso(now(), milliseconds=True), sent_before=sent_before or {},
            before_write=self.gate.before_write,
            outgoing=self._outgoing, on_outage_over=self._outage_over,
            on_sending=self.looks.ours if self.looks is not None else None,
        )

    def run(self, jobs: Iterable[Job]) -> RunReport:
        """Work through `jobs`; returns once every worker is done."""
        self.tally.start()
        pending = iter(jobs)
        first = list(islice(pending, PROBE_ROWS))
        turns = {"AssignOpportunity": self._turn(self.pacer.writes, write=True),
                 "GetOpportunity": self._turn(self.pacer.reads, write=False)}
        with paced(self.client, turns):
            self._probe(first)
            if self.settings.dry_run:  # the rehearsal ends here: the service can be reached
                self._record_all(chain(first, pending), lambda job: _dry_run(job.row))
                unsent: list[Job] = []
            else:
                with self.looks or nullcontext():  # the live look-back runs beside the pool
                    unsent = run_pool(chain(first, pending), self._do_row,
                                      workers=self.settings.worker_count,
                                      stopping=lambda: self.guard.stopping,
                                      failed=self._row_broke)
        self._record_all(unsent, lambda job: self._assigner.skipped(job, self.guard.reason))
        self.guard.announce()  # a stop a signal asked for is logged here at the latest
        self.status.ended("stopped" if self.guard.stop_info else "finished")
        return RunReport(outcomes=self.outcomes, calls=self.tally.calls,
                         wall_seconds=self.tally.elapsed, stop=self.guard.stop_info,
                         statuses=self.tally.statuses,
                         outages=[o.to_json() for o in self.guard.outages.past])

    def _record_all(self, jobs: Iterable[Job], outcome: Callable[[Job], RowOutcome]) -> None:
        """Rows that end without a call (never sent, or a dry run): one fsync for them all."""
        if self.guard.stopping:
            outcome = partial(self._assigner.skipped, reason=self.guard.reason)
        done = [outcome(job) for job in jobs]
        self.journal.finished_many(done)
        for each in done:
            self._count(each)

    def _probe(self, first: list[Job]) -> None:
        """Check the first rows exist at this endpoint; their pre-read is done by the way."""
        if not self.settings.pre_read:
            return  # a run that reads nothing: its first writes will tell
        read = partial(self._assigner.prefetch, max_attempts=PROBE_ATTEMPTS)
        try:
            stop = probe(read, first, endpoint=str(self.client.meta.endpoint_url),
                         catalog=self.settings.catalog, unreachable=self._unreachable)
        except RunStopping:
            return  # the guard knows why
        if stop is not None:
            self.guard.stop(stop)

    def _unreachable(self, exc: BaseException) -> Stop | None:
        """The first read failed at the transport or with 5xx, every attempt: the endpoint
        cannot be reached at all. With --wait, the rows wait for it instead."""
        if self.settings.wait:
            return None
        kind = UNREACHABLE if http_status(exc) is None else SERVICE_UNAVAILABLE
        return self.guard.outage_stop(
            kind, f"the first read failed {PROBE_ATTEMPTS} times ({error_code(exc)}) at "
                  f"{self.client.meta.endpoint_url} (region {self.settings.region})")

    def _turn(self, bucket: TokenBucket, *, write: bool) -> Turn:
        """Both steps of a call's slot: the guard's waits and the queue before signing, the
        slot itself after; counted once it leaves."""
        outgoing = self._outgoing if write else None

        def reserve() -> None:
            self.guard.before_call(self._outage_wait)
            after = None if outgoing is None else outgoing.after()
            if self.guard.stopping or bucket.reserve(after=after) is None:
                raise RunStopping

        def depart() -> None:
            # A write is journalled and counted (Outgoing) before its last short wait, which
            # the stop then no longer cuts short: what was counted is what left.
            if outgoing is None:
                departure = None if self.guard.stopping else bucket.depart()
            else:
                departure = None if self.guard.stopping else bucket.depart(
                    outgoing.leaving, after=outgoing.after())
            if departure is None:
                raise RunStopping
            if outgoing is not None:
                outgoing.departed(departure)
            self.tally.calls.add(write=write)

        return Turn(reserve, depart)

    def _write_succeeded(self) -> None:
        self.pacer.succeeded()
        self.sharing.succeeded()
        self.guard.write_succeeded()

    def _write_throttled(self, departure: Departure | None, *, attempts_left: bool) -> None:
        """A write was throttled. Its departure decides whether it goes again at once
        (bucket.Departure.retry_at_once: a row's first throttle, while nothing suggests another
        writer, is taken for arrival jitter); only when it does not is the throttle counted:
        the pace drops and the share controller looks for another writer."""
        self.guard.write_throttled(self._on_quota_spent)
        if departure is not None and departure.retry_at_once(
                alone=self.sharing.alone, attempts_left=attempts_left):
            return
        self.pacer.throttled()
        self.sharing.throttled()
        if self.looks is not None:
            self.looks.soon()  # a new writer? the next look comes early

    def _pace_changed(self, old: float, new: float) -> None:
        log.info("write pace %.3f -> %.3f calls/s", old, new)
        self._listener.pace_changed(old, new)
        self.status.pace_changed()

    def _outage_wait(self, until: datetime) -> None:
        self.waiting(WaitCause.SERVICE, until)

    def _outage_over(self) -> None:
        self.waiting(None, None)

    def waiting(self, cause: WaitCause | None, until: datetime | None) -> None:
        """Writes wait (window, budget, quota, an outage) or go on: the status file and the
        listener say so."""
        self.status.waiting(cause, until)
        self._listener.waiting(cause, until)

    def _do_row(self, job: Job) -> None:
        self._record(job, self._assigner.assign(job))

    def _row_broke(self, job: Job, exc: Exception) -> None:
        """The pool's edge: `assign` or the recording raised what nobody expected (a bug). The
        row ends FAILED with the exception's class, unless its outcome is already recorded;
        the traceback goes to run.log, scrubbed (rows by number and Identifier only)."""
        with self._lock:
            # Broken after its outcome was in the journal (e.g. the progress bar): it stands.
            recorded = job.row in self._recorded
        text = scrub("".join(traceback.format_exception(exc)), job.assignee).rstrip()
        log.error("row %d %s: unexpected %s; %s, the run goes on:\n%s", job.row, job.identifier,
                  type(exc).__name__, "its outcome stands" if recorded else "the row is FAILED",
                  text)
        if not recorded:
            self._record(job, self._assigner.broke(job, exc))

    def _record(self, job: Job, outcome: RowOutcome) -> None:
        """Journal first, then the counts and the guard's rules."""
        try:
            self.journal.finished(outcome)
        except Exception as exc:  # e.g. the disk is full: the journal cannot hold the truth
            log.exception("row %d %s: could not record the outcome", job.row, job.identifier)
            with self._lock:
                self.outcomes[outcome.row] = outcome
                self._recorded.add(job.row)
            self.guard.folder_unwritable(exc)
            return
        with self._lock:
            self._recorded.add(job.row)
        log.info(
            "row %d %s %s %s attempts=%d%s", outcome.row, job.identifier, outcome.status,
            outcome.error_class, outcome.attempts,
            f" request_id={outcome.request_id}" if outcome.request_id else "",
        )
        self._count(outcome)
        self.guard.row_finished(outcome)

    def _count(self, outcome: RowOutcome) -> None:
        with self._lock:
            self.outcomes[outcome.row] = outcome
        self.tally.row_finished(outcome.status)
        self._listener.row_finished(outcome, self.tally)
        self.status.row_finished()


def _dry_run(row: int) -> RowOutcome:
    return RowOutcome(row=row, status=Status.DRY_RUN, error_message="valid: would be sent")
