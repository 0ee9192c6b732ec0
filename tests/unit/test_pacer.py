"""The write pace: exact token-bucket spacing and the AIMD control loop, on a fake clock."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_assign.pacer import (
    DECREASE,
    DECREASE_ISOLATED,
    FLOOR_SHARE,
    ISOLATION_WINDOW,
    PACE_MARGIN,
    PACE_MARGIN_SECONDS,
    REACT_WINDOW,
    STEP,
    FakeClock,
    Pacer,
    TokenBucket,
)


def _bucket(rate: float, clock: FakeClock, margin: float = PACE_MARGIN) -> TokenBucket:
    return TokenBucket(rate, clock=clock.now, sleep=clock.sleep, margin=margin,
                       margin_seconds=0.0 if margin == 0.0 else PACE_MARGIN_SECONDS)


def _departures(bucket: TokenBucket, clock: FakeClock, n: int) -> list[float]:
    times = []
    for _ in range(n):
        assert bucket.acquire() is True
        times.append(clock.t)
    return times


# --- TokenBucket --------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [1.0, 0.5, 2.5, 10.0])
def test_calls_leave_exactly_one_interval_apart(rate: float) -> None:
    clock = FakeClock(start=100.0)
    bucket = _bucket(rate, clock)
    times = _departures(bucket, clock, 6)
    interval = (1 + PACE_MARGIN) / rate + PACE_MARGIN_SECONDS
    assert bucket.interval == pytest.approx(interval)
    assert times[0] == 100.0  # the first call leaves at once
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == pytest.approx([interval] * 5, abs=1e-9)
    assert bucket.acquired == 6


def test_first_acquire_does_not_sleep() -> None:
    clock = FakeClock()
    bucket = _bucket(1.0, clock)
    assert bucket.acquire() is True
    assert clock.sleeps == [] and clock.t == 0.0


def test_interval_is_measured_from_the_last_actual_departure() -> None:
    clock = FakeClock()
    bucket = _bucket(1.0, clock, margin=0.0)
    bucket.acquire()
    clock.t = 5.0  # the caller came back late: no catching up with a burst
    assert bucket.acquire() is True
    assert clock.t == 5.0 and clock.sleeps == []
    bucket.acquire()
    assert clock.t == pytest.approx(6.0)  # one interval after 5.0, not after 0.0 or 1.0


def test_a_partly_elapsed_interval_waits_only_for_the_rest() -> None:
    clock = FakeClock()
    bucket = _bucket(1.0, clock, margin=0.0)
    bucket.acquire()
    clock.t = 0.7
    bucket.acquire()
    assert clock.sleeps == [pytest.approx(0.3)]
    assert clock.t == pytest.approx(1.0)


def test_a_cancelled_sleep_returns_false_and_takes_no_slot() -> None:
    clock = FakeClock()
    slept: list[float] = []

    def stopping_sleep(seconds: float) -> bool:
        slept.append(seconds)
        return True  # woken early: the run is stopping

    bucket = TokenBucket(1.0, clock=clock.now, sleep=stopping_sleep, margin=0.0,
                         margin_seconds=0.0)
    assert bucket.acquire() is True
    assert bucket.acquire() is False
    assert slept == [pytest.approx(1.0)]
    assert bucket.acquired == 1
    # The cancelled call did not move the slot: the next real call is still due at t=1.0.
    clock.t = 1.0
    assert bucket.acquire() is True
    assert bucket.acquired == 2


def test_a_rate_change_applies_to_the_next_slot() -> None:
    clock = FakeClock()
    bucket = _bucket(1.0, clock, margin=0.0)
    bucket.acquire()
    bucket.set_rate(0.5)
    assert bucket.rate == 0.5
    bucket.acquire()
    assert clock.t == pytest.approx(2.0)
    bucket.set_rate(4.0)
    bucket.acquire()
    assert clock.t == pytest.approx(2.25)


@pytest.mark.parametrize("rate", [0.0, -1.0, float("nan")])
def test_a_bucket_refuses_a_rate_that_is_not_positive(rate: float) -> None:
    with pytest.raises(ValueError, match="rate must be greater than 0"):
        TokenBucket(rate)


@given(rate=st.floats(min_value=0.05, max_value=50), idle=st.lists(
    st.floats(min_value=0, max_value=5), min_size=1, max_size=20))
def test_no_two_departures_are_closer_than_the_interval(rate: float, idle: list[float]) -> None:
    clock = FakeClock()
    bucket = _bucket(rate, clock)
    times = []
    for pause in idle:
        clock.t += pause
        bucket.acquire()
        times.append(clock.t)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g >= bucket.interval - 1e-9 for g in gaps)


# --- Pacer (AIMD) -------------------------------------------------------------------------


def _pacer(max_tps: float = 1.0) -> tuple[Pacer, list[tuple[float, float]]]:
    clock = FakeClock()
    changes: list[tuple[float, float]] = []
    pacer = Pacer(max_tps=max_tps, read_tps=10.0, clock=clock.now, sleep=clock.sleep,
                  on_rate_change=lambda old, new: changes.append((old, new)))
    return pacer, changes


def test_pacer_starts_at_the_maximum_and_success_there_changes_nothing() -> None:
    pacer, changes = _pacer(1.0)
    assert pacer.write_rate == 1.0 and pacer.writes.rate == 1.0 and pacer.reads.rate == 10.0
    pacer.succeeded()
    assert pacer.write_rate == 1.0 and changes == []


class Model:
    """The control law as the pacer's docstring states it, step by step."""

    def __init__(self, max_tps: float) -> None:
        self.max_tps = max_tps
        self.rate = max_tps
        self.since_throttle = ISOLATION_WINDOW
        self.since_decrease = REACT_WINDOW

    def throttled(self) -> None:
        lone = self.since_throttle >= ISOLATION_WINDOW
        self.since_throttle = 0
        if lone:
            factor = DECREASE_ISOLATED
        elif self.since_decrease >= REACT_WINDOW:
            factor = DECREASE
        else:
            self.since_decrease += 1
            return
        self.since_decrease = 0
        self.rate = max(self.max_tps * FLOOR_SHARE, self.rate * factor)

    def succeeded(self) -> None:
        self.since_throttle += 1
        self.since_decrease += 1
        self.rate = min(self.max_tps, self.rate + STEP * self.max_tps)


def test_a_lone_throttle_costs_a_small_decrease_and_a_quick_recovery() -> None:
    pacer, changes = _pacer(2.0)
    pacer.throttled()
    assert pacer.write_rate == pytest.approx(2.0 * DECREASE_ISOLATED)
    assert pacer.writes.rate == pytest.approx(pacer.write_rate)
    assert pacer.reads.rate == 10.0  # reads have their own budget
    for _ in range(3):
        pacer.succeeded()
    assert pacer.write_rate == 2.0  # back at the maximum after a few successes
    assert changes[0] == (2.0, pytest.approx(2.0 * DECREASE_ISOLATED))


def test_throttles_close_together_cut_the_rate_once_per_window() -> None:
    pacer, _ = _pacer(1.0)
    pacer.throttled()  # lone: small step down
    for _ in range(REACT_WINDOW):
        pacer.throttled()  # same window as that decrease: ignored
    assert pacer.write_rate == pytest.approx(DECREASE_ISOLATED)
    pacer.throttled()  # a new window: the full decrease
    assert pacer.write_rate == pytest.approx(DECREASE_ISOLATED * DECREASE)
    assert DECREASE < DECREASE_ISOLATED < 1


def test_a_random_competitor_does_not_drive_the_rate_to_the_floor() -> None:
    """Against another writer on a burst-1 bucket the throttle chance hardly depends on our
    rate: with 40% of attempts throttled the rate must settle well above the floor."""
    pacer, _ = _pacer(1.0)
    pattern = [True, False, False, True, False, True, False, False, True, False]  # 40%
    for _ in range(50):
        for throttled in pattern:
            pacer.throttled() if throttled else pacer.succeeded()
    assert pacer.write_rate > 0.4


def test_throttles_never_push_the_rate_below_the_floor() -> None:
    pacer, _ = _pacer(1.0)
    for _ in range(2000):
        pacer.throttled()
    assert pacer.floor == pytest.approx(FLOOR_SHARE)
    assert pacer.write_rate == pytest.approx(FLOOR_SHARE)
    assert pacer.writes.rate >= FLOOR_SHARE


def test_recovery_adds_one_step_per_success_and_never_passes_the_maximum() -> None:
    pacer, _ = _pacer(1.0)
    for _ in range(200):
        pacer.throttled()
    rates = [pacer.write_rate]
    for _ in range(5):
        pacer.succeeded()
        rates.append(pacer.write_rate)
    assert [round(b - a, 9) for a, b in itertools.pairwise(rates)] == [STEP] * 5
    for _ in range(1000):
        pacer.succeeded()
    assert pacer.write_rate == 1.0
    assert pacer.writes.rate == 1.0


@given(
    max_tps=st.floats(min_value=0.1, max_value=20),
    events=st.lists(st.booleans(), max_size=300),
)
def test_any_sequence_keeps_the_rate_within_floor_and_maximum(
    max_tps: float, events: list[bool]
) -> None:
    pacer, changes = _pacer(max_tps)
    model = Model(max_tps)
    for throttled in events:
        if throttled:
            pacer.throttled()
            model.throttled()
        else:
            pacer.succeeded()
            model.succeeded()
        assert pacer.write_rate == pytest.approx(model.rate)
        assert pacer.floor - 1e-12 <= pacer.write_rate <= max_tps
        assert pacer.writes.rate == pacer.write_rate
    for old, new in changes:
        assert old != new
