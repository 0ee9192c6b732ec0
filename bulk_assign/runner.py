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
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import chain, islice
from typing import TYPE_CHECKING, Protocol

from bulk_assign.assigner import RowAssigner
from bulk_assign.client import paced
from bulk_assign.guard import RunGuard, RunStopping, Stop
from bulk_assign.journal import Journal
from bulk_assign.pacer import Pacer
from bulk_assign.pool import run_pool
from bulk_assign.preflight import PROBE_ROWS, probe
from bulk_assign.results import CallCounts, Contact, Job, RowOutcome
from bulk_assign.settings import RunSettings
from bulk_assign.timestamps import now_iso

if TYPE_CHECKING:
    from mypy_boto3_partnercentral_selling import PartnerCentralSellingAPIClient

log = logging.getLogger("bulk_assign.run")


@dataclass(frozen=True)
class Tally:
    """Where the run stands, as a listener sees it after each row."""

    statuses: Counter[str]
    calls: CallCounts
    elapsed: float


class RunListener(Protocol):
    """Told what happens during a run (the console renders it; tests record it)."""

    def row_finished(self, outcome: RowOutcome, tally: Tally) -> None: ...
    def pace_changed(self, old: float, new: float) -> None: ...


class _Silent:
    def row_finished(self, outcome: RowOutcome, tally: Tally) -> None:
        return None

    def pace_changed(self, old: float, new: float) -> None:
        return None


@dataclass
class RunReport:
    outcomes: dict[int, RowOutcome]
    calls: CallCounts
    wall_seconds: float
    stop: Stop | None = None
    statuses: Counter[str] = field(default_factory=Counter)


def run_guard(settings: RunSettings, *, clock: Callable[[], float] = time.monotonic
              ) -> RunGuard:
    """The guard of a run with `settings`: made before the run's first file is written, so a
    signal handler can stop the run from that moment on."""
    return RunGuard(quota_wait_seconds=settings.quota_wait_seconds,
                    access_denied_limit=settings.access_denied_limit,
                    profile=settings.profile, clock=clock)


class Runner:
    """Runs jobs through the worker pool. One instance per run or resume."""

    def __init__(
        self,
        settings: RunSettings,
        client: PartnerCentralSellingAPIClient,
        journal: Journal,
        *,
        guard: RunGuard | None = None,
        clock: Callable[[], float] = time.monotonic,
        sent_before: dict[int, Contact | None] | None = None,
        listener: RunListener | None = None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.journal = journal
        self.guard = guard or run_guard(settings, clock=clock)
        self._listener: RunListener = listener or _Silent()
        self.pacer = Pacer(max_tps=settings.max_tps, read_tps=settings.read_tps, clock=clock,
                           sleep=self.guard.sleep, on_rate_change=self._pace_changed)
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self.calls = CallCounts()
        self.outcomes: dict[int, RowOutcome] = {}
        self._statuses: Counter[str] = Counter()
        self._assigner = RowAssigner(
            settings, client, journal, self.guard, calls=self.calls,
            on_write_success=self._write_succeeded, on_write_throttled=self._write_throttled,
            now_iso=now_iso, sent_before=sent_before or {},
        )

    def run(self, jobs: Iterable[Job]) -> RunReport:
        """Work through `jobs`; returns once every worker is done."""
        self._started = self._clock()
        pending = iter(jobs)
        first = list(islice(pending, PROBE_ROWS))
        with paced(self.client, writes=self._take_write_token, reads=self._take_read_token):
            self._probe(first)
            unsent = run_pool(chain(first, pending), self._do_row,
                              workers=self.settings.worker_count,
                              stopping=lambda: self.guard.stopping)
        if unsent:
            skipped = [self._assigner.skipped(job, self.guard.reason) for job in unsent]
            self.journal.finished_many(skipped)
            for outcome in skipped:
                self._count(outcome)
        return RunReport(outcomes=self.outcomes, calls=self.calls,
                         wall_seconds=self._clock() - self._started, stop=self.guard.stop_info,
                         statuses=self._statuses)

    def _probe(self, first: list[Job]) -> None:
        """Check the first rows exist at this endpoint; their pre-read is done by the way."""
        if not self.settings.pre_read:
            return  # a run that reads nothing: its first writes will tell

        def read(job: Job) -> None:
            self._assigner.prefetched[job.row] = self._assigner.read_owner(job)

        try:
            stop = probe(read, first,
                         endpoint=str(self.client.meta.endpoint_url),
                         catalog=self.settings.catalog)
        except RunStopping:
            return  # the guard knows why
        if stop is not None:
            self.guard.stop(stop)

    def _take_write_token(self) -> None:
        if self.guard.stopping or not self.pacer.writes.acquire():
            raise RunStopping
        self.calls.add(write=True)

    def _take_read_token(self) -> None:
        if self.guard.stopping or not self.pacer.reads.acquire():
            raise RunStopping
        self.calls.add(write=False)

    def _write_succeeded(self) -> None:
        self.pacer.succeeded()
        self.guard.write_succeeded()

    def _write_throttled(self) -> None:
        self.pacer.throttled()
        self.guard.write_throttled()

    def _pace_changed(self, old: float, new: float) -> None:
        log.info("write pace %.3f -> %.3f calls/s", old, new)
        self._listener.pace_changed(old, new)

    def _do_row(self, job: Job) -> None:
        outcome = self._assigner.assign(job)
        try:
            self.journal.finished(outcome)
        except Exception as exc:  # e.g. the disk is full: the journal cannot hold the truth
            log.exception("row %d %s: could not record the outcome", job.row, job.identifier)
            with self._lock:
                self.outcomes[outcome.row] = outcome
            self.guard.folder_unwritable(exc)
            return
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
            self._statuses[str(outcome.status)] += 1
            tally = Tally(Counter(self._statuses), self.calls, self._clock() - self._started)
        self._listener.row_finished(outcome, tally)
