"""Opportunities, registered users and the call log; all access under one lock."""

from __future__ import annotations

import base64
import copy
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bulk_assign.emulator.errors import ApiError, business_error, not_found, validation_error

OWNER_TITLE = "PartnerAccountManager"
DEFAULT_MAX_RESULTS = 20
# A fixed "account" so ARNs look real without naming anyone's account.
_ARN = "arn:aws:partnercentral:us-east-1:000000000000:catalog/{catalog}/opportunity/{id}"
_SEED_EPOCH = 1_735_689_600.0  # 2025-01-01T00:00:00Z, a stable CreatedDate for seed data


@dataclass
class Opportunity:
    """One opportunity as the emulator keeps it."""

    catalog: str
    id: str
    team: list[dict[str, str]]
    company: str = "AnyCompany Customer"
    stage: str = "Prospect"
    title: str = ""
    created: float = _SEED_EPOCH
    modified: float = _SEED_EPOCH

    def owner(self) -> dict[str, str] | None:
        """The PartnerAccountManager member, else the first member, else None."""
        for member in self.team:
            if member.get("BusinessTitle") == OWNER_TITLE:
                return member
        return self.team[0] if self.team else None

    def arn(self) -> str:
        return _ARN.format(catalog=self.catalog, id=self.id)

    def summary(self) -> dict[str, Any]:
        return {
            "Catalog": self.catalog,
            "Id": self.id,
            "Arn": self.arn(),
            "CreatedDate": self.created,
            "LastModifiedDate": self.modified,
            "LifeCycle": {"Stage": self.stage},
            "Customer": {"Account": {"CompanyName": self.company}},
        }

    def full(self) -> dict[str, Any]:
        return {
            **self.summary(),
            "RelatedEntityIdentifiers": {},
            "Project": {"Title": self.title or f"Opportunity {self.id}"},
            "OpportunityTeam": copy.deepcopy(self.team),
        }


@dataclass
class Catalog:
    users: set[str]  # lower-cased emails
    opportunities: dict[str, Opportunity] = field(default_factory=dict)


def build_catalogs(seed: dict[str, Any]) -> dict[str, Catalog]:
    """Fresh state from a (validated) seed document."""
    catalogs: dict[str, Catalog] = {}
    for name, data in seed["catalogs"].items():
        catalog = Catalog(users={u.lower() for u in data.get("users", [])})
        for opp_id, opp in data.get("opportunities", {}).items():
            catalog.opportunities[opp_id] = Opportunity(
                catalog=name,
                id=opp_id,
                team=[dict(member) for member in opp.get("team", [])],
                company=opp.get("company", "AnyCompany Customer"),
                stage=opp.get("stage", "Prospect"),
                title=opp.get("title", ""),
            )
        catalogs[name] = catalog
    return catalogs


class Store:
    """The emulated service state plus what the tests assert on."""

    def __init__(self, seed: dict[str, Any]) -> None:
        self._seed = seed
        self.lock = threading.Lock()
        self.catalogs = build_catalogs(seed)
        self.calls: list[dict[str, Any]] = []
        self.counts: dict[str, Counter[str]] = {}
        self.throttled: Counter[str] = Counter({"write": 0, "read": 0})
        self.faults: Counter[str] = Counter({"error": 0, "reset": 0, "slow": 0})

    def reset(self) -> None:
        """Back to the seed; log and counters cleared."""
        with self.lock:
            self.catalogs = build_catalogs(self._seed)
            self.calls = []
            self.counts = {}
            self.throttled = Counter({"write": 0, "read": 0})
            self.faults = Counter({"error": 0, "reset": 0, "slow": 0})

    # -- operations -----------------------------------------------------------------------

    def _find(self, catalog: str, identifier: str) -> Opportunity:
        opp = self.catalogs.get(catalog, Catalog(set())).opportunities.get(identifier)
        if opp is None:
            raise not_found(f"Opportunity {identifier} was not found in catalog {catalog}.")
        return opp

    def assign(self, params: dict[str, Any]) -> dict[str, Any]:
        """AssignOpportunity: the assignee replaces the PartnerAccountManager (or joins)."""
        catalog, identifier = params["Catalog"], params["Identifier"]
        assignee = params["Assignee"]
        with self.lock:
            opp = self._find(catalog, identifier)
            if assignee["Email"].lower() not in self.catalogs[catalog].users:
                raise business_error(
                    "The assignee is not a registered user of this partner account in catalog "
                    f"{catalog}."
                )
            member = {
                key: assignee[key]
                for key in ("Email", "FirstName", "LastName", "BusinessTitle", "Phone")
                if key in assignee
            }
            for index, current in enumerate(opp.team):
                if current.get("BusinessTitle") == OWNER_TITLE:
                    opp.team[index] = member
                    break
            else:
                opp.team.append(member)
            opp.modified = time.time()
        return {}

    def get(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            return self._find(params["Catalog"], params["Identifier"]).full()

    def list(self, params: dict[str, Any]) -> dict[str, Any]:
        catalog = params["Catalog"]
        size = params.get("MaxResults") or DEFAULT_MAX_RESULTS
        start = _decode_token(params.get("NextToken"), catalog)
        wanted = set(params.get("Identifier") or ())
        with self.lock:
            opps = list(self.catalogs.get(catalog, Catalog(set())).opportunities.values())
            if wanted:
                opps = [o for o in opps if o.id in wanted]
            page = [o.summary() for o in opps[start : start + size]]
            more = start + size < len(opps)
        result: dict[str, Any] = {"OpportunitySummaries": page}
        if more:
            result["NextToken"] = _encode_token(catalog, start + size)
        return result

    # -- bookkeeping ----------------------------------------------------------------------

    def record(self, entry: dict[str, Any], *, applied: bool) -> None:
        """Append a call to the log and count it (cheap: one lock, one append)."""
        with self.lock:
            self.calls.append(entry)
            counts = self.counts.setdefault(entry["operation"] or "(none)", Counter())
            counts[entry["outcome"]] += 1
            if applied:
                counts["applied"] += 1

    def bump(self, counter: str, key: str) -> None:
        """Count a throttled call (``"throttled"``) or an injected fault (``"faults"``)."""
        with self.lock:
            getattr(self, counter)[key] += 1

    def snapshot(self) -> dict[str, Any]:
        """The document GET /_emulator/state returns."""
        with self.lock:
            owners: dict[str, dict[str, Any]] = {}
            for name, catalog in self.catalogs.items():
                owners[name] = {}
                for opp_id, opp in catalog.opportunities.items():
                    owner = opp.owner()
                    owners[name][opp_id] = dict(owner) if owner else None
            return {
                "calls": list(self.calls),
                "owners": owners,
                "throttled": dict(self.throttled),
                "faults": dict(self.faults),
                "counts": {op: dict(c) for op, c in self.counts.items()},
            }


def _encode_token(catalog: str, offset: int) -> str:
    return base64.urlsafe_b64encode(f"v1|{catalog}|{offset}".encode()).decode()


def _decode_token(token: str | None, catalog: str) -> int:
    if not token:
        return 0
    try:
        version, token_catalog, offset = base64.urlsafe_b64decode(token).decode().split("|")
        if version != "v1" or token_catalog != catalog or int(offset) < 0:
            raise ValueError(token)
        return int(offset)
    except (ValueError, UnicodeDecodeError):
        raise validation_error(
            "NextToken is not valid for this request.",
            [{"FieldName": "NextToken", "Code": "INVALID_VALUE", "Message": "is not valid"}],
        ) from None


__all__ = ["ApiError", "Opportunity", "Store", "build_catalogs"]
