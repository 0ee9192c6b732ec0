"""The worker pool: a row whose outcome cannot be recorded stops the run cleanly, and the
pool holds no more rows in flight than it has workers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from functional_support import applied_writes, fast, generated, resume, run, settings

from benchmarks.support import write_input
from bulk_assign.emulator import Emulator
from bulk_assign.journal import Journal
from bulk_assign.results import RowOutcome


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


def test_no_more_rows_are_in_flight_than_workers(
    emulator: Callable[..., Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu = emulator(generated(40), **fast(latency_ms=20))
    source = write_input(tmp_path / "in.csv", 40)
    in_flight = [0]
    peak = [0]
    lock = threading.Lock()
    real_sending = Journal.sending

    def sending(self: Journal, row: int, *args: object, **kwargs: object) -> None:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        real_sending(self, row, *args, **kwargs)  # type: ignore[arg-type]

    real_finished = Journal.finished

    def finished(self: Journal, outcome: RowOutcome) -> None:
        with lock:
            in_flight[0] -= 1
        real_finished(self, outcome)

    monkeypatch.setattr(Journal, "sending", sending)
    monkeypatch.setattr(Journal, "finished", finished)
    result = run(settings(source, emu.url, tmp_path / "run", workers=3))
    assert result.statuses() == {"SUCCEEDED": 40}
    assert 1 <= peak[0] <= 3
