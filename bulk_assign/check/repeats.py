"""Rows naming the same opportunity as another row: the same person again, or someone else.

The same person (same catalog, identifier and email) is sent once, from the first row without
another problem; the later rows are DUPLICATE. Different people: every row naming the
opportunity is INVALID with CONFLICTING_ASSIGNMENT, and none of them is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from bulk_assign.check.normalise import Mask, Texts
from bulk_assign.check.problems import CONFLICTING_ASSIGNMENT, Checks
from bulk_assign.sheet import fields

#: Fields of one person that may differ between rows naming the same opportunity and email.
_PERSON_FIELDS: Final = (fields.FIRST_NAME, fields.LAST_NAME, fields.PHONE, fields.BUSINESS_TITLE)


def duplicate_message(first: int, differences: tuple[str, ...]) -> str:
    if not differences:
        return f"same assignment as row {first}: sent once"
    verb = "differs" if len(differences) == 1 else "differ"
    return (
        f"same person as row {first} (same opportunity and email; {', '.join(differences)} "
        f"{verb}): sent once, with row {first}'s values"
    )


@dataclass(frozen=True)
class Repeats:
    """Later rows of one person (row -> (first row, fields that differ)) and conflicting rows
    (row -> the other rows naming the opportunity)."""

    duplicate_of: dict[int, tuple[int, tuple[str, ...]]]
    conflict_with: dict[int, list[int]]


def find_repeats(*, rows: dict[str, Texts], keyed: Mask, bad: Mask, index: pd.Index) -> Repeats:
    """Rows naming the same (Catalog, Identifier) as another row.

    Same email (already lower-cased): one person, whatever the spelling of the names or a
    missing phone; the first row without another problem is sent, the later ones are repeats.
    Different emails: every row naming the opportunity is in conflict.
    """
    repeats = Repeats(duplicate_of={}, conflict_with={})
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


def check_conflicts(checks: Checks, *, repeats: Repeats, index: pd.Index) -> None:
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
