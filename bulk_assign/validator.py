"""Normalise every row and flag every problem before anything is sent.

Vectorised over the frame: each field is factorised once, so normalising and checking costs one
pass over its distinct values (a few hundred account managers, not a million rows), and the
verdicts are broadcast back to the rows. Each row gets VALID, DUPLICATE or INVALID; INVALID rows
carry the first problem as `error_class` and every problem, in plain words, in `error_message`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from bulk_assign import fields
from bulk_assign.cells import ESCAPE, is_escaped, unescape
from bulk_assign.results import Contact, Job, Status
from bulk_assign.rules import (
    CATALOGS,
    OWNER_TITLE,
    FieldRule,
    canonical_catalog,
    field_rules,
    is_owner_title,
)
from bulk_assign.sheet_table import InputTable

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

_EXCEL_ERRORS: Final = frozenset(
    {"#N/A", "#REF!", "#VALUE!", "#NAME?", "#DIV/0!", "#NULL!", "#NUM!", "#SPILL!", "#CALC!"}
)
_EDGE_JUNK: Final = "\u200b\u200c\u200d\u2060\ufeff"  # zero-width characters that strip() keeps
_EDGES: Final = re.compile(rf"^[\s{_EDGE_JUNK}]+|[\s{_EDGE_JUNK}]+$")
_SLOW_START: Final = _EDGE_JUNK + ESCAPE
_PHONE_SEPARATORS: Final = re.compile(r"[\s.\-()\[\]/]")
_SCIENTIFIC: Final = re.compile(r"\d+(?:[.,]\d+)?[eE]\+?\d+")
#: "+44 (0)20 ...": the national trunk 0 in brackets after the country code.
_TRUNK_ZERO: Final = re.compile(r"(?:\+|00)\s*[1-9][0-9]{0,2}[\s.\-]*\(\s*0\s*\)", re.ASCII)
_PHONE_TEXT: Final = (
    "Phone must be + and the country code, then up to 15 digits in all (e.g. +15550100199)"
)

Mask = np.ndarray[Any, np.dtype[np.bool_]]
Codes = np.ndarray[Any, np.dtype[np.intp]]
Texts = np.ndarray[Any, np.dtype[np.object_]]


def _clean(value: str) -> str:
    """Trim (non-breaking and zero-width spaces too) and undo our own formula escape.

    >>> _clean("\\u00a0'+1 555\\u200b ")
    '+1 555'
    """
    value = value.strip()
    if value and value[0] not in _SLOW_START and value[-1] not in _EDGE_JUNK:
        return value  # the common case: nothing more to do
    value = _EDGES.sub("", value)
    # failed.csv escapes "+1555..." as "'+1555...": feeding it back must give the value back.
    if is_escaped(value):
        value = _EDGES.sub("", unescape(value))
    return value


def _normalise_phone(value: str) -> str:
    """`+1 (555) 010-0199` -> `+15550100199`; `0044 20 ...` -> `+4420...`; others unchanged.

    `+44 (0)20 ...` stays as it is: dropping only the brackets would send the trunk 0 (a wrong
    number), so the row is refused with a hint instead of guessed at.
    """
    if _TRUNK_ZERO.match(value):
        return value
    if value.startswith("+") or value.startswith("00"):
        value = _PHONE_SEPARATORS.sub("", value)
        if value.startswith("00"):
            value = "+" + value[2:]
    return value


def _normalise_catalog(value: str) -> str:
    return canonical_catalog(value) or value


def _normalise_title(value: str) -> str:
    """Blank or any spelling of the owner's title -> `PartnerAccountManager`; others as typed."""
    return OWNER_TITLE if value == "" or is_owner_title(value) else value


@dataclass(frozen=True)
class _Field:
    """One field's distinct values (normalised) and, per row, which one the row holds."""

    codes: Codes
    uniques: list[str]

    @classmethod
    def of(
        cls, cells: pd.Series, normalise: Callable[[list[str]], list[str]], *,
        distinct: bool = False,
    ) -> _Field:
        """`distinct`: the values are (nearly) all different, so factorising would only cost."""
        raw = cells.to_numpy(dtype=object)
        if distinct:
            codes: Codes = np.arange(len(raw), dtype=np.intp)
            raw_list: list[str] = raw.tolist()
        else:
            codes, uniques = pd.factorize(raw, use_na_sentinel=False)
            raw_list = uniques.tolist()
        # Unescape before trimming: failed.csv writes a cell holding just a line break as
        # `'` + LF, and trimming first would leave a lone `'`.
        stripped = [unescape(u).strip() for u in raw_list]
        cleaned = [
            v if v and v[0] not in _SLOW_START and v[-1] not in _EDGE_JUNK else _clean(v)
            for v in stripped
        ]
        normalised = normalise(cleaned)
        return cls(codes=codes, uniques=normalised)

    @classmethod
    def absent(cls, rows: int, normalise: Callable[[list[str]], list[str]]) -> _Field:
        """A column the sheet does not have: every row holds the same (empty) value."""
        return cls(codes=np.zeros(rows, dtype=np.intp), uniques=normalise([""]))

    def rows(self) -> Texts:
        return np.asarray(self.uniques, dtype=object)[self.codes]

    def flag(self, test: Callable[[str], bool]) -> Mask:
        """`test` on each distinct value, broadcast to the rows."""
        return np.array([test(u) for u in self.uniques], dtype=bool)[self.codes]

    def blank(self) -> Mask:
        return np.array([not u for u in self.uniques], dtype=bool)[self.codes]

    def mismatch(self, rule: FieldRule | None) -> Mask:
        """Non-blank values that the rule's pattern does not match in full."""
        if rule is None:
            return np.zeros(len(self.codes), dtype=bool)
        failed = [m is None for m in map(rule.pattern.fullmatch, self.uniques)]
        return (np.array(failed, dtype=bool) & ~self.blank_uniques())[self.codes]

    def blank_uniques(self) -> Mask:
        return np.array([not u for u in self.uniques], dtype=bool)

    def lengths(self) -> np.ndarray[Any, np.dtype[np.int64]]:
        per_unique = np.fromiter(map(len, self.uniques), dtype=np.int64,
                                 count=len(self.uniques))
        return per_unique[self.codes]


def _each(normalise: Callable[[str], str]) -> Callable[[list[str]], list[str]]:
    return lambda values: [normalise(v) for v in values]


def _identifiers(values: list[str]) -> list[str]:
    """`o123` -> `O123` (Excel's autocorrect and hand typing both produce it)."""
    return ["O" + v[1:] if v[:1] == "o" else v for v in values]


def _blank_to(value: str | None) -> Callable[[list[str]], list[str]]:
    if value is None:
        return lambda values: values
    return lambda values: [v or value for v in values]


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
        for row, ident, catalog, email, first, last, title, phone, expected in chosen[
            [
                fields.IDENTIFIER, fields.CATALOG, fields.EMAIL, fields.FIRST_NAME,
                fields.LAST_NAME, fields.BUSINESS_TITLE, fields.PHONE, fields.EXPECTED_OWNER,
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
                expected_owner=expected if isinstance(expected, str) else None,
            )


Message = Callable[[int], str]


class _Checks:
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


def validate(
    table: InputTable,
    *,
    catalog: str | None = None,
    allow_other_titles: bool = False,
) -> Validation:
    """Normalise and check every row of `table`.

    `catalog` is the run's `--catalog` (None in `validate` without one: rows without a Catalog
    cell are then not checked for it). `allow_other_titles`: a BusinessTitle column may send
    titles other than PartnerAccountManager (those rows add a team member, not an owner).
    """
    index = table.frame.index
    n = len(index)
    norm: dict[str, Callable[[list[str]], list[str]]] = {
        fields.IDENTIFIER: _identifiers,
        fields.EMAIL: _each(str.lower),
        fields.FIRST_NAME: _blank_to(None),
        fields.LAST_NAME: _blank_to(None),
        fields.PHONE: _each(_normalise_phone),
        fields.CATALOG: lambda values: _blank_to(catalog)(_each(_normalise_catalog)(values)),
        fields.BUSINESS_TITLE: _each(_normalise_title),
    }
    col = {
        name: _Field.of(table.column(name), norm[name], distinct=name == fields.IDENTIFIER)
        if name in table.columns else _Field.absent(n, norm[name])
        for name in fields.FIELDS
    }
    rows = {name: col[name].rows() for name in fields.FIELDS}
    values = pd.DataFrame({name: rows[name] for name in fields.FIELDS}, index=index,
                          dtype=object)
    # The expected owner (owners.py): None when the sheet has no such column, "" when the
    # cell is empty (no owner when the sheet was made). Not checked: an odd value only makes
    # the row come out OwnerChanged, never a write.
    values[fields.EXPECTED_OWNER] = (
        _Field.of(table.column(fields.EXPECTED_OWNER), _each(str.lower)).rows()
        if fields.EXPECTED_OWNER in table.columns else None
    )
    checks = _Checks(n)
    formula = _uncalculated(table)
    checks.add(UNCALCULATED_FORMULA,
               np.logical_or.reduce([*formula.values(), np.zeros(n, dtype=bool)]),
               _formula_message(table, formula))
    _check_identity(checks, col=col, rows=rows, formula=formula)
    _check_lengths(checks, col=col)
    _check_phone_catalog_title(checks, col=col, rows=rows, catalog=catalog,
                               allow_other_titles=allow_other_titles)
    keyed = ~checks.masks[MISSING_IDENTIFIER] & ~checks.masks[INVALID_IDENTIFIER]
    keyed &= ~checks.masks[INVALID_CATALOG]
    if fields.IDENTIFIER in formula:
        keyed &= ~formula[fields.IDENTIFIER]
    bad: Mask = np.asarray(checks.stacked().any(axis=1), dtype=bool)
    repeats = _repeats(rows=rows, keyed=keyed, bad=bad, index=index)
    _check_conflicts(checks, repeats=repeats, index=index)
    status, error_class, error_message = _verdicts(checks, repeats=repeats, index=index)
    return Validation(table=table, values=values, status=status, error_class=error_class,
                      error_message=error_message)


def _check_identity(checks: _Checks, *, col: dict[str, _Field], rows: dict[str, Texts],
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
        "(e.g. O1234567)" + _identifier_hint(str(ident[pos]), ident_rule),
    )
    email = rows[fields.EMAIL]
    email_rule = rules.get(fields.EMAIL)
    email_cap = email_rule.max_length if email_rule and email_rule.max_length else None
    checks.add(MISSING_EMAIL, _unless(col[fields.EMAIL].blank(), formula.get(fields.EMAIL)),
               lambda pos: "Email is empty")
    checks.add(
        INVALID_EMAIL,
        col[fields.EMAIL].flag(
            lambda v: v != "" and not (email_cap and len(v) > email_cap) and _fails(v, email_rule)
        ),
        lambda pos: "Email is not a valid address (expected name@domain.tld, no spaces)"
        + _excel_hint(str(email[pos]).upper()),
    )
    # Names: an Excel error where a name should be is no name at all.
    for code, name in ((MISSING_FIRST_NAME, fields.FIRST_NAME),
                       (MISSING_LAST_NAME, fields.LAST_NAME)):
        checks.add(code, _unless(col[name].flag(lambda v: v == "" or v in _EXCEL_ERRORS),
                                 formula.get(name)),
                   _name_message(rows[name], name))


def _check_lengths(checks: _Checks, *, col: dict[str, _Field]) -> None:
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


def _check_phone_catalog_title(
    checks: _Checks, *, col: dict[str, _Field], rows: dict[str, Texts], catalog: str | None,
    allow_other_titles: bool,
) -> None:
    phone = rows[fields.PHONE]
    checks.add(INVALID_PHONE, col[fields.PHONE].mismatch(field_rules().get(fields.PHONE)),
               lambda pos: _phone_message(str(phone[pos])))
    cat = rows[fields.CATALOG]
    checks.add(
        INVALID_CATALOG, col[fields.CATALOG].flag(lambda v: v != "" and v not in CATALOGS),
        lambda pos: f"Catalog must be {' or '.join(CATALOGS)}" + _excel_hint(str(cat[pos])),
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
        lambda pos: _title_message(str(title[pos])),
    )


def _check_conflicts(checks: _Checks, *, repeats: _Repeats, index: pd.Index) -> None:
    conflict = np.zeros(checks.rows, dtype=bool)
    conflict[index.get_indexer(pd.Index(list(repeats.conflict_with)))] = True
    row_at = np.asarray(index)

    def conflict_message(pos: int) -> str:
        listed = ", ".join(str(r) for r in repeats.conflict_with[int(row_at[pos])])
        return (
            f"row(s) {listed} assign the same opportunity to someone else; "
            "keep only the right row, none of them was sent"
        )

    checks.add(CONFLICTING_ASSIGNMENT, conflict, conflict_message)


def _verdicts(
    checks: _Checks, *, repeats: _Repeats, index: pd.Index
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Status, error_class and error_message per row."""
    n = checks.rows
    stacked = checks.stacked()
    bad: Mask = np.asarray(stacked.any(axis=1), dtype=bool)
    statuses = np.full(n, Status.VALID.value, dtype=object)
    classes = np.full(n, "", dtype=object)
    texts = np.full(n, "", dtype=object)
    later = pd.Index(list(repeats.duplicate_of))
    for row, pos in zip(later, index.get_indexer(later).tolist(), strict=True):
        if not bad[pos]:
            statuses[pos] = Status.DUPLICATE.value
            texts[pos] = _duplicate_message(*repeats.duplicate_of[row])
    for pos in np.flatnonzero(bad).tolist():
        flags = stacked[pos].tolist()
        statuses[pos] = Status.INVALID.value
        classes[pos] = CODES[flags.index(True)]
        texts[pos] = "; ".join(
            checks.messages[c](pos) for c, f in zip(CODES, flags, strict=True) if f
        )
    return (pd.Series(statuses, index=index, dtype=object),
            pd.Series(classes, index=index, dtype=object),
            pd.Series(texts, index=index, dtype=object))


def _uncalculated(table: InputTable) -> dict[str, Mask]:
    """Per field read from a formula cell with no saved value: which rows (Excel only)."""
    index = table.frame.index
    return {
        name: np.asarray(index.isin(table.uncalculated[header]), dtype=bool)
        for name, header in table.columns.items()
        if header in table.uncalculated
    }


def _formula_message(table: InputTable, formula: dict[str, Mask]) -> Message:
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


def _fails(value: str, rule: FieldRule | None) -> bool:
    return rule is not None and rule.pattern.fullmatch(value) is None


def _excel_hint(value: str) -> str:
    if value in _EXCEL_ERRORS:
        return f" (the cell holds the Excel error {value}: fix the formula or paste values)"
    return ""


def _identifier_hint(value: str, rule: FieldRule | None) -> str:
    """`5100010` -> "did you mean O5100010?": suggested, never applied (the O may not be all
    that is missing)."""
    if value.isdigit() and value.isascii() and not _fails("O" + value, rule):
        return f" (did you mean O{value}?)"
    return _excel_hint(value)


def _name_message(values: Texts, label: str) -> Message:
    def message(pos: int) -> str:
        value = str(values[pos])
        return f"{label} is empty" if value == "" else f"{label} is missing{_excel_hint(value)}"

    return message


def _phone_message(value: str) -> str:
    if _TRUNK_ZERO.match(value):
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
    return _PHONE_TEXT + _excel_hint(value)


def phone_problem(value: str) -> str | None:
    """What is wrong with a phone number as the request would carry it, or None when it may be
    sent (a command-line phone, checked as a sheet's Phone cell is).

    >>> phone_problem("+1 (555) 010-0199") is None, "no leading +" in phone_problem("555010")
    (True, True)
    """
    rule = field_rules().get(fields.PHONE)
    if rule is None or rule.pattern.fullmatch(_normalise_phone(value.strip())):
        return None
    return _phone_message(value.strip())


def _title_message(value: str) -> str:
    return (
        f"BusinessTitle {value!r} is not {OWNER_TITLE}: the assignee would join the team and "
        f"the owner would not change; leave it blank (or {OWNER_TITLE}), or add "
        "--allow-other-titles to send other titles on purpose"
    )


#: Fields of one person that may differ between rows naming the same opportunity and email.
_PERSON_FIELDS: Final = (fields.FIRST_NAME, fields.LAST_NAME, fields.PHONE, fields.BUSINESS_TITLE)


def _duplicate_message(first: int, differences: tuple[str, ...]) -> str:
    if not differences:
        return f"same assignment as row {first}: sent once"
    verb = "differs" if len(differences) == 1 else "differ"
    return (
        f"same person as row {first} (same opportunity and email; {', '.join(differences)} "
        f"{verb}): sent once, with row {first}'s values"
    )


@dataclass(frozen=True)
class _Repeats:
    """Later rows of one person (row -> (first row, fields that differ)) and conflicting rows
    (row -> the other rows naming the opportunity)."""

    duplicate_of: dict[int, tuple[int, tuple[str, ...]]]
    conflict_with: dict[int, list[int]]


def _repeats(*, rows: dict[str, Texts], keyed: Mask, bad: Mask, index: pd.Index) -> _Repeats:
    """Rows naming the same (Catalog, Identifier) as another row.

    Same email (already lower-cased): one person, whatever the spelling of the names or a
    missing phone; the first row without another problem is sent, the later ones are repeats.
    Different emails: every row naming the opportunity is in conflict.
    """
    repeats = _Repeats(duplicate_of={}, conflict_with={})
    identifiers = rows[fields.IDENTIFIER]
    # Hash the identifiers once; only rows whose identifier repeats need a closer look.
    repeated = keyed & pd.Series(identifiers, dtype=object).duplicated(keep=False).to_numpy()
    if not repeated.any():
        return repeats
    catalogs, emails = rows[fields.CATALOG], rows[fields.EMAIL]
    groups: dict[tuple[str, str], list[int]] = {}
    for pos in np.flatnonzero(repeated).tolist():
        groups.setdefault((catalogs[pos], identifiers[pos]), []).append(pos)
    row_at = np.asarray(index)
    for members in groups.values():
        if len({emails[pos] for pos in members}) > 1:
            everyone = [int(row_at[pos]) for pos in members]
            for row in everyone:
                repeats.conflict_with[row] = [other for other in everyone if other != row]
            continue
        sendable = [pos for pos in members if not bad[pos]]
        for pos in sendable[1:]:
            differences = tuple(
                name for name in _PERSON_FIELDS if rows[name][pos] != rows[name][sendable[0]]
            )
            repeats.duplicate_of[int(row_at[pos])] = (int(row_at[sendable[0]]), differences)
    return repeats
