"""The worker pool: a row whose outcome cannot be recorded stops the run cleanly, and the
service sees as many calls at once as the pool has workers, never more."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bulk_assign.emulator import Emulator
from bulk_assign.emulator.service import Reply, Service
from bulk_assign.results import Job, RowOutcome
from bulk_assign.run.assigner import RowAssigner
from bulk_assign.store.journal import Journal
from tests.support.calls import applied_writes
from tests.support.emulators import fast, generated
from tests.support.inputs import write_input
from tests.support.runs import resume, run, settings


def test_a_journal_that_cannot_be_written_aborts_the_run_and_loses_no_row(
    emulator: Callable[..., Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = emulator(generated(30), **fast())
    source = write_input(tmp_path / "in.csv", 30)
    real_finished = Journal.finished
    written = [0]

    def finished(self: Journal, outcome: RowOutcome) -> None:
        if written[0] >= 5:
            raise OSError(28, "No space left on device")
        written[0] += 1
        real_finished(self, outcome)

    monkeypatch.setattr(Journal, "finished", finished)
    result = run(settings(source, emu.url, tmp_path / "run", workers=2))
    assert result.code == 3  # aborted: the run folder cannot hold the truth
    assert "could not write to the run folder" in result.stdout
    assert "No space left on device" in result.stdout
    rows = result.results()
    assert len(rows) == 30  # one line per input row, none lost
    assert {r["status"] for r in rows} <= {"SUCCEEDED", "SKIPPED"}
    assert sum(r["status"] == "SUCCEEDED" for r in rows) >= 6

    monkeypatch.setattr(Journal, "finished", real_finished)
    again = resume(tmp_path / "run")
    assert again.code == 0
    assert again.statuses() == {"SUCCEEDED": 30}
    # Rows whose outcome never reached the journal were re-read, not written again.
    assert set(applied_writes(emu.state()).values()) == {1}


class InFlight:
    """Counts the API calls the emulator is answering at once: the service's own view."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0
        self._lock = threading.Lock()

    def wrap(self, call: Callable[..., Reply]) -> Callable[..., Reply]:
        def counted(*args: Any, **kwargs: Any) -> Reply:
            with self._lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            try:
                return call(*args, **kwargs)
            finally:
                with self._lock:
                    self.now -= 1

        return counted


@pytest.mark.parametrize("workers", [1, 4])
def test_the_workers_overlap_and_never_exceed_their_number(
    emulator: Callable[..., Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    workers: int,
) -> None:
    """Every call takes 80 ms and the pace allows hundreds a second, so the pool must have
    exactly `workers` calls at the service at once at some point, and never more."""
    rows = 8 * workers
    in_flight = InFlight()
    monkeypatch.setattr(Service, "call", in_flight.wrap(Service.call))
    emu = emulator(generated(rows), **fast(latency_ms=80))
    source = write_input(tmp_path / "in.csv", rows)
    result = run(settings(source, emu.url, tmp_path / "run", workers=workers, max_tps=500.0,
                          read_tps=500.0))
    assert result.statuses() == {"SUCCEEDED": rows}
    assert in_flight.now == 0
    assert in_flight.peak == workers, f"{in_flight.peak} calls at once with {workers} workers"
    # Each row took one pre-read and one write, so the count covered every call of the run
    # (besides the look-back's one ListOpportunities page before the rows).
    state = emu.state()
    assert len([c for c in state["calls"] if c["operation"] != "ListOpportunities"]) == 2 * rows
    assert set(applied_writes(state).values()) == {1}


@pytest.mark.parametrize("workers", [1, 3])
def test_a_row_that_raises_what_nobody_expected_fails_alone_and_the_others_go_on(
    emulator: Callable[..., Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    workers: int,
) -> None:
    """A bug met on one row (here `assign` raising) ends that row FAILED with the exception's
    class, its traceback in run.log without the personal data the message carried, and every
    other row is done."""
    emu = emulator(generated(12), **fast())
    source = write_input(tmp_path / "in.csv", 12)
    broken = "O1000004"  # row 6
    real_assign = RowAssigner.assign

    def assign(self: RowAssigner, job: Job) -> RowOutcome:
        if job.identifier == broken:
            raise RuntimeError(f"cannot assign to {job.assignee.email} (+1 555 010 0199)")
        return real_assign(self, job)

    monkeypatch.setattr(RowAssigner, "assign", assign)
    result = run(settings(source, emu.url, tmp_path / "run", workers=workers))
    assert result.code == 1  # a FAILED row, not an abort nor an interruption
    rows = result.by_row()
    assert len(rows) == 12
    assert (rows[6]["status"], rows[6]["error_class"]) == ("FAILED", "RuntimeError")
    assert "@" not in rows[6]["error_message"] and "run.log" in rows[6]["error_message"]
    assert {r["status"] for n, r in rows.items() if n != 6} == {"SUCCEEDED"}
    assert set(applied_writes(emu.state())) == {f"O{1000000 + i}" for i in range(12)} - {broken}
    log = (result.folder / "run.log").read_text(encoding="utf-8")
    assert f"row 6 {broken}: unexpected RuntimeError" in log
    assert "Traceback (most recent call last)" in log and "in assign" in log
    assert "@" not in log and "+1 555 010 0199" not in log
    assert "cannot assign to <email> (<phone>)" in log
