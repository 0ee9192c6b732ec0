"""summary.json's `waited_seconds` is the time the run waited, not the sum of its workers'
waits (issue 24: 144 s reported on a 28 s run). Fake wall clock, real threads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bulk_assign.quota.budget import Window, WriteBudget, WriteGate
from bulk_assign.run.guard import RunGuard

START = datetime(2026, 3, 2, 21, 59, 50, tzinfo=UTC)  # the window opens in 10 s
WORKERS = 4


def test_workers_waiting_together_count_the_wait_once() -> None:
    clock = {"t": START}
    together = threading.Barrier(WORKERS)

    def sleep(seconds: float) -> bool:
        # Every worker sleeps at the same time; one moves the clock on, once.
        if together.wait() == 0:
            clock["t"] += timedelta(seconds=seconds)
        together.wait()
        return False

    gate = WriteGate(guard=RunGuard(quota_wait_seconds=600, access_denied_limit=3,
                                    outage_seconds=15),
                     budget=WriteBudget(100), window=Window.parse("22:00-06:00"), wait=False,
                     now=lambda: clock["t"], sleep=sleep, local_tz=UTC)
    workers = [threading.Thread(target=gate.before_write) for _ in range(WORKERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)
    assert clock["t"] == START + timedelta(seconds=10)
    assert gate.waited["window"] == pytest.approx(10.0)  # not 4 x 10
    assert gate.facts()["waited_seconds"]["window"] == pytest.approx(10.0)
