"""What a run or a resume will do, decided before any call: one plan, one executor.

`run` plans every valid row of the sheet; `resume` reads the run folder (run.json, the
journal) and plans the rows without a final outcome. Both hand the same RunPlan to
`app.execute`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bulk_assign.errors import UsageError
from bulk_assign.journal import JOURNAL, load
from bulk_assign.reader import read_table
from bulk_assign.results import Contact, Job, RowOutcome, Status
from bulk_assign.retry import is_resumable_code
from bulk_assign.runfolder import read_record, sha256_of
from bulk_assign.settings import RunSettings
from bulk_assign.validator import Validation, validate


@dataclass(frozen=True)
class RunPlan:
    """The rows to send and everything known about them before the first call."""

    command: str
    settings: RunSettings
    validation: Validation
    input_sha256: str
    #: Row numbers to send, in input order.
    rows: pd.Index
    #: Final outcomes from earlier invocations of this run (resume).
    earlier: dict[int, RowOutcome] = field(default_factory=dict)
    #: Rows a write left for before, with the owner seen before it: re-read before sending.
    sent_before: dict[int, Contact | None] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.rows)

    def jobs(self) -> Iterator[Job]:
        return self.validation.jobs(self.rows)


def plan_run(settings: RunSettings) -> RunPlan:
    """Every valid row of the sheet."""
    validation = _validated(settings)
    return RunPlan(command="run", settings=settings, validation=validation,
                   input_sha256=sha256_of(settings.input_path), rows=validation.valid_rows())


def plan_resume(run_dir: Path, *, profile: str | None = None,
                endpoint_url: str | None = None) -> RunPlan:
    """The rows of `run_dir` whose last outcome is not final, with the run's own settings."""
    record = read_record(run_dir)
    settings = RunSettings.from_json(record["settings"]).replace(
        input_path=Path(record["input"]), out_dir=run_dir)
    if profile is not None:
        settings = settings.replace(profile=profile)
    if endpoint_url is not None:
        settings = settings.replace(endpoint_url=endpoint_url)
    if not settings.input_path.is_file():
        raise UsageError(
            f"{settings.input_path}: the run's input file is gone; put it back where it was "
            "to resume (the run folder records its path and checksum)."
        )
    digest = sha256_of(settings.input_path)
    if digest != record["input_sha256"]:
        raise UsageError(
            f"{settings.input_path}: changed since the run started (checksum differs); resume "
            "needs the same file. Start a new run with the changed file instead."
        )
    validation = _validated(settings)
    state = load(run_dir / JOURNAL)
    final = {row for row, o in state.outcomes.items() if is_final(o)}
    valid = validation.valid_rows()
    return RunPlan(
        command="resume", settings=settings, validation=validation, input_sha256=digest,
        rows=valid[~valid.isin(list(final))],
        earlier={row: o for row, o in state.outcomes.items() if row in final},
        sent_before={row: owner for row, owner in state.sent.items() if row not in final},
    )


def is_final(outcome: RowOutcome) -> bool:
    """Whether a row's outcome stands: SUCCEEDED, UNCHANGED, or a failure no retry can mend."""
    if outcome.status in (Status.SUCCEEDED, Status.UNCHANGED):
        return True
    if outcome.status is Status.FAILED:
        return not is_resumable_code(outcome.error_class)
    return False  # SKIPPED


def _validated(settings: RunSettings) -> Validation:
    table = read_table(settings.input_path, sheet=settings.sheet)
    return validate(table, catalog=settings.catalog, default_title=settings.default_title)
