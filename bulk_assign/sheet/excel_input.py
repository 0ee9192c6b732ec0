"""Read an Excel workbook: load it, pick the sheet, turn each cell into the text an analyst sees.

Values are those Excel last saved (formulas are not recalculated); the sheet's marks (hidden
rows and columns, formulas with no saved value) are read from its XML part beside the values,
and a header row with merged cells is refused.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO
from xml.parsers import expat

import pandas as pd

from bulk_assign.errors import InputError
from bulk_assign.sheet import fields
from bulk_assign.sheet.excel_marks import SheetMarks, scan_sheet
from bulk_assign.sheet.table import HEADER_SEARCH_ROWS, InputTable, build_table

_READ_ONLY_ABOVE_BYTES = 20 << 20


def read_excel(path: Path, *, sheet: str | None, required: tuple[str, ...]) -> InputTable:
    # Merged cells are only visible outside read-only mode, which holds the whole sheet in
    # memory; analysts' workbooks are small, and big ones are still read (in read-only mode).
    read_only = path.stat().st_size > _READ_ONLY_ABOVE_BYTES
    # A file object, not the path: openpyxl judges a path by its extension, and a workbook
    # saved as "sheet.csv" (or a download named without one) is still a workbook.
    with path.open("rb") as handle:
        workbook, parts = _load_workbook(path, handle, read_only=read_only)
        try:
            worksheet = _pick_sheet(path, workbook, sheet)
            rows = _sheet_rows(path, worksheet)
            if not any(any(cell for cell in row) for row in rows):
                raise InputError(
                    f"{path}: sheet {worksheet.title!r} is empty; pick the sheet with --sheet "
                    f"NAME (its sheets are {_sheet_list(workbook)}), or add the header row "
                    "and data."
                )
            header_index = _find_row_header(
                path, rows, sheet_title=worksheet.title, sheets=_sheet_list(workbook)
            )
            if not read_only:
                _reject_merged_header(path, worksheet, header_row=header_index + 1)
            marks = _sheet_marks(path, parts.get(worksheet.title), sheet_title=worksheet.title)
        finally:
            workbook.close()
    width = max(len(row) for row in rows)
    padded = [row + [""] * (width - len(row)) for row in rows[header_index:]]
    body = pd.DataFrame(padded[1:], dtype=object)
    if body.shape[1] != width:
        body = pd.DataFrame(columns=range(width), dtype=object)
    return build_table(
        path,
        headers=padded[0],
        body=body,
        header_row=header_index + 1,
        encoding="xlsx",
        sheet=worksheet.title,
        marks=marks,
        required=required,
    )


def _load_workbook(path: Path, handle: BinaryIO, *, read_only: bool) -> tuple[Any, dict[str, str]]:
    """The workbook (values as Excel last saved them) and each sheet's part in the package."""
    from openpyxl.reader.excel import ExcelReader  # imported here: CSV users should not pay

    try:
        # load_workbook() is these two lines; the reader also knows where each sheet is stored.
        reader = ExcelReader(handle, read_only=read_only, data_only=True)
        reader.read()
    except Exception as exc:  # openpyxl raises many types for a broken package (zip, XML, ...)
        raise InputError(
            f"{path}: is damaged or is not an Excel workbook ({type(exc).__name__}); open it in "
            "Excel and save it again as .xlsx, or save it as CSV UTF-8."
        ) from exc
    parser = reader.parser
    parts = {s.name: parser.rels[s.id].target for s in parser.sheets if s.id in parser.rels}
    return reader.wb, parts


def _sheet_rows(path: Path, worksheet: Any) -> list[list[str]]:
    try:
        return [_excel_row(values) for values in worksheet.iter_rows(values_only=True)]
    except Exception as exc:  # a sheet XML that is cut off or malformed
        raise InputError(
            f"{path}: sheet {worksheet.title!r} is damaged ({type(exc).__name__}); open it "
            "in Excel and save it again."
        ) from exc


def _sheet_marks(path: Path, part: str | None, *, sheet_title: str) -> SheetMarks:
    if part is None:
        return SheetMarks()
    try:
        with zipfile.ZipFile(path) as archive:
            return scan_sheet(archive, part)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile, expat.ExpatError) as exc:
        raise InputError(
            f"{path}: sheet {sheet_title!r} is damaged ({type(exc).__name__}); open it "
            "in Excel and save it again."
        ) from exc


def _visible(worksheet: Any) -> bool:
    return getattr(worksheet, "sheet_state", "visible") == "visible"


def _sheet_list(workbook: Any) -> str:
    """`'Cover', 'Data', 'Old' (hidden)`: what --sheet can name."""
    return ", ".join(
        repr(name) + ("" if _visible(workbook[name]) else " (hidden)")
        for name in workbook.sheetnames
    )


def _pick_sheet(path: Path, workbook: Any, sheet: str | None) -> Any:
    """The sheet named by --sheet, by name or by position from 1; else the first visible one."""
    names: list[str] = list(workbook.sheetnames)
    if sheet is None:
        # A hidden first sheet is a lookup table or an old copy, not what the analyst sees.
        visible = [ws for ws in workbook.worksheets if _visible(ws)]
        return visible[0] if visible else workbook[names[0]]
    if sheet in names:
        return workbook[sheet]
    if sheet.isdigit() and 1 <= int(sheet) <= len(names):
        return workbook[names[int(sheet) - 1]]
    raise InputError(
        f"{path}: has no sheet {sheet!r}; its sheets are {_sheet_list(workbook)} "
        "(--sheet takes a name or a position starting at 1)."
    )


def _excel_row(values: Iterable[Any]) -> list[str]:
    return [_excel_text(value) for value in values]


def _excel_text(value: Any) -> str:
    """The text an analyst sees in the cell, without Excel's display formats."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return str(value)


def _find_row_header(
    path: Path, rows: Sequence[Sequence[str]], *, sheet_title: str, sheets: str
) -> int:
    best: tuple[int, int] | None = None
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        known = len({f for f in (fields.field_for(c) for c in row) if f is not None})
        if known and (best is None or known > best[0]):
            best = (known, index)
    if best is None:
        raise InputError(
            f"{path}: no header row found in sheet {sheet_title!r} (looked for columns such as "
            f"Identifier, Email, FirstName, LastName in the first rows); pick the right sheet "
            f"with --sheet NAME (the workbook's sheets are {sheets}), or run "
            "`bulk-assign template --xlsx OUT.xlsx` for the expected columns."
        )
    return best[1]


def _reject_merged_header(path: Path, worksheet: Any, *, header_row: int) -> None:
    for merged in getattr(worksheet, "merged_cells", None) or ():
        if merged.min_row <= header_row <= merged.max_row and merged.max_col > merged.min_col:
            raise InputError(
                f"{path}: the header row {header_row} has merged cells ({merged.coord}); unmerge "
                "them so that every column has its own header, then save and try again."
            )
