"""What a failed call means, and the retry policy built from tenacity's pieces.

Errors are classified in one place, by error code, beside the lists botocore itself uses for
throttling and transient errors. botocore's own retries are off, so every attempt is ours and
`attempts` in the results is the real count.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from enum import Enum
from typing import Final

import botocore.exceptions as bce
from botocore.retries import standard
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_when_event_set,
    wait_random_exponential,
)


def _botocore_codes(cls: type, attr: str, fallback: tuple[str, ...]) -> frozenset[str]:
    return frozenset(getattr(cls, attr, fallback))


THROTTLING_CODES: Final = _botocore_codes(
    standard.ThrottledRetryableChecker, "_THROTTLED_ERROR_CODES",
    ("Throttling", "ThrottlingException", "TooManyRequestsException"),
)
TRANSIENT_CODES: Final = _botocore_codes(
    standard.TransientRetryableChecker, "_TRANSIENT_ERROR_CODES", ("RequestTimeout",),
) | {"InternalServerException", "ServiceUnavailable", "ServiceUnavailableException"}
CREDENTIAL_CODES: Final = frozenset({
    "ExpiredToken", "ExpiredTokenException", "UnrecognizedClientException",
    "InvalidSignatureException", "InvalidClientTokenId", "SignatureDoesNotMatch",
    "MissingAuthenticationTokenException", "IncompleteSignature", "IncompleteSignatureException",
    "InvalidAccessKeyId",
})
ACCESS_DENIED_CODES: Final = frozenset({"AccessDeniedException", "AccessDenied"})
_CREDENTIAL_EXCEPTIONS: Final = (
    bce.NoCredentialsError, bce.PartialCredentialsError, bce.CredentialRetrievalError,
    bce.TokenRetrievalError, bce.SSOError, bce.NoAuthTokenError,
)
#: Transport failures after the request may have reached the service: a write may have landed.
_AMBIGUOUS_EXCEPTIONS: Final = (bce.ReadTimeoutError, bce.ConnectionClosedError,
                                bce.ResponseStreamingError)
#: Transport failures before the request left: it certainly did not land.
_UNSENT_EXCEPTIONS: Final = (bce.EndpointConnectionError, bce.ConnectTimeoutError)


class Kind(Enum):
    """What a failed call means for the row and for the run."""

    THROTTLED = "throttled"  # retry, slow the write pace
    TRANSIENT = "transient"  # retry (5xx, connection refused before sending)
    AMBIGUOUS = "ambiguous"  # retry, but re-read first: the write may have landed
    CREDENTIALS = "credentials"  # abort the run: nothing will work until the user logs in
    ACCESS_DENIED = "access_denied"  # final for the row; several in a row abort the run
    FINAL = "final"  # final for the row (validation, not found, ...)


def error_code(exc: BaseException) -> str:
    """The AWS error code, or the botocore exception class for transport failures."""
    if isinstance(exc, bce.ClientError):
        return str(exc.response.get("Error", {}).get("Code") or type(exc).__name__)
    return type(exc).__name__


def error_message(exc: BaseException) -> str:
    """The service's own message (without botocore's "An error occurred (...)" wrapper)."""
    if isinstance(exc, bce.ClientError):
        error = exc.response.get("Error", {})
        message = str(error.get("Message") or exc)
        reason = exc.response.get("Reason") or error.get("Reason")
        return f"{message} ({reason})" if reason else message
    return str(exc) or type(exc).__name__


def http_status(exc: BaseException) -> int | None:
    if isinstance(exc, bce.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return int(status) if status is not None else None
    return None


def classify(exc: BaseException) -> Kind:
    """Map any exception from a call to what it means.

    >>> classify(bce.ReadTimeoutError(endpoint_url="http://x"))
    <Kind.AMBIGUOUS: 'ambiguous'>
    """
    if isinstance(exc, bce.ClientError):
        code = error_code(exc)
        if code in THROTTLING_CODES or http_status(exc) == 429:
            return Kind.THROTTLED
        if code in CREDENTIAL_CODES:
            return Kind.CREDENTIALS
        if code in ACCESS_DENIED_CODES:
            return Kind.ACCESS_DENIED
        status = http_status(exc) or 0
        if code in TRANSIENT_CODES or status >= 500:
            return Kind.TRANSIENT
        return Kind.FINAL
    if isinstance(exc, _CREDENTIAL_EXCEPTIONS):
        return Kind.CREDENTIALS
    if isinstance(exc, _AMBIGUOUS_EXCEPTIONS):
        return Kind.AMBIGUOUS
    if isinstance(exc, (*_UNSENT_EXCEPTIONS, bce.ConnectionError, bce.HTTPClientError)):
        return Kind.TRANSIENT
    return Kind.FINAL


RETRYABLE: Final = frozenset({Kind.THROTTLED, Kind.TRANSIENT, Kind.AMBIGUOUS})

def is_retryable(exc: BaseException) -> bool:
    return classify(exc) in RETRYABLE


def is_resumable_code(code: str) -> bool:
    """Whether a FAILED row with this error_class is worth another try after a resume."""
    if code in THROTTLING_CODES or code in TRANSIENT_CODES or code in CREDENTIAL_CODES:
        return True
    if code in ACCESS_DENIED_CODES:
        return True
    transport = {cls.__name__ for cls in (*_AMBIGUOUS_EXCEPTIONS, *_UNSENT_EXCEPTIONS)}
    return code in transport | {"ConnectionError", "HTTPClientError", "ProxyConnectionError",
                                "SSLError", "InternalServerException"}


#: Full-jitter exponential backoff: a random wait in [0, min(cap, base * 2**n)].
BACKOFF_BASE: Final = 0.5
BACKOFF_CAP: Final = 20.0


def retrying(*, max_attempts: int, stop_event: threading.Event,
             sleep: Callable[[float], object] | None = None,
             at_once: Callable[[], bool] = lambda: False) -> Retrying:
    """The policy for one row's calls: retry what may succeed later, never the rest.

    The wait only spaces out the attempts; each attempt still takes a token from the pacer,
    so a retry never jumps the queue, except when `at_once()` says the pacer let the failed
    attempt go again at once (bucket.Departure.retry_at_once): then there is no wait.
    """
    backoff = wait_random_exponential(multiplier=BACKOFF_BASE, max=BACKOFF_CAP)

    def wait(state: RetryCallState) -> float:
        return 0.0 if at_once() else backoff(state)

    return Retrying(
        retry=retry_if_exception(is_retryable),
        stop=stop_after_attempt(max_attempts) | stop_when_event_set(stop_event),
        wait=wait,
        # The wait ends early when the run stops; the stop condition then ends the retries.
        sleep=_ignore_result(sleep or stop_event.wait),
        reraise=True,
    )


def _ignore_result(sleep: Callable[[float], object]) -> Callable[[float], None]:
    def wait(seconds: float) -> None:
        sleep(seconds)

    return wait
