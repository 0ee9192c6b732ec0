"""`bulk-assign export`: who owns what today, as a sheet that `run` takes as it stands.

1. List the opportunities with ListOpportunities (the model's server-side filters, sorted by
   Identifier so a long listing never skips or repeats one that changes meanwhile).
2. Read each with GetOpportunity at the read pace (the summaries carry no team): the owner is
   the PartnerAccountManager member. `--owner` is matched here, after the read.
3. Every read lands in `FILE.partial.jsonl` beside the output, fsynced, so an interrupted
   export continues where it stopped; the output is written atomically only when all is read.

One row per opportunity: its facts, the owner as `Current ...` columns, and the input columns
(Email, FirstName, ...) filled with the same owner: an analyst overwrites only the rows that
move, and the rest come out UNCHANGED in the run, costing no write.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from typing import Any, Final

import botocore.session
import pandas as pd
from botocore.model import ListShape, StructureShape

from bulk_assign.api.retry import error_code
from bulk_assign.check.owners import current_owner
from bulk_assign.check.rules import SERVICE
from bulk_assign.errors import UsageError
from bulk_assign.report.files import write_csv
from bulk_assign.report.workbook import write_table_workbook
from bulk_assign.results import Contact
from bulk_assign.run.pool import run_pool
from bulk_assign.run.reads import PacedReader
from bulk_assign.sheet import fields
from bulk_assign.stops import RunStopping
from bulk_assign.store.runfolder import atomic_binary, atomic_text, open_private_append, sha256_of

#: ListOpportunities' page size cap: 5,000 opportunities cost 50 list reads.
PAGE_SIZE: Final = 100
#: The model caps these filter lists; longer ones are listed in several passes.
MAX_LIST_VALUES: Final = 10
NOT_FOUND: Final = "ResourceNotFoundException"
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


def list_targets(reader: PacedReader, *, catalog: str, filters: ExportFilters
                 ) -> tuple[list[Target], int]:
    """Every opportunity the filters select (by Identifier), and the list pages it took."""
    if filters.ids:
        return [Target(i) for i in dict.fromkeys(filters.ids)], 0
    found: dict[str, Target] = {}
    pages = 0
    for request in filters.list_requests(catalog):
        params = dict(request)
        while True:
            answer = reader.list_page(params)
            pages += 1
            for summary in answer.get("OpportunitySummaries") or []:
                ident = str(summary.get("Id", ""))
                found[ident] = Target(ident, iso_text(summary.get("LastModifiedDate")))
            token = answer.get("NextToken")
            if not token:
                break
            params["NextToken"] = token
    return sorted(found.values(), key=lambda t: t.identifier), pages


class PartialFile:
    """`FILE.partial.jsonl`: every opportunity read so far, one fsynced line each.

    A line holds the catalog, the identifier, the listing's LastModifiedDate, what the read
    gave (or `missing` when the opportunity is gone) and `export`, the key of the export that
    read it (`ExportFilters.key`): an export of other filters or another catalog into the same
    file reuses what still stands but never removes the others' lines. A complete export notes
    the output it wrote (`wrote`) before it drops its lines. Thread-safe appends.
    """

    def __init__(self, path: Path, *, export: str | None = None) -> None:
        self.path = path
        self.export = export
        self._lock = threading.Lock()
        self._fh: Any = None

    def load(self, catalog: str) -> dict[str, tuple[str, Found | None]]:
        """Identifier -> (LastModifiedDate listed then, what was read) for `catalog`."""
        done: dict[str, tuple[str, Found | None]] = {}
        if not self.path.exists():
            return done
        with self.path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                    if record["catalog"] != catalog:
                        continue
                    found = Found.from_json(record["found"]) if record.get("found") else None
                    done[record["id"]] = (record.get("listed", ""), found)
                except (ValueError, KeyError, TypeError):
                    continue  # the line a kill cut short
        return done

    def wrote(self, out: Path) -> None:
        """Note that this export wrote `out` (as it is now): until `remove`, a stop leaves `out`
        this export's own, unfinished output, which the same export may write again."""
        record = {"export": self.export, "wrote": sha256_of(out)}
        with self._lock:
            if self._fh is None:
                self._fh = _open_append(self.path)
            self._fh.write(json.dumps(record) + "\n")
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def owns(self, out: Path) -> bool:
        """Whether `out`, as it is now, is what this export wrote before a stop (see `wrote`)."""
        marks = {r.get("wrote") for r in self._records() if r.get("export") == self.export}
        marks.discard(None)
        return bool(marks) and out.is_file() and sha256_of(out) in marks

    def _records(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        records = []
        with self.path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # the line a kill cut short
                if isinstance(record, dict):
                    records.append(record)
        return records

    def add(self, *, catalog: str, target: Target, found: Found | None) -> None:
        record = {"catalog": catalog, "id": target.identifier, "listed": target.last_modified,
                  "found": None if found is None else found.to_json(), "export": self.export}
        text = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            if self._fh is None:
                self._fh = _open_append(self.path)
            self._fh.write(text)
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def remove(self) -> None:
        """This export is complete: drop its lines, and the file when no other export's remain
        (a line without `export`, written by an older version, is left to nobody)."""
        self.close()
        others = [r for r in self._records()
                  if r.get("export") is not None and r.get("export") != self.export]
        if not others:
            self.path.unlink(missing_ok=True)
            return
        with atomic_text(self.path) as fh:
            fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in others)


def _open_append(path: Path) -> Any:
    """The partial file to append to, 0600 whatever the umask: it holds owners' contacts."""
    fh = open_private_append(path)
    if fh.tell() > 0:
        with path.open("rb") as raw:
            raw.seek(-1, os.SEEK_END)
            if raw.read(1) != b"\n":
                fh.write("\n")  # a kill cut the last line short: start ours on its own line
    return fh


def partial_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial.jsonl")


@dataclass
class Collected:
    """What an export read: per target, the opportunity (None: gone), and what failed."""

    found: dict[str, Found | None] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    reused: int = 0

    def rows(self, targets: Iterable[Target], filters: ExportFilters) -> list[Found]:
        chosen = (self.found.get(t.identifier) for t in targets)
        return [f for f in chosen if f is not None and filters.keeps(f)]

    @property
    def missing(self) -> int:
        return sum(f is None for f in self.found.values())


def still_valid(earlier: tuple[str, Found | None] | None, target: Target) -> bool:
    """An earlier read stands unless the listing shows the opportunity changed since."""
    return earlier is not None and (not target.last_modified
                                    or earlier[0] == target.last_modified)


def collect(reader: PacedReader, *, catalog: str, targets: list[Target], partial: PartialFile,
            workers: int, on_read: Callable[[], None] = lambda: None) -> Collected:
    """Read every target not already in the partial file; stops when the guard says so."""
    earlier = partial.load(catalog)
    result = Collected()
    todo = []
    for target in targets:
        seen = earlier.get(target.identifier)
        if seen is not None and still_valid(seen, target):
            result.found[target.identifier] = seen[1]
            result.reused += 1
        else:
            todo.append(target)
    lock = threading.Lock()

    def work(target: Target) -> None:
        try:
            found: Found | None = Found.from_api(
                reader.get(catalog=catalog, identifier=target.identifier), catalog=catalog)
        except RunStopping:
            return
        except Exception as exc:
            if error_code(exc) != NOT_FOUND:
                with lock:
                    result.failed[target.identifier] = error_code(exc)
                return
            found = None  # deleted since it was listed (or an unknown --ids entry)
        partial.add(catalog=catalog, target=target, found=found)
        with lock:
            result.found[target.identifier] = found
        on_read()

    with reader.paced():
        run_pool(todo, work, workers=workers, stopping=lambda: reader.guard.stopping)
    partial.close()
    return result


def export_frame(rows: Iterable[Found], *, assignee: Contact | None = None) -> pd.DataFrame:
    """The sheet: one line per opportunity; the input columns hold the current owner, or
    `assignee` when given (transfer)."""
    lines = []
    for opp in rows:
        owner = _cells(opp.owner)
        wanted = owner if assignee is None else _cells(assignee)
        lines.append([opp.identifier, opp.catalog, opp.customer, opp.title, opp.stage,
                      opp.target_close, opp.last_modified, *owner, *wanted])
    return pd.DataFrame(lines, columns=list(EXPORT_COLUMNS), dtype=object)


def _cells(contact: Contact | None) -> list[str]:
    if contact is None:
        return [""] * len(fields.ASSIGNEE_FIELDS)
    return [contact.email, contact.first_name, contact.last_name, contact.business_title,
            contact.phone]


def check_out(out: Path, *, force: bool = False, partial: PartialFile | None = None) -> None:
    """Refuse an `--out` that cannot be written, or one that exists (it may hold the user's
    edits) unless `force` or it is this export's own output, written just before a stop kept
    its `partial` file (`PartialFile.owns`)."""
    if out.suffix.lower() not in FORMATS:
        raise UsageError(f"--out {out}: name a .csv or .xlsx file.")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: folder {out.parent} does not exist; create it first.")
    if out.is_dir():
        raise UsageError(f"--out {out}: is a folder; name a .csv or .xlsx file.")
    if out.exists() and not force and not (partial is not None and partial.owns(out)):
        raise UsageError(f"--out {out}: already exists and may hold edits; name another file, "
                         "or pass --force to replace it; nothing was read.")


def write_export(frame: pd.DataFrame, out: Path) -> None:
    """CSV (UTF-8 BOM, formula-safe) or xlsx (every cell text), written atomically and 0600."""
    if out.suffix.lower() == ".xlsx":
        with atomic_binary(out) as fh:
            write_table_workbook(fh, frame=frame, title=SHEET_TITLE, text_format=True)
    else:
        write_csv(frame, out)
