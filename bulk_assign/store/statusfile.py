"""status.json: where a running run stands, for `bulk-assign status` in another terminal.

The run keeps it up to date (written to a temp name and `os.replace`d, every few seconds and at
each change of wait): its process, the current pace, what writes wait for and until when. A
courtesy only: the journal stays the truth.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from bulk_assign.results import Tally
from bulk_assign.store.runfolder import STATUS_JSON, write_atomic
from bulk_assign.timestamps import iso, utc_now

STATUS: Final = STATUS_JSON
#: status.json is rewritten at most this often while rows finish.
EVERY_SECONDS: Final = 2.0


class StatusFile:
    """The run's side of `status`: a small JSON file, replaced atomically. Never raises."""

    def __init__(self, path: Path, *, pace: Callable[[], float], tally: Tally,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = utc_now,
                 others: Callable[[], dict[str, Any] | None] = lambda: None) -> None:
        """`others`: the latest measurement of the other writers' rate (the live look-back),
        None while there is none."""
        self.path = path
        self._others = others
        self._now = now
        self._pace = pace
        #: The run's counts (results.Tally): read, not kept here.
        self._tally = tally
        self._clock = clock
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._facts: dict[str, Any] = {"pid": os.getpid(), "state": "running",
                                       "started_at": iso(now()), "waiting": None}

    def row_finished(self) -> None:
        self._write(force=False)

    def waiting(self, cause: str | None, until: datetime | None) -> None:
        with self._lock:
            self._facts["waiting"] = (None if cause is None or until is None else
                                      {"cause": str(cause), "until": iso(until)})
        self._write(force=True)

    def pace_changed(self) -> None:
        self._write(force=False)

    def ended(self, state: str) -> None:
        with self._lock:
            self._facts["state"] = state
            self._facts["waiting"] = None
        self._write(force=True)

    def _write(self, *, force: bool) -> None:
        with self._lock:
            now = self._clock()
            if not force and now - self._last < EVERY_SECONDS:
                return
            self._last = now
            facts = {**self._facts, "ok": self._tally.ok, "finished": self._tally.finished,
                     "updated_at": iso(self._now()), "pace": round(self._pace(), 4),
                     "others": self._others()}
            with contextlib.suppress(OSError):  # a courtesy: the journal stays the truth
                write_atomic(self.path, json.dumps(facts) + "\n")  # 0600, like every file


def read_status(folder: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((folder / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data


def alive(pid: Any) -> bool:
    try:
        os.kill(int(pid), 0)
    except (OSError, ValueError, TypeError):
        return False
    return True
