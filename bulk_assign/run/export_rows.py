"""What an export selects and keeps: the filters (the model's stages, dates, customers, ids,
owners) and the facts of one opportunity as read, with its owner; exporter.py lists and reads
them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, Final

import botocore.session
from botocore.model import ListShape, StructureShape

from bulk_assign.check.owners import current_owner
from bulk_assign.check.rules import SERVICE
from bulk_assign.errors import UsageError
from bulk_assign.results import Contact
from bulk_assign.sheet import fields

#: ListOpportunities' page size cap: 5,000 opportunities cost 50 list reads.
PAGE_SIZE: Final = 100
#: The model caps these filter lists; longer ones are listed in several passes.
MAX_LIST_VALUES: Final = 10
CURRENT: Final = "Current "
FACT_COLUMNS: Final = ("Customer", "Opportunity Title", "Stage", "Target Close Date",
                       "Last Modified")
EXPORT_COLUMNS: Final = (
    fields.IDENTIFIER, fields.CATALOG, *FACT_COLUMNS,
    *(CURRENT + name for name in fields.ASSIGNEE_FIELDS), *fields.ASSIGNEE_FIELDS,
)
FORMATS: Final = (".csv", ".xlsx")
SHEET_TITLE: Final = "Opportunities"


@cache
def stages() -> tuple[str, ...]:
    """The model's LifeCycleStage values, read from botocore (the tool follows AWS)."""
    model = botocore.session.get_session().get_service_model(SERVICE)
    request = model.operation_model("ListOpportunities").input_shape
    shape = request.members["LifeCycleStage"] if isinstance(request, StructureShape) else None
    if not isinstance(shape, ListShape):
        raise RuntimeError(f"botocore's {SERVICE} model has no ListOpportunities LifeCycleStage")
    return tuple(getattr(shape.member, "enum", ()))


def stage_named(value: str) -> str:
    """`technical validation` -> `Technical Validation`; UsageError for anything else."""
    for stage in stages():
        if fields.fold(stage) == fields.fold(value):
            return stage
    raise UsageError(f"--stage {value!r}: not a stage; use one of {', '.join(stages())}.")


def parse_since(value: str) -> datetime:
    """`2026-07-01` or `2026-07-01T09:00` (UTC unless an offset is given)."""
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(value.strip()), datetime.min.time())
        except ValueError:
            raise UsageError(f"--modified-since {value!r}: not a date; write it as 2026-07-01 "
                             "or 2026-07-01T09:00 (UTC).") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ExportFilters:
    """Which opportunities to export. Empty means "all"; values within a filter are OR-ed."""

    owners: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    customers: tuple[str, ...] = ()
    modified_since: datetime | None = None
    ids: tuple[str, ...] = ()

    def list_requests(self, catalog: str) -> list[dict[str, Any]]:
        """The ListOpportunities requests (first pages) that together list the set."""
        base: dict[str, Any] = {"Catalog": catalog, "MaxResults": PAGE_SIZE,
                                "Sort": {"SortBy": "Identifier", "SortOrder": "ASCENDING"}}
        if self.stages:
            base["LifeCycleStage"] = list(self.stages)
        if self.modified_since is not None:
            base["LastModifiedDate"] = {"AfterLastModifiedDate": self.modified_since}
        if not self.customers:
            return [base]
        chunks = [self.customers[i : i + MAX_LIST_VALUES]
                  for i in range(0, len(self.customers), MAX_LIST_VALUES)]
        return [{**base, "CustomerCompanyName": list(chunk)} for chunk in chunks]

    def key(self, catalog: str) -> str:
        """A short name of the export these filters make in `catalog`: it marks the export's
        lines in a partial file that several exports may share."""
        text = json.dumps({"catalog": catalog, **asdict(self)}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def keeps(self, opp: Found) -> bool:
        """Checks made after the read: the owner always; the rest too with --ids, whose
        opportunities are read without a listing."""
        if self.owners and (opp.owner is None
                            or opp.owner.email.casefold() not in self.owners):
            return False
        if not self.ids:
            return True
        customers = {c.casefold() for c in self.customers}
        return ((not self.stages or opp.stage in self.stages)
                and (not customers or opp.customer.casefold() in customers)
                and (self.modified_since is None
                     or _moment(opp.last_modified) >= self.modified_since))


@dataclass(frozen=True)
class Found:
    """One opportunity as read: the facts the export shows, and its owner (None: no owner)."""

    identifier: str
    catalog: str
    customer: str = ""
    title: str = ""
    stage: str = ""
    target_close: str = ""
    last_modified: str = ""
    owner: Contact | None = None

    @classmethod
    def from_api(cls, answer: dict[str, Any], *, catalog: str) -> Found:
        life = answer.get("LifeCycle") or {}
        team = [dict(m) for m in answer.get("OpportunityTeam") or []]
        return cls(
            identifier=str(answer.get("Id", "")), catalog=catalog,
            customer=str(((answer.get("Customer") or {}).get("Account") or {})
                         .get("CompanyName", "")),
            title=str((answer.get("Project") or {}).get("Title", "")),
            stage=str(life.get("Stage", "")), target_close=str(life.get("TargetCloseDate", "")),
            last_modified=iso_text(answer.get("LastModifiedDate")), owner=current_owner(team),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Found:
        owner = data.get("owner")
        return cls(**{**data, "owner": Contact(**owner) if owner else None})


def iso_text(value: Any) -> str:
    """A service timestamp (botocore gives datetimes) as ISO 8601 UTC text."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return "" if value is None else str(value)


def _moment(text: str) -> datetime:
    try:
        return parse_since(text)
    except UsageError:
        return datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Target:
    """An opportunity to read; `last_modified` from the listing ("" with --ids: no listing)."""

    identifier: str
    last_modified: str = ""
