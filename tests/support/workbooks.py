"""Workbooks as analysts leave them: hidden and filtered rows, hidden columns and sheets, and
formulas with or without the value Excel saves next to them."""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.worksheet.filters import FilterColumn, Filters


def workbook(
    path: Path,
    rows: Sequence[Sequence[Any]],
    *,
    hidden_rows: Sequence[int] = (),
    filtered_rows: Sequence[int] = (),
    hidden_columns: Sequence[str] = (),
    title: str = "Realignment",
    before: Sequence[tuple[str, str]] = (),
) -> Path:
    """A workbook whose sheet `title` holds `rows` (header first, on row 1).

    `hidden_rows`: hidden by hand; `filtered_rows`: hidden by an autofilter on the last column,
    as Excel saves a filtered sheet (the filter's definition plus `<row hidden="1">`);
    `before`: sheets (title, state) placed in front, e.g. ("Cover", "visible").
    """
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = title
    for values in rows:
        sheet.append(list(values))
    for number in hidden_rows:
        sheet.row_dimensions[number].hidden = True
    if filtered_rows:
        last = len(rows[0])
        sheet.auto_filter.ref = f"A1:{openpyxl.utils.get_column_letter(last)}{len(rows)}"
        shown = sorted({str(rows[r - 1][last - 1]) for r in range(2, len(rows) + 1)
                        if r not in filtered_rows})
        sheet.auto_filter.filterColumn.append(
            FilterColumn(colId=last - 1, filters=Filters(filter=shown))
        )
        for number in filtered_rows:
            sheet.row_dimensions[number].hidden = True
    for letter in hidden_columns:
        sheet.column_dimensions[letter].hidden = True
    for position, (name, state) in enumerate(before):
        extra = book.create_sheet(name, position)
        extra.append(["This workbook holds the Q3 realignment."])
        extra.sheet_state = state
    book.save(path)
    return path


def set_cached_values(path: Path, values: dict[str, str | None], *, sheet: int = 1) -> Path:
    """Give formula cells the value Excel saves next to a formula, or take it away.

    openpyxl writes a formula as `<c r="B2"><f>...</f><v /></c>` (`<v></v>` with lxml):
    `values` maps a cell ("B2") to the text Excel would have saved (`<v>text</v>`, `t="str"`
    as Excel marks a text result), or to None for a formula saved without any `<v>` (as
    other tools write one).
    """
    part = f"xl/worksheets/sheet{sheet}.xml"
    copy = path.with_name(path.stem + ".tmp.xlsx")
    shutil.move(path, copy)
    with zipfile.ZipFile(copy) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == part:
                xml = data.decode("utf-8")
                for ref, value in values.items():
                    xml = _set_value(xml, ref, value)
                data = xml.encode("utf-8")
            out.writestr(item, data)
    copy.unlink()
    return path


def _set_value(xml: str, ref: str, value: str | None) -> str:
    cell = re.compile(rf'<c r="{ref}"([^>]*)>(<f>.*?</f>)(?:<v\s*/>|<v></v>)')
    if not cell.search(xml):
        raise AssertionError(f"no formula cell {ref} in the sheet")
    if value is None:
        return cell.sub(rf'<c r="{ref}"\1>\2', xml)
    return cell.sub(lambda m: f'<c r="{ref}" t="str"{m.group(1)}>{m.group(2)}<v>{value}</v>', xml)
