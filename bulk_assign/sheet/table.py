"""The sheet as a table: text cells indexed by the analyst's row number, columns mapped to fields.

Both readers (`csv_input`, `excel_input`) hand their header and body here: unnamed empty columns
go, names are made unique, rows are numbered as in Excel, blank rows are dropped and counted, and
the header is matched to the canonical fields (an ambiguous or missing column is an InputError).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bulk_assign.errors import InputError
from bulk_assign.sheet import fields
from bulk_assign.sheet.cells import is_escaped, unescape
from bulk_assign.sheet.excel_marks import SheetMarks

#: How many rows from the top may hold the header (titles or notes may sit above it).
HEADER_SEARCH_ROWS = 20


@dataclass(frozen=True)
class InputTable:
    """The sheet as read: text cells indexed by the analyst's row number.

    `columns` maps each canonical field (see `fields.FIELDS`) found in the header to the
    column's original header; every other column is an extra that is echoed into the results.
    """

    path: Path
    frame: pd.DataFrame
    columns: dict[str, str]
    encoding: str
    delimiter: str | None = None
    sheet: str | None = None
    header_row: int = 1
    blank_rows: int = 0
    extra_columns: tuple[str, ...] = field(default=())
    #: Each column's letter in the sheet (A, B, ...), for messages that point at a cell.
    letters: dict[str, str] = field(default_factory=dict)
    #: Data rows hidden in Excel, by hand or by a filter (always empty for CSV).
    hidden_rows: tuple[int, ...] = ()
    #: Required fields whose column is hidden in Excel -> the column, e.g. "D ('Email')".
    hidden_columns: dict[str, str] = field(default_factory=dict)
    #: Columns with formulas that have no saved value (read as empty) -> their rows.
    uncalculated: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def column(self, name: str) -> pd.Series:
        """The cells of a canonical field, or empty strings when the sheet lacks that column."""
        header = self.columns.get(name)
        if header is None:
            return pd.Series("", index=self.frame.index, dtype=object)
        return self.frame[header]


def build_table(
    path: Path,
    *,
    headers: Sequence[str],
    body: pd.DataFrame,
    header_row: int,
    encoding: str,
    delimiter: str | None = None,
    sheet: str | None = None,
    marks: SheetMarks | None = None,
    required: tuple[str, ...] = fields.REQUIRED,
) -> InputTable:
    headers = [_unescape_header(h.strip()) for h in headers]
    # Unnamed columns with nothing in them are Excel's trailing commas: drop them.
    unnamed = [i for i, h in enumerate(headers) if not h and i < body.shape[1]]
    filled = set()
    if unnamed:
        block = body.iloc[:, unnamed].to_numpy(dtype=object)
        filled = {i for j, i in enumerate(unnamed) if any(str(c).strip() for c in block[:, j])}
    keep = [i for i, h in enumerate(headers) if h or i in filled]
    raw = [headers[i] or f"Column {_column_letter(i)}" for i in keep]
    names = _unique_names(raw)
    body = body.iloc[:, keep]
    body.columns = pd.Index(names)
    body.index = pd.RangeIndex(header_row + 1, header_row + 1 + len(body), name="row")

    columns = _map_columns(path, raw, names, required=required)
    blank = _blank_rows(body)
    blank_rows = int(blank.sum())
    if blank_rows:
        body = body.loc[~blank]
    if body.empty:
        detail = f" ({blank_rows} blank rows)" if blank_rows else ""
        raise InputError(
            f"{path}: has a header but no data rows{detail}; add one row per opportunity."
        )
    body = body.astype(object)
    extras = tuple(n for n in names if n not in columns.values())
    positions = dict(zip(names, keep, strict=True))
    return InputTable(
        path=path,
        frame=body,
        columns=columns,
        encoding=encoding,
        delimiter=delimiter,
        sheet=sheet,
        header_row=header_row,
        blank_rows=blank_rows,
        extra_columns=extras,
        letters={name: _column_letter(i) for name, i in positions.items()},
        **_marked(marks or SheetMarks(), rows=body.index, positions=positions, columns=columns,
                  required=required),
    )


def _marked(
    marks: SheetMarks, *, rows: pd.Index, positions: dict[str, int], columns: dict[str, str],
    required: tuple[str, ...],
) -> dict[str, Any]:
    """The sheet's marks in the table's terms: data rows only, columns by name."""
    hidden = rows[np.isin(rows, list(marks.hidden_rows))] if marks.hidden_rows else rows[:0]
    hidden_columns = {
        f: f"{_column_letter(positions[columns[f]])} ({columns[f]!r})"
        for f in required
        if marks.column_hidden(positions[columns[f]] + 1)
    }
    name_at = {position + 1: name for name, position in positions.items()}
    uncalculated: dict[str, list[int]] = {}
    if marks.uncalculated:
        wanted = set(rows.tolist())
        for row, column in marks.uncalculated:
            if row in wanted and column in name_at:
                uncalculated.setdefault(name_at[column], []).append(row)
    return {
        "hidden_rows": tuple(int(r) for r in hidden),
        "hidden_columns": hidden_columns,
        "uncalculated": {name: tuple(found) for name, found in uncalculated.items()},
    }


def _unescape_header(header: str) -> str:
    """Undo our own formula escape (results.csv / failed.csv write `=x` as `'=x`)."""
    if is_escaped(header):
        return unescape(header).strip()
    return header


def _blank_rows(body: pd.DataFrame) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Which rows have nothing but blanks in every cell.

    Column by column, only the rows still undecided are looked at: after the first column
    nearly every row has shown a value, so a million rows cost about one pass, not one per column.
    """
    undecided = np.ones(len(body), dtype=bool)
    for position in range(body.shape[1]):
        if not undecided.any():
            break
        cells = body.iloc[:, position].to_numpy(dtype=object)[undecided]
        # map() over C methods: no Python frame per cell (every cell is a str here).
        filled = np.fromiter(map(bool, map(str.strip, cells)), dtype=bool, count=len(cells))
        undecided[undecided] = ~filled
    return undecided


def _map_columns(path: Path, raw: Sequence[str], names: Sequence[str], *,
                 required: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    for header, name in zip(raw, names, strict=True):
        canonical = fields.field_for(header)
        if canonical is not None:
            found.setdefault(canonical, []).append(name)
    ambiguous = {f: cols for f, cols in found.items() if len(cols) > 1}
    if ambiguous:
        f, cols = next(iter(ambiguous.items()))
        raise InputError(
            f"{path}: columns {' and '.join(map(repr, cols))} both mean {f}; "
            "delete or rename one of them."
        )
    missing = [f for f in required if f not in found]
    if missing:
        raise InputError(
            f"{path}: missing required column(s) {', '.join(missing)}; found "
            f"{_preview(names)}. Rename the header (e.g. 'Opportunity Id', 'Email', "
            "'First Name', 'Last Name') or run `bulk-assign template OUT.csv`."
        )
    return {f: cols[0] for f, cols in found.items()}


def _preview(names: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(repr(n[:40]) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _unique_names(names: Sequence[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name} ({count + 1})")
    return out


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters
