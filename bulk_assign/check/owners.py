"""The expected owner: never write over an owner who changed after the sheet was made.

A row may say who it expects to own the opportunity now (the export's `Current Email`, or a
`Current Owner Email` / `Expected Owner` / `From Email` column; rollback.csv names the owner the
run set). When the pre-read finds someone else, neither that person nor the assignee, someone
changed it after the sheet was made: the row is SKIPPED / OwnerChanged, not written, unless
the run says `--overwrite-changed`.

An empty expected-owner cell means "no owner when the sheet was made" (the export writes it so
for ownerless opportunities): an owner now counts as a change. A sheet without the column
expects nothing, and nothing is checked.
"""

from __future__ import annotations

from typing import Any, Final

from bulk_assign.check.rules import OWNER_TITLE
from bulk_assign.results import OWNER_CHANGED, Contact, Job, RowOutcome, Status

__all__ = ["OWNER_CHANGED", "changed_message", "current_owner", "has_changed", "owned_by",
           "plan_lines", "results_message", "skipped"]

#: How the plan and the messages name the column.
COLUMN: Final = "expected owner (Current Email)"


def current_owner(team: list[dict[str, Any]]) -> Contact | None:
    """The opportunity's owner: the team member whose BusinessTitle is PartnerAccountManager.

    With no such member the opportunity has no owner (None), whoever else is on the team: a
    SolutionsArchitect alone is not an owner, and assigning the opportunity to them still
    takes a write.
    """
    for member in team:
        if member.get("BusinessTitle") == OWNER_TITLE:
            return Contact.from_api(member)
    return None


def owned_by(owner: Contact | None, assignee: Contact) -> bool:
    """Whether the opportunity's owner already is the assignee (emails compare case-blind)."""
    return owner is not None and owner.email.casefold() == assignee.email.casefold()


def has_changed(owner: Contact | None, job: Job) -> bool:
    """Whether `owner` (the pre-read's, None: no owner) is neither the row's expected owner
    nor its assignee. A row that expects nothing never has.

    >>> ana = Contact("ana@x.com", "Ana", "Lima", "PartnerAccountManager")
    >>> bo = Contact("bo@x.com", "Bo", "Berg", "PartnerAccountManager")
    >>> job = Job(row=2, catalog="Sandbox", identifier="O1", assignee=bo,
    ...           expected_owner="cy@x.com")
    >>> has_changed(ana, job), has_changed(bo, job), has_changed(ana, Job(2, "Sandbox", "O1", bo))
    (True, False, False)
    """
    expected = job.expected_owner
    if expected is None:
        return False
    now = "" if owner is None else owner.email.strip().casefold()
    return now != expected.strip().casefold() and now != job.assignee.email.casefold()


#: The journal's (and run.log's) words: no email or name, so they may go anywhere.
PLAIN_MESSAGE: Final = (
    "not written: someone other than the row's expected owner owns it now (changed after the "
    "sheet was made)"
)
_HOW: Final = (
    "To move it anyway, put the current owner in the expected-owner column (Current Email) of "
    "failed.csv and run that, or run with --overwrite-changed"
)


def changed_message(owner: Contact | None, expected: str | None) -> str:
    """What the results files say about a changed row: who owns it now and how to go on.

    Results files only: it names people. The journal keeps the owner as data (the outcome's
    `previous_owner`) and PLAIN_MESSAGE as text, and the report writes this from them.
    """
    wanted = expected or "nobody (no owner when the sheet was made)"
    if owner is None:
        now = "nobody owns it now"
    else:
        name = f"{owner.first_name} {owner.last_name}".strip()
        now = owner.email + (f" ({name})" if name else "") + " owns it now"
    return (f"not written: {now}, not {wanted} as the row expects; someone changed it after "
            f"the sheet was made. {_HOW}")


def skipped(owner: Contact | None, job: Job, *, finished_at: str) -> RowOutcome:
    """The row's outcome when its owner changed: SKIPPED / OwnerChanged, no write spent; the
    owner seen is kept as `previous_owner` (data, for the results files' message)."""
    return RowOutcome(row=job.row, status=Status.SKIPPED, error_class=OWNER_CHANGED,
                      error_message=f"{PLAIN_MESSAGE}. {_HOW}", finished_at=finished_at,
                      previous_owner=owner)


def results_message(outcome: RowOutcome, expected: object) -> str:
    """The message results.csv and failed.csv show for `outcome` (named owners for an
    OwnerChanged row, the outcome's own words otherwise)."""
    if outcome.error_class != OWNER_CHANGED or outcome.status is not Status.SKIPPED:
        return outcome.error_message
    return changed_message(outcome.previous_owner,
                           expected if isinstance(expected, str) else None)


def plan_lines(*, expects: int, pre_read: bool, overwrite: bool,
               from_preview: str | None = None) -> list[str]:
    """What the plan says about the check; `expects`: rows to send that name an owner."""
    if not expects:
        return []
    if from_preview is not None:
        rest = plan_lines(expects=expects, pre_read=pre_read, overwrite=overwrite)
        return [f"Expected owners: those the preview in {from_preview} read.", *rest]
    if not pre_read:
        return [f"Owner check OFF (--no-snapshot: no pre-read): {expects} row(s) name an "
                f"{COLUMN}, but an owner changed since the sheet was made is overwritten."]
    if overwrite:
        return [f"--overwrite-changed: {expects} row(s) name an {COLUMN}; those owned by "
                "someone else now are written anyway."]
    return [f"Owner check: {expects} row(s) name an {COLUMN}; a row owned by someone else now "
            "is not written (SKIPPED / OwnerChanged; --overwrite-changed writes them)."]
