"""The input columns the tool understands, and the header aliases that map to them."""

from __future__ import annotations

import re
from typing import Final

IDENTIFIER: Final = "Identifier"
EMAIL: Final = "Email"
FIRST_NAME: Final = "FirstName"
LAST_NAME: Final = "LastName"
BUSINESS_TITLE: Final = "BusinessTitle"
PHONE: Final = "Phone"
CATALOG: Final = "Catalog"
#: Who the row expects to own the opportunity now (optional; see owners.py). Not in FIELDS:
#: the template does not ask for it, and the assignee's own columns keep their meaning.
EXPECTED_OWNER: Final = "ExpectedOwner"

#: Canonical field order, as in `bulk-assign template` and rollback.csv.
FIELDS: Final = (IDENTIFIER, CATALOG, EMAIL, FIRST_NAME, LAST_NAME, PHONE, BUSINESS_TITLE)
REQUIRED: Final = (IDENTIFIER, EMAIL, FIRST_NAME, LAST_NAME)
#: The assignee's fields, in the order export writes them.
ASSIGNEE_FIELDS: Final = (EMAIL, FIRST_NAME, LAST_NAME, BUSINESS_TITLE, PHONE)

_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    IDENTIFIER: (
        "Identifier", "OpportunityId", "Opportunity Id", "Opportunity Identifier",
        "Opportunity", "Opp Id", "OppId", "Opportunity ID",
    ),
    EMAIL: ("Email", "Assignee Email", "Email Address", "Owner Email", "E-mail", "Assignee"),
    FIRST_NAME: ("FirstName", "First Name", "Given Name", "Assignee First Name"),
    LAST_NAME: ("LastName", "Last Name", "Surname", "Family Name", "Assignee Last Name"),
    # Only the API's own name: a "Title" or "Job Title" column holds job titles ("Senior Account
    # Manager"), and sent as BusinessTitle they would add a team member instead of an owner.
    BUSINESS_TITLE: ("BusinessTitle", "Business Title"),
    PHONE: ("Phone", "Phone Number", "Mobile", "Mobile Phone", "Telephone"),
    CATALOG: ("Catalog",),
    # The export's `Current Email` is the owner when the sheet was made.
    EXPECTED_OWNER: ("ExpectedOwner", "Expected Owner", "Current Email", "Current Owner Email",
                     "From Email", "Expected Owner Email"),
}

_FOLD = re.compile(r"[\s_\-.]+")


def fold(header: str) -> str:
    """Fold a header for matching: case, spaces, `_`, `-` and `.` do not count.

    >>> fold(" Opportunity_Id ")
    'opportunityid'
    """
    return _FOLD.sub("", str(header)).casefold()


ALIAS_TO_FIELD: Final[dict[str, str]] = {
    fold(alias): field for field, aliases in _ALIASES.items() for alias in aliases
}


def field_for(header: str) -> str | None:
    """The canonical field a header names, or None for an extra column."""
    return ALIAS_TO_FIELD.get(fold(header))
