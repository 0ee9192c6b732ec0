"""Trim and normalise a sheet's cells, once per distinct value of each field.

`FieldValues` factorises a column, so that normalising it (and every check on it) runs over its
distinct values and is broadcast back to the rows. The functions are what it applies: trimming
(non-breaking and zero-width spaces too), undoing our own formula escape, and the normalisers
`validate` chooses per field (identifier, phone, catalog, business title, a blank's default).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd

from bulk_assign.check.rules import OWNER_TITLE, FieldRule, canonical_catalog, is_owner_title
from bulk_assign.sheet.cells import ESCAPE, is_escaped, unescape

_EDGE_JUNK: Final = "\u200b\u200c\u200d\u2060\ufeff"  # zero-width characters that strip() keeps
_EDGES: Final = re.compile(rf"^[\s{_EDGE_JUNK}]+|[\s{_EDGE_JUNK}]+$")
_SLOW_START: Final = _EDGE_JUNK + ESCAPE
_PHONE_SEPARATORS: Final = re.compile(r"[\s.\-()\[\]/]")
#: "+44 (0)20 ...": the national trunk 0 in brackets after the country code.
TRUNK_ZERO: Final = re.compile(r"(?:\+|00)\s*[1-9][0-9]{0,2}[\s.\-]*\(\s*0\s*\)", re.ASCII)

Mask = np.ndarray[Any, np.dtype[np.bool_]]
Codes = np.ndarray[Any, np.dtype[np.intp]]
Texts = np.ndarray[Any, np.dtype[np.object_]]


def clean(value: str) -> str:
    """Trim (non-breaking and zero-width spaces too) and undo our own formula escape.

    >>> clean("\\u00a0'+1 555\\u200b ")
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


def normalise_phone(value: str) -> str:
    """`+1 (555) 010-0199` -> `+15550100199`; `0044 20 ...` -> `+4420...`; others unchanged.

    `+44 (0)20 ...` stays as it is: dropping only the brackets would send the trunk 0 (a wrong
    number), so the row is refused with a hint instead of guessed at.
    """
    if TRUNK_ZERO.match(value):
        return value
    if value.startswith("+") or value.startswith("00"):
        value = _PHONE_SEPARATORS.sub("", value)
        if value.startswith("00"):
            value = "+" + value[2:]
    return value


def normalise_catalog(value: str) -> str:
    return canonical_catalog(value) or value


def normalise_title(value: str) -> str:
    """Blank or any spelling of the owner's title -> `PartnerAccountManager`; others as typed."""
    return OWNER_TITLE if value == "" or is_owner_title(value) else value


@dataclass(frozen=True)
class FieldValues:
    """One field's distinct values (normalised) and, per row, which one the row holds."""

    codes: Codes
    uniques: list[str]

    @classmethod
    def of(
        cls, cells: pd.Series, normalise: Callable[[list[str]], list[str]], *,
        distinct: bool = False,
    ) -> FieldValues:
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
            v if v and v[0] not in _SLOW_START and v[-1] not in _EDGE_JUNK else clean(v)
            for v in stripped
        ]
        normalised = normalise(cleaned)
        return cls(codes=codes, uniques=normalised)

    @classmethod
    def absent(cls, rows: int, normalise: Callable[[list[str]], list[str]]) -> FieldValues:
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


def each(normalise: Callable[[str], str]) -> Callable[[list[str]], list[str]]:
    return lambda values: [normalise(v) for v in values]


def normalise_identifiers(values: list[str]) -> list[str]:
    """`o123` -> `O123` (Excel's autocorrect and hand typing both produce it)."""
    return ["O" + v[1:] if v[:1] == "o" else v for v in values]


def blank_to(value: str | None) -> Callable[[list[str]], list[str]]:
    if value is None:
        return lambda values: values
    return lambda values: [v or value for v in values]
