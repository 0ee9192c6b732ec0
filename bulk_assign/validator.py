"""Normalise every row and flag every problem before anything is sent.

Vectorised over the frame (one pass per field), so a million rows validate in seconds. Each row
gets VALID, DUPLICATE or INVALID; INVALID rows carry the first problem as `error_class` and every
problem, in plain words, in `error_message`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from bulk_assign import fields
from bulk_assign.reader import InputTable
from bulk_assign.results import Contact, Job, Status
from bulk_assign.rules import CATALOGS, FieldRule, field_rules

DEFAULT_TITLE: Final = "PartnerAccountManager"

# Codes in the order the spec lists them: error_class is the first that applies.
MISSING_IDENTIFIER: Final = "MISSING_IDENTIFIER"
INVALID_IDENTIFIER: Final = "INVALID_IDENTIFIER"
MISSING_EMAIL: Final = "MISSING_EMAIL"
INVALID_EMAIL: Final = "INVALID_EMAIL"
MISSING_FIRST_NAME: Final = "MISSING_FIRST_NAME"
MISSING_LAST_NAME: Final = "MISSING_LAST_NAME"
FIELD_TOO_LONG: Final = "FIELD_TOO_LONG"
INVALID_PHONE: Final = "INVALID_PHONE"
INVALID_CATALOG: Final = "INVALID_CATALOG"
CATALOG_MISMATCH: Final = "CATALOG_MISMATCH"
CONFLICTING_ASSIGNMENT: Final = "CONFLICTING_ASSIGNMENT"
CODES: Final = (
    MISSING_IDENTIFIER, INVALID_IDENTIFIER, MISSING_EMAIL, INVALID_EMAIL, MISSING_FIRST_NAME,
    MISSING_LAST_NAME, FIELD_TOO_LONG, INVALID_PHONE, INVALID_CATALOG, CATALOG_MISMATCH,
    CONFLICTING_ASSIGNMENT,
)

_EXCEL_ERRORS: Final = frozenset(
    {"#N/A", "#REF!", "#VALUE!", "#NAME?", "#DIV/0!", "#NULL!", "#NUM!", "#SPILL!", "#CALC!"}
)
_EDGE_JUNK: Final = "\u200b\u200c\u200d\u2060\ufeff"  # zero-width characters that strip() keeps
_FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r", "\n")
_PHONE_SEPARATORS: Final = re.compile(r"[\s.\-()\[\]/]")
_SCIENTIFIC: Final = re.compile(r"\d+(?:[.,]\d+)?[eE]\+?\d+")


def _clean(value: str) -> str:
    """Trim (non-breaking and zero-width spaces too) and undo our own formula escape.

    >>> _clean("\\u00a0'+1 555\\u200b ")
    '+1 555'
    """
    value = value.strip().strip(_EDGE_JUNK).strip()
    # failed.csv escapes "+1555..." as "'+1555...": feeding it back must give the value back.
    if value[:1] == "'" and value[1:2] in _FORMULA_TRIGGERS:
        value = value[1:].strip()
    return value


def _normalise_phone(value: str) -> str:
    """`+1 (555) 010-0199` -> `+15550100199`; `0044 20 ...` -> `+4420...`; others unchanged."""
    if value.startswith("+") or value.startswith("00"):
        value = _PHONE_SEPARATORS.sub("", value)
        if value.startswith("00"):
            value = "+" + value[2:]
    return value


def _normalise_catalog(value: str) -> str:
    lowered = value.casefold()
    for catalog in CATALOGS:
        if catalog.casefold() == lowered:
            return catalog
    return value


@dataclass(frozen=True)
class Validation:
    """The sheet after validation: normalised values and a verdict per row (index = row)."""

    table: InputTable
    values: pd.DataFrame
    status: pd.Series
    error_class: pd.Series
    error_message: pd.Series

    def counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.status.value_counts().items()}

    def valid_rows(self) -> pd.Index:
        return self.status.index[self.status.eq(Status.VALID).to_numpy()]

    def jobs(self, rows: pd.Index | None = None) -> Iterator[Job]:
        """The VALID rows as requests, in input order (or just `rows`)."""
        chosen = self.values.loc[self.valid_rows() if rows is None else rows]
        for row, ident, catalog, email, first, last, title, phone in chosen[
            [
                fields.IDENTIFIER, fields.CATALOG, fields.EMAIL, fields.FIRST_NAME,
                fields.LAST_NAME, fields.BUSINESS_TITLE, fields.PHONE,
            ]
        ].itertuples(index=True, name=None):
            yield Job(
                row=int(row),
                catalog=catalog,
                identifier=ident,
                assignee=Contact(
                    email=email, first_name=first, last_name=last, business_title=title,
                    phone=phone,
                ),
            )


def validate(
    table: InputTable,
    *,
    catalog: str | None = None,
    default_title: str = DEFAULT_TITLE,
) -> Validation:
    """Normalise and check every row of `table`.

    `catalog` is the run's `--catalog` (None in `validate` without one: rows without a Catalog
    cell are then not checked for it).
    """
    rules = field_rules()
    index = table.frame.index
    values = pd.DataFrame(index=index)
    for name in fields.FIELDS:
        values[name] = table.column(name).astype(str).map(_clean)
    values[fields.EMAIL] = values[fields.EMAIL].str.lower()
    values[fields.IDENTIFIER] = _upper_leading_o(values[fields.IDENTIFIER])
    values[fields.PHONE] = values[fields.PHONE].map(_normalise_phone)
    values[fields.CATALOG] = values[fields.CATALOG].map(_normalise_catalog)
    if catalog is not None:
        values[fields.CATALOG] = values[fields.CATALOG].mask(
            values[fields.CATALOG].eq(""), catalog
        )
    values[fields.BUSINESS_TITLE] = values[fields.BUSINESS_TITLE].mask(
        values[fields.BUSINESS_TITLE].eq(""), default_title
    )

    problems: dict[str, pd.Series] = {}
    messages: dict[str, Callable[[int], str]] = {}
    _check_identifier(values, rules, problems, messages)
    _check_email(values, rules, problems, messages)
    _check_names(values, problems, messages)
    _check_lengths(values, rules, problems, messages)
    _check_phone(values, rules, problems, messages)
    _check_catalog(values, catalog, problems, messages)

    invalid_before = pd.concat(problems.values(), axis=1).any(axis=1)
    keyed = values[fields.IDENTIFIER].ne("") & ~problems[INVALID_IDENTIFIER]
    keyed &= ~problems[INVALID_CATALOG]
    duplicate, duplicate_message, conflict, conflict_message = _repeats(values, keyed)
    problems[CONFLICTING_ASSIGNMENT] = conflict
    messages[CONFLICTING_ASSIGNMENT] = conflict_message

    mask = pd.concat([problems[c].rename(c) for c in CODES], axis=1)
    bad = invalid_before | conflict
    status = pd.Series(Status.VALID.value, index=index, dtype=object)
    status[duplicate & ~bad] = Status.DUPLICATE.value
    status[bad] = Status.INVALID.value

    error_class = pd.Series("", index=index, dtype=object)
    error_message = pd.Series("", index=index, dtype=object)
    if bad.any():
        bad_mask = mask[bad]
        error_class[bad] = bad_mask.idxmax(axis=1)
        positions = {row: pos for pos, row in enumerate(index)}
        texts = []
        for row, flags in zip(bad_mask.index, bad_mask.to_numpy(), strict=True):
            pos = positions[row]
            texts.append("; ".join(messages[c](pos) for c, f in zip(CODES, flags, strict=True) if f))
        error_message[bad] = texts
    only_duplicate = duplicate & ~bad
    if only_duplicate.any():
        error_message[only_duplicate] = duplicate_message[only_duplicate]
    return Validation(
        table=table,
        values=values,
        status=status,
        error_class=error_class,
        error_message=error_message,
    )


def _upper_leading_o(series: pd.Series) -> pd.Series:
    lower_o = series.str.startswith("o")
    if not lower_o.any():
        return series
    return series.mask(lower_o, "O" + series.str[1:])


def _excel_error(series: pd.Series) -> pd.Series:
    return series.isin(_EXCEL_ERRORS)


def _excel_hint(value: str) -> str:
    if value in _EXCEL_ERRORS:
        return f" (the cell holds the Excel error {value}: fix the formula or paste values)"
    return ""


def _fails(series: pd.Series, rule: FieldRule | None) -> pd.Series:
    if rule is None:
        return pd.Series(False, index=series.index)
    pattern = rule.pattern
    return ~series.map(lambda v: pattern.fullmatch(v) is not None).astype(bool)


Problems = dict[str, pd.Series]
Messages = dict[str, Callable[[int], str]]


def _check_identifier(values: pd.DataFrame, rules: dict[str, FieldRule],
                      problems: Problems, messages: Messages) -> None:
    ident = values[fields.IDENTIFIER]
    missing = ident.eq("")
    problems[MISSING_IDENTIFIER] = missing
    messages[MISSING_IDENTIFIER] = lambda pos: "Identifier is empty"
    problems[INVALID_IDENTIFIER] = ~missing & _fails(ident, rules.get(fields.IDENTIFIER))
    messages[INVALID_IDENTIFIER] = lambda pos: (
        "Identifier must be the letter O and 1 to 19 digits, as in Partner Central "
        "(e.g. O1234567)" + _excel_hint(ident.iat[pos])
    )


def _check_email(values: pd.DataFrame, rules: dict[str, FieldRule],
                 problems: Problems, messages: Messages) -> None:
    email = values[fields.EMAIL]
    missing = email.eq("")
    rule = rules.get(fields.EMAIL)
    too_long = email.str.len() > (rule.max_length if rule and rule.max_length else 10**9)
    problems[MISSING_EMAIL] = missing
    messages[MISSING_EMAIL] = lambda pos: "Email is empty"
    problems[INVALID_EMAIL] = ~missing & ~too_long & _fails(email, rule)
    messages[INVALID_EMAIL] = lambda pos: (
        "Email is not a valid address (expected name@domain.tld, no spaces)"
        + _excel_hint(email.iat[pos].upper())
    )


def _check_names(values: pd.DataFrame, problems: Problems, messages: Messages) -> None:
    for code, name, label in (
        (MISSING_FIRST_NAME, fields.FIRST_NAME, "FirstName"),
        (MISSING_LAST_NAME, fields.LAST_NAME, "LastName"),
    ):
        series = values[name]
        problems[code] = series.eq("") | _excel_error(series)
        messages[code] = _name_message(series, label)


def _name_message(series: pd.Series, label: str) -> Callable[[int], str]:
    def message(pos: int) -> str:
        value = series.iat[pos]
        return f"{label} is empty" if value == "" else f"{label} is missing{_excel_hint(value)}"

    return message


def _check_lengths(values: pd.DataFrame, rules: dict[str, FieldRule],
                   problems: Problems, messages: Messages) -> None:
    limits = {
        name: rule.max_length
        for name, rule in rules.items()
        if rule.max_length is not None and name != fields.IDENTIFIER
    }
    lengths = {name: values[name].str.len() for name in limits}
    over = {name: lengths[name] > limit for name, limit in limits.items()}
    problems[FIELD_TOO_LONG] = pd.concat(over.values(), axis=1).any(axis=1)

    def message(pos: int) -> str:
        return "; ".join(
            f"{name} is {int(lengths[name].iat[pos])} characters, the limit is {limit}"
            for name, limit in limits.items()
            if over[name].iat[pos]
        )

    messages[FIELD_TOO_LONG] = message


def _check_phone(values: pd.DataFrame, rules: dict[str, FieldRule],
                 problems: Problems, messages: Messages) -> None:
    phone = values[fields.PHONE]
    present = phone.ne("")
    problems[INVALID_PHONE] = present & _fails(phone.where(present, "+10"), rules.get(fields.PHONE))

    def message(pos: int) -> str:
        value = phone.iat[pos]
        text = "Phone must be + and the country code, then up to 15 digits in all (e.g. +15550100199)"
        if _SCIENTIFIC.fullmatch(value):
            return text + (
                f" (it looks like Excel turned the number into {value}: format the column as "
                "Text and type the number again with its +)"
            )
        if value.isdigit():
            return text + " (it has no leading +: Excel drops it from numbers)"
        return text + _excel_hint(value)

    messages[INVALID_PHONE] = message


def _check_catalog(values: pd.DataFrame, catalog: str | None,
                   problems: Problems, messages: Messages) -> None:
    cat = values[fields.CATALOG]
    known = cat.isin(CATALOGS)
    problems[INVALID_CATALOG] = ~known & cat.ne("")
    messages[INVALID_CATALOG] = lambda pos: (
        f"Catalog must be {' or '.join(CATALOGS)}" + _excel_hint(cat.iat[pos])
    )
    if catalog is None:
        problems[CATALOG_MISMATCH] = pd.Series(False, index=cat.index)
    else:
        problems[CATALOG_MISMATCH] = known & cat.ne(catalog)
    messages[CATALOG_MISMATCH] = lambda pos: (
        f"Catalog {cat.iat[pos]} differs from the run's --catalog {catalog}; "
        "split the file by catalog"
    )


def _repeats(
    values: pd.DataFrame, keyed: pd.Series
) -> tuple[pd.Series, pd.Series, pd.Series, Callable[[int], str]]:
    """Duplicates (same opportunity, same assignee) and conflicts (different assignees)."""
    index = values.index
    key = values[fields.CATALOG] + "\x1f" + values[fields.IDENTIFIER]
    signature = key
    for name in fields.ASSIGNEE_FIELDS:
        signature = signature + "\x1f" + values[name]
    key = key.where(keyed, None)
    candidates = key.notna() & key.duplicated(keep=False)
    duplicate = pd.Series(False, index=index)
    conflict = pd.Series(False, index=index)
    duplicate_message = pd.Series("", index=index, dtype=object)
    others: dict[object, list[int]] = {}
    if candidates.any():
        sub = pd.DataFrame({"key": key[candidates], "sig": signature[candidates]})
        pairs = sub.drop_duplicates()
        conflict_keys = pairs["key"][pairs["key"].duplicated()].unique()
        conflict[candidates] = sub["key"].isin(conflict_keys).to_numpy()
        repeat = candidates & ~conflict & key.duplicated(keep="first")
        duplicate[repeat] = True
        first_rows = pd.Series(
            index[candidates & ~key.duplicated(keep="first")],
            index=key[candidates & ~key.duplicated(keep="first")],
        )
        duplicate_message[repeat] = [
            f"same assignment as row {r}: sent once" for r in key[repeat].map(first_rows)
        ]
        for row, k in key[conflict].items():
            others.setdefault(k, []).append(int(row))
    positions = np.asarray(index)
    keys = key.to_numpy()

    def conflict_message(pos: int) -> str:
        row = int(positions[pos])
        rest = [r for r in others.get(keys[pos], []) if r != row]
        listed = ", ".join(str(r) for r in rest)
        return (
            f"row(s) {listed} assign the same opportunity to someone else; "
            "keep only the right row, none of them was sent"
        )

    return duplicate, duplicate_message, conflict, conflict_message
