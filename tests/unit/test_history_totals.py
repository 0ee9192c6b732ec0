"""summary.json's calls over a run's invocations: a resume killed with kill -9 never recorded
its calls, but its writes are in the journal and count (issue 24), so writes per changed
opportunity matches what the service saw."""

from __future__ import annotations

from datetime import UTC, datetime

from bulk_assign.store import history


def _at(minute: int, second: int = 0) -> float:
    return datetime(2026, 3, 2, 10, minute, second, tzinfo=UTC).timestamp()


def test_a_killed_invocations_writes_are_counted_from_the_journal() -> None:
    record: dict = {}
    first = history.started(record, command="run", at="2026-03-02T10:00:00Z")
    history.finished(record, first, at="2026-03-02T10:01:00Z", exit_code=130,
                     running_seconds=60, calls={"write": 3, "read": 3, "throttled_write": 0,
                                                "throttled_read": 0})
    history.started(record, command="resume", at="2026-03-02T10:05:00Z")  # kill -9
    last = history.started(record, command="resume", at="2026-03-02T10:10:00Z")
    history.finished(record, last, at="2026-03-02T10:11:00Z", exit_code=0,
                     running_seconds=60, calls={"write": 2, "read": 2, "throttled_write": 0,
                                                "throttled_read": 0})
    journal = [_at(0, 10), _at(0, 20), _at(0, 30),  # the run's 3
               _at(5, 1), _at(5, 2), _at(5, 3), _at(5, 4),  # the killed resume's 4
               _at(10, 5), _at(10, 6)]  # the last resume's 2
    totals = history.totals(record, changed=9, unchanged=0, write_times=journal)
    assert totals["calls"]["write"] == 9
    assert totals["calls"]["writes_per_changed"] == 1.0
    assert totals["invocations"][1]["calls"] == {"write": 4}
    assert record["invocations"][1]["calls"] is None  # run.json keeps what it knew


def test_without_a_journal_the_recorded_calls_stand() -> None:
    record: dict = {}
    index = history.started(record, command="run", at="2026-03-02T10:00:00Z")
    history.finished(record, index, at="2026-03-02T10:01:00Z", exit_code=0,
                     running_seconds=60, calls={"write": 3, "read": 3, "throttled_write": 1,
                                                "throttled_read": 0})
    assert history.totals(record, changed=3, unchanged=0)["calls"]["write"] == 3
