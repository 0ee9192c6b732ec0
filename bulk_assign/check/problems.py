"""The problem codes, in the order error_class picks them, and the checks that find them.

Each check adds one code to `Checks`: which rows have the problem (a mask over the rows) and how
to say it for one row. The checks read the normalised values (`normalise.FieldValues`).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from bulk_assign.check.hints import (
    EXCEL_ERRORS,
    Message,
    excel_hint,
    fails,
    identifier_hint,
    name_message,
    phone_message,
    title_message,
)
from bulk_assign.check.normalise import FieldValues, Mask, Texts
from bulk_assign.check.rules import OWNER_TITLE, field_rules
from bulk_assign.settings import CATALOGS
from bulk_assign.sheet import fields
from bulk_assign.sheet.table import InputTable

# Codes in the order the spec lists them: error_class is the first that applies. An Excel
# formula with no saved value comes first: it is why the cell reads as empty.
UNCALCULATED_FORMULA: Final = "UNCALCULATED_FORMULA"
MISSING_IDENTIFIER: Final = "MISSING_IDENTIFIER"
INVALID_IDENTIFIER: Final = "INVALID_IDENTIFIER"
MISSING_EMAIL: Final = "MISSING_EMAIL"
INVALID_EMAIL: Final = "INVALID_EMAIL"
MISSING_FIRST_NAME: Final = "MISSING_FIRST_NAME"
MISSING_LAST_NAME: Final = "MISSING_LAST_NAME"
FIELD_TOO_LONG: Final = "FIELD_TOO_LONG"
INVALID_PHONE: Final = "INVALID_PHONE"
#: A BusinessTitle other than PartnerAccountManager without --allow-other-titles: the assignee
#: would join the team and the owner would not change.
NOT_OWNER_TITLE: Final = "NOT_OWNER_TITLE"
INVALID_CATALOG: Final = "INVALID_CATALOG"
CATALOG_MISMATCH: Final = "CATALOG_MISMATCH"
CONFLICTING_ASSIGNMENT: Final = "CONFLICTING_ASSIGNMENT"
CODES: Final = (
    UNCALCULATED_FORMULA, MISSING_IDENTIFIER, INVALID_IDENTIFIER, MISSING_EMAIL, INVALID_EMAIL,
    MISSING_FIRST_NAME, MISSING_LAST_NAME, FIELD_TOO_LONG, INVALID_PHONE, NOT_OWNER_TITLE,
    INVALID_CATALOG,
    CATALOG_MISMATCH, CONFLICTING_ASSIGNMENT,
)


class Checks:
    """The problems found so far: per code, which rows have it and how to say it."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.masks: dict[str, Mask] = {}
        self.messages: dict[str, Message] = {}

    def add(self, code: str, mask: Mask, message: Message) -> None:
        self.masks[code] = mask
        self.messages[code] = message

    def stacked(self) -> Mask:
        """A row x code table of problems, columns in CODES order."""
        table: Mask = np.zeros((self.rows, len(CODES)), dtype=bool)
        for position, code in enumerate(CODES):
            if code in self.masks:
                table[:, position] = self.masks[code]
        return table


def check_identity(checks: Checks, *, col: dict[str, FieldValues], rows: dict[str, Texts],
                   formula: dict[str, Mask]) -> None:
    """Identifier, Email and the names. A cell that is an uncalculated formula is reported as
    that, not as empty."""
    rules = field_rules()
    ident = rows[fields.IDENTIFIER]
    ident_rule = rules.get(fields.IDENTIFIER)
    checks.add(MISSING_IDENTIFIER,
               _unless(col[fields.IDENTIFIER].blank(), formula.get(fields.IDENTIFIER)),
               lambda pos: "Identifier is empty")
    checks.add(
        INVALID_IDENTIFIER, col[fields.IDENTIFIER].mismatch(ident_rule),
        lambda pos: "Identifier must be the letter O and 1 to 19 digits, as in Partner Central "
        "(e.g. O1234567)" + identifier_hint(str(ident[pos]), ident_rule),
    )
    email = rows[fields.EMAIL]
    email_rule = rules.get(fields.EMAIL)
    email_cap = email_rule.max_length if email_rule and email_rule.max_length else None
    checks.add(MISSING_EMAIL, _unless(col[fields.EMAIL].blank(), formula.get(fields.EMAIL)),
               lambda pos: "Email is empty")
    checks.add(
        INVALID_EMAIL,
        col[fields.EMAIL].flag(
            lambda v: v != "" and not (email_cap and len(v) > email_cap) and fails(v, email_rule)
        ),
        lambda pos: "Email is not a valid address (expected name@domain.tld, no spaces)"
        + excel_hint(str(email[pos]).upper()),
    )
    # Names: an Excel error where a name should be is no name at all.
    for code, name in ((MISSING_FIRST_NAME, fields.FIRST_NAME),
                       (MISSING_LAST_NAME, fields.LAST_NAME)):
        checks.add(code, _unless(col[name].flag(lambda v: v == "" or v in EXCEL_ERRORS),
                                 formula.get(name)),
                   name_message(rows[name], name))


def check_lengths(checks: Checks, *, col: dict[str, FieldValues]) -> None:
    """Length caps from the model (the Identifier's pattern already caps its length)."""
    limits = {
        name: rule.max_length
        for name, rule in field_rules().items()
        if rule.max_length is not None and name != fields.IDENTIFIER
    }
    lengths = {name: col[name].lengths() for name in limits}
    over = {name: lengths[name] > limit for name, limit in limits.items()}

    def too_long(pos: int) -> str:
        return "; ".join(
            f"{name} is {int(lengths[name][pos])} characters, the limit is {limit}"
            for name, limit in limits.items()
            if over[name][pos]
        )

    checks.add(FIELD_TOO_LONG,
               np.logical_or.reduce([*over.values(), np.zeros(checks.rows, dtype=bool)]),
               too_long)


def check_phone_catalog_title(
    checks: Checks, *, col: dict[str, FieldValues], rows: dict[str, Texts], catalog: str | None,
    allow_other_titles: bool,
) -> None:
    phone = rows[fields.PHONE]
    checks.add(INVALID_PHONE, col[fields.PHONE].mismatch(field_rules().get(fields.PHONE)),
               lambda pos: phone_message(str(phone[pos])))
    cat = rows[fields.CATALOG]
    checks.add(
        INVALID_CATALOG, col[fields.CATALOG].flag(lambda v: v != "" and v not in CATALOGS),
        lambda pos: f"Catalog must be {' or '.join(CATALOGS)}" + excel_hint(str(cat[pos])),
    )
    checks.add(
        CATALOG_MISMATCH,
        col[fields.CATALOG].flag(lambda v: catalog is not None and v in CATALOGS and v != catalog),
        lambda pos: f"Catalog {cat[pos]} differs from the run's --catalog {catalog}; split the "
        "file by catalog",
    )
    title = rows[fields.BUSINESS_TITLE]
    checks.add(
        NOT_OWNER_TITLE,
        col[fields.BUSINESS_TITLE].flag(lambda v: not allow_other_titles and v != OWNER_TITLE),
        lambda pos: title_message(str(title[pos])),
    )


def uncalculated(table: InputTable) -> dict[str, Mask]:
    """Per field read from a formula cell with no saved value: which rows (Excel only)."""
    index = table.frame.index
    return {
        name: np.asarray(index.isin(table.uncalculated[header]), dtype=bool)
        for name, header in table.columns.items()
        if header in table.uncalculated
    }


def formula_message(table: InputTable, formula: dict[str, Mask]) -> Message:
    def message(pos: int) -> str:
        cells = [
            f"{name} (column {table.letters.get(table.columns[name], '?')})"
            for name, rows in formula.items()
            if rows[pos]
        ]
        return (
            f"{' and '.join(cells)} {'is a formula' if len(cells) == 1 else 'are formulas'} "
            "that Excel never calculated (the file holds no value for it, so it reads as "
            "empty); open the file in Excel and save it, or copy the column and paste it as "
            "values"
        )

    return message


def _unless(problem: Mask, formula: Mask | None) -> Mask:
    """An empty cell that is an uncalculated formula is reported as that, not as empty."""
    return problem if formula is None else problem & ~formula
