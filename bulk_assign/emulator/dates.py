"""Timestamps as the service writes them (ISO 8601 UTC, milliseconds) and reads them."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime


def to_iso(epoch: float) -> str:
    """``2025-01-01T00:00:00.000Z`` for an epoch in seconds, as the API answers dates.

    >>> to_iso(1_735_689_600.25)
    '2025-01-01T00:00:00.250Z'
    """
    whole = math.floor(epoch)
    ms = round((epoch - whole) * 1000)
    if ms == 1000:
        whole, ms = whole + 1, 0
    # gmtime and a format: several times faster than datetime for 100,000-opportunity seeds.
    t = time.gmtime(whole)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{ms:03d}Z"
    )


def parse_timestamp(value: object) -> float:
    """Epoch seconds from an ISO 8601 string (naive means UTC) or an epoch number.

    Raises ValueError for anything else.

    >>> parse_timestamp("2025-01-01T00:00:00Z"), parse_timestamp("2025-01-01")
    (1735689600.0, 1735689600.0)
    """
    if isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ValueError("a timestamp must be an ISO 8601 string")
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def to_ms(epoch: float) -> float:
    """``epoch`` rounded to the millisecond the API shows, so filters agree with answers."""
    return round(epoch, 3)
