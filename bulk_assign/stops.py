"""Why a run stops, as data: every stage may say it (the guard decides, the console shows it).

A stop is a reason (the error_class of the rows left SKIPPED), what happened, and what to do
before resuming. `RunStopping` is raised inside a worker when the run is stopping.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bulk_assign.results import (
    ABORTED,
    BUDGET_SPENT,
    INTERRUPTED,
    QUOTA_EXHAUSTED,
    SERVICE_UNAVAILABLE,
    UNREACHABLE,
)


class StopReason(StrEnum):
    """Why rows were left unsent: the error_class of their SKIPPED outcome."""

    INTERRUPTED = INTERRUPTED
    ABORTED = ABORTED
    QUOTA_EXHAUSTED = QUOTA_EXHAUSTED
    UNREACHABLE = UNREACHABLE
    SERVICE_UNAVAILABLE = SERVICE_UNAVAILABLE
    BUDGET_SPENT = BUDGET_SPENT


@dataclass(frozen=True)
class Stop:
    """Why a run stopped: `detail` says what happened, `fix` what to do before resuming."""

    reason: StopReason
    detail: str
    fix: str = ""

    def sentence(self) -> str:
        return f"{self.detail}. {self.fix}." if self.fix else f"{self.detail}."


class RunStopping(Exception):
    """Raised inside a worker when the run is stopping: the row is left unsent (SKIPPED)."""
