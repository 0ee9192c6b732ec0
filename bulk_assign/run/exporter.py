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

import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bulk_assign.api.retry import error_code
from bulk_assign.errors import UsageError
from bulk_assign.report.files import write_csv
from bulk_assign.report.workbook import write_table_workbook
from bulk_assign.results import NOT_FOUND, Contact
from bulk_assign.run.export_rows import (
    EXPORT_COLUMNS,
    FORMATS,
    SHEET_TITLE,
    ExportFilters,
    Found,
    Target,
    iso_text,
)
from bulk_assign.run.pool import run_pool
from bulk_assign.run.reads import PacedReader
from bulk_assign.sheet import fields
from bulk_assign.stops import RunStopping
from bulk_assign.store.runfolder import atomic_binary, atomic_text, open_private_append, sha256_of


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
