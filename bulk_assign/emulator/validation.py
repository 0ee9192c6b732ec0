"""Request validation against botocore's service model (required members, patterns, ranges)."""

from __future__ import annotations

import functools
import re
from typing import Any

# botocore ships no type information (no botocore-stubs in the dev set).
import botocore.session
from botocore.model import ServiceModel, Shape, StructureShape

from bulk_assign.emulator.dates import parse_timestamp
from bulk_assign.emulator.errors import ApiError, validation_error

SERVICE_NAME = "partnercentral-selling"


@functools.cache
def service_model() -> ServiceModel:
    """The Partner Central Selling model botocore ships (loaded once)."""
    return botocore.session.get_session().get_service_model(SERVICE_NAME)


@functools.cache
def enum_values(shape_name: str) -> tuple[str, ...]:
    """The allowed values of one of the model's string enums, e.g. ``"Stage"``."""
    return tuple(getattr(service_model().shape_for(shape_name), "enum", None) or ())


@functools.cache
def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(text)


def validate_input(operation: str, params: Any) -> None:
    """Raise a REQUEST_VALIDATION_FAILED ApiError naming every bad field of ``params``."""
    shape = service_model().operation_model(operation).input_shape
    errors: list[dict[str, str]] = []
    if shape is not None:
        _check(shape, params, "", errors)
    if errors:
        fields = ", ".join(e["FieldName"] for e in errors)
        raise validation_error(f"Request validation failed for: {fields}", errors)


def _error(errors: list[dict[str, str]], field: str, code: str, message: str) -> None:
    # Messages name the field and the rule, never the value (values may be personal data).
    errors.append({"FieldName": field or "(root)", "Code": code, "Message": message})


def _check(shape: Shape, value: Any, field: str, errors: list[dict[str, str]]) -> None:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        if not isinstance(value, dict):
            _error(errors, field, "INVALID_VALUE", "must be an object")
            return
        for name in shape.required_members:
            if value.get(name) is None:
                _error(errors, _join(field, name), "REQUIRED_FIELD_MISSING", "is required")
        for name, member in shape.members.items():
            if value.get(name) is not None:
                _check(member, value[name], _join(field, name), errors)
    elif kind == "string":
        _check_string(shape, value, field, errors)
    elif kind == "timestamp":
        try:
            parse_timestamp(value)
        except (ValueError, TypeError, OverflowError):
            _error(errors, field, "INVALID_VALUE", "must be an ISO 8601 date and time")
    elif kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            _error(errors, field, "INVALID_VALUE", "must be an integer")
            return
        _check_range(shape, value, field, errors)
    elif kind == "list":
        if not isinstance(value, list):
            _error(errors, field, "INVALID_VALUE", "must be a list")
            return
        low, high = shape.metadata.get("min"), shape.metadata.get("max")
        if low is not None and len(value) < low:
            _error(errors, field, "NOT_ENOUGH_VALUES", f"needs at least {low} values")
        if high is not None and len(value) > high:
            _error(errors, field, "TOO_MANY_VALUES", f"allows at most {high} values")
        member = getattr(shape, "member")  # noqa: B009 - ListShape only, typed as Shape
        for index, item in enumerate(value):
            _check(member, item, f"{field}[{index}]", errors)


def _check_string(shape: Shape, value: Any, field: str, errors: list[dict[str, str]]) -> None:
    if not isinstance(value, str):
        _error(errors, field, "INVALID_VALUE", "must be a string")
        return
    enum = getattr(shape, "enum", None)  # only StringShape has it
    if enum and value not in enum:
        _error(errors, field, "INVALID_ENUM_VALUE", "is not one of the allowed values")
        return
    pattern = shape.metadata.get("pattern")
    if pattern is not None and _pattern(pattern).fullmatch(value) is None:
        _error(errors, field, "INVALID_STRING_FORMAT", f"does not match the pattern {pattern}")
        return
    _check_range(shape, len(value), field, errors)


def _check_range(shape: Shape, value: int, field: str, errors: list[dict[str, str]]) -> None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        _error(errors, field, "VALUE_OUT_OF_RANGE", f"must be within {low}..{high}")


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


__all__ = ["ApiError", "enum_values", "service_model", "validate_input"]
