"""The write pace: exact token-bucket spacing on a fake clock, and what the AIMD control loop
promises (bounds, slowing down, recovering, lone throttles cheap) whatever the history."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_assign.quota.bucket import (
    PACE_MARGIN,
    PACE_MARGIN_SECONDS,
    RETRY_AT_ONCE_SHARE,
    Departure,
    FakeClock,
    TokenBucket,
)
from bulk_assign.quota.pacer import (
    DECREASE,
    DECREASE_ISOLATED,
    FLOOR_SHARE,
    REACT_WINDOW,
    STEP,
    Pacer,
)


def _bucket(rate: float, clock: FakeClock, margin: float = PACE_MARGIN) -> TokenBucket:
    return TokenBucket(rate, clock=clock.now, sleep=clock.sleep, margin=margin,
                       margin_seconds=0.0 if margin == 0.0 else PACE_MARGIN_SECONDS)


def _departures(bucket: TokenBucket, clock: FakeClock, n: int) -> list[float]:
    times = []
    for _ in range(n):
        assert bucket.acquire() is not None
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
    assert bucket.acquire() is not None
    assert clock.sleeps == [] and clock.t == 0.0


def test_interval_is_measured_from_the_last_actual_departure() -> None:
    clock = FakeClock()
    bucket = _bucket(1.0, clock, margin=0.0)
    bucket.acquire()
    clock.t = 5.0  # the caller came back late: no catching up with a burst
    assert bucket.acquire() is not None
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
    assert bucket.acquire() is not None
    assert bucket.acquire() is None
    assert slept == [pytest.approx(1.0)]
    assert bucket.acquired == 1
    # The cancelled call did not move the slot: the next real call is still due at t=1.0.
    clock.t = 1.0
    assert bucket.acquire() is not None
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


# --- Reserve before signing, depart after ------------------------------------------------


class _Caller:
    """Another caller of the bucket, on a thread of its own (a reserved slot belongs to the
    thread that reserved it); each step runs to its end before `step` returns."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1)

    def step(self, call: Callable[[], Departure | None]) -> Departure | None:
        return self._pool.submit(call).result(timeout=10)


def test_reserve_returns_a_lead_before_the_slot_and_depart_waits_for_the_slot() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.0, clock=clock.now, sleep=clock.sleep, margin=0.0, margin_seconds=0.0,
                         lead=0.2)
    assert bucket.acquire() is not None
    assert bucket.reserve() is not None
    assert clock.t == pytest.approx(0.8)  # the request is signed now...
    assert bucket.acquired == 1
    assert bucket.depart() is not None
    assert clock.t == pytest.approx(1.0)  # ...and leaves on its slot, 0.2 s later
    assert bucket.acquired == 2


def test_a_queue_of_callers_signs_each_request_only_a_lead_before_it_leaves() -> None:
    clock = FakeClock()
    bucket = TokenBucket(0.5, clock=clock.now, sleep=clock.sleep, margin=0.0, margin_seconds=0.0,
                         lead=0.1)
    signed_to_sent = []
    for _ in range(5):
        assert bucket.reserve() is not None
        signed = clock.t
        assert bucket.depart() is not None
        signed_to_sent.append(clock.t - signed)
    assert clock.t == pytest.approx(8.0)  # five calls, 2 s apart
    assert max(signed_to_sent) <= 0.1 + 1e-9


def test_a_late_departure_pushes_the_next_call_back() -> None:
    """A caller that leaves after its slot (a slow signature, a busy CPU): the next one leaves
    a whole interval after it, not on its own reserved slot."""
    clock = FakeClock()
    bucket = TokenBucket(1.0, clock=clock.now, sleep=clock.sleep, margin=0.0, margin_seconds=0.0,
                         lead=0.05)
    other = _Caller()
    assert bucket.reserve() is not None  # slot 0.0
    assert other.step(bucket.reserve) is not None  # the next caller's slot: 1.0, reserved at 0.95
    assert clock.t == pytest.approx(0.95)
    assert bucket.depart() is not None  # the first leaves 0.95 late
    assert other.step(bucket.depart) is not None
    assert clock.t == pytest.approx(1.95)


def test_depart_without_a_reservation_takes_the_next_slot() -> None:
    clock = FakeClock()
    bucket = _bucket(1.0, clock, margin=0.0)
    assert bucket.depart() is not None and clock.t == 0.0
    assert bucket.depart() is not None and clock.t == pytest.approx(1.0)


def test_a_stop_during_the_last_wait_cancels_the_call() -> None:
    clock = FakeClock()
    stopping = [False]

    def sleep(seconds: float) -> bool:
        clock.sleep(seconds)
        return stopping[0]

    bucket = TokenBucket(1.0, clock=clock.now, sleep=sleep, margin=0.0, margin_seconds=0.0,
                         lead=0.5)
    assert bucket.acquire() is not None
    assert bucket.reserve() is not None
    stopping[0] = True
    assert bucket.depart() is None
    assert bucket.acquired == 1


def test_a_throttled_call_goes_again_a_tenth_of_an_interval_after_it_left() -> None:
    """The refused call took no token: its retry leaves 0.1 interval after it, not a whole
    interval, and the call after the retry leaves one interval after the retry."""
    clock = FakeClock()
    bucket = _bucket(1.0, clock, margin=0.0)
    throttled = bucket.acquire()  # leaves at 0.0, throttled
    assert throttled is not None
    assert throttled.retry_at_once(alone=True, attempts_left=True) is True
    again = bucket.acquire(after=throttled)
    assert again is not None and again.at_once
    assert clock.t == pytest.approx(RETRY_AT_ONCE_SHARE)
    # the grant is used once: this one waits its interval
    assert bucket.acquire(after=throttled) is not None
    assert clock.t == pytest.approx(1.0 + RETRY_AT_ONCE_SHARE)


def test_a_retry_at_once_goes_ahead_of_a_reserved_call_and_pushes_it_back() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.0, clock=clock.now, sleep=clock.sleep, margin=0.0, margin_seconds=0.0,
                         lead=0.05)
    other = _Caller()
    throttled = bucket.acquire()  # leaves at 0.0
    assert throttled is not None
    assert other.step(bucket.reserve) is not None  # the next slot, 1.0, reserved at 0.95
    # the answer to the call at 0.0: throttled
    assert throttled.retry_at_once(alone=True, attempts_left=True) is True
    # no queue: goes now, 0.95 (its grant ran from 0.1)
    assert bucket.acquire(after=throttled) is not None
    assert clock.t == pytest.approx(0.95)
    assert other.step(bucket.depart) is not None
    assert clock.t == pytest.approx(1.95)  # one interval after the retry, not on its slot
    assert bucket.acquired == 3


def test_no_retry_at_once_when_another_call_left_since() -> None:
    clock = FakeClock()
    bucket = _bucket(1.0, clock, margin=0.0)
    other = _Caller()
    throttled = bucket.acquire()  # 0.0
    assert throttled is not None
    assert other.step(bucket.acquire) is not None  # 1.0
    # the answer to 0.0 came late: wait in line
    assert throttled.retry_at_once(alone=True, attempts_left=True) is False
    assert bucket.acquire(after=throttled) is not None
    assert clock.t == pytest.approx(2.0)


def test_a_call_told_it_is_leaving_goes_even_if_the_run_stops_during_its_last_wait() -> None:
    """`leaving` (the write's journal line and its place in the budget) runs before the last
    short wait; from then on a stop no longer cancels the call, so what was recorded left."""
    clock = FakeClock()
    stopping = [False]
    events: list[tuple[str, float]] = []

    def sleep(seconds: float) -> bool:
        clock.sleep(seconds)
        return stopping[0]

    def pause(seconds: float) -> None:
        events.append(("pause", clock.t))
        clock.sleep(seconds)

    bucket = TokenBucket(1.0, clock=clock.now, sleep=sleep, margin=0.0, margin_seconds=0.0,
                         lead=0.5, pause=pause)
    assert bucket.acquire() is not None
    assert bucket.reserve() is not None and clock.t == pytest.approx(0.5)

    def leaving() -> None:
        events.append(("leaving", clock.t))
        stopping[0] = True  # Ctrl-C right after the line was written

    assert bucket.depart(leaving) is not None
    assert clock.t == pytest.approx(1.0) and bucket.acquired == 2
    assert events[0] == ("leaving", pytest.approx(0.5)) and events[1][0] == "pause"
    assert bucket.reserve() is None  # the next call, not yet told, is cancelled as before


def test_a_call_whose_leaving_fails_takes_no_slot() -> None:
    clock = FakeClock()
    bucket = _bucket(1.0, clock, margin=0.0)
    assert bucket.acquire() is not None
    assert bucket.reserve() is not None

    def leaving() -> None:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        bucket.depart(leaving)
    assert bucket.acquired == 1


def test_the_rate_listener_hears_of_a_change_outside_the_pacers_lock() -> None:
    """The listener logs and writes status.json: never while the pacer's lock is held."""
    clock = FakeClock()
    held: list[bool] = []
    pacer = Pacer(max_tps=1.0, read_tps=10.0, clock=clock.now, sleep=clock.sleep,
                  on_rate_change=lambda old, new: held.append(pacer._lock.locked()))
    pacer.throttled()
    pacer.succeeded()
    pacer.set_ceiling(0.5)
    assert held == [False, False, False]


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




# --- Pacer properties: what the control loop promises, whatever the history ---------------
#
# Each promise states its own numbers; none repeats how the pacer computes the next rate.

#: Consecutive throttles that at least halve the rate, from any history (unless at the floor).
HALVED_WITHIN = 45
#: Consecutive throttles that bring any rate down to the floor.
FLOOR_WITHIN = 160
#: Consecutive successes that bring any rate back to the maximum.
RECOVERED_WITHIN = 50
#: Results after a throttle over which its cost (the rate given up) is added up.
COST_HORIZON = 100
#: What a lone throttle after a quiet spell (jitter, not another writer) may cost at most:
#: a fifth of one write, as shares of the maximum rate given up per result.
LONE_COST_AT_MOST = 0.2

max_rates = st.floats(min_value=0.1, max_value=20)
#: Write results, True for a throttle: spells of one kind, so that histories reach the floor
#: and the maximum as well as everything between.
histories = st.lists(
    st.tuples(st.booleans(), st.integers(min_value=1, max_value=80)), max_size=25
).map(lambda spells: [throttled for throttled, n in spells for _ in range(n)])


def _fed(max_tps: float, history: list[bool]) -> tuple[Pacer, list[tuple[float, float]]]:
    pacer, changes = _pacer(max_tps)
    for throttled in history:
        pacer.throttled() if throttled else pacer.succeeded()
    return pacer, changes


def _cost(pacer: Pacer, events: list[bool]) -> float:
    """Share of the maximum rate given up, summed over `events` and the successes after."""
    lost = 0.0
    for throttled in [*events, *[False] * COST_HORIZON]:
        pacer.throttled() if throttled else pacer.succeeded()
        lost += (pacer.max_tps - pacer.write_rate) / pacer.max_tps
    return lost


@given(max_tps=max_rates, events=histories)
def test_any_history_keeps_the_rate_within_floor_and_maximum(
    max_tps: float, events: list[bool]
) -> None:
    pacer, changes = _pacer(max_tps)
    assert 0 < pacer.floor < max_tps
    for throttled in events:
        before = pacer.write_rate
        pacer.throttled() if throttled else pacer.succeeded()
        rate = pacer.write_rate
        assert pacer.floor - 1e-12 <= rate <= max_tps
        assert pacer.writes.rate == rate  # the bucket paces at the rate the loop chose
        # A throttle never speeds us up; a success never slows us down.
        assert rate <= before if throttled else rate >= before
    # Every change was reported, in order, and the last report is the rate now.
    for (_, new), (old, _) in itertools.pairwise(changes):
        assert old == new
    assert all(old != new for old, new in changes)
    assert (changes[-1][1] if changes else max_tps) == pacer.write_rate


@given(max_tps=max_rates, history=histories)
def test_sustained_throttling_halves_the_rate_then_reaches_the_floor(
    max_tps: float, history: list[bool]
) -> None:
    pacer, _ = _fed(max_tps, history)
    start = pacer.write_rate
    for _ in range(HALVED_WITHIN):
        pacer.throttled()
    assert pacer.write_rate <= max(pacer.floor, start / 2) + 1e-12
    for _ in range(FLOOR_WITHIN - HALVED_WITHIN):
        pacer.throttled()
    assert pacer.write_rate == pytest.approx(pacer.floor)


def test_the_first_throttle_after_a_quiet_spell_slows_down_at_once() -> None:
    pacer, _ = _fed(2.0, [False] * 100)
    pacer.throttled()
    assert pacer.write_rate < 2.0


@given(max_tps=max_rates, history=st.one_of(histories, st.just([True] * FLOOR_WITHIN)))
def test_a_run_of_successes_brings_the_rate_back_to_the_maximum(
    max_tps: float, history: list[bool]
) -> None:
    pacer, _ = _fed(max_tps, history)
    for _ in range(RECOVERED_WITHIN):
        pacer.succeeded()
    assert pacer.write_rate == max_tps
    assert pacer.writes.rate == max_tps


@given(max_tps=max_rates, history=histories, burst=st.integers(min_value=2, max_value=60))
def test_a_lone_throttle_costs_less_than_a_burst_of_them(
    max_tps: float, history: list[bool], burst: int
) -> None:
    """From the same quiet state (any history, then a spell of successes), one throttle gives
    up less of the rate than a burst of throttles does; a burst of a dozen or more costs
    clearly more."""
    quiet = [*history, *[False] * RECOVERED_WITHIN]
    lone = _cost(_fed(max_tps, quiet)[0], [True])
    bursty = _cost(_fed(max_tps, quiet)[0], [True] * burst)
    assert 0 < lone <= LONE_COST_AT_MOST
    assert lone <= bursty
    if burst >= 12:
        assert bursty >= 2 * lone
