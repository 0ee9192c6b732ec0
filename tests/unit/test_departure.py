"""The departure a TokenBucket hands out, and the one place that decides whether a throttled
call goes again at once (bucket.Departure.retry_at_once), on a fake clock: each case the rule
tells apart."""

from __future__ import annotations

import pytest

from bulk_assign.quota.bucket import RETRY_AT_ONCE_SHARE, Departure, FakeClock, TokenBucket


def _bucket(clock: FakeClock, *, lead: float = 0.0) -> TokenBucket:
    return TokenBucket(1.0, clock=clock.now, sleep=clock.sleep, margin=0.0, margin_seconds=0.0,
                       lead=lead)


def _left(bucket: TokenBucket, *, after: Departure | None = None) -> Departure:
    departure = bucket.acquire(after=after)
    assert departure is not None
    return departure


def test_a_departure_says_its_slot_when_it_left_and_the_interval() -> None:
    clock = FakeClock()
    bucket = _bucket(clock)
    first, second = _left(bucket), _left(bucket)
    assert (first.slot, first.left, first.interval, first.before) == (0.0, 0.0, 1.0, None)
    assert (second.slot, second.left, second.before) == (pytest.approx(1.0),) * 2 + (0.0,)
    assert not first.at_once and not first.had_at_once and not first.goes_again_at_once


def test_a_first_throttle_while_alone_goes_again_a_tenth_of_an_interval_later() -> None:
    clock = FakeClock()
    bucket = _bucket(clock)
    throttled = _left(bucket)
    assert throttled.retry_at_once(alone=True, attempts_left=True) is True
    assert throttled.goes_again_at_once and throttled.had_at_once
    again = _left(bucket, after=throttled)
    assert again.at_once and again.left == pytest.approx(RETRY_AT_ONCE_SHARE)
    assert not throttled.goes_again_at_once  # the grant is used once
    # the refused call took no token: the next call counts from the retry
    assert _left(bucket).left == pytest.approx(1.0 + RETRY_AT_ONCE_SHARE)


@pytest.mark.parametrize(("alone", "attempts_left"), [(False, True), (True, False)])
def test_no_retry_at_once_with_another_writer_or_without_attempts_left(
    alone: bool, attempts_left: bool,
) -> None:
    clock = FakeClock()
    bucket = _bucket(clock)
    throttled = _left(bucket)
    assert throttled.retry_at_once(alone=alone, attempts_left=attempts_left) is False
    assert not throttled.goes_again_at_once and not throttled.had_at_once
    # nothing changed: the next call, this row's or not, waits a whole interval
    assert _left(bucket, after=throttled).left == pytest.approx(1.0)


def test_a_throttle_of_the_retry_at_once_is_a_real_one() -> None:
    clock = FakeClock()
    bucket = _bucket(clock)
    throttled = _left(bucket)
    assert throttled.retry_at_once(alone=True, attempts_left=True)
    again = _left(bucket, after=throttled)
    assert again.retry_at_once(alone=True, attempts_left=True) is False
    assert _left(bucket, after=again).left == pytest.approx(1.0 + RETRY_AT_ONCE_SHARE)


def test_a_row_has_one_retry_at_once_even_after_backoff() -> None:
    """A later write of the same row (handed its previous departure) never goes at once."""
    clock = FakeClock()
    bucket = _bucket(clock)
    first = _left(bucket)
    assert first.retry_at_once(alone=True, attempts_left=True)
    at_once = _left(bucket, after=first)
    later = _left(bucket, after=at_once)  # after a backoff, in line
    assert not later.at_once and later.had_at_once
    assert later.retry_at_once(alone=True, attempts_left=True) is False


def test_a_grant_that_lapsed_waits_in_line_and_still_counts_as_the_rows_retry() -> None:
    clock = FakeClock()
    bucket = _bucket(clock)
    throttled = _left(bucket)
    assert throttled.retry_at_once(alone=True, attempts_left=True)
    clock.t = 1.5  # the write gate held it past the slot after its own
    late = _left(bucket, after=throttled)
    assert not late.at_once and late.left == 1.5
    assert late.retry_at_once(alone=True, attempts_left=True) is False


def test_no_retry_at_once_when_another_call_left_since() -> None:
    clock = FakeClock()
    bucket = _bucket(clock)
    throttled = _left(bucket)
    _left(bucket)  # another worker's call, at 1.0
    assert throttled.retry_at_once(alone=True, attempts_left=True) is False
    assert _left(bucket, after=throttled).left == pytest.approx(2.0)


def test_the_decision_is_made_once_per_departure() -> None:
    clock = FakeClock()
    bucket = _bucket(clock)
    throttled = _left(bucket)
    assert throttled.retry_at_once(alone=True, attempts_left=True) is True
    assert throttled.retry_at_once(alone=True, attempts_left=True) is False


def test_a_reserved_call_that_never_left_cannot_go_again() -> None:
    clock = FakeClock()
    bucket = _bucket(clock, lead=0.5)
    _left(bucket)
    reserved = bucket.reserve()
    assert reserved is not None and reserved.left is None
    assert reserved.retry_at_once(alone=True, attempts_left=True) is False
    assert bucket.depart() is reserved and reserved.left == pytest.approx(1.0)


def test_a_departure_without_a_bucket_never_goes_again() -> None:
    assert Departure(slot=0.0, left=0.0).retry_at_once(alone=True, attempts_left=True) is False
