"""What a failed call means, and the retry policy: attempts, backoff, never-retry, stop."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import botocore.exceptions as bce
import pytest

from bulk_assign.api.retry import (
    BACKOFF_BASE,
    BACKOFF_CAP,
    Kind,
    classify,
    error_code,
    error_message,
    is_resumable_code,
    is_retryable,
    retrying,
)


def client_error(code: str, status: int, message: str = "boom") -> bce.ClientError:
    return bce.ClientError(
        {"Error": {"Code": code, "Message": message},
         "ResponseMetadata": {"HTTPStatusCode": status}},  # type: ignore[typeddict-item]
        "AssignOpportunity",
    )


URL = "https://partnercentral-selling.us-east-1.api.aws"

CASES: list[tuple[str, BaseException, Kind]] = [
    ("ThrottlingException 429", client_error("ThrottlingException", 429), Kind.THROTTLED),
    ("ThrottlingException 400", client_error("ThrottlingException", 400), Kind.THROTTLED),
    ("any code with HTTP 429", client_error("SlowDown", 429), Kind.THROTTLED),
    ("InternalServerException", client_error("InternalServerException", 500), Kind.TRANSIENT),
    ("bare 500", client_error("InternalFailure", 500), Kind.TRANSIENT),
    ("503", client_error("ServiceUnavailable", 503), Kind.TRANSIENT),
    ("unknown code with 503", client_error("Whatever", 503), Kind.TRANSIENT),
    ("ReadTimeoutError", bce.ReadTimeoutError(endpoint_url=URL), Kind.AMBIGUOUS),
    ("ConnectionClosedError", bce.ConnectionClosedError(endpoint_url=URL), Kind.AMBIGUOUS),
    ("EndpointConnectionError", bce.EndpointConnectionError(endpoint_url=URL), Kind.TRANSIENT),
    ("ConnectTimeoutError", bce.ConnectTimeoutError(endpoint_url=URL), Kind.TRANSIENT),
    ("ExpiredTokenException", client_error("ExpiredTokenException", 403), Kind.CREDENTIALS),
    ("UnrecognizedClientException", client_error("UnrecognizedClientException", 403),
     Kind.CREDENTIALS),
    ("InvalidSignatureException", client_error("InvalidSignatureException", 403),
     Kind.CREDENTIALS),
    ("NoCredentialsError", bce.NoCredentialsError(), Kind.CREDENTIALS),
    ("TokenRetrievalError", bce.TokenRetrievalError(provider="sso", error_msg="expired"),
     Kind.CREDENTIALS),
    ("UnauthorizedSSOTokenError", bce.UnauthorizedSSOTokenError(), Kind.CREDENTIALS),
    ("AccessDeniedException", client_error("AccessDeniedException", 403), Kind.ACCESS_DENIED),
    ("ValidationException", client_error("ValidationException", 400), Kind.FINAL),
    ("ResourceNotFoundException", client_error("ResourceNotFoundException", 404), Kind.FINAL),
    ("ConflictException", client_error("ConflictException", 409), Kind.FINAL),
    ("a bug of ours", KeyError("Assignee"), Kind.FINAL),
]


@pytest.mark.parametrize(("exc", "kind"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_classify(exc: BaseException, kind: Kind) -> None:
    assert classify(exc) is kind
    assert is_retryable(exc) is (kind in {Kind.THROTTLED, Kind.TRANSIENT, Kind.AMBIGUOUS})


def test_error_code_and_message_are_what_the_results_show() -> None:
    exc = client_error("ValidationException", 400, "Assignee is not a registered user")
    assert error_code(exc) == "ValidationException"
    assert error_message(exc) == "Assignee is not a registered user"
    assert error_code(bce.ReadTimeoutError(endpoint_url=URL)) == "ReadTimeoutError"
    assert error_code(bce.EndpointConnectionError(endpoint_url=URL)) == "EndpointConnectionError"


@pytest.mark.parametrize(
    ("code", "resumable"),
    [("ThrottlingException", True), ("InternalServerException", True),
     ("ReadTimeoutError", True), ("EndpointConnectionError", True),
     ("ExpiredTokenException", True), ("AccessDeniedException", True),
     ("ValidationException", False), ("ResourceNotFoundException", False)],
)
def test_resume_retries_only_failures_that_may_succeed_later(code: str, resumable: bool) -> None:
    assert is_resumable_code(code) is resumable


class Recorder:
    """A call that fails with the given exceptions in turn, then returns "ok"."""

    def __init__(self, errors: list[BaseException]) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def _run(call: Callable[[], str], *, max_attempts: int, sleeps: list[float],
         stop_after_calls: int | None = None,
         at_once: Callable[[], bool] = lambda: False) -> str:
    stop_event = threading.Event()
    calls = [0]

    def sleep(seconds: float) -> bool:
        sleeps.append(seconds)
        return False

    def counted() -> str:
        calls[0] += 1
        if calls[0] == stop_after_calls:
            stop_event.set()  # the run stops while this call is in flight
        return call()

    policy = retrying(max_attempts=max_attempts, stop_event=stop_event, sleep=sleep,
                      at_once=at_once)
    for attempt in policy:
        with attempt:
            return counted()
    raise AssertionError("unreachable")


@pytest.mark.parametrize("max_attempts", [1, 2, 8])
def test_a_throttled_call_is_tried_exactly_max_attempts_times(max_attempts: int) -> None:
    call = Recorder([client_error("ThrottlingException", 429) for _ in range(50)])
    sleeps: list[float] = []
    with pytest.raises(bce.ClientError) as info:
        _run(call, max_attempts=max_attempts, sleeps=sleeps)
    assert error_code(info.value) == "ThrottlingException"  # the real error, not RetryError
    assert call.calls == max_attempts
    assert len(sleeps) == max_attempts - 1


def test_a_transient_failure_then_success_returns_the_result() -> None:
    call = Recorder([client_error("InternalServerException", 500),
                     bce.ReadTimeoutError(endpoint_url=URL)])
    sleeps: list[float] = []
    assert _run(call, max_attempts=8, sleeps=sleeps) == "ok"
    assert call.calls == 3 and len(sleeps) == 2


@pytest.mark.parametrize(
    "exc",
    [client_error("ValidationException", 400), client_error("ResourceNotFoundException", 404),
     client_error("AccessDeniedException", 403), client_error("ExpiredTokenException", 403),
     bce.NoCredentialsError()],
    ids=["validation", "not-found", "access-denied", "expired-token", "no-credentials"],
)
def test_final_errors_are_never_retried(exc: BaseException) -> None:
    call = Recorder([exc, exc, exc])
    sleeps: list[float] = []
    with pytest.raises(type(exc)):
        _run(call, max_attempts=8, sleeps=sleeps)
    assert call.calls == 1
    assert sleeps == []


def test_waits_are_full_jitter_within_the_exponential_window() -> None:
    random.seed(1234)
    by_attempt: dict[int, list[float]] = {}
    for _ in range(200):
        call = Recorder([client_error("ThrottlingException", 429) for _ in range(20)])
        sleeps: list[float] = []
        with pytest.raises(bce.ClientError):
            _run(call, max_attempts=10, sleeps=sleeps)
        for n, wait in enumerate(sleeps):
            by_attempt.setdefault(n, []).append(wait)
    assert sorted(by_attempt) == list(range(9))
    for n, waits in by_attempt.items():
        ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2**n)
        assert all(0 <= w <= ceiling for w in waits), (n, max(waits), ceiling)
        # Full jitter: spread over the whole window, not a fixed or half-jittered delay.
        assert min(waits) < 0.25 * ceiling < 0.75 * ceiling < max(waits), n
    assert max(by_attempt[8]) > 0.75 * BACKOFF_CAP  # capped, and the cap is reached


def test_an_attempt_the_pacer_lets_go_at_once_has_no_backoff_and_still_counts() -> None:
    """A throttle's retry at once (bucket.Departure.retry_at_once) does not wait; the later
    retries back off as before, and all of them count towards max_attempts."""
    call = Recorder([client_error("ThrottlingException", 429) for _ in range(10)])
    answers = iter([True] + [False] * 10)
    sleeps: list[float] = []
    with pytest.raises(bce.ClientError):
        _run(call, max_attempts=4, sleeps=sleeps, at_once=lambda: next(answers))
    assert call.calls == 4
    assert sleeps[0] == 0.0 and len(sleeps) == 3


@pytest.mark.parametrize("stop_during", [1, 3])
def test_retries_stop_as_soon_as_the_run_is_stopping(stop_during: int) -> None:
    call = Recorder([client_error("ThrottlingException", 429) for _ in range(20)])
    sleeps: list[float] = []
    with pytest.raises(bce.ClientError):
        _run(call, max_attempts=8, sleeps=sleeps, stop_after_calls=stop_during)
    assert call.calls == stop_during
    assert len(sleeps) == stop_during - 1  # no backoff once stopping
