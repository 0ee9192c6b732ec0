"""journal.jsonl: the crash-safe truth that resume reads.

Two kinds of line, each flushed and fsynced before the call it guards goes on:
- `sending`: a write is about to leave for this row (with the owner seen before it), so a run
  killed mid-call knows to re-read that opportunity instead of writing it blind;
- `outcome`: the row's outcome. The last outcome of a row wins.
A line cut short by `kill -9` is ignored on reading.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bulk_assign.results import Contact, RowOutcome
from bulk_assign.runfolder import open_private_append

JOURNAL = "journal.jsonl"


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
        self._fh: TextIO = open_private_append(path)  # 0600: it holds staff emails
        if self._fh.tell() > 0 and not _ends_with_newline(path):
            # A kill -9 cut the last line short: start ours on a line of their own, or the
            # first record of this run would be glued to the cut one and lost with it.
            self._fh.write("\n")
            self._fh.flush()

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


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1) == b"\n"


@dataclass
class JournalState:
    """What a journal says: the last outcome per row, and the writes that may have landed."""

    outcomes: dict[int, RowOutcome] = field(default_factory=dict)
    #: Rows a write left for, with the owner seen before our first write (None: no owner).
    sent: dict[int, Contact | None] = field(default_factory=dict)
    #: Rows whose last record is `sending`: the run died with the call in flight.
    in_flight: set[int] = field(default_factory=set)


def load(path: Path) -> JournalState:
    state = JournalState()
    if not path.exists():
        return state
    with path.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # the line a kill -9 cut short
            row = int(record.get("row", 0))
            if record.get("event") == "sending":
                owner = record.get("previous_owner")
                # The first pre-read is the one from before any of our writes.
                state.sent.setdefault(row, Contact(**owner) if owner else None)
                state.in_flight.add(row)
            elif record.get("event") == "outcome":
                state.outcomes[row] = RowOutcome.from_json(record)
                state.in_flight.discard(row)
    return state
