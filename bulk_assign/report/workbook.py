"""results.xlsx: the run's results as an analyst opens them in Excel.

Sheets: Results (results.csv's rows, statuses coloured), Failed (failed.csv's rows: valid `run`
input as it stands) and Summary (the run's facts, counts, a legend and a chart of rows by
status). Written with openpyxl's write-only mode, so 100,000 rows stream to disk instead of
living in memory as cell objects.

Every cell that holds a value from the input or a results column is a string cell: `=x` is
stored as the text `=x`, never as a formula (openpyxl would make it one), `#N/A` as text, not an
error, `+44 20 ...` keeps its `+` and `00123` its zeros. No `'` is needed, so none is added.
The only numbers are the counts the tool computed itself, in Summary.

`write_table_workbook` writes one such sheet for the other commands (export's sheet, verify's
verdicts): one xlsx writer, so every workbook the tool writes holds the same kind of cells.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, cast

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ERROR_CODES, Cell, WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from openpyxl.chart.marker import DataPoint
from openpyxl.chart.shapes import GraphicalProperties
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from bulk_assign.results import Status

RESULTS_SHEET: Final = "Results"
FAILED_SHEET: Final = "Failed"
SUMMARY_SHEET: Final = "Summary"
#: Excel's limit on the characters of one cell (counted in UTF-16 units, as Excel counts).
MAX_CELL_CHARS: Final = 32_767
#: Columns are fitted to their content, up to this width (in characters).
MAX_WIDTH: Final = 60
MIN_WIDTH: Final = 8


@dataclass(frozen=True)
class StatusLook:
    """How a status looks in the workbook: its cell fill, text colour, chart bar and meaning."""

    fill: str | None
    font: str | None
    bar: str
    meaning: str


#: (fill, font, bar) of Excel's own "Good", "Bad" and "Neutral" styles, and a grey.
GOOD: Final = ("C6EFCE", "006100", "63BE7B")
BAD: Final = ("FFC7CE", "9C0006", "F8696B")
AMBER: Final = ("FFEB9C", "9C5700", "FFC000")
GREY: Final = ("D9D9D9", "3F3F3F", "A6A6A6")
STATUS_LOOKS: Final[Mapping[str, StatusLook]] = {
    Status.SUCCEEDED: StatusLook(*GOOD, "reassigned"),
    Status.UNCHANGED: StatusLook(*GOOD, "the assignee already owned it: no write spent"),
    Status.FAILED: StatusLook(*BAD, "the service or the network refused it: see error_message"),
    Status.INVALID: StatusLook(*BAD, "caught by validation, never sent: see error_message"),
    Status.DUPLICATE: StatusLook(*GREY, "repeat of an earlier row, never sent"),
    Status.SKIPPED: StatusLook(*AMBER, "not attempted (run stopped): resume the run"),
    Status.DRY_RUN: StatusLook(None, None, "5B9BD5", "valid, would be sent (dry run)"),
    Status.VALID: StatusLook(None, None, "5B9BD5", "valid (validate command)"),
}

_BOLD: Final = Font(bold=True)
_LEFT: Final = Alignment(horizontal="left")
_HEADER_FILL: Final = PatternFill("solid", fgColor="DDEBF7")
#: Text: what an analyst types into a Failed cell stays text too (a phone keeps its `+`).
_TEXT_FORMAT: Final = "@"
#: Characters XML 1.0 cannot hold at all: an xlsx holding one is a file Excel will not open.
_XML_FORBIDDEN: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_CHUNK_ROWS: Final = 20_000


class CellText:
    """Turns any value into text a workbook cell can hold, counting what it had to change.

    >>> text = CellText()
    >>> text("a\\x00b\\r\\nc"), text(7), text(None), text.cleaned
    ('ab\\r\\nc', '7', '', 1)
    """

    def __init__(self) -> None:
        self.cleaned = 0  # cells that lost control characters XML forbids
        self.cut = 0  # cells cut to Excel's limit

    def __call__(self, value: object) -> str:
        if not isinstance(value, str):
            return "" if pd.isna(cast(Any, value)) else str(value)
        if _XML_FORBIDDEN.search(value):
            value = _XML_FORBIDDEN.sub("", value)
            self.cleaned += 1
        if len(value) * 2 > MAX_CELL_CHARS:  # cheap test first: most cells are short
            value = self._cap(value)
        return value

    def _cap(self, value: str) -> str:
        units = len(value.encode("utf-16-le")) // 2
        if units <= MAX_CELL_CHARS:
            return value
        self.cut += 1
        note = f" [cut at Excel's {MAX_CELL_CHARS:,}-character limit: the CSV has all {units:,}]"
        keep = (MAX_CELL_CHARS - len(note)) * 2
        # A surrogate pair split by the cut is dropped whole.
        return value.encode("utf-16-le")[:keep].decode("utf-16-le", errors="ignore") + note


def write_workbook(
    target: Path | BinaryIO, *, results: pd.DataFrame, failed: pd.DataFrame,
    summary: Mapping[str, Any]
) -> dict[str, int]:
    """Write results.xlsx to `target` (a path, or a file the caller renames into place);
    return what had to change to fit: `{"cells_cut": n, "cells_cleaned": m}`."""
    book = Workbook(write_only=True)
    text = CellText()
    _write_table(book.create_sheet(RESULTS_SHEET), results, text=text, status_column="status")
    _write_table(book.create_sheet(FAILED_SHEET), failed, text=text, text_format=True)
    fixes = {"cells_cut": text.cut, "cells_cleaned": text.cleaned}
    _write_summary(book.create_sheet(SUMMARY_SHEET), summary, fixes=fixes, text=text)
    book.save(target)
    return fixes


def write_table_workbook(
    target: Path | BinaryIO, *, frame: pd.DataFrame, title: str, look_column: str | None = None,
    looks: Mapping[str, StatusLook] | None = None, text_format: bool = False,
) -> dict[str, int]:
    """One sheet `title` holding `frame` with the same cells as results.xlsx (every value a
    string, never a formula); the `look_column` cells coloured by `looks`; with `text_format`
    every cell formatted as Text, so what an analyst types stays text too. Returns what had to
    change to fit, as `write_workbook`.

    Example::

        with atomic_binary(folder / "verify.xlsx") as fh:
            write_table_workbook(fh, frame=frame, title="Verify", look_column="verdict",
                                 looks=VERDICT_LOOKS)
    """
    book = Workbook(write_only=True)
    text = CellText()
    _write_table(book.create_sheet(title), frame, text=text, status_column=look_column,
                 looks=looks or STATUS_LOOKS, text_format=text_format)
    book.save(target)
    return {"cells_cut": text.cut, "cells_cleaned": text.cleaned}


@dataclass(frozen=True)
class TableSheet:
    """One sheet of `write_tables_workbook`: a table, its status-like column coloured."""

    title: str
    frame: pd.DataFrame
    look_column: str | None = None
    looks: Mapping[str, StatusLook] | None = None


def write_tables_workbook(target: Path | BinaryIO, sheets: Iterable[TableSheet]
                          ) -> dict[str, int]:
    """Several sheets, each as `write_table_workbook` writes its one (every value a string,
    never a formula). Returns what had to change to fit."""
    book = Workbook(write_only=True)
    text = CellText()
    for table in sheets:
        _write_table(book.create_sheet(table.title), table.frame, text=text,
                     status_column=table.look_column, looks=table.looks or STATUS_LOOKS)
    book.save(target)
    return {"cells_cut": text.cut, "cells_cleaned": text.cleaned}


def _write_table(
    sheet: Any, frame: pd.DataFrame, *, text: CellText, status_column: str | None = None,
    looks: Mapping[str, StatusLook] = STATUS_LOOKS, text_format: bool = False,
) -> None:
    """A header row (bold, frozen, with an autofilter) and one row per line of `frame`; the
    `status_column` cells styled by `looks`."""
    headers = [text(name) for name in frame.columns]
    for index, width in enumerate(_widths(frame, headers), start=1):
        dimension = sheet.column_dimensions[get_column_letter(index)]
        dimension.width = width
        if text_format:
            dimension.number_format = _TEXT_FORMAT
    sheet.freeze_panes = "A2"
    last = f"{get_column_letter(max(len(headers), 1))}{len(frame) + 1}"
    sheet.auto_filter.ref = f"A1:{last}"
    sheet.append([_styled(sheet, name, font=_BOLD, fill=_HEADER_FILL) for name in headers])
    status_at = list(frame.columns).index(status_column) if status_column else -1
    styled = _status_cells(sheet, looks)
    # Text-formatted cells: one per column, refilled row after row (see `_status_cells`).
    text_cells = [_text_formatted(sheet) for _ in headers] if text_format else []
    for start in range(0, len(frame), _CHUNK_ROWS):
        block = frame.iloc[start : start + _CHUNK_ROWS].to_numpy(dtype=object).tolist()
        for values in block:
            row: list[Cell | str | None]
            if text_cells:
                row = [_refill(cell, text(v)) for cell, v in zip(text_cells, values, strict=True)]
            else:
                row = [_text_cell(sheet, text(v)) for v in values]
            if status_at >= 0:
                row[status_at] = styled.get(str(values[status_at])) or row[status_at]
            sheet.append(row)


def _text_cell(sheet: Any, value: str) -> Cell | str | None:
    """`value` as a string cell: a plain `str` where openpyxl keeps it one (fastest), else a
    cell whose type is set to string by hand."""
    if not value:
        return None
    if value[0] == "=" or value in ERROR_CODES:
        return _styled(sheet, value)
    return value


def _text_formatted(sheet: Any) -> Cell:
    """A cell formatted as Text: what an analyst types into it stays text in Excel too."""
    cell = _styled(sheet, "")
    cell.number_format = _TEXT_FORMAT
    return cell


def _refill(cell: Cell, value: str) -> Cell | None:
    if not value:
        return None
    cell.value = value
    cell.data_type = "s"  # openpyxl types "=x" as a formula and "#N/A" as an error
    return cell


def _styled(sheet: Any, value: str, *, font: Font | None = None,
            fill: PatternFill | None = None) -> Cell:
    """A cell holding `value` as text, never a formula or an error value."""
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"  # openpyxl types "=x" as a formula and "#N/A" as an error
    if font is not None:
        cell.font = font
    if fill is not None:
        cell.fill = fill
    return cell


def _status_cells(sheet: Any, looks: Mapping[str, StatusLook] = STATUS_LOOKS
                  ) -> dict[str, Cell]:
    """One styled cell per status, reused row after row: write-only mode writes a row's cells
    as soon as it is appended, and openpyxl never reuses a styled cell for the next value (it
    does reuse an unstyled one, so a reused cell must carry a style)."""
    return {name: _status_cell(sheet, name, looks) for name in looks}


def _status_cell(sheet: Any, status: str,
                 looks: Mapping[str, StatusLook] = STATUS_LOOKS) -> Cell:
    look = looks[status]
    if look.fill is None:
        return _styled(sheet, status, font=_BOLD)
    return _styled(sheet, status, font=Font(bold=True, color=look.font),
                   fill=PatternFill("solid", fgColor=look.fill))


def _widths(frame: pd.DataFrame, headers: list[str]) -> list[float]:
    """Each column as wide as its longest value (or header), within [MIN_WIDTH, MAX_WIDTH]."""
    widths = []
    for position, header in enumerate(headers):
        column = frame.iloc[:, position]
        longest = int(column.astype(str).str.len().max()) if len(column) else 0
        widths.append(float(min(MAX_WIDTH, max(MIN_WIDTH, longest + 2, len(header) + 4))))
    return widths


def _write_summary(
    sheet: Any, summary: Mapping[str, Any], *, fixes: Mapping[str, int], text: CellText
) -> None:
    """Facts, rows by status (with a chart), rows by error class, and the colour legend."""
    sheet.column_dimensions["A"].width = 36
    sheet.column_dimensions["B"].width = 70
    sheet.append([_styled(sheet, "Run summary", font=_BOLD)])
    facts = _facts(summary, fixes)
    for label, value in facts:
        number = isinstance(value, int | float)  # a count the tool made, not an input value
        sheet.append([label, _left(sheet, value) if number else _value(sheet, text(value))])
    counted = summary.get("by_status", {})
    by_status = [(s, counted[s]) for s in STATUS_LOOKS if counted.get(s)]
    by_status += [(s, n) for s, n in counted.items() if n and s not in STATUS_LOOKS]
    sheet.append([])
    sheet.append(_header(sheet, "Rows by status", "Rows"))
    counts_header = len(facts) + 3  # the title row, the facts, a blank row, then this header
    looks = _status_cells(sheet)
    for status, count in by_status:
        sheet.append([looks.get(status) or _value(sheet, text(status)), count])
    if by_status:
        sheet.add_chart(_status_chart(sheet, counts_header, [s for s, _ in by_status]), "D2")
    sheet.append([])
    sheet.append(_header(sheet, "Rows by error class", "Rows"))
    for error_class, count in summary.get("by_error_class", {}).items():
        sheet.append([_value(sheet, text(error_class)), count])
    sheet.append([])
    sheet.append(_header(sheet, "Legend: status", "Meaning"))
    for status, look in STATUS_LOOKS.items():
        sheet.append([_status_cell(sheet, status), look.meaning])


def _header(sheet: Any, *names: str) -> list[Cell]:
    return [_styled(sheet, name, font=_BOLD, fill=_HEADER_FILL) for name in names]


def _left(sheet: Any, number: float) -> Cell:
    """A number aligned with the text facts around it."""
    cell = WriteOnlyCell(sheet, value=number)
    cell.alignment = _LEFT
    return cell


def _value(sheet: Any, value: str) -> Cell | str | None:
    return _text_cell(sheet, value)


def _facts(summary: Mapping[str, Any], fixes: Mapping[str, int]) -> list[tuple[str, Any]]:
    """What an analyst reports upward, in the order they read it."""
    calls = summary.get("calls") or {}
    stop = summary.get("stop") or {}
    facts: list[tuple[str, Any]] = [
        ("Command", summary.get("command", "")),
        ("Input file", summary.get("input", "")),
        ("Input sha256", summary.get("input_sha256", "")),
        ("Sheet", summary.get("sheet") or ""),
        ("Catalog", summary.get("catalog") or ""),
        ("Dry run", "yes" if summary.get("dry_run") else "no"),
        ("Started (UTC)", summary.get("started_at", "")),
        ("Finished (UTC)", summary.get("finished_at", "")),
        ("Wall time (s)", summary.get("wall_seconds", "")),
        ("Endpoint", summary.get("endpoint") or ""),
        ("Rows", summary.get("rows", 0)),
        ("Blank rows dropped", summary.get("blank_rows_dropped", 0)),
        ("Writes (AssignOpportunity calls)", calls.get("write", 0)),
        ("Reads (GetOpportunity calls)", calls.get("read", 0)),
        ("Throttled responses", calls.get("throttled", 0)),
        ("Opportunities changed", calls.get("changed", 0)),
        ("Writes per changed opportunity", _or_blank(calls.get("writes_per_changed"))),
        ("Effective writes/s", _or_blank(summary.get("effective_writes_per_second"))),
        ("Stopped", f"{stop['reason']}: {stop.get('detail', '')}" if stop else ""),
        ("Tool version", summary.get("tool_version", "")),
        ("Cells cut to 32,767 characters", fixes["cells_cut"]),
        ("Cells with control characters removed", fixes["cells_cleaned"]),
    ]
    return facts


def _or_blank(value: object) -> object:
    return "" if value is None else value


def _status_chart(sheet: Any, header_row: int, statuses: Iterable[str]) -> BarChart:
    """A bar per status, coloured as in the Results sheet, from the counts just written."""
    names = list(statuses)
    chart = BarChart()
    chart.type = "col"
    chart.title = "Rows by status"
    chart.y_axis.title = "Rows"
    chart.legend = None
    chart.x_axis.delete = False  # openpyxl 3.1 hides both axes unless told not to
    chart.y_axis.delete = False
    last = header_row + len(names)
    chart.add_data(Reference(sheet, min_col=2, min_row=header_row, max_row=last),
                   titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=header_row + 1, max_row=last))
    series = chart.series[0]
    for index, name in enumerate(names):
        look = STATUS_LOOKS.get(name, STATUS_LOOKS[Status.VALID])
        series.dPt.append(DataPoint(idx=index, spPr=GraphicalProperties(solidFill=look.bar)))
    chart.width, chart.height = 16, 8
    return chart
