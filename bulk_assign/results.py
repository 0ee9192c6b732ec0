"""Row outcomes as data: what the journal stores, the reporter writes and the summary counts."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    UNCHANGED = "UNCHANGED"
    FAILED = "FAILED"
    INVALID = "INVALID"
    DUPLICATE = "DUPLICATE"
    SKIPPED = "SKIPPED"
    DRY_RUN = "DRY_RUN"
    VALID = "VALID"


#: Statuses that leave the exit code at 0.
OK_STATUSES = frozenset(
    {Status.SUCCEEDED, Status.UNCHANGED, Status.DUPLICATE, Status.DRY_RUN, Status.VALID}
)
#: Statuses whose rows go to failed.csv.
FAILED_STATUSES = frozenset({Status.INVALID, Status.FAILED, Status.SKIPPED})
#: A row in place: the assignee owns the opportunity (written, or already so). The one home
#: of that rule: resume never sends such a row again, verify reads it, status counts it done.
IN_PLACE = frozenset({Status.SUCCEEDED, Status.UNCHANGED})

# error_class values of SKIPPED rows
INTERRUPTED = "Interrupted"
ABORTED = "Aborted"
QUOTA_EXHAUSTED = "QuotaExhausted"
HIDDEN_ROW = "HiddenRow"  # left out with --hidden-rows skip
BUDGET_SPENT = "BudgetSpent"
#: The AWS error code of an opportunity that does not exist (verify, export, preview, preflight).
NOT_FOUND = "ResourceNotFoundException"
UNREACHABLE = "Unreachable"  # an outage: the service cannot be reached (outage.py)
SERVICE_UNAVAILABLE = "ServiceUnavailable"  # an outage: 5xx to everything
OWNER_CHANGED = "OwnerChanged"  # someone else owns it now (owners.py); the analyst's to decide


@dataclass(frozen=True)
class Contact:
    """An opportunity owner or assignee, as AssignOpportunity's `Assignee` takes it."""

    email: str
    first_name: str
    last_name: str
    business_title: str
    phone: str = ""

    def to_api(self) -> dict[str, str]:
        """The request's `Assignee` structure (Phone only when there is one)."""
        api = {
            "Email": self.email,
            "FirstName": self.first_name,
            "LastName": self.last_name,
            "BusinessTitle": self.business_title,
        }
        if self.phone:
            api["Phone"] = self.phone
        return api

    @classmethod
    def from_api(cls, member: dict[str, Any]) -> Contact:
        return cls(
            email=str(member.get("Email", "")),
            first_name=str(member.get("FirstName", "")),
            last_name=str(member.get("LastName", "")),
            business_title=str(member.get("BusinessTitle", "")),
            phone=str(member.get("Phone", "") or ""),
        )


@dataclass(frozen=True)
class Job:
    """One valid row to send: the normalised request values and the analyst's row number."""

    row: int
    catalog: str
    identifier: str
    assignee: Contact
    #: Who the row expects to own it now (lower-cased email; "" no owner); None: not said.
    expected_owner: str | None = None


@dataclass(frozen=True)
class RowOutcome:
    """The final word on one input row."""

    row: int
    status: Status
    error_class: str = ""
    error_message: str = ""
    attempts: int = 0
    request_id: str = ""
    finished_at: str = ""
    #: The owner before our write (from the pre-read), for rollback.csv.
    previous_owner: Contact | None = None
    #: Why a SUCCEEDED row cannot be undone (no owner before), for the summary; "" if it can.
    not_undoable_reason: str = ""

    def to_json(self) -> dict[str, Any]:
        # Written for every finished row: a plain dict is much cheaper than asdict's deep copy.
        owner = self.previous_owner
        return {
            "row": self.row,
            "status": str(self.status),
            "error_class": self.error_class,
            "error_message": self.error_message,
            "attempts": self.attempts,
            "request_id": self.request_id,
            "finished_at": self.finished_at,
            "previous_owner": None if owner is None else asdict(owner),
            "not_undoable_reason": self.not_undoable_reason,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RowOutcome:
        owner = data.get("previous_owner")
        return cls(
            row=int(data["row"]),
            status=Status(data["status"]),
            error_class=str(data.get("error_class", "")),
            error_message=str(data.get("error_message", "")),
            attempts=int(data.get("attempts", 0)),
            request_id=str(data.get("request_id", "")),
            finished_at=str(data.get("finished_at", "")),
            previous_owner=Contact(**owner) if owner else None,
            # Journals written before 0.2 call it "not_undoable".
            not_undoable_reason=str(data.get("not_undoable_reason")
                                    or data.get("not_undoable") or ""),
        )


@dataclass
class CallCounts:
    """The calls a run made, counted as they leave. Thread-safe."""

    write: int = 0
    read: int = 0
    throttled_write: int = 0
    throttled_read: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def throttled(self) -> int:
        return self.throttled_write + self.throttled_read

    def as_dict(self) -> dict[str, int]:
        with self._lock:
            return {"write": self.write, "read": self.read,
                    "throttled_write": self.throttled_write,
                    "throttled_read": self.throttled_read}

    def add(self, *, write: bool, throttled: bool = False) -> None:
        """One call left (`throttled=False`), or one came back throttled."""
        name = ("throttled_" if throttled else "") + ("write" if write else "read")
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)


class Tally:
    """Where a run stands, kept once: its rows by status and its calls (CallCounts), with the
    time since it started. Thread-safe. The progress bar, status.json and the run's report
    read it; none of them keeps a count of its own."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.calls = CallCounts()
        self._statuses: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._clock = clock
        self._started = clock()

    def start(self) -> None:
        """The run starts now (elapsed counts from here)."""
        self._started = self._clock()

    def row_finished(self, status: Status) -> None:
        with self._lock:
            self._statuses[str(status)] += 1

    @property
    def statuses(self) -> Counter[str]:
        """Rows of this run by status (a copy)."""
        with self._lock:
            return Counter(self._statuses)

    @property
    def finished(self) -> int:
        with self._lock:
            return sum(self._statuses.values())

    @property
    def ok(self) -> int:
        """Rows in place: SUCCEEDED or UNCHANGED."""
        with self._lock:
            return sum(self._statuses[str(s)] for s in IN_PLACE)

    @property
    def elapsed(self) -> float:
        return self._clock() - self._started
