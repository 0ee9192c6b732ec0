"""Normalise every row and flag every problem before anything is sent.

Vectorised over the frame: each field is factorised once, so normalising and checking costs one
pass over its distinct values (a few hundred account managers, not a million rows), and the
verdicts are broadcast back to the rows. Each row gets VALID, DUPLICATE or INVALID; INVALID rows
carry the first problem as `error_class` and every problem, in plain words, in `error_message`.
The parts: `normalise` (the values), `problems` (the codes and the checks), `hints` (their plain
words) and `repeats` (the same opportunity on several rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bulk_assign.check.normalise import (
    FieldValues,
    Mask,
    blank_to,
    each,
    normalise_catalog,
    normalise_identifiers,
    normalise_phone,
    normalise_title,
)
from bulk_assign.check.problems import (
    CODES,
    INVALID_CATALOG,
    INVALID_IDENTIFIER,
    MISSING_IDENTIFIER,
    UNCALCULATED_FORMULA,
    Checks,
    check_identity,
    check_lengths,
    check_phone_catalog_title,
    formula_message,
    uncalculated,
)
from bulk_assign.check.repeats import Repeats, check_conflicts, duplicate_message, find_repeats
from bulk_assign.results import Contact, Job, Status
from bulk_assign.sheet import fields
from bulk_assign.sheet.table import InputTable


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
        fields.IDENTIFIER: normalise_identifiers,
        fields.EMAIL: each(str.lower),
        fields.FIRST_NAME: blank_to(None),
        fields.LAST_NAME: blank_to(None),
        fields.PHONE: each(normalise_phone),
        fields.CATALOG: lambda values: blank_to(catalog)(each(normalise_catalog)(values)),
        fields.BUSINESS_TITLE: each(normalise_title),
    }
    col = {
        name: FieldValues.of(table.column(name), norm[name], distinct=name == fields.IDENTIFIER)
        if name in table.columns else FieldValues.absent(n, norm[name])
        for name in fields.FIELDS
    }
    rows = {name: col[name].rows() for name in fields.FIELDS}
    values = pd.DataFrame({name: rows[name] for name in fields.FIELDS}, index=index,
                          dtype=object)
    # The expected owner (owners.py): None when the sheet has no such column, "" when the
    # cell is empty (no owner when the sheet was made). Not checked: an odd value only makes
    # the row come out OwnerChanged, never a write.
    values[fields.EXPECTED_OWNER] = (
        FieldValues.of(table.column(fields.EXPECTED_OWNER), each(str.lower)).rows()
        if fields.EXPECTED_OWNER in table.columns else None
    )
    checks = Checks(n)
    formula = uncalculated(table)
    checks.add(UNCALCULATED_FORMULA,
               np.logical_or.reduce([*formula.values(), np.zeros(n, dtype=bool)]),
               formula_message(table, formula))
    check_identity(checks, col=col, rows=rows, formula=formula)
    check_lengths(checks, col=col)
    check_phone_catalog_title(checks, col=col, rows=rows, catalog=catalog,
                              allow_other_titles=allow_other_titles)
    keyed = ~checks.masks[MISSING_IDENTIFIER] & ~checks.masks[INVALID_IDENTIFIER]
    keyed &= ~checks.masks[INVALID_CATALOG]
    if fields.IDENTIFIER in formula:
        keyed &= ~formula[fields.IDENTIFIER]
    bad: Mask = np.asarray(checks.stacked().any(axis=1), dtype=bool)
    repeats = find_repeats(rows=rows, keyed=keyed, bad=bad, index=index)
    check_conflicts(checks, repeats=repeats, index=index)
    status, error_class, error_message = _verdicts(checks, repeats=repeats, index=index)
    return Validation(table=table, values=values, status=status, error_class=error_class,
                      error_message=error_message)


def _verdicts(
    checks: Checks, *, repeats: Repeats, index: pd.Index
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
            texts[pos] = duplicate_message(*repeats.duplicate_of[row])
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
