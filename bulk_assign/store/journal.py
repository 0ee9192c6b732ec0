"""journal.jsonl: the crash-safe truth that resume reads.

Two kinds of line, each flushed and fsynced before the call it guards goes on:
- `sending`: a write is leaving for this row (with the owner seen before it), written once the
  pacer gave it its slot and before it goes out (budget.py), so a run killed mid-call knows to
  re-read that opportunity instead of writing it blind, and the daily budget counts exactly
  the writes that left;
- `outcome`: the row's outcome. The last outcome of a row wins.
A line cut short by `kill -9` (the file's last, without its newline) is ignored on reading and
cut off before the next run appends. Any other line that is not a well-formed record stops
`load` with JournalDamaged: the journal is the only record of what was done (and of the owners
to undo), so a damaged one is never guessed around.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Container, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from bulk_assign.results import Contact, RowOutcome
from bulk_assign.store.runfolder import open_private_append


class Journal:
    """Append-only, thread-safe writer.

    Each call returns only once its lines are on disk. Concurrent callers share fsyncs (group
    commit): a caller whose lines an fsync already covered does not wait for another.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._written = 0  # lines handed to the OS
        self._synced = 0  # lines known to be on disk
        _drop_cut_tail(path)
        self._fh: TextIO = open_private_append(path)  # 0600: it holds staff emails

    def sending(self, row: int, previous_owner: Contact | None, at: str) -> None:
        owner = None if previous_owner is None else previous_owner.__dict__
        self._write([{"event": "sending", "row": row, "previous_owner": owner, "at": at}])

    def finished(self, outcome: RowOutcome) -> None:
        self._write([{"event": "outcome", **outcome.to_json()}])

    def finished_many(self, outcomes: Iterable[RowOutcome]) -> None:
        """Many outcomes with a single fsync (rows never sent when a run stops)."""
        self._write([{"event": "outcome", **o.to_json()} for o in outcomes])

    def _write(self, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        with self._lock:
            self._fh.write(text)
            self._fh.flush()
            self._written += len(records)
            mine = self._written
        with self._sync_lock:
            if self._synced >= mine:
                return  # another caller's fsync covered these lines
            with self._lock:
                upto = self._written
            os.fsync(self._fh.fileno())
            self._synced = upto

    def close(self) -> None:
        with self._lock:
            self._fh.close()


def _drop_cut_tail(path: Path) -> None:
    """A kill -9 cut the last line short: remove it, or the first record of this run would be
    glued to it. It held nothing that counts: a `sending` line is on disk before its write
    leaves, and a row whose outcome line was cut still has its `sending` line (re-read first).
    """
    if not path.exists():
        return
    with path.open("r+b") as fh:
        data = fh.read()
        if data and not data.endswith(b"\n"):
            fh.truncate(data.rfind(b"\n") + 1)


@dataclass
class JournalState:
    """What a journal says: the last outcome per row, and the writes that may have landed."""

    outcomes: dict[int, RowOutcome] = field(default_factory=dict)
    #: Rows a write left for, with the owner seen before our first write (None: no owner).
    sent: dict[int, Contact | None] = field(default_factory=dict)
    #: Rows whose last record is `sending`: the run died with the call in flight.
    in_flight: set[int] = field(default_factory=set)


class JournalDamaged(ValueError):
    """A journal line that is not a well-formed record (`line` is 1-based)."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


def load(path: Path, *, rows: Container[int] | None = None) -> JournalState:
    """Read a journal. Raises JournalDamaged for a line that is not a well-formed record (or
    names a row not in `rows`); the last line, cut short by a kill -9, is ignored."""
    state = JournalState()
    if not path.exists():
        return state
    lines = path.read_bytes().split(b"\n")
    # The last piece is "" after the final newline, or the line a kill -9 cut short.
    for number, raw in enumerate(lines[:-1], start=1):
        record = _record(raw, number, rows)
        try:
            _apply(state, record)
        except (KeyError, TypeError, ValueError) as exc:
            raise JournalDamaged(number, f"impossible values ({exc})") from None
    _check_cut_tail(lines[-1], len(lines))
    return state


def _check_cut_tail(tail: bytes, number: int) -> None:
    """A line a kill -9 cut short is the start of a record; NUL bytes or anything else at the
    end of the file is damage (a crash on some filesystems leaves the file's tail zeroed),
    which must not pass for a cut line and be dropped unsaid."""
    if tail and (b"\0" in tail or not tail.startswith(b"{")):
        raise JournalDamaged(number, "not a journal record (damaged or overwritten, the file's "
                             "end is not a line cut short)")


def _record(raw: bytes, number: int, rows: Container[int] | None) -> dict[str, Any]:
    try:
        record = json.loads(raw.decode("utf-8"))
    except ValueError:
        raise JournalDamaged(number, "not a journal record (damaged or overwritten)") from None
    if not isinstance(record, dict) or record.get("event") not in ("sending", "outcome"):
        raise JournalDamaged(number, "not a journal record (no 'sending' or 'outcome' event)")
    row = record.get("row")
    if not isinstance(row, int) or isinstance(row, bool) or row < 2:
        raise JournalDamaged(number, f"row {row!r} is not a data row number")
    if rows is not None and row not in rows:
        raise JournalDamaged(number, f"row {row} is not a valid row of the run's input")
    return record


def _apply(state: JournalState, record: dict[str, Any]) -> None:
    row = record["row"]
    if record["event"] == "sending":
        # The first pre-read is the one from before any of our writes.
        state.sent.setdefault(row, _contact(record.get("previous_owner")))
        state.in_flight.add(row)
        return
    outcome = RowOutcome.from_json(record)
    if outcome.attempts < 0:
        raise ValueError(f"attempts {outcome.attempts}")
    state.outcomes[row] = outcome
    state.in_flight.discard(row)


def _contact(owner: Any) -> Contact | None:
    if owner is None:
        return None
    if not isinstance(owner, dict):
        raise TypeError("previous_owner is not an object")
    return Contact(**owner)


def journal_write_times(path: Path) -> list[float]:
    """The epoch seconds of every `sending` line of a journal (every invocation of the run):
    the writes that left, which the daily budget counts (quota/budget.py)."""
    times: list[float] = []
    if not path.exists():
        return times
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                record = json.loads(line)
                if record.get("event") == "sending":
                    times.append(_parse_iso(str(record["at"])))
            except (ValueError, KeyError, TypeError):
                continue  # a line a kill -9 cut short
    return sorted(times)


def _parse_iso(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
