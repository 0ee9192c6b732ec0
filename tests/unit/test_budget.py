"""The write gate: daily budget, write window, --wait, Ctrl-C during a wait. Injected clocks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bulk_assign.errors import UsageError
from bulk_assign.quota.budget import (
    AGE_MARGIN,
    CLAIM_POLL,
    DAY,
    QUOTA_RETRY_SECONDS,
    Window,
    WriteBudget,
    WriteClaim,
    WriteGate,
    make_gate,
    peak_in_a_day,
)
from bulk_assign.run.guard import RunGuard
from bulk_assign.settings import RunSettings
from bulk_assign.stops import RunStopping, StopReason
from bulk_assign.store.journal import journal_write_times

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, noon UTC


class WallClock:
    """UTC wall time whose sleep advances it; `interrupt_after` sleeps it reports a stop."""

    def __init__(self, start: datetime = START, *, guard: RunGuard | None = None,
                 interrupt_after: int | None = None) -> None:
        self.t = start
        self.sleeps: list[float] = []
        self._guard = guard
        self._interrupt_after = interrupt_after

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> bool:
        self.sleeps.append(seconds)
        if self._interrupt_after is not None and len(self.sleeps) > self._interrupt_after:
            assert self._guard is not None
            self._guard.interrupted("SIGINT")
            return True
        self.t += timedelta(seconds=seconds)
        return False


def _guard() -> RunGuard:
    return RunGuard(quota_wait_seconds=600, access_denied_limit=3, outage_seconds=15)


def _gate(clock: WallClock, guard: RunGuard, *, limit: int = 3, times: list[float] | None = None,
          window: str | None = None, wait: bool = False) -> WriteGate:
    return WriteGate(guard=guard, budget=WriteBudget(limit, times or []),
                     window=Window.parse(window) if window else None, wait=wait,
                     now=clock.now, sleep=clock.sleep, local_tz=UTC)


# --- the window ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("moment", "opens"), [
    (datetime(2026, 3, 2, 23, 30), None),  # inside, before midnight
    (datetime(2026, 3, 3, 5, 59), None),  # inside, after midnight
    (datetime(2026, 3, 3, 6, 0), datetime(2026, 3, 3, 22, 0)),  # closes at 06:00 sharp
    (datetime(2026, 3, 2, 12, 0), datetime(2026, 3, 2, 22, 0)),
    (datetime(2026, 3, 2, 21, 59, 59), datetime(2026, 3, 2, 22, 0)),
])
def test_a_window_crossing_midnight(moment: datetime, opens: datetime | None) -> None:
    assert Window.parse("22:00-06:00").opens_at(moment) == opens


def test_a_daytime_window_opens_tomorrow_after_it_closed() -> None:
    window = Window.parse("09:00-17:30")
    assert window.opens_at(datetime(2026, 3, 2, 17, 30)) == datetime(2026, 3, 3, 9, 0)
    assert window.opens_at(datetime(2026, 3, 2, 8, 0)) == datetime(2026, 3, 2, 9, 0)
    assert window.opens_at(datetime(2026, 3, 2, 12, 0)) is None


@pytest.mark.parametrize("text", ["22-06", "22:00", "25:00-06:00", "08:00-08:00", "x"])
def test_a_bad_window_says_the_format(text: str) -> None:
    with pytest.raises(UsageError, match=r"HH:MM-HH:MM|leave --window out"):
        Window.parse(text)


def test_outside_the_window_writes_wait_until_it_opens_across_midnight() -> None:
    clock = WallClock(datetime(2026, 3, 2, 20, 0, tzinfo=UTC))
    gate = _gate(clock, _guard(), window="22:00-06:00", limit=100)
    gate.before_write()
    assert clock.t == datetime(2026, 3, 2, 22, 0, tzinfo=UTC)
    assert gate.waited["window"] == pytest.approx(2 * 3600)
    assert max(clock.sleeps) <= 30  # slices: the status file gets a fresh word while waiting
    clock.t = datetime(2026, 3, 3, 5, 59, tzinfo=UTC)
    gate.before_write()  # still inside after midnight: no wait
    assert clock.t == datetime(2026, 3, 3, 5, 59, tzinfo=UTC)


# --- the budget ---------------------------------------------------------------------------------


def test_a_spent_budget_stops_the_run_and_names_the_next_allowed_write() -> None:
    clock, guard = WallClock(), _guard()
    gate = _gate(clock, guard, limit=3)
    for _ in range(3):
        gate.before_write().left()
        clock.t += timedelta(seconds=1)
    with pytest.raises(RunStopping):
        gate.before_write()
    assert guard.stop_info is not None and guard.reason is StopReason.BUDGET_SPENT
    # The first write ages out 24 h (plus the margin) after it left: that is the time named.
    allowed = START + timedelta(seconds=DAY + AGE_MARGIN)
    assert f"{allowed:%H:%M:%S} UTC" in guard.stop_info.sentence()
    assert "--wait" in guard.stop_info.sentence()
    assert clock.sleeps == []


def test_with_wait_writes_continue_once_the_oldest_ages_out() -> None:
    clock, guard = WallClock(), _guard()
    gate = _gate(clock, guard, limit=2, wait=True)
    gate.before_write().left()
    clock.t += timedelta(hours=1)
    gate.before_write().left()
    gate.before_write().left()  # the third waits for the first to age out
    assert clock.t == START + timedelta(seconds=DAY + AGE_MARGIN)
    assert guard.stop_info is None
    assert gate.waited["budget"] == pytest.approx(DAY + AGE_MARGIN - 3600)
    assert gate.facts()["budget_used_last_24h"] == 2


def test_the_budget_counts_the_journals_writes_across_a_crash_and_a_resume(
    tmp_path: Path,
) -> None:
    journal = tmp_path / "journal.jsonl"
    lines = [{"event": "sending", "row": 2 + i, "previous_owner": None,
              "at": (START - timedelta(hours=3) + timedelta(seconds=i)).isoformat()}
             for i in range(3)]
    text = "".join(json.dumps(line) + "\n" for line in lines) + '{"event": "sending", "ro'
    journal.write_text(text, encoding="utf-8")  # cut short by a kill -9
    settings = RunSettings(input_path=tmp_path / "in.csv", catalog="Sandbox", daily_budget=4)
    clock, guard = WallClock(), _guard()
    gate = make_gate(settings, guard=guard, journal_path=journal, now=clock.now,
                     sleep=clock.sleep, local_tz=UTC)
    gate.before_write().left()  # the fourth write of 24 h
    with pytest.raises(RunStopping):
        gate.before_write()
    assert guard.reason is StopReason.BUDGET_SPENT
    assert len(journal_write_times(journal)) == 3


def test_a_write_that_never_left_gives_its_place_back() -> None:
    """A write that queued for its slot and never left (the run stopped, or the budget ran
    out under it) costs no budget: only `left` counts, at the moment it is called."""
    clock, guard = WallClock(), _guard()
    gate = _gate(clock, guard, limit=2)
    gate.before_write().close()  # never left
    first = gate.before_write()
    clock.t += timedelta(seconds=5)
    first.left()
    first.close()  # after `left`: changes nothing
    gate.before_write().left()
    assert gate.facts()["budget_used_last_24h"] == 2
    with pytest.raises(RunStopping):
        gate.before_write()
    assert guard.reason is StopReason.BUDGET_SPENT
    # Counted from when it left: the first ages out 24 h (and the margin) after START + 5 s.
    allowed = START + timedelta(seconds=5 + DAY + AGE_MARGIN)
    assert guard.stop_info is not None
    assert f"{allowed:%H:%M:%S} UTC" in guard.stop_info.sentence()


@pytest.mark.parametrize("leaves", [True, False])
def test_while_the_last_place_is_claimed_a_write_waits_to_see_whether_it_leaves(
    leaves: bool,
) -> None:
    clock, guard = WallClock(), _guard()
    claims: list[WriteClaim] = []

    def sleep(seconds: float) -> bool:  # meanwhile, the claimed write leaves or gives up
        clock.sleeps.append(seconds)
        if len(clock.sleeps) == 3:
            claims[0].left() if leaves else claims[0].close()
        return False

    gate = WriteGate(guard=guard, budget=WriteBudget(1), window=None, wait=False,
                     now=clock.now, sleep=sleep, local_tz=UTC)
    claims.append(gate.before_write())
    if leaves:
        with pytest.raises(RunStopping):
            gate.before_write()
        assert guard.reason is StopReason.BUDGET_SPENT
    else:
        gate.before_write().left()
        assert guard.stop_info is None
    assert clock.sleeps == [CLAIM_POLL] * 3
    assert gate.facts()["budget_used_last_24h"] == 1


def test_quota_spent_with_wait_holds_writes_then_tries_again() -> None:
    clock, guard = WallClock(), _guard()
    gate = _gate(clock, guard, limit=100, wait=True)
    gate.quota_spent()
    gate.before_write()
    assert clock.t == START + timedelta(seconds=QUOTA_RETRY_SECONDS)
    assert gate.waited["quota"] == pytest.approx(QUOTA_RETRY_SECONDS)


def test_the_guard_hands_a_spent_quota_to_the_gate_with_wait() -> None:
    t = [0.0]
    guard = RunGuard(quota_wait_seconds=600, access_denied_limit=3, outage_seconds=15,
                     clock=lambda: t[0])
    held: list[bool] = []
    t[0] = 601
    guard.write_throttled(lambda: held.append(True))
    assert held == [True] and guard.stop_info is None
    t[0] = 1300
    guard.write_throttled(None)
    assert guard.reason is StopReason.QUOTA_EXHAUSTED


def test_ctrl_c_during_a_wait_stops_at_once() -> None:
    guard = _guard()
    clock = WallClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC), guard=guard, interrupt_after=2)
    gate = _gate(clock, guard, window="22:00-06:00", limit=10)
    with pytest.raises(RunStopping):
        gate.before_write()
    assert guard.reason is StopReason.INTERRUPTED
    assert len(clock.sleeps) == 3  # two slices of the wait, then the signal
    assert gate.current is not None and gate.current.cause == "window"


def test_peak_writes_in_any_day() -> None:
    assert peak_in_a_day([]) == 0
    assert peak_in_a_day([0, 1, 2, DAY + 1.5, 2 * DAY + 10]) == 3
    assert peak_in_a_day([0, DAY, 2 * DAY]) == 1
