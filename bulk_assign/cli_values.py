"""What each option's value must look like: argparse types that turn a bad value into one
sentence and exit 2, before anything is read or sent."""

from __future__ import annotations

import argparse
import math
import urllib.parse
from pathlib import Path

from bulk_assign.check.hints import phone_problem
from bulk_assign.check.rules import canonical_catalog, field_rules
from bulk_assign.errors import UsageError
from bulk_assign.quota.budget import Window
from bulk_assign.settings import CATALOGS
from bulk_assign.sheet import fields


def catalog(value: str) -> str:
    catalog = canonical_catalog(value)
    if catalog is not None:
        return catalog
    raise argparse.ArgumentTypeError(f"must be {' or '.join(CATALOGS)}, not {value!r}")


def finite_number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {value}")
    return number


def positive_float(value: str) -> float:
    number = finite_number(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {value}")
    return number


def share(value: str) -> float:
    number = finite_number(value)
    if not 0 < number <= 1:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 1 (the whole quota), "
                                         f"not {value}")
    return number


def minutes(value: str) -> float:
    """A look-back: what the account's other writers did in the quota's own 24 h at most."""
    number = finite_number(value)
    if not 0 <= number <= 24 * 60:
        raise argparse.ArgumentTypeError(f"must be 0 to 1440 minutes (24 h), not {value}")
    return number


def seconds(value: str) -> float:
    number = positive_float(value)
    if number > 3600:
        raise argparse.ArgumentTypeError(f"must be at most 3600 seconds, not {value}")
    return number


def region(value: str) -> str:
    from botocore.exceptions import InvalidRegionError
    from botocore.utils import validate_region_name

    try:
        validate_region_name(text(value))
    except InvalidRegionError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a region name, e.g. us-east-1"
                                         ) from None
    return value


def url(value: str) -> str:
    parts = urllib.parse.urlsplit(text(value).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http:// or https:// URL")
    return value.strip()


def window(value: str) -> str:
    try:
        Window.parse(value)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(
            exc.message.removeprefix(f"--window {value!r}: ")) from None
    return value


def text(value: str) -> str:
    """A value that must say something: an empty shell variable is a mistake, not "any"."""
    if not value.strip():
        raise argparse.ArgumentTypeError("is empty; give a value")
    return value


def file(value: str) -> Path:
    return Path(text(value))


def email(value: str) -> str:
    """An email address as AssignOpportunity's model has it (botocore's own pattern)."""
    rule = field_rules().get(fields.EMAIL)
    if not value.strip():
        raise argparse.ArgumentTypeError("is empty; give an email address")
    if rule is not None and not rule.pattern.fullmatch(value.strip().lower()):
        raise argparse.ArgumentTypeError(f"{value!r} is not an email address")
    return value.strip()


def name(value: str) -> str:
    """A first or last name: not blank, and no longer than the model allows."""
    rule = field_rules().get(fields.FIRST_NAME)
    if rule is not None and not rule.pattern.fullmatch(text(value).strip()):
        raise argparse.ArgumentTypeError(f"is longer than {rule.max_length} characters")
    return value


def phone(value: str) -> str:
    """Blank (no phone), or one the API takes once normalised, as a sheet's Phone cell."""
    problem = phone_problem(value) if value.strip() else None
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{value!r}: {problem}")
    return value


def positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return number
