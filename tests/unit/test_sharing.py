"""The share of the quota a run takes: from the look-back, and held after throttles."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bulk_assign.quota.bucket import FakeClock
from bulk_assign.quota.lookback import OtherWriters
from bulk_assign.quota.pacer import STEP, Pacer
from bulk_assign.quota.sharing import (
    CONTENDED_SHARE,
    HOLD_SECONDS,
    ShareController,
    SharePlan,
)
from bulk_assign.settings import RunSettings


def _settings(**changes: object) -> RunSettings:
    return RunSettings(input_path=Path("in.csv"), catalog="Sandbox", **changes)  # type: ignore[arg-type]


def _others(per_hour: int) -> OtherWriters:
    return OtherWriters(3600.0, in_lookback=per_hour, last_24h=per_hour * 24)


def test_nobody_else_writing_means_the_full_pace() -> None:
    plan = SharePlan.decide(_settings(), _others(0))
    assert plan.pace == 1.0 and plan.share == 1.0


def test_the_pace_leaves_the_others_what_they_used_plus_a_margin() -> None:
    plan = SharePlan.decide(_settings(), _others(360))  # 0.1 writes/s
    assert plan.pace == pytest.approx(1.0 - 0.1 - 0.03)  # what they used, and 3% of Q
    text = plan.text(100, wait=False)
    assert "0.1 writes/s over the last 1 h" in text and "8,640 opportunities" in text
    assert f"{plan.pace:.3g} writes/s" in text and "left for others" in text


def test_others_seen_start_the_run_at_the_contended_share_and_it_climbs_to_the_plan() -> None:
    plan = SharePlan.decide(_settings(), _others(360))  # 0.1 writes/s: plan 0.87/s
    assert plan.start == CONTENDED_SHARE * 1.0 < plan.pace
    assert "starts at 0.5/s" in plan.text(100, wait=False)
    clock = FakeClock()
    pacer = Pacer(max_tps=plan.pace, read_tps=10.0, clock=clock.now, sleep=clock.sleep,
                  start_tps=plan.start)
    assert pacer.write_rate == plan.start == pacer.writes.rate
    climbed = []
    for _ in range(40):
        pacer.succeeded()
        climbed.append(pacer.write_rate)
    # One step per write that goes through, never past the plan.
    assert climbed[0] == pytest.approx(plan.start + STEP * plan.pace)
    assert climbed[-1] == pytest.approx(plan.pace) and max(climbed) <= plan.pace


def test_nobody_seen_or_an_explicit_share_start_at_the_full_pace() -> None:
    alone = SharePlan.decide(_settings(), _others(0))
    taken = SharePlan.decide(_settings(share=0.9), _others(1800))
    assert alone.start == alone.pace == 1.0
    assert taken.start == taken.pace == 0.9
    assert "starts at" not in alone.text(10, wait=False) + taken.text(10, wait=False)


def test_max_tps_is_a_ceiling_and_share_takes_more_explicitly() -> None:
    assert SharePlan.decide(_settings(max_tps=0.5), _others(0)).pace == 0.5
    assert SharePlan.decide(_settings(max_tps=0.5), _others(0)).quota == 1.0
    taken = SharePlan.decide(_settings(share=1.0), _others(1800))
    assert taken.pace == 1.0 and taken.explicit and "--share" in taken.text(10, wait=False)


def test_a_failed_look_back_says_so_and_plans_the_full_pace() -> None:
    plan = SharePlan.decide(_settings(), OtherWriters(3600.0, error="AccessDeniedException"))
    assert plan.pace == 1.0
    assert "AccessDeniedException" in plan.text(5, wait=False)


def test_more_rows_than_the_budget_say_what_happens() -> None:
    plan = SharePlan.decide(_settings(daily_budget=100), _others(0))
    assert "BudgetSpent" in plan.text(250, wait=False)
    assert "about 3 days" in plan.text(250, wait=True)


def _controller(quota: float = 10.0, *, explicit: bool = False
                ) -> tuple[Pacer, ShareController, FakeClock]:
    clock = FakeClock()
    pacer = Pacer(max_tps=quota, read_tps=10.0, clock=clock.now, sleep=clock.sleep)
    return pacer, ShareController(pacer, quota=quota, explicit=explicit, clock=clock.now), clock


def _both(pacer: Pacer, share: ShareController, *, throttled: bool) -> None:
    if throttled:
        pacer.throttled()
        share.throttled()
    else:
        pacer.succeeded()
        share.succeeded()


def test_throttles_hold_the_pace_at_a_share_then_it_climbs_back() -> None:
    pacer, share, clock = _controller()
    _both(pacer, share, throttled=True)  # a lone throttle: jitter
    assert not share.holding
    for _ in range(5):
        _both(pacer, share, throttled=False)
    _both(pacer, share, throttled=True)
    assert share.holding and pacer.write_rate <= CONTENDED_SHARE * 10.0
    for _ in range(700):  # successes alone do not lift the hold before its time
        clock.t += 0.2
        _both(pacer, share, throttled=False)
        if clock.t < HOLD_SECONDS:
            assert pacer.write_rate <= CONTENDED_SHARE * 10.0
    assert clock.t > HOLD_SECONDS
    assert not share.holding and pacer.write_rate > CONTENDED_SHARE * 10.0
    assert share.contended_seconds == pytest.approx(HOLD_SECONDS, abs=0.5)


def test_further_throttles_renew_the_hold() -> None:
    pacer, share, clock = _controller()
    _both(pacer, share, throttled=True)
    _both(pacer, share, throttled=True)
    clock.t += HOLD_SECONDS - 1
    _both(pacer, share, throttled=True)
    clock.t += HOLD_SECONDS - 1
    _both(pacer, share, throttled=False)
    assert share.holding


def test_an_explicit_share_is_not_held_down() -> None:
    pacer, share, _ = _controller(explicit=True)
    for _ in range(5):
        _both(pacer, share, throttled=True)
    assert not share.holding


def test_a_run_alone_needs_more_throttles_before_it_holds() -> None:
    clock = FakeClock()
    pacer = Pacer(max_tps=10.0, read_tps=10.0, clock=clock.now, sleep=clock.sleep)
    share = ShareController(pacer, quota=10.0, explicit=False, others_seen=False,
                            clock=clock.now)
    # Jitter on a loaded machine: 1 call in 12 throttled, for 300 calls: never a hold.
    for _ in range(25):
        _both(pacer, share, throttled=True)
        for _ in range(11):
            _both(pacer, share, throttled=False)
    assert not share.holding
    # Another writer taking 1 token in 4: held within a window of 50 results.
    for _ in range(12):
        _both(pacer, share, throttled=True)
        for _ in range(3):
            _both(pacer, share, throttled=False)
        if share.holding:
            break
    assert share.holding


def test_a_throttle_is_taken_for_jitter_only_while_nothing_shows_another_writer() -> None:
    """Alone: a throttle's write may go again at once. Not when the look-back saw others, nor
    while throttles hold the pace: that retry would take the token after the one they took."""
    clock = FakeClock()
    pacer = Pacer(max_tps=10.0, read_tps=10.0, clock=clock.now, sleep=clock.sleep)
    seen = ShareController(pacer, quota=10.0, explicit=False, others_seen=True, clock=clock.now)
    assert not seen.alone
    share = ShareController(pacer, quota=10.0, explicit=False, others_seen=False,
                            clock=clock.now)
    assert share.alone
    while not share.holding:
        _both(pacer, share, throttled=True)
    assert not share.alone
    clock.t += HOLD_SECONDS + 1
    _both(pacer, share, throttled=False)
    assert not share.holding and share.alone


def test_while_climbing_from_its_start_one_throttle_holds_the_pace() -> None:
    """Below the plan the bucket has tokens to spare, so a throttle there is the others, not
    the run: it holds at once. At the plan, one throttle is jitter and two are needed."""
    clock = FakeClock()
    plan = SharePlan.decide(_settings(max_tps=10.0, account_tps=10.0),
                            OtherWriters(60.0, in_lookback=60, last_24h=60))  # 1 write/s
    assert plan.start < plan.pace

    def run_until_a_throttle(successes: int) -> ShareController:
        pacer = Pacer(max_tps=plan.pace, read_tps=10.0, clock=clock.now, sleep=clock.sleep,
                      start_tps=plan.start)
        share = ShareController(pacer, quota=plan.quota, explicit=False, others_seen=True,
                                clock=clock.now)
        for _ in range(successes):
            _both(pacer, share, throttled=False)
        _both(pacer, share, throttled=True)
        return share

    assert run_until_a_throttle(3).holding  # still climbing
    assert not run_until_a_throttle(60).holding  # at the plan: a lone throttle


def test_the_share_controller_logs_and_tells_the_pacer_outside_its_lock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Its log lines and the pacer's listener (which logs and writes status.json) run with
    neither the controller's nor the pacer's lock held."""
    clock = FakeClock()
    held: list[tuple[bool, bool]] = []
    pacer = Pacer(max_tps=1.0, read_tps=10.0, clock=clock.now, sleep=clock.sleep,
                  on_rate_change=lambda old, new: held.append(
                      (control._lock.locked(), pacer._lock.locked())))
    control = ShareController(pacer, quota=1.0, explicit=False, others_seen=True,
                              clock=clock.now)

    class Check(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            held.append((control._lock.locked(), pacer._lock.locked()))

    check = Check()
    logging.getLogger("bulk_assign.run").addHandler(check)
    try:
        for _ in range(3):
            control.throttled()
        assert control.holding
        clock.t += HOLD_SECONDS + 1
        control.succeeded()
        assert not control.holding
    finally:
        logging.getLogger("bulk_assign.run").removeHandler(check)
    assert held and set(held) == {(False, False)}
