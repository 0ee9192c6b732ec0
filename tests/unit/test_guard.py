"""The run guard: a signal stops the run without waiting for any lock the main thread may hold,
and the guard's waits and times come from what is injected (a fake clock), never the real ones."""

from __future__ import annotations

import io
import logging
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import botocore.exceptions as bce
import pytest

from bulk_assign.console import stop_on_signals
from bulk_assign.quota.bucket import FakeClock
from bulk_assign.run.guard import RunGuard
from bulk_assign.run.reads import PacedReader
from bulk_assign.stops import RunStopping, Stop, StopReason

URL = "http://127.0.0.1:1"
WALL = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


class FakeTime(FakeClock):
    """Monotonic seconds and the wall time, both moved by the injected sleep only."""

    def wall(self) -> datetime:
        return WALL + timedelta(seconds=self.t)


def _plain() -> RunGuard:
    return RunGuard(quota_wait_seconds=600, access_denied_limit=3, outage_seconds=15)


def _guard(clock: FakeTime, **options: object) -> RunGuard:
    return RunGuard(quota_wait_seconds=600, access_denied_limit=3, outage_seconds=15,
                    where=f"{URL} (region us-east-1)", clock=clock.now, sleep=clock.sleep,
                    now=clock.wall, **options)  # type: ignore[arg-type]


@contextmanager
def _held(lock: threading.Lock, seconds: float) -> Iterator[None]:
    """Another thread holds `lock` for `seconds` (or until the block ends), as the main
    thread's own work might when a signal comes."""
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            taken.set()
            done.wait(seconds)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    assert taken.wait(5)
    try:
        yield
    finally:
        done.set()
        holder.join(5)


# --- a signal while a lock is held ------------------------------------------------------------


def test_a_signal_while_the_guards_lock_is_held_stops_the_run_at_once() -> None:
    """The handler runs in the main thread, which may be inside the guard's lock (for instance
    logging a stop the probe declared): it must record the stop without that lock."""
    guard = _plain()
    out = io.StringIO()
    with stop_on_signals(guard, stdout=out), _held(guard._lock, seconds=3.0):
        began = time.monotonic()
        signal.raise_signal(signal.SIGINT)  # the handler runs before this returns
        took = time.monotonic() - began
        assert guard.stopping, "the stop is recorded while the lock is still held"
    assert took < 0.5, f"the handler waited {took:.2f} s for the lock"
    assert guard.stop_info is not None and guard.reason is StopReason.INTERRUPTED
    assert "SIGINT: stopping after the calls in flight" in out.getvalue()


def test_interrupted_takes_no_lock_and_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    guard = _plain()
    caplog.set_level(logging.INFO, logger="bulk_assign.run")
    with _held(guard._lock, seconds=3.0):
        caller = threading.Thread(target=guard.interrupted, args=("SIGTERM",), daemon=True)
        caller.start()
        caller.join(0.5)
        assert not caller.is_alive(), "interrupted() waited for the guard's lock"
    assert guard.stopping and guard.reason is StopReason.INTERRUPTED
    assert caplog.records == []  # logged later, outside the handler
    guard.announce()
    guard.announce()
    assert [r.getMessage() for r in caplog.records] == [
        "stop: Interrupted: interrupted by SIGTERM."]


def test_the_first_stop_wins_and_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    guard = _guard(FakeTime())
    caplog.set_level(logging.INFO, logger="bulk_assign.run")
    guard.stop(Stop(StopReason.ABORTED, "first"))
    guard.interrupted("SIGINT")
    guard.stop(Stop(StopReason.BUDGET_SPENT, "second"))
    guard.announce()
    assert guard.reason is StopReason.ABORTED
    assert [r.getMessage() for r in caplog.records] == ["stop: Aborted: first."]


# --- time is injected -------------------------------------------------------------------------


def test_sleep_uses_the_injected_sleep() -> None:
    clock = FakeTime()
    guard = _guard(clock)
    began = time.monotonic()
    assert guard.sleep(3600.0) is False
    assert clock.sleeps == [3600.0] and clock.t == 3600.0
    assert time.monotonic() - began < 1.0  # no real hour went by


def test_an_outage_wait_runs_on_the_injected_clock_and_says_until_when() -> None:
    clock = FakeTime()
    guard = _guard(clock, wait_outages=True)
    for _ in range(15):
        clock.t += 1.0
        guard.call_failed(bce.EndpointConnectionError(endpoint_url=URL))
    assert guard.in_outage
    [outage] = guard.outages.past
    assert outage.began_at == "2026-03-02T12:00:15.000Z"  # the injected wall time
    shown: list[datetime | None] = []
    began = time.monotonic()
    guard.before_call(shown.append)  # the first pause: 15 s / 3, in slices of at most 1 s
    assert time.monotonic() - began < 1.0
    assert clock.t == pytest.approx(20.0) and max(clock.sleeps) <= 1.0
    assert shown[0] == WALL + timedelta(seconds=20)
    clock.t += 2.0
    assert guard.call_answered() is True  # the outage ended: the caller clears the wait
    assert outage.ended_at == "2026-03-02T12:00:22.000Z"


def test_a_stop_ends_an_outage_wait_even_when_the_sleep_does_not_say_so() -> None:
    clock = FakeTime()
    guard = _guard(clock, wait_outages=True)
    for _ in range(15):
        clock.t += 1.0
        guard.call_failed(bce.EndpointConnectionError(endpoint_url=URL))
    with pytest.raises(RunStopping):
        guard.before_call(lambda until: guard.interrupted("SIGINT"))
    assert len(clock.sleeps) == 1


def test_a_spent_quota_names_a_time_from_the_injected_now() -> None:
    clock = FakeTime()
    guard = _guard(clock)
    clock.t = 601.0
    guard.write_throttled()
    assert guard.reason is StopReason.QUOTA_EXHAUSTED
    assert guard.stop_info is not None
    later = WALL + timedelta(seconds=601, hours=1)
    assert f"resume after {later:%Y-%m-%d %H:%M} UTC" in guard.stop_info.sentence()


def test_reads_name_the_time_to_go_on_from_the_guards_injected_now() -> None:
    """A read pool (export, verify) whose reads stay throttled stops with a time taken from
    the guard's clock, not the machine's."""
    clock = FakeTime()
    guard = _guard(clock)
    pool = PacedReader(object(), guard, quota_wait_seconds=600.0,  # type: ignore[arg-type]
                    clock=clock.now)
    clock.t = 601.0
    throttled = bce.ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "slow down"},
         "ResponseMetadata": {"HTTPStatusCode": 400}},  # type: ignore[typeddict-item]
        "GetOpportunity")
    pool._failed(throttled)
    assert guard.reason is StopReason.QUOTA_EXHAUSTED and guard.stop_info is not None
    later = WALL + timedelta(seconds=601, hours=1)
    assert f"after {later:%Y-%m-%d %H:%M} UTC" in guard.stop_info.sentence()
