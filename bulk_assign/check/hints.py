"""The plain words for each problem a row can have, with a hint that says the fix.

Hints name what usually went wrong in Excel: an error value in the cell, a phone number that
lost its + or became 1.5E+10, a trunk (0) after the country code, an identifier without its O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from bulk_assign.check.normalise import TRUNK_ZERO, Texts, normalise_phone
from bulk_assign.check.rules import OWNER_TITLE, FieldRule, field_rules
from bulk_assign.sheet import fields

EXCEL_ERRORS: Final = frozenset(
    {"#N/A", "#REF!", "#VALUE!", "#NAME?", "#DIV/0!", "#NULL!", "#NUM!", "#SPILL!", "#CALC!"}
)
_SCIENTIFIC: Final = re.compile(r"\d+(?:[.,]\d+)?[eE]\+?\d+")
_PHONE_TEXT: Final = (
    "Phone must be + and the country code, then up to 15 digits in all (e.g. +15550100199)"
)

#: A problem's message for one row, given the row's position.
Message = Callable[[int], str]


def fails(value: str, rule: FieldRule | None) -> bool:
    return rule is not None and rule.pattern.fullmatch(value) is None


def excel_hint(value: str) -> str:
    if value in EXCEL_ERRORS:
        return f" (the cell holds the Excel error {value}: fix the formula or paste values)"
    return ""


def identifier_hint(value: str, rule: FieldRule | None) -> str:
    """`5100010` -> "did you mean O5100010?": suggested, never applied (the O may not be all
    that is missing)."""
    if value.isdigit() and value.isascii() and not fails("O" + value, rule):
        return f" (did you mean O{value}?)"
    return excel_hint(value)


def name_message(values: Texts, label: str) -> Message:
    def message(pos: int) -> str:
        value = str(values[pos])
        return f"{label} is empty" if value == "" else f"{label} is missing{excel_hint(value)}"

    return message


def phone_message(value: str) -> str:
    if TRUNK_ZERO.match(value):
        return _PHONE_TEXT + (
            " (drop the (0) after the country code: it is dialled only from inside the country, "
            "e.g. +44 20 7946 0000, not +44 (0)20 7946 0000)"
        )
    if any(c.isdigit() and not c.isascii() for c in value):
        return _PHONE_TEXT + " (it has digits other than 0-9: type them again as 0-9)"
    if _SCIENTIFIC.fullmatch(value):
        return _PHONE_TEXT + (
            f" (it looks like Excel turned the number into {value}: format the column as "
            "Text and type the number again with its +)"
        )
    if value.isdigit():
        return _PHONE_TEXT + " (it has no leading +: Excel drops it from numbers)"
    return _PHONE_TEXT + excel_hint(value)


def phone_problem(value: str) -> str | None:
    """What is wrong with a phone number as the request would carry it, or None when it may be
    sent (a command-line phone, checked as a sheet's Phone cell is).

    >>> phone_problem("+1 (555) 010-0199") is None, "no leading +" in phone_problem("555010")
    (True, True)
    """
    rule = field_rules().get(fields.PHONE)
    if rule is None or rule.pattern.fullmatch(normalise_phone(value.strip())):
        return None
    return phone_message(value.strip())


def title_message(value: str) -> str:
    return (
        f"BusinessTitle {value!r} is not {OWNER_TITLE}: the assignee would join the team and "
        f"the owner would not change; leave it blank (or {OWNER_TITLE}), or add "
        "--allow-other-titles to send other titles on purpose"
    )
