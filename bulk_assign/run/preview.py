"""`bulk-assign preview`: who owns each row's opportunity today, and what the run would do.

The sign-off step: every valid row's opportunity is read once (GetOpportunity, read pace), no
write. Each read lands in `preview_reads.jsonl` in the preview folder, fsynced, so a stopped
preview continues where it left off; a complete one is the record `run --from-preview` takes
its expected owners from (see `expected_from_preview`).

The verdicts on what was read (MOVE, ALREADY, CHANGED, NOT_FOUND, UNREADABLE, INVALID) and
the By person table are check/verdicts.py's.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from bulk_assign.api.retry import error_code
from bulk_assign.check.owners import current_owner
from bulk_assign.check.validator import Validation
from bulk_assign.check.verdicts import NOT_FOUND_CODE, Seen
from bulk_assign.errors import UsageError
from bulk_assign.report.files import write_json
from bulk_assign.results import Contact, Job
from bulk_assign.run.pool import run_pool
from bulk_assign.run.reads import PacedReader
from bulk_assign.sheet import fields
from bulk_assign.stops import RunStopping
from bulk_assign.store.runfolder import open_private_append

READS: Final = "preview_reads.jsonl"
RECORD: Final = "preview.json"
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


# --- the record and `run --from-preview` ---------------------------------------------------


def write_record(folder: Path, record: dict[str, Any]) -> None:
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
