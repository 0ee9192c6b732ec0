"""What a run or a resume will do, decided before any call: one plan, one executor.

`run` plans every valid row of the sheet; `resume` reads the run folder (run.json, the
journal) and plans the rows without a final outcome. Both hand the same RunPlan to
`commands.run.execute`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from bulk_assign.api.retry import is_resumable_code
from bulk_assign.check import hidden
from bulk_assign.check.validator import Validation
from bulk_assign.errors import UsageError
from bulk_assign.results import IN_PLACE, Contact, Job, RowOutcome, Status
from bulk_assign.settings import RunSettings
from bulk_assign.sheet.fields import IDENTIFIER
from bulk_assign.sheet.reader import read_table
from bulk_assign.store.journal import JournalDamaged, JournalState, load
from bulk_assign.store.runfolder import (
    JOURNAL,
    RESULTS_CSV,
    ROLLBACK_CSV,
    RUN_RECORD,
    SUMMARY_JSON,
    read_record,
    sha256_of,
)


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
    #: Settings a resume was told to change: name -> (recorded, now).
    overrides: dict[str, tuple[str, str]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.rows)

    def jobs(self) -> Iterator[Job]:
        return self.validation.jobs(self.rows)


def plan_run(settings: RunSettings) -> RunPlan:
    """Every valid row of the sheet."""
    validation = validated(settings)
    return RunPlan(command="run", settings=settings, validation=validation,
                   input_sha256=sha256_of(settings.input_path), rows=validation.valid_rows())


def plan_resume(run_dir: Path, *, profile: str | None = None,
                endpoint_url: str | None = None) -> tuple[RunPlan, dict[str, Any]]:
    """The rows of `run_dir` whose last outcome is not final, with the run's own settings.

    Returns the plan and run.json's record. Refuses (UsageError) a dry-run folder, a changed
    input, a damaged run.json or journal, and a journal that lost undo records.
    """
    record = read_record(run_dir)
    settings = recorded_settings(run_dir, record, profile=profile, endpoint_url=endpoint_url)
    if settings.dry_run:
        raise UsageError(
            f"{run_dir}: is a dry run; a dry run is never resumed into real writes. Start the "
            f"real run with `bulk-assign run {settings.input_path} --catalog {settings.catalog}`."
        )
    digest = unchanged_input(settings.input_path, record["input_sha256"])
    validation = validated(settings)
    valid = validation.valid_rows()
    state = journal_state(run_dir, rows=set(valid.tolist()))
    final = {row for row, o in state.outcomes.items() if is_final(o)}
    earlier = {row: o for row, o in state.outcomes.items() if row in final}
    sent_before = {row: owner for row, owner in state.sent.items() if row not in final}
    _refuse_lost_undo(run_dir, validation, earlier, sent_before)
    plan = RunPlan(
        command="resume", settings=settings, validation=validation, input_sha256=digest,
        rows=valid[~valid.isin(list(final))], earlier=earlier, sent_before=sent_before,
        overrides={k: (str(record["settings"].get(k)), str(getattr(settings, k)))
                   for k in ("profile", "endpoint_url")
                   if getattr(settings, k) != record["settings"].get(k)},
    )
    return plan, record


def recorded_settings(run_dir: Path, record: dict[str, Any], *, profile: str | None = None,
                      endpoint_url: str | None = None) -> RunSettings:
    """The settings run.json recorded, with the only two a later command may change (the
    profile and the endpoint: resume, verify, status), or UsageError when they are damaged."""
    overrides = {k: v for k, v in (("profile", profile), ("endpoint_url", endpoint_url))
                 if v is not None}
    try:
        settings = RunSettings.from_json(record["settings"])
        return settings.replace(input_path=Path(record["input"]), out_dir=run_dir, **overrides)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UsageError(
            f"{run_dir / RUN_RECORD}: the run's settings are damaged ({exc}); start a new run "
            "with the same input (rows already in place come out UNCHANGED, no write spent)."
        ) from None


def input_unchanged(path: Path, recorded: object) -> bool:
    """Whether the run's input is still there as the run read it (run.json's sha256)."""
    return path.is_file() and sha256_of(path) == recorded


def unchanged_input(path: Path, recorded: object) -> str:
    """The input's sha256, or UsageError when it is gone or changed since the run."""
    if not path.is_file():
        raise UsageError(
            f"{path}: the run's input file is gone; put it back where it was to resume (the "
            "run folder records its path and checksum)."
        )
    digest = sha256_of(path)
    if digest != recorded:
        raise UsageError(
            f"{path}: changed since the run started (checksum differs); resume needs the same "
            "file. Start a new run with the changed file instead."
        )
    return digest


def journal_state(run_dir: Path, *, rows: set[int]) -> JournalState:
    """The run's journal, or UsageError naming the file, the line and what to do."""
    path = run_dir / JOURNAL
    happened = [name for name in (RESULTS_CSV, SUMMARY_JSON) if (run_dir / name).exists()]
    if not path.exists() and happened:
        raise UsageError(
            f"{path}: is missing although the run wrote {happened[0]}: without it resume "
            "cannot know which rows were changed (nor their previous owners). Put it back, or "
            "keep this folder's rollback.csv and start a new run with the same input."
        )
    try:
        return load(path, rows=rows)
    except JournalDamaged as exc:
        raise UsageError(
            f"{path}: {exc}. Resume does not guess what was done: restore the journal from a "
            "backup, or keep this folder's rollback.csv and start a new run with the same "
            "input (rows already in place come out UNCHANGED, no write spent)."
        ) from None


def _refuse_lost_undo(run_dir: Path, validation: Validation, earlier: dict[int, RowOutcome],
                      sent_before: dict[int, Contact | None]) -> None:
    """rollback.csv is never rewritten with fewer previous owners than it holds: each of its
    opportunities must have its previous owner in the journal (an outcome, or the `sending`
    line of a row this resume re-reads)."""
    path = run_dir / ROLLBACK_CSV
    if not path.exists():
        return
    try:
        held = set(pd.read_csv(path, dtype=str, keep_default_na=False,
                               encoding="utf-8-sig")[IDENTIFIER])
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(f"{path}: cannot be read ({exc}); put the run's rollback.csv back "
                         "before resuming.") from None
    rows = [row for row, o in earlier.items()
            if o.status is Status.SUCCEEDED and o.previous_owner is not None]
    rows += [row for row, owner in sent_before.items() if owner is not None]
    known = set(validation.values.loc[rows, IDENTIFIER])
    lost = sorted(held - known)
    if lost:
        raise UsageError(
            f"{run_dir / JOURNAL}: lacks the undo records of {len(lost)} opportunity(ies) in "
            f"rollback.csv (first: {lost[0]}); resuming would rewrite rollback.csv without "
            "them. Restore the journal, or copy rollback.csv somewhere safe and start a new run."
        )


def is_final(outcome: RowOutcome) -> bool:
    """Whether a row's outcome stands: in place, or a failure no retry can mend."""
    return final_status(outcome.status, outcome.error_class)


def final_status(status: str, error_class: str) -> bool:
    """`is_final` for a status and error class as the run folder's files spell them: a row in
    place (SUCCEEDED, UNCHANGED) or FAILED for good; SKIPPED rows are resume's to send."""
    if status in IN_PLACE:
        return True
    return status == Status.FAILED and not is_resumable_code(error_class)


def validated(settings: RunSettings) -> Validation:
    """The run's input, validated exactly as the run did."""
    table = read_table(settings.input_path, sheet=settings.sheet)
    # Rows hidden in Excel: the run's own --hidden-rows choice (resume reads it from run.json).
    return hidden.validate_for_run(table, choice=settings.hidden_rows, catalog=settings.catalog,
                                   allow_other_titles=settings.allow_other_titles)
