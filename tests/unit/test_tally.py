"""The run's counts are kept once (results.Tally): status.json and the progress bar read them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bulk_assign.quota.bucket import FakeClock
from bulk_assign.results import Status, Tally
from bulk_assign.store.statusfile import StatusFile


def test_the_tally_counts_rows_by_status_calls_and_time() -> None:
    clock = FakeClock(start=10.0)
    tally = Tally(clock.now)
    clock.t = 12.0
    tally.start()
    for status in (Status.SUCCEEDED, Status.UNCHANGED, Status.FAILED, Status.SUCCEEDED):
        tally.row_finished(status)
    tally.calls.add(write=True)
    tally.calls.add(write=True, throttled=True)
    clock.t = 15.5
    assert tally.statuses == {"SUCCEEDED": 2, "UNCHANGED": 1, "FAILED": 1}
    assert (tally.finished, tally.ok, tally.elapsed) == (4, 3, pytest.approx(3.5))
    assert tally.calls.as_dict()["throttled_write"] == 1
    tally.statuses["FAILED"] += 5  # a copy: the tally is not changed from outside
    assert tally.statuses["FAILED"] == 1


def test_status_json_reads_the_runs_tally(tmp_path: Path) -> None:
    tally = Tally()
    status = StatusFile(tmp_path / "status.json", pace=lambda: 0.5, tally=tally)
    tally.row_finished(Status.SUCCEEDED)
    tally.row_finished(Status.FAILED)
    status.ended("finished")
    facts = json.loads((tmp_path / "status.json").read_text("utf-8"))
    assert (facts["ok"], facts["finished"], facts["state"], facts["pace"]) == (
        1, 2, "finished", 0.5)
