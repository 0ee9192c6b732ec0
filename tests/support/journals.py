"""journal.jsonl, read only through the product's own reader (`bulk_assign.store.journal.load`): a
test sees what resume sees, a line a kill -9 cut short included."""

from __future__ import annotations

from pathlib import Path

from bulk_assign.store.journal import JournalState, load
from bulk_assign.store.runfolder import JOURNAL

#: Statuses a row keeps for good once the journal holds them.
FINAL = frozenset({"SUCCEEDED", "UNCHANGED"})


def journal_state(folder: Path) -> JournalState:
    """What the journal of run folder `folder` says (empty when there is none yet)."""
    return load(folder / JOURNAL)


def journal_final_rows(folder: Path) -> dict[int, str]:
    """row -> status of the rows whose last journalled outcome is SUCCEEDED or UNCHANGED."""
    outcomes = journal_state(folder).outcomes
    return {row: str(o.status) for row, o in outcomes.items() if o.status in FINAL}


def journal_outcomes(folder: Path) -> int:
    """How many rows have an outcome in the journal so far (the run may still be writing)."""
    return len(journal_state(folder).outcomes)
