"""The one way the tool writes a moment: ISO 8601 in UTC with a `Z`."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime, *, milliseconds: bool = False) -> str:
    """`2026-11-29T09:28:09Z` (or `...09.123Z`).

    >>> iso(datetime(2026, 11, 29, 9, 28, 9, 123456, tzinfo=UTC), milliseconds=True)
    '2026-11-29T09:28:09.123Z'
    """
    spec = "milliseconds" if milliseconds else "seconds"
    return moment.astimezone(UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def now_iso() -> str:
    """The current moment with milliseconds: when a row finished."""
    return iso(utc_now(), milliseconds=True)
