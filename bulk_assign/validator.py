"""Normalise every row and flag every problem before anything is sent.

Vectorised over the frame: each field is factorised once, so normalising and checking costs one
pass over its distinct values (a few hundred account managers, not a million rows), and the
verdicts are broadcast back to the rows. Each row gets VALID, DUPLICATE or INVALID; INVALID rows
carry the first problem as `error_class` and every problem, in plain words, in `error_message`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from bulk_assign import fields
from bulk_assign.reader import InputTable
from bulk_assign.results import Contact, Job, Status
from bulk_assign.rules import CATALOGS, FieldRule, field_rules

DEFAULT_TITLE: Final = "PartnerAccountManager"

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
INVALID_CATALOG: Final = "INVALID_CATALOG"
CATALOG_MISMATCH: Final = "CATALOG_MISMATCH"
CONFLICTING_ASSIGNMENT: Final = "CONFLICTING_ASSIGNMENT"
CODES: Final = (
    UNCALCULATED_FORMULA, MISSING_IDENTIFIER, INVALID_IDENTIFIER, MISSING_EMAIL, INVALID_EMAIL,
    MISSING_FIRST_NAME, MISSING_LAST_NAME, FIELD_TOO_LONG, INVALID_PHONE, INVALID_CATALOG,
    CATALOG_MISMATCH, CONFLICTING_ASSIGNMENT,
)

_EXCEL_ERRORS: Final = frozenset(
    {"#N/A", "#REF!", "#VALUE!", "#NAME?", "#DIV/0!", "#NULL!", "#NUM!", "#SPILL!", "#CALC!"}
)
_EDGE_JUNK: Final = "\u200b\u200c\u200d\u2060\ufeff"  # zero-width characters that strip() keeps
_EDGES: Final = re.compile(rf"^[\s{_EDGE_JUNK}]+|[\s{_EDGE_JUNK}]+$")
_SLOW_START: Final = _EDGE_JUNK + "'"
_FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r", "\n")
_PHONE_SEPARATORS: Final = re.compile(r"[\s.\-()\[\]/]")
_SCIENTIFIC: Final = re.compile(r"\d+(?:[.,]\d+)?[eE]\+?\d+")
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
    if value[:1] == "'" and value[1:2] in _FORMULA_TRIGGERS:
        value = _EDGES.sub("", value[1:])
    return value


def _unescape(value: str) -> str:
    """Undo our own formula escape before trimming: failed.csv writes a cell holding just a
    line break as `'` + LF, and trimming first would leave a lone `'`."""
    if value[:1] == "'" and value[1:2] in _FORMULA_TRIGGERS:
        return value[1:]
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
class _Field:
    """One field's distinct values (normalised) and, per row, which one the row holds."""

    codes: Codes
    uniques: list[str]
    #: True when normalising merged no two distinct values, so `codes` already is the key.
    codes_are_key: bool

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
        stripped = [_unescape(u).strip() for u in raw_list]
        cleaned = [
            v if v and v[0] not in _SLOW_START and v[-1] not in _EDGE_JUNK else _clean(v)
            for v in stripped
        ]
        normalised = normalise(cleaned)
        return cls(codes=codes, uniques=normalised,
                   codes_are_key=not distinct and normalised == raw_list)

    @classmethod
    def absent(cls, rows: int, normalise: Callable[[list[str]], list[str]]) -> _Field:
        """A column the sheet does not have: every row holds the same (empty) value."""
        return cls(codes=np.zeros(rows, dtype=np.intp), uniques=normalise([""]),
                   codes_are_key=True)

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

    def key(self, where: Mask | None = None) -> Codes:
        """Per row (or per row in `where`), a code equal for equal normalised values."""
        if self.codes_are_key:
            return self.codes if where is None else self.codes[where]
        if where is not None:
            chosen = np.asarray(self.uniques, dtype=object)[self.codes[where]]
            same, _ = pd.factorize(chosen, use_na_sentinel=False)
            return same
        same, _ = pd.factorize(np.asarray(self.uniques, dtype=object), use_na_sentinel=False)
        return same[self.codes]


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


Message = Callable[[int], str]


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
    n = len(index)

    norm: dict[str, Callable[[list[str]], list[str]]] = {
        fields.IDENTIFIER: _identifiers,
        fields.EMAIL: _each(str.lower),
        fields.FIRST_NAME: _blank_to(None),
        fields.LAST_NAME: _blank_to(None),
        fields.PHONE: _each(_normalise_phone),
        fields.CATALOG: lambda values: _blank_to(catalog)(_each(_normalise_catalog)(values)),
        fields.BUSINESS_TITLE: _blank_to(default_title),
    }
    col = {
        name: _Field.of(table.column(name), norm[name], distinct=name == fields.IDENTIFIER)
        if name in table.columns else _Field.absent(n, norm[name])
        for name in fields.FIELDS
    }
    rows = {name: col[name].rows() for name in fields.FIELDS}
    values = pd.DataFrame({name: rows[name] for name in fields.FIELDS}, index=index,
                          dtype=object)

    problems: dict[str, Mask] = {}
    messages: dict[str, Message] = {}
    formula = _uncalculated(table)
    problems[UNCALCULATED_FORMULA] = np.logical_or.reduce(
        [*formula.values(), np.zeros(n, dtype=bool)]
    )
    messages[UNCALCULATED_FORMULA] = _formula_message(table, formula)

    # Identifier
    ident = rows[fields.IDENTIFIER]
    problems[MISSING_IDENTIFIER] = _unless(col[fields.IDENTIFIER].blank(),
                                           formula.get(fields.IDENTIFIER))
    messages[MISSING_IDENTIFIER] = lambda pos: "Identifier is empty"
    problems[INVALID_IDENTIFIER] = col[fields.IDENTIFIER].mismatch(rules.get(fields.IDENTIFIER))
    ident_rule = rules.get(fields.IDENTIFIER)
    messages[INVALID_IDENTIFIER] = lambda pos: (
        "Identifier must be the letter O and 1 to 19 digits, as in Partner Central "
        "(e.g. O1234567)" + _identifier_hint(str(ident[pos]), ident_rule)
    )

    # Email
    email = rows[fields.EMAIL]
    email_rule = rules.get(fields.EMAIL)
    email_cap = email_rule.max_length if email_rule and email_rule.max_length else None
    problems[MISSING_EMAIL] = _unless(col[fields.EMAIL].blank(), formula.get(fields.EMAIL))
    messages[MISSING_EMAIL] = lambda pos: "Email is empty"
    problems[INVALID_EMAIL] = col[fields.EMAIL].flag(
        lambda v: v != "" and not (email_cap and len(v) > email_cap) and _fails(v, email_rule)
    )
    messages[INVALID_EMAIL] = lambda pos: (
        "Email is not a valid address (expected name@domain.tld, no spaces)"
        + _excel_hint(str(email[pos]).upper())
    )

    # Names: an Excel error where a name should be is no name at all.
    for code, name in ((MISSING_FIRST_NAME, fields.FIRST_NAME),
                       (MISSING_LAST_NAME, fields.LAST_NAME)):
        problems[code] = _unless(col[name].flag(lambda v: v == "" or v in _EXCEL_ERRORS),
                                 formula.get(name))
        messages[code] = _name_message(rows[name], name)

    # Lengths (the Identifier's pattern already caps its length)
    limits = {
        name: rule.max_length
        for name, rule in rules.items()
        if rule.max_length is not None and name != fields.IDENTIFIER
    }
    lengths = {name: col[name].lengths() for name in limits}
    over = {name: lengths[name] > limit for name, limit in limits.items()}
    problems[FIELD_TOO_LONG] = np.logical_or.reduce(
        [*over.values(), np.zeros(n, dtype=bool)]
    )

    def too_long(pos: int) -> str:
        return "; ".join(
            f"{name} is {int(lengths[name][pos])} characters, the limit is {limit}"
            for name, limit in limits.items()
            if over[name][pos]
        )

    messages[FIELD_TOO_LONG] = too_long

    # Phone
    phone = rows[fields.PHONE]
    phone_rule = rules.get(fields.PHONE)
    problems[INVALID_PHONE] = col[fields.PHONE].mismatch(phone_rule)
    messages[INVALID_PHONE] = lambda pos: _phone_message(str(phone[pos]))

    # Catalog
    cat = rows[fields.CATALOG]
    problems[INVALID_CATALOG] = col[fields.CATALOG].flag(lambda v: v != "" and v not in CATALOGS)
    messages[INVALID_CATALOG] = lambda pos: (
        f"Catalog must be {' or '.join(CATALOGS)}" + _excel_hint(str(cat[pos]))
    )
    problems[CATALOG_MISMATCH] = col[fields.CATALOG].flag(
        lambda v: catalog is not None and v in CATALOGS and v != catalog
    )
    messages[CATALOG_MISMATCH] = lambda pos: (
        f"Catalog {cat[pos]} differs from the run's --catalog {catalog}; split the file by catalog"
    )

    # Repeats: only rows that name an opportunity at all can repeat one.
    keyed = ~problems[MISSING_IDENTIFIER] & ~problems[INVALID_IDENTIFIER]
    keyed &= ~problems[INVALID_CATALOG]
    if fields.IDENTIFIER in formula:
        keyed &= ~formula[fields.IDENTIFIER]
    duplicate_of, conflict_with = _repeats(col, ident, keyed, index)
    conflict = np.zeros(n, dtype=bool)
    conflict[index.get_indexer(pd.Index(list(conflict_with)))] = True
    problems[CONFLICTING_ASSIGNMENT] = conflict
    row_at = np.asarray(index)

    def conflict_message(pos: int) -> str:
        listed = ", ".join(str(r) for r in conflict_with[int(row_at[pos])])
        return (
            f"row(s) {listed} assign the same opportunity to someone else; "
            "keep only the right row, none of them was sent"
        )

    messages[CONFLICTING_ASSIGNMENT] = conflict_message

    stacked: Mask = np.zeros((n, len(CODES)), dtype=bool)
    for position, code in enumerate(CODES):
        stacked[:, position] = problems[code]
    bad: Mask = np.asarray(stacked.any(axis=1), dtype=bool)
    statuses = np.full(n, Status.VALID.value, dtype=object)
    classes = np.full(n, "", dtype=object)
    texts = np.full(n, "", dtype=object)
    repeats = pd.Index(list(duplicate_of))
    for row, pos in zip(repeats, index.get_indexer(repeats).tolist(), strict=True):
        if not bad[pos]:
            statuses[pos] = Status.DUPLICATE.value
            texts[pos] = f"same assignment as row {duplicate_of[row]}: sent once"
    for pos in np.flatnonzero(bad).tolist():
        flags = stacked[pos].tolist()
        statuses[pos] = Status.INVALID.value
        classes[pos] = CODES[flags.index(True)]
        texts[pos] = "; ".join(messages[c](pos) for c, f in zip(CODES, flags, strict=True) if f)
    return Validation(
        table=table,
        values=values,
        status=pd.Series(statuses, index=index, dtype=object),
        error_class=pd.Series(classes, index=index, dtype=object),
        error_message=pd.Series(texts, index=index, dtype=object),
    )


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
    if _SCIENTIFIC.fullmatch(value):
        return _PHONE_TEXT + (
            f" (it looks like Excel turned the number into {value}: format the column as "
            "Text and type the number again with its +)"
        )
    if value.isdigit():
        return _PHONE_TEXT + " (it has no leading +: Excel drops it from numbers)"
    return _PHONE_TEXT + _excel_hint(value)


def _repeats(
    col: dict[str, _Field], identifiers: Texts, keyed: Mask, index: pd.Index
) -> tuple[dict[int, int], dict[int, list[int]]]:
    """Rows that repeat an earlier one (-> that row) and rows in conflict (-> the other rows).

    A repeat names the same (Catalog, Identifier) with the same normalised assignee; a conflict
    names it with a different one, and then every row naming it is in conflict.
    """
    # Hash the identifiers once; only rows whose identifier repeats need a closer look.
    repeated = keyed & pd.Series(identifiers, dtype=object).duplicated(keep=False).to_numpy()
    duplicate_of: dict[int, int] = {}
    conflict_with: dict[int, list[int]] = {}
    if not repeated.any():
        return duplicate_of, conflict_with
    signature_fields: Sequence[str] = (fields.CATALOG, fields.IDENTIFIER, *fields.ASSIGNEE_FIELDS)
    signatures = np.column_stack([col[name].key(repeated) for name in signature_fields])
    groups: dict[tuple[int, int], list[tuple[int, tuple[int, ...]]]] = {}
    for row, signature in zip(np.asarray(index)[repeated], signatures.tolist(), strict=True):
        groups.setdefault((signature[0], signature[1]), []).append((int(row), tuple(signature)))
    for members in groups.values():
        first_row, first_signature = members[0]
        if all(signature == first_signature for _, signature in members):
            for row, _ in members[1:]:
                duplicate_of[row] = first_row
        else:
            everyone = [row for row, _ in members]
            for row in everyone:
                conflict_with[row] = [other for other in everyone if other != row]
    return duplicate_of, conflict_with
