"""Seed documents: load and check a JSON file, or generate a synthetic one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bulk_assign.emulator.store import OWNER_TITLE

# The demo seed ships in the source tree beside samples/realignment.csv.
DEFAULT_SEED_PATH = Path(__file__).resolve().parents[2] / "samples" / "seed.json"
_MEMBER_KEYS = {"Email", "FirstName", "LastName", "BusinessTitle", "Phone"}

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
    """Raise ValueError if ``data`` is not a seed document (see docs/emulator.md)."""

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
            if not isinstance(opp, dict) or not isinstance(opp.get("team", []), list):
                raise fail(f"{name}/{opp_id}: expected an object with a team list")
            for member in opp.get("team", []):
                if not isinstance(member, dict) or "Email" not in member:
                    raise fail(f"{name}/{opp_id}: each team member needs at least an Email")
                extra = set(member) - _MEMBER_KEYS
                if extra:
                    raise fail(f"{name}/{opp_id}: unknown team member keys {sorted(extra)}")


def synthetic_users(count: int = 50) -> list[str]:
    """The fixed user list of generated seeds: user0@example.com .. user{count-1}@..."""
    return [f"user{k}@example.com" for k in range(count)]


def generate_seed(
    n: int, *, catalog: str = "Sandbox", users: int = 50, start: int = 1_000_000
) -> Seed:
    """A seed with ``n`` opportunities ``O{start}``..``O{start+n-1}`` owned round-robin.

    >>> seed = generate_seed(3)
    >>> sorted(seed["catalogs"]["Sandbox"]["opportunities"])
    ['O1000000', 'O1000001', 'O1000002']
    """
    if n < 0 or users < 1:
        raise ValueError("generate_seed needs n >= 0 and users >= 1")
    emails = synthetic_users(users)
    opportunities = {}
    for i in range(n):
        k = i % users
        owner = {
            "Email": emails[k],
            "FirstName": "User",
            "LastName": f"Number{k}",
            "BusinessTitle": OWNER_TITLE,
        }
        opportunities[f"O{start + i}"] = {"team": [owner], "company": f"Customer {i}"}
    return {"catalogs": {catalog: {"users": emails, "opportunities": opportunities}}}
