"""The outage breaker and the guard's outage rules, on a fake clock: a sprinkle of faults never
makes an outage, a total one does once both thresholds are met, --wait pauses grow and cap, and
a success ends the outage with what it cost."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime
from itertools import count

import botocore.exceptions as bce
import pytest

from bulk_assign.quota.bucket import FakeClock
from bulk_assign.results import SERVICE_UNAVAILABLE, UNREACHABLE
from bulk_assign.run.guard import RunGuard
from bulk_assign.run.outage import MAX_PAUSE, MIN_FAILURES, OutageBreaker, is_outage_failure
from bulk_assign.stops import RunStopping, StopReason

QUIET = 15.0
URL = "https://partnercentral-selling.us-east-1.api.aws"


def client_error(code: str, status: int) -> bce.ClientError:
    return bce.ClientError(
        {"Error": {"Code": code, "Message": "boom"},
         "ResponseMetadata": {"HTTPStatusCode": status}},  # type: ignore[typeddict-item]
        "AssignOpportunity",
    )


def refused() -> bce.EndpointConnectionError:
    return bce.EndpointConnectionError(endpoint_url=URL)


def server_error() -> bce.ClientError:
    return client_error("InternalServerException", 500)


def breaker(clock: FakeClock, quiet: float = QUIET) -> OutageBreaker:
    stamps = count()
    return OutageBreaker(quiet_seconds=quiet, clock=clock.now,
                         now_iso=lambda: f"2026-01-01T00:00:{next(stamps):02d}Z")


def fail_every(b: OutageBreaker, clock: FakeClock, *, seconds: float, times: int,
               exc: BaseException | None = None) -> list[bool]:
    """`times` failed calls, `seconds` apart; whether each one started an outage."""
    began = []
    for _ in range(times):
        clock.t += seconds
        began.append(b.failed(exc or refused()) is not None)
    return began


# --- what counts ----------------------------------------------------------------------------


@pytest.mark.parametrize(("exc", "counts"), [
    (refused(), True),
    (bce.ConnectTimeoutError(endpoint_url=URL), True),
    (bce.ReadTimeoutError(endpoint_url=URL), True),
    (bce.ConnectionClosedError(endpoint_url=URL), True),
    (server_error(), True),
    (client_error("ServiceUnavailableException", 503), True),
    (client_error("ThrottlingException", 429), False),
    (client_error("AccessDeniedException", 403), False),
    (client_error("ResourceNotFoundException", 404), False),
    (client_error("ExpiredTokenException", 403), False),
])
def test_only_transport_failures_and_5xx_count_towards_an_outage(
    exc: BaseException, counts: bool
) -> None:
    assert is_outage_failure(exc) is counts


# --- when an outage is declared --------------------------------------------------------------


@pytest.mark.parametrize("rate", [10.0, 1.0])
def test_a_sprinkle_of_failures_between_successes_never_makes_an_outage(rate: float) -> None:
    """15% of 10,000 calls fail at random (500s and connection errors), at 10/s and 1/s."""
    clock = FakeClock()
    b = breaker(clock)
    rng = random.Random(16)
    failures = 0
    for _ in range(10_000):
        clock.t += 1 / rate
        if rng.random() < 0.15:
            failures += 1
            assert b.failed(server_error() if rng.random() < 0.6 else refused()) is None
        else:
            assert b.succeeded() is None
    assert failures > 1_000
    assert b.ongoing is None
    assert b.past == []


def test_a_total_outage_is_declared_once_quiet_long_enough_not_before() -> None:
    clock = FakeClock()
    b = breaker(clock)
    # Many failures, but less than QUIET seconds without a success: no outage yet.
    assert fail_every(b, clock, seconds=0.5, times=29) == [False] * 29
    assert clock.t == pytest.approx(14.5)
    assert b.ongoing is None
    # The first failure at QUIET seconds declares it, once.
    assert fail_every(b, clock, seconds=0.5, times=3) == [True, False, False]
    outage = b.ongoing
    assert outage is not None
    assert outage.kind == UNREACHABLE
    assert outage.failed_calls == 32
    assert outage.by_class == {"EndpointConnectionError": 32}
    assert b.past == [outage]


def test_a_long_quiet_with_few_failures_is_no_outage_until_enough_calls_failed() -> None:
    """A slow run (one call every 4 s): the quiet passes QUIET seconds well before
    MIN_FAILURES calls have failed, and the outage waits for them."""
    clock = FakeClock()
    b = breaker(clock)
    before = fail_every(b, clock, seconds=4.0, times=MIN_FAILURES - 1)
    assert before == [False] * (MIN_FAILURES - 1)
    assert b.quiet_seconds() > QUIET
    assert fail_every(b, clock, seconds=4.0, times=1) == [True]


def test_a_success_restarts_the_count() -> None:
    clock = FakeClock()
    b = breaker(clock)
    fail_every(b, clock, seconds=1.0, times=14)
    clock.t += 0.5
    b.succeeded()
    # Another 14 s of failures: never QUIET seconds since the success.
    assert fail_every(b, clock, seconds=1.0, times=14) == [False] * 14
    assert b.quiet_seconds() == pytest.approx(14.0)


def test_the_kind_says_whether_the_service_answered() -> None:
    clock = FakeClock()
    unreachable = breaker(clock)
    fail_every(unreachable, clock, seconds=1.0, times=12)
    fail_every(unreachable, clock, seconds=1.0, times=4, exc=server_error())
    assert unreachable.ongoing is not None
    assert unreachable.ongoing.kind == UNREACHABLE

    clock = FakeClock()
    answering = breaker(clock)
    fail_every(answering, clock, seconds=1.0, times=12, exc=server_error())
    fail_every(answering, clock, seconds=1.0, times=4)
    assert answering.ongoing is not None
    assert answering.ongoing.kind == SERVICE_UNAVAILABLE
    assert answering.ongoing.by_class == {
        "HTTP 500 InternalServerException": 12, "EndpointConnectionError": 4}


# --- the end of an outage --------------------------------------------------------------------


def test_a_success_ends_the_outage_and_records_what_it_cost() -> None:
    clock = FakeClock(start=100.0)
    b = breaker(clock)
    fail_every(b, clock, seconds=1.0, times=20, exc=server_error())
    fail_every(b, clock, seconds=1.0, times=5)
    assert b.ongoing is not None
    clock.t += 10.0
    ended = b.succeeded()
    assert ended is not None
    assert b.ongoing is None
    assert b.past == [ended]
    # From the last success (the start) to the first success after it.
    assert ended.seconds == pytest.approx(35.0)
    assert ended.failed_calls == 25
    assert ended.by_class == {"HTTP 500 InternalServerException": 20,
                              "EndpointConnectionError": 5}
    data = ended.to_json()
    assert data["kind"] == SERVICE_UNAVAILABLE
    assert data["seconds"] == 35.0
    assert data["failed_calls"] == 25
    assert data["began_at"] < data["ended_at"]
    assert b.succeeded() is None, "a second success ends nothing"
    assert b.wait_before_call() == 0.0


def test_a_second_outage_is_recorded_apart_from_the_first() -> None:
    clock = FakeClock()
    b = breaker(clock)
    fail_every(b, clock, seconds=1.0, times=16)
    first = b.succeeded()
    fail_every(b, clock, seconds=1.0, times=20, exc=server_error())
    second = b.succeeded()
    assert first is not None and second is not None
    assert b.past == [first, second]
    assert (first.kind, second.kind) == (UNREACHABLE, SERVICE_UNAVAILABLE)
    assert (first.failed_calls, second.failed_calls) == (16, 20)


# --- waiting one out (--wait) ----------------------------------------------------------------


def _tries(b: OutageBreaker, clock: FakeClock, *, tries: int) -> list[float]:
    """A caller that sleeps as told and fails each try: the times the tries left."""
    left: list[float] = []
    while len(left) < tries:
        pause = b.wait_before_call()
        if pause > 0:
            clock.t += pause
            continue
        left.append(clock.t)
        b.failed(refused())
    return left


def test_pauses_between_tries_double_up_to_the_cap() -> None:
    clock = FakeClock()
    b = breaker(clock)
    assert b.wait_before_call() == 0.0, "no outage: no pause"
    fail_every(b, clock, seconds=1.0, times=15)
    assert b.ongoing is not None
    declared = clock.t
    left = _tries(b, clock, tries=10)
    gaps = [round(b - a, 6) for a, b in zip([declared, *left], left, strict=False)]
    first = QUIET / 3
    assert gaps == [first, 2 * first, 4 * first, 8 * first, 16 * first, 32 * first,
                    MAX_PAUSE, MAX_PAUSE, MAX_PAUSE, MAX_PAUSE]


def test_only_one_caller_tries_after_each_pause() -> None:
    clock = FakeClock()
    b = breaker(clock)
    fail_every(b, clock, seconds=1.0, times=15)
    clock.t += QUIET / 3
    goes: list[float] = []
    start = threading.Barrier(8)

    def caller() -> None:
        start.wait()
        goes.append(b.wait_before_call())

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(goes)[:2] == [0.0, pytest.approx(2 * QUIET / 3)]
    assert goes.count(0.0) == 1


def test_a_success_after_a_wait_resets_the_pauses() -> None:
    clock = FakeClock()
    b = breaker(clock)
    fail_every(b, clock, seconds=1.0, times=15)
    _tries(b, clock, tries=5)
    b.succeeded()
    fail_every(b, clock, seconds=1.0, times=15)
    declared = clock.t
    [first] = _tries(b, clock, tries=1)
    assert first - declared == pytest.approx(QUIET / 3)


# --- the guard ---------------------------------------------------------------------------------


def guard(clock: FakeClock, *, wait: bool = False) -> RunGuard:
    return RunGuard(quota_wait_seconds=600, access_denied_limit=3, outage_seconds=QUIET,
                    wait_outages=wait, where=f"{URL} (region us-east-1)", clock=clock.now,
                    sleep=clock.sleep)


def test_the_guard_stops_the_run_on_an_outage_and_says_what_to_check() -> None:
    clock = FakeClock()
    g = guard(clock)
    for _ in range(15):
        clock.t += 1.0
        g.call_failed(refused())
    assert g.stopping
    assert g.stop_info is not None
    assert g.reason is StopReason.UNREACHABLE
    text = g.stop_info.sentence()
    assert URL in text and "us-east-1" in text
    for check in ("network", "VPN", "proxy", "--endpoint-url", "--region", "--wait"):
        assert check in text


def test_the_guard_names_the_health_dashboard_for_a_5xx_outage() -> None:
    clock = FakeClock()
    g = guard(clock)
    for _ in range(15):
        clock.t += 1.0
        g.call_failed(server_error())
    assert g.reason is StopReason.SERVICE_UNAVAILABLE
    assert g.stop_info is not None
    assert "AWS Health Dashboard" in g.stop_info.sentence()


def test_with_wait_the_guard_does_not_stop_and_a_stop_ends_the_wait() -> None:
    clock = FakeClock()
    g = guard(clock, wait=True)
    for _ in range(15):
        clock.t += 1.0
        g.call_failed(refused())
    assert not g.stopping
    assert g.in_outage
    shown: list[datetime | None] = []

    def on_wait(until: datetime) -> None:
        shown.append(until)
        g.interrupted("SIGINT")  # Ctrl-C while waiting

    with pytest.raises(RunStopping):
        g.before_call(on_wait)
    assert g.reason is StopReason.INTERRUPTED
    # The bar and status.json are told until when: the first pause, 15 s / 3 = 5 s from now.
    [until] = shown
    assert until is not None
    assert 4.0 <= (until - datetime.now(UTC)).total_seconds() <= 5.0


def test_an_answer_ends_the_guards_outage() -> None:
    clock = FakeClock()
    g = guard(clock, wait=True)
    for _ in range(15):
        clock.t += 1.0
        g.call_failed(refused())
    clock.t += 3.0
    g.call_answered()
    assert not g.in_outage
    g.before_call()  # returns at once: no outage, no wait
    [outage] = [o.to_json() for o in g.outages.past]
    assert outage["seconds"] == 18.0
    assert outage["failed_calls"] == 15


# --- a row whose attempts ran out ------------------------------------------------------------


def test_undecided_says_how_long_until_the_failures_make_an_outage() -> None:
    clock = FakeClock()
    b = breaker(clock)
    fail_every(b, clock, seconds=0.1, times=MIN_FAILURES - 1)
    assert b.undecided() is None, "too few failures to wait for an outage"
    fail_every(b, clock, seconds=0.1, times=1)
    assert b.undecided() == pytest.approx(QUIET - 0.6)
    assert b.overdue() is None
    clock.t = QUIET
    assert b.undecided() == 0.0
    outage = b.overdue()
    assert outage is not None and b.ongoing is outage
    assert b.undecided() is None and b.overdue() is None
    b.succeeded()
    assert b.undecided() is None


def test_a_row_out_of_attempts_in_a_quiet_waits_for_the_breaker_and_is_the_outages() -> None:
    clock = FakeClock()
    g = guard(clock)
    for _ in range(MIN_FAILURES):
        clock.t += 0.1
        g.call_failed(server_error())
    assert not g.stopping
    clock.t = QUIET  # the quiet is long enough by the time the row asks
    assert g.outage_holds() is True
    assert g.reason is StopReason.SERVICE_UNAVAILABLE


def test_a_row_out_of_attempts_while_calls_succeed_is_the_rows_own() -> None:
    clock = FakeClock()
    g = guard(clock)
    for _ in range(MIN_FAILURES):
        clock.t += 0.1
        g.call_failed(server_error())
    g.call_answered()
    assert g.outage_holds() is False
    assert not g.stopping


def test_an_answer_to_a_call_sent_before_the_trouble_does_not_make_a_rows_failure_its_own(
) -> None:
    """A call sent just before the service went down can be answered after the first failures
    came in: that answer resets the count, and a row giving up right after it must wait to see
    whether the failures go on (an outage) before it is called FAILED."""
    clock = FakeClock()

    def sleep(seconds: float) -> bool:  # while the row waits, the other rows keep failing
        clock.t += seconds
        g.call_failed(server_error())
        return False

    g = RunGuard(quota_wait_seconds=600, access_denied_limit=3, outage_seconds=QUIET,
                 where=f"{URL} (region us-east-1)", clock=clock.now, sleep=sleep)
    for _ in range(3):
        clock.t += 0.1
        g.call_failed(server_error())
    g.call_answered()  # the late answer
    clock.t += 0.1
    g.call_failed(server_error())  # the row's last attempt
    assert g.outage_holds() is True
    assert g.stopping and g.reason is StopReason.SERVICE_UNAVAILABLE
