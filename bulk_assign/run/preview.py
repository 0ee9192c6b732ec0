"""`bulk-assign preview`: who owns each row's opportunity today, and what the run would do.

The sign-off step: every valid row's opportunity is read once (GetOpportunity, read pace), no
write. Each read lands in `preview_reads.jsonl` in the preview folder, fsynced, so a stopped
preview continues where it left off; a complete one is the record `run --from-preview` takes
its expected owners from (see `expected_from_preview`).

Verdicts: MOVE (the run writes it), ALREADY (the assignee owns it: no write), CHANGED (someone
other than the row's expected owner owns it), NOT_FOUND, UNREADABLE (the read failed, with the
error class), INVALID (caught by validation). Rows the run never sends for another reason keep
their status as verdict: DUPLICATE, SKIPPED (hidden, with --hidden-rows skip).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import pandas as pd

from bulk_assign.api.client import current_owner, owned_by
from bulk_assign.api.retry import error_code
from bulk_assign.check.owners import has_changed
from bulk_assign.check.validator import Validation
from bulk_assign.errors import UsageError
from bulk_assign.results import Contact, Job, Status
from bulk_assign.run.guard import RunStopping
from bulk_assign.run.pool import run_pool
from bulk_assign.run.reads import PacedReader
from bulk_assign.sheet import fields
from bulk_assign.store.runfolder import open_private_append

READS: Final = "preview_reads.jsonl"
RECORD: Final = "preview.json"
NOT_FOUND_CODE: Final = "ResourceNotFoundException"
NO_OWNER: Final = "(no owner)"
COLUMNS: Final = ("row", "verdict", "Identifier", "current owner", "current owner name",
                  "new owner", "new owner name", "expected owner", "error_class", "note")
PERSON_COLUMNS: Final = ("person", "name", "lost", "gained", "net")


class Verdict(StrEnum):
    MOVE = "MOVE"
    ALREADY = "ALREADY"
    CHANGED = "CHANGED"
    NOT_FOUND = "NOT_FOUND"
    UNREADABLE = "UNREADABLE"
    INVALID = "INVALID"


#: Verdicts whose rows the run writes (CHANGED too when run with --from-preview: the approver
#: saw who owns it now).
MOVING: Final = frozenset({Verdict.MOVE, Verdict.CHANGED})


@dataclass(frozen=True)
class Seen:
    """One row's read: the owner (None: no owner), or the error class of a failed read."""

    row: int
    identifier: str
    owner: Contact | None = None
    error_class: str = ""

    @property
    def found(self) -> bool:
        return not self.error_class


def verdict(job: Job, seen: Seen | None) -> Verdict:
    """The verdict on one valid row from its read (None: not read)."""
    if seen is None:
        return Verdict.UNREADABLE
    if seen.error_class == NOT_FOUND_CODE:
        return Verdict.NOT_FOUND
    if seen.error_class:
        return Verdict.UNREADABLE
    if owned_by(seen.owner, job.assignee):
        return Verdict.ALREADY
    return Verdict.CHANGED if has_changed(seen.owner, job) else Verdict.MOVE


class ReadLog:
    """`preview_reads.jsonl`: one fsynced line per finished read (found or not found) of the
    input with `sha256` in `catalog`; failed reads are not kept, so a rerun reads them again."""

    def __init__(self, path: Path, *, sha256: str, catalog: str) -> None:
        self.path = path
        self._key = {"sha256": sha256, "catalog": catalog}
        self._lock = threading.Lock()
        self._fh: Any = None

    def load(self) -> dict[int, Seen]:
        seen: dict[int, Seen] = {}
        if not self.path.exists():
            return seen
        with self.path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    data = json.loads(line)
                    if any(data[k] != v for k, v in self._key.items()):
                        continue
                    owner = data.get("owner")
                    seen[int(data["row"])] = Seen(
                        row=int(data["row"]), identifier=str(data["id"]),
                        owner=Contact(**owner) if owner else None,
                        error_class=str(data.get("error_class", "")))
                except (ValueError, KeyError, TypeError):
                    continue  # the line a kill cut short
        return seen

    def add(self, seen: Seen) -> None:
        owner = seen.owner
        record = {**self._key, "row": seen.row, "id": seen.identifier,
                  "owner": None if owner is None else owner.__dict__,
                  "error_class": seen.error_class}
        text = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            if self._fh is None:
                self._fh = open_private_append(self.path)
            self._fh.write(text)
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def read_owners(reader: PacedReader, jobs: Iterable[Job], *, log: ReadLog, workers: int,
                on_read: Callable[[], None] = lambda: None) -> dict[int, Seen]:
    """Read each job's owner (those `log` holds are not read again); rows left when the
    reader stops are absent. Never raises for a row."""
    seen = log.load()
    todo = [job for job in jobs if job.row not in seen]
    lock = threading.Lock()

    def work(job: Job) -> None:
        try:
            answer = reader.get(catalog=job.catalog, identifier=job.identifier)
        except RunStopping:
            return
        except Exception as exc:
            result = Seen(job.row, job.identifier, error_class=error_code(exc))
            if result.error_class == NOT_FOUND_CODE:
                log.add(result)
        else:
            team = [dict(m) for m in answer.get("OpportunityTeam") or []]
            result = Seen(job.row, job.identifier, owner=current_owner(team))
            log.add(result)
        with lock:
            seen[job.row] = result
        on_read()

    with reader.paced():
        run_pool(todo, work, workers=workers, stopping=lambda: reader.guard.stopping)
    log.close()
    return seen


@dataclass(frozen=True)
class Preview:
    """The preview as data: one line per input row, and the people who lose and gain."""

    frame: pd.DataFrame
    people: pd.DataFrame
    counts: dict[str, int]

    @property
    def writes(self) -> int:
        return sum(self.counts.get(str(v), 0) for v in MOVING)


def build(validation: Validation, seen: Mapping[int, Seen]) -> Preview:
    """The preview of every input row (the valid ones from their reads)."""
    jobs = {job.row: job for job in validation.jobs()}
    lines = []
    for row, status in zip(validation.status.index.tolist(), validation.status.tolist(),
                           strict=True):
        job = jobs.get(row)
        if job is None:
            verdict_text = Verdict.INVALID if status == Status.INVALID else str(status)
            lines.append(_line(validation, row, str(verdict_text)))
            continue
        read = seen.get(row)
        lines.append(_line(validation, row, str(verdict(job, read)), job=job, read=read))
    frame = pd.DataFrame(lines, columns=list(COLUMNS), dtype=object)
    counts = {str(k): int(v) for k, v in frame["verdict"].value_counts(sort=False).items()}
    return Preview(frame=frame, people=by_person(frame), counts=counts)


def _line(validation: Validation, row: int, verdict_text: str, *, job: Job | None = None,
          read: Seen | None = None) -> list[Any]:
    values = validation.values.loc[row]
    expected = values.get(fields.EXPECTED_OWNER)
    owner = read.owner if read is not None else None
    known = read is not None and read.found
    note = _NOTES.get(verdict_text) or str(validation.error_message.loc[row])
    return [
        row, verdict_text, str(values[fields.IDENTIFIER]),
        (owner.email if owner else NO_OWNER) if known else "",
        _name(owner) if known else "",
        job.assignee.email if job else str(values[fields.EMAIL]),
        _name(job.assignee) if job else "",
        expected if isinstance(expected, str) else "",
        read.error_class if read is not None else "", note,
    ]


_NOTES: Final[dict[str, str]] = {
    Verdict.MOVE: "the run writes it",
    Verdict.ALREADY: "the assignee owns it: no write",
    Verdict.CHANGED: "someone other than the row's expected owner owns it now",
    Verdict.NOT_FOUND: "no such opportunity in the catalog",
    Verdict.UNREADABLE: "could not be read: preview again",
}


def _name(contact: Contact | None) -> str:
    return "" if contact is None else f"{contact.first_name} {contact.last_name}".strip()


def by_person(frame: pd.DataFrame) -> pd.DataFrame:
    """Per person, the opportunities they lose and gain if the run moves every MOVE and
    CHANGED row; `(no owner)` loses the ownerless ones, so the totals add up: lost = gained =
    the rows that move. Sorted by the size of the change (lost + gained), then by email; a
    last line holds the totals."""
    moving = frame[frame["verdict"].isin([str(v) for v in MOVING])]
    lost = moving["current owner"].value_counts()
    gained = moving["new owner"].value_counts()
    names = dict(zip(moving["new owner"], moving["new owner name"], strict=True))
    names.update(zip(moving["current owner"], moving["current owner name"], strict=True))
    people = sorted(set(lost.index) | set(gained.index))
    table = [(p, names.get(p, ""), int(lost.get(p, 0)), int(gained.get(p, 0))) for p in people]
    table.sort(key=lambda t: (-(t[2] + t[3]), -abs(t[3] - t[2]), t[0]))
    rows = [[p, n, str(lo), str(g), f"{g - lo:+d}" if g != lo else "0"]
            for p, n, lo, g in table]
    total = len(moving)
    rows.append(["Total", f"{len(table)} people", str(total), str(total), "0"])
    return pd.DataFrame(rows, columns=list(PERSON_COLUMNS), dtype=object)


# --- the record and `run --from-preview` ---------------------------------------------------


def write_record(folder: Path, record: dict[str, Any]) -> None:
    from bulk_assign.report.files import write_json  # the report stage writes files

    write_json(record, folder / RECORD)


def read_record(folder: Path) -> dict[str, Any]:
    path = folder / RECORD
    try:
        record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--from-preview {folder}: holds no preview ({RECORD} is missing); "
                         "run `bulk-assign preview INPUT --catalog C --out "
                         f"{folder}` first.") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot be read ({exc}); preview again.") from None
    return record


def expected_from_preview(validation: Validation, folder: Path, *, sha256: str,
                          catalog: str) -> Validation:
    """`validation` with each row's expected owner set to the owner the preview read.

    Refuses (UsageError) a preview of another file or catalog, or one that did not finish.
    Rows the preview could not read keep the sheet's own expected owner.
    """
    record = read_record(folder)
    if record.get("input_sha256") != sha256:
        raise UsageError(f"--from-preview {folder}: previewed another version of the input "
                         f"({record.get('input', '?')}); the sheet changed since the sign-off. "
                         "Preview it again. Nothing was sent.")
    if record.get("catalog") != catalog:
        raise UsageError(f"--from-preview {folder}: previewed catalog {record.get('catalog')}, "
                         f"not {catalog}. Nothing was sent.")
    if not record.get("complete"):
        raise UsageError(f"--from-preview {folder}: the preview did not finish; run it again "
                         "to complete it. Nothing was sent.")
    seen = ReadLog(folder / READS, sha256=sha256, catalog=catalog).load()
    values = validation.values.copy()
    if fields.EXPECTED_OWNER not in values:
        values[fields.EXPECTED_OWNER] = None
    column = values[fields.EXPECTED_OWNER].astype(object)
    for row, read in seen.items():
        if read.found and row in column.index:
            column.at[row] = "" if read.owner is None else read.owner.email.casefold()
    values[fields.EXPECTED_OWNER] = column
    return replace(validation, values=values)
