"""Field constraints read from botocore's own service model, so the tool follows AWS.

botocore does not check `pattern` constraints client-side: a bad email or phone would reach
AWS and cost a write. We read the same patterns at run time instead of copying them here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Final

import botocore.session
from botocore.model import StructureShape

from bulk_assign.settings import CATALOGS
from bulk_assign.sheet import fields

SERVICE: Final = "partnercentral-selling"
OPERATION: Final = "AssignOpportunity"
#: The BusinessTitle that makes a team member the opportunity's owner ("Use the value
#: `PartnerAccountManager` to update details of the opportunity owner"). Every other title joins
#: the team without changing the owner. The one place this value is typed.
OWNER_TITLE: Final = "PartnerAccountManager"

_LENGTH_ONLY = re.compile(r"\(\?s\)\.\{0,(\d+)\}")
_LOOKAHEAD_LENGTH = re.compile(r"\(\?=\.\{0,(\d+)\}\$\)")


def canonical_catalog(value: str) -> str | None:
    """The catalog `value` names, case-insensitively, or None when it names none.

    >>> canonical_catalog("sandbox"), canonical_catalog("Prod")
    ('Sandbox', None)
    """
    folded = value.strip().casefold()
    for catalog in CATALOGS:
        if catalog.casefold() == folded:
            return catalog
    return None


def is_owner_title(value: str) -> bool:
    """Whether a BusinessTitle cell means the owner's title (case and spaces do not count).

    >>> is_owner_title("Partner Account Manager"), is_owner_title("Account Manager")
    (True, False)
    """
    return fields.fold(value) == OWNER_TITLE.casefold()


@dataclass(frozen=True)
class FieldRule:
    """One input field's constraint: a full-match pattern and, when it has one, a length cap."""

    pattern: re.Pattern[str]
    max_length: int | None


@cache
def field_rules() -> dict[str, FieldRule]:
    """The AssignOpportunity request's rules by canonical field name.

    >>> field_rules()["Identifier"].pattern.pattern
    'O[0-9]{1,19}'
    """
    model = botocore.session.get_session().get_service_model(SERVICE)
    request = model.operation_model(OPERATION).input_shape
    assignee_shape = request.members["Assignee"] if isinstance(request, StructureShape) else None
    if not isinstance(request, StructureShape) or not isinstance(assignee_shape, StructureShape):
        raise RuntimeError(f"botocore's {SERVICE} model has no {OPERATION} Assignee structure")
    assignee = assignee_shape.members
    shapes = {
        fields.IDENTIFIER: request.members["Identifier"],
        fields.EMAIL: assignee["Email"],
        fields.FIRST_NAME: assignee["FirstName"],
        fields.LAST_NAME: assignee["LastName"],
        fields.BUSINESS_TITLE: assignee["BusinessTitle"],
    }
    if "Phone" in assignee:  # botocore >= 1.41.6
        shapes[fields.PHONE] = assignee["Phone"]
    rules = {}
    for name, shape in shapes.items():
        pattern = shape.metadata.get("pattern")
        if pattern is None:
            continue
        # AWS matches with Java regexes, where \d is [0-9]: re.ASCII keeps Python's \d from
        # accepting Arabic-Indic or other non-ASCII digits the service would refuse.
        rules[name] = FieldRule(pattern=re.compile(pattern, re.ASCII),
                                max_length=_max_length(pattern))
    return rules


def _max_length(pattern: str) -> int | None:
    for finder in (_LENGTH_ONLY, _LOOKAHEAD_LENGTH):
        match = finder.search(pattern)
        if match:
            return int(match.group(1))
    return None
