"""Opportunities, registered users and the call log; all access under one lock."""

from __future__ import annotations

import copy
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bulk_assign.emulator.dates import parse_timestamp, to_iso, to_ms
from bulk_assign.emulator.errors import ApiError, business_error, not_found
from bulk_assign.emulator.listing import ListQuery

OWNER_TITLE = "PartnerAccountManager"
MEMBER_KEYS = ("Email", "FirstName", "LastName", "BusinessTitle", "Phone")
# A fixed "account" so ARNs look real without naming anyone's account.
_ARN = "arn:aws:partnercentral:us-east-1:000000000000:catalog/{catalog}/opportunity/{id}"
SEED_EPOCH = 1_735_689_600.0  # 2025-01-01T00:00:00Z: the dates of a seed that gives none
_DAY = 86_400.0


@dataclass
class Opportunity:
    """One opportunity as the emulator keeps it (dates in epoch seconds, to the ms)."""

    catalog: str
    id: str
    team: list[dict[str, str]]
    company: str = "AnyCompany Customer"
    stage: str = "Prospect"
    title: str = ""
    created: float = SEED_EPOCH
    modified: float = SEED_EPOCH
    target_close_date: str = "2025-06-30"
    review_status: str = "Approved"

    def owner(self) -> dict[str, str] | None:
        """The member whose BusinessTitle is PartnerAccountManager; None when there is none."""
        for member in self.team:
            if member.get("BusinessTitle") == OWNER_TITLE:
                return member
        return None

    def assign(self, member: dict[str, str], *, now: float) -> None:
        """A PartnerAccountManager replaces the owner (or becomes it); another title joins
        the team beside the owner. Either way the opportunity was modified ``now``."""
        if member.get("BusinessTitle") == OWNER_TITLE:
            for index, current in enumerate(self.team):
                if current.get("BusinessTitle") == OWNER_TITLE:
                    self.team[index] = member
                    break
            else:
                self.team.append(member)
        else:
            self.team.append(member)
        self.modified = to_ms(now)

    def arn(self) -> str:
        return _ARN.format(catalog=self.catalog, id=self.id)

    def summary(self) -> dict[str, Any]:
        """An OpportunitySummary as ListOpportunities answers it: no team."""
        return {
            "Catalog": self.catalog,
            "Id": self.id,
            "Arn": self.arn(),
            "CreatedDate": to_iso(self.created),
            "LastModifiedDate": to_iso(self.modified),
            "LifeCycle": {
                "Stage": self.stage,
                "TargetCloseDate": self.target_close_date,
                "ReviewStatus": self.review_status,
            },
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


def build_opportunity(catalog: str, opp_id: str, data: dict[str, Any]) -> Opportunity:
    """An Opportunity from its (checked) seed entry; missing dates default sensibly."""
    created = to_ms(parse_timestamp(data.get("created", SEED_EPOCH)))
    modified = to_ms(parse_timestamp(data.get("modified", created)))
    close = data.get("target_close_date") or to_iso(created + 180 * _DAY)[:10]
    return Opportunity(
        catalog=catalog,
        id=opp_id,
        team=[dict(member) for member in data.get("team", [])],
        company=data.get("company", "AnyCompany Customer"),
        stage=data.get("stage", "Prospect"),
        title=data.get("title", ""),
        created=created,
        modified=modified,
        target_close_date=close,
        review_status=data.get("review_status", "Approved"),
    )


def build_catalogs(seed: dict[str, Any]) -> dict[str, Catalog]:
    """Fresh state from a (validated) seed document."""
    catalogs: dict[str, Catalog] = {}
    for name, data in seed["catalogs"].items():
        catalog = Catalog(users={u.lower() for u in data.get("users", [])})
        for opp_id, opp in data.get("opportunities", {}).items():
            catalog.opportunities[opp_id] = build_opportunity(name, opp_id, opp)
        catalogs[name] = catalog
    return catalogs


class Store:
    """The emulated service state plus what the tests assert on."""

    def __init__(self, seed: dict[str, Any], *, now: Callable[[], float] = time.time) -> None:
        self._seed = seed
        self._now = now  # wall clock for LastModifiedDate; injectable for tests
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
        """AssignOpportunity (see Opportunity.assign); a registered user only."""
        catalog, identifier = params["Catalog"], params["Identifier"]
        assignee = params["Assignee"]
        member = {key: assignee[key] for key in MEMBER_KEYS if key in assignee}
        with self.lock:
            opp = self._find(catalog, identifier)
            if assignee["Email"].lower() not in self.catalogs[catalog].users:
                raise business_error(
                    "The assignee is not a registered user of this partner account in catalog "
                    f"{catalog}."
                )
            opp.assign(member, now=self._now())
        return {}

    def get(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            return self._find(params["Catalog"], params["Identifier"]).full()

    def list(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListOpportunities: one page of summaries, filtered and sorted as asked."""
        query = ListQuery.from_params(params)
        with self.lock:
            catalog = self.catalogs.get(params["Catalog"], Catalog(set()))
            chosen, token = query.page(catalog.opportunities.values())
            page = [opp.summary() for opp in chosen]
        result: dict[str, Any] = {"OpportunitySummaries": page}
        if token is not None:
            result["NextToken"] = token
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


__all__ = ["ApiError", "Opportunity", "Store", "build_catalogs"]
