"""What a run meant to do and how far it got, from its run folder alone.

`verify` and `status` answer weeks after a run, when the input sheet may have been edited,
moved or deleted. The run folder holds what they need: run.json (the settings), results.csv
(every input row echoed with its status) and the journal (the last outcome of every row that
finished, newer than results.csv after a kill -9). The input sheet is used only when
results.csv is missing (a run killed before it wrote any) and the sheet is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pandas as pd

from bulk_assign.check.validator import Validation, validate
from bulk_assign.errors import UsageError
from bulk_assign.report.files import RESULT_COLUMNS
from bulk_assign.results import HIDDEN_ROW, IN_PLACE, Job, Status
from bulk_assign.run.plan import input_unchanged, journal_state, recorded_settings, validated
from bulk_assign.settings import RunSettings
from bulk_assign.sheet.reader import read_table
from bulk_assign.sheet.table import InputTable
from bulk_assign.store.runfolder import JOURNAL, RESULTS_CSV, read_record

RESULTS: Final = RESULTS_CSV
#: Statuses of rows the run meant to send (a hidden row left out on purpose is not one).
MEANT: Final = frozenset({Status.SUCCEEDED, Status.UNCHANGED, Status.FAILED, Status.SKIPPED,
                          Status.DRY_RUN})
#: The status of a valid row no invocation of the run reached yet.
NOT_REACHED: Final = "NOT_REACHED"


@dataclass(frozen=True)
class Intended:
    """One row the run meant to send, and its last status (NOT_REACHED: none yet)."""

    job: Job
    status: str
    error_class: str = ""

    @property
    def sent(self) -> bool:
        """The assignee was confirmed (SUCCEEDED, or already in place: UNCHANGED)."""
        return self.status in IN_PLACE


@dataclass(frozen=True)
class RunIntent:
    settings: RunSettings
    rows: list[Intended]
    #: The run got past its plan: it has a journal or results.csv.
    started: bool

    @property
    def dry_run(self) -> bool:
        return self.settings.dry_run


def load_intent(run_dir: Path, *, profile: str | None = None,
                endpoint_url: str | None = None) -> RunIntent:
    """The run's settings (with the given overrides) and every row it meant to send."""
    record = read_record(run_dir)
    settings = recorded_settings(run_dir, record, profile=profile, endpoint_url=endpoint_url)
    started = (run_dir / JOURNAL).exists() or (run_dir / RESULTS).exists()
    if not started:
        return RunIntent(settings=settings, rows=[], started=False)
    validation, earlier = _rows_of(run_dir, settings, record)
    meant = [row for row, (status, error_class) in earlier.items()
             if (status in MEANT or status == NOT_REACHED) and error_class != HIDDEN_ROW]
    outcomes = journal_state(run_dir, rows=set(validation.values.index.tolist())).outcomes
    rows = []
    for job in validation.jobs(pd.Index(meant)):
        status, error_class = earlier[job.row]
        if job.row in outcomes:
            status, error_class = str(outcomes[job.row].status), outcomes[job.row].error_class
        rows.append(Intended(job=job, status=status, error_class=error_class))
    return RunIntent(settings=settings, rows=rows, started=True)


def _rows_of(run_dir: Path, settings: RunSettings, record: dict[str, object]
             ) -> tuple[Validation, dict[int, tuple[str, str]]]:
    """The run's rows validated as the run did, and each row's status and class so far."""
    results = run_dir / RESULTS
    if results.exists():
        return _from_results(results, settings)
    path = settings.input_path
    if not input_unchanged(path, record.get("input_sha256")):
        raise UsageError(
            f"{run_dir}: has no {RESULTS} (the run was stopped before it wrote one) and its "
            f"input {path} is gone or changed since; put the input back as it was, or "
            f"`bulk-assign resume {run_dir}` first."
        )
    validation = validated(settings)
    earlier = {int(row): (NOT_REACHED if status == Status.VALID else str(status), str(cls))
               for row, status, cls in zip(validation.status.index, validation.status,
                                           validation.error_class, strict=True)}
    return validation, earlier


def _from_results(path: Path, settings: RunSettings
                  ) -> tuple[Validation, dict[int, tuple[str, str]]]:
    """results.csv echoes every input column under its own header: validated again, with the
    run's options, it gives each row's request exactly as the run sent it."""
    try:
        table = read_table(path)
        frame = table.frame
        rows = pd.Index([int(r) for r in frame["row"]])
        statuses, classes = frame["status"].tolist(), frame["error_class"].tolist()
    except (KeyError, ValueError) as exc:
        raise UsageError(f"{path}: cannot be read as the run's results ({exc}); it is "
                         "damaged. Put the run's results.csv back.") from None
    echo = frame.drop(columns=[c for c in RESULT_COLUMNS if c in frame.columns])
    echo = echo.set_axis(rows, axis=0)
    columns = {name: header for name, header in table.columns.items() if header in echo}
    rebuilt = InputTable(path=path, frame=echo, columns=columns, encoding=table.encoding)
    validation = validate(rebuilt, catalog=settings.catalog,
                          allow_other_titles=settings.allow_other_titles)
    earlier = {row: (str(s), str(c)) for row, s, c in zip(rows, statuses, classes, strict=True)}
    return validation, earlier
