"""The preview's verdicts, and who loses and gains what: from a row and the owner read today.

Verdicts: MOVE (the run writes it), ALREADY (the assignee owns it: no write), CHANGED (someone
other than the row's expected owner owns it), NOT_FOUND, UNREADABLE (the read failed, with the
error class), INVALID (caught by validation). Rows the run never sends for another reason keep
their status as verdict: DUPLICATE, SKIPPED (hidden, with --hidden-rows skip). The reads
themselves are run/preview.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

import pandas as pd

from bulk_assign.check.owners import has_changed, owned_by
from bulk_assign.check.validator import Validation
from bulk_assign.results import NOT_FOUND, Contact, Job, Status
from bulk_assign.sheet import fields

NOT_FOUND_CODE: Final = NOT_FOUND
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
