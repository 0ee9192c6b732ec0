"""API errors as the AWS JSON 1.0 protocol carries them."""

from __future__ import annotations

import json
from typing import Any

REQUEST_VALIDATION_FAILED = "REQUEST_VALIDATION_FAILED"
BUSINESS_VALIDATION_FAILED = "BUSINESS_VALIDATION_FAILED"


class ApiError(Exception):
    """An error answer: code, HTTP status, message and extra body fields.

    >>> ApiError("ThrottlingException", 429, "Rate exceeded").body()["__type"]
    'ThrottlingException'
    """

    def __init__(self, code: str, status: int, message: str, **extra: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.status = status
        self.message = message
        self.extra = extra

    def body(self) -> dict[str, Any]:
        # botocore reads "message" or "Message"; the modelled shapes name it "Message".
        return {"__type": self.code, "message": self.message, "Message": self.message, **self.extra}

    def payload(self) -> bytes:
        return json.dumps(self.body()).encode()


def validation_error(message: str, errors: list[dict[str, str]] | None = None) -> ApiError:
    """400 ValidationException for a request that breaks the service model."""
    extra: dict[str, Any] = {"Reason": REQUEST_VALIDATION_FAILED}
    if errors:
        extra["ErrorList"] = errors
    return ApiError("ValidationException", 400, message, **extra)


def business_error(message: str) -> ApiError:
    """400 ValidationException for a well-formed request the business rules refuse."""
    return ApiError("ValidationException", 400, message, Reason=BUSINESS_VALIDATION_FAILED)


def not_found(message: str) -> ApiError:
    return ApiError("ResourceNotFoundException", 404, message)


def throttled(group: str) -> ApiError:
    return ApiError("ThrottlingException", 429, f"Rate exceeded for {group} operations.")


def internal_error() -> ApiError:
    return ApiError("InternalServerException", 500, "An internal error occurred (injected fault).")
