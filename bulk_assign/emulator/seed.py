"""Seed documents: load and check a JSON file, or generate a synthetic one."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bulk_assign.emulator.dates import parse_timestamp, to_iso
from bulk_assign.emulator.store import OWNER_TITLE
from bulk_assign.emulator.validation import enum_values

# The demo seed ships in the source tree beside samples/realignment.csv.
DEFAULT_SEED_PATH = Path(__file__).resolve().parents[2] / "samples" / "seed.json"
_MEMBER_KEYS = {"Email", "FirstName", "LastName", "BusinessTitle", "Phone"}
_DATE = re.compile(r"[1-9][0-9]{3}-(0[1-9]|1[012])-(0[1-9]|[12][0-9]|3[01])")
_DAY = 86_400
# Generated seeds: dates before this moment (2025-06-01T00:00:00Z), so a look-back over the
# last hours never mistakes seed data for another writer.
_GENERATED_UNTIL = 1_748_736_000
# Ten customers; the first seven own two shares each of every 17 opportunities.
_CUSTOMERS = (
    "Octank Retail", "AnyCompany Health", "Example Bank", "Northwind Foods", "Contoso Energy",
    "Fabrikam Media", "Tailspin Travel", "Example Logistics", "Wingtip Toys", "Adatum Labs",
)

Seed = dict[str, Any]


def load_seed(path: str | Path | None = None) -> Seed:
    """Read and check a seed file (the demo seed when ``path`` is None).

    Raises ValueError naming the file and the problem.
    """
    path = Path(path) if path is not None else DEFAULT_SEED_PATH
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read seed file {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"seed file {path} is not valid JSON: {exc}") from exc
    check_seed(data, source=str(path))
    return data  # type: ignore[no-any-return]


def check_seed(data: Any, *, source: str = "seed") -> None:
    """Raise ValueError if ``data`` is not a seed document (the format: docs/emulator.md)."""

    def fail(message: str) -> ValueError:
        return ValueError(f"{source}: {message}")

    if not isinstance(data, dict) or not isinstance(data.get("catalogs"), dict):
        raise fail('expected an object with a "catalogs" object')
    for name, catalog in data["catalogs"].items():
        if not isinstance(catalog, dict):
            raise fail(f"catalog {name!r} must be an object")
        users = catalog.get("users", [])
        if not isinstance(users, list) or not all(isinstance(u, str) for u in users):
            raise fail(f"catalog {name!r}: users must be a list of email strings")
        opps = catalog.get("opportunities", {})
        if not isinstance(opps, dict):
            raise fail(f"catalog {name!r}: opportunities must be an object keyed by id")
        for opp_id, opp in opps.items():
            problem = _opportunity_problem(opp)
            if problem:
                raise fail(f"{name}/{opp_id}: {problem}")


def _opportunity_problem(opp: Any) -> str | None:
    """What is wrong with one seed opportunity, or None."""
    if not isinstance(opp, dict) or not isinstance(opp.get("team", []), list):
        return "expected an object with a team list"
    for member in opp.get("team", []):
        if not isinstance(member, dict) or "Email" not in member:
            return "each team member needs at least an Email"
        extra = set(member) - _MEMBER_KEYS
        if extra:
            return f"unknown team member keys {sorted(extra)}"
    for key, allowed in (("stage", "Stage"), ("review_status", "ReviewStatus")):
        if key in opp and opp[key] not in enum_values(allowed):
            return f"{key} must be one of {', '.join(enum_values(allowed))}"
    for key in ("created", "modified"):
        try:
            if key in opp:
                parse_timestamp(opp[key])
        except (ValueError, TypeError, OverflowError):
            return f"{key} must be an ISO 8601 date and time, e.g. 2025-01-31T09:00:00Z"
    close = opp.get("target_close_date")
    if close is not None and (not isinstance(close, str) or not _DATE.fullmatch(close)):
        return "target_close_date must be a date YYYY-MM-DD"
    return None


def synthetic_users(count: int = 50) -> list[str]:
    """The fixed user list of generated seeds: user0@example.com .. user{count-1}@..."""
    return [f"user{k}@example.com" for k in range(count)]


def generate_seed(
    n: int, *, catalog: str = "Sandbox", users: int = 50, start: int = 1_000_000
) -> Seed:
    """A seed with ``n`` opportunities ``O{start}``..``O{start+n-1}``.

    Opportunity i is owned by ``user{i % users}@example.com``; stages cycle through the
    model's LifeCycleStage values, ten customers share them unevenly, and created / last
    modified dates spread over the two years before mid-2025. Deterministic: opportunity i
    is the same whatever ``n``.

    >>> seed = generate_seed(3)
    >>> sorted(seed["catalogs"]["Sandbox"]["opportunities"])
    ['O1000000', 'O1000001', 'O1000002']
    """
    if n < 0 or users < 1:
        raise ValueError("generate_seed needs n >= 0 and users >= 1")
    emails = synthetic_users(users)
    opportunities = {f"O{start + i}": _generated(i, emails) for i in range(n)}
    return {"catalogs": {catalog: {"users": emails, "opportunities": opportunities}}}


def _generated(i: int, emails: list[str]) -> dict[str, Any]:
    k = i % len(emails)
    owner = {
        "Email": emails[k],
        "FirstName": "User",
        "LastName": f"Number{k}",
        "BusinessTitle": OWNER_TITLE,
    }
    stages = enum_values("Stage")
    # Multipliers prime to the moduli: neighbours differ in every field.
    age_days = 30 + (i * 7919) % 700
    created = _GENERATED_UNTIL - age_days * _DAY - (i * 104_729) % _DAY
    modified = created + ((i * 31) % age_days) * _DAY + (i * 8191) % 3600
    return {
        "company": _CUSTOMERS[(i * 7) % 17 % len(_CUSTOMERS)],
        "stage": stages[(i * 3 + i // 7) % len(stages)],
        "title": f"Generated opportunity {i}",
        "created": to_iso(created),
        "modified": to_iso(modified),
        "target_close_date": to_iso(created + (90 + (i * 13) % 180) * _DAY)[:10],
        "team": [owner],
    }
