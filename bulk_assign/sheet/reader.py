"""Read a realignment sheet (CSV or Excel) into a frame of text cells.

Every cell stays text: no NaN for "NA" or "NULL", no float for a phone number. Rows keep the
number an analyst sees in Excel (the header is row 1), so every message can point at a row.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO
from xml.parsers import expat

import numpy as np
import pandas as pd

from bulk_assign.errors import InputError
from bulk_assign.sheet import fields
from bulk_assign.sheet.cells import is_escaped, unescape
from bulk_assign.sheet.excel_marks import SheetMarks, scan_sheet

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted xlsx and legacy .xls
_DELIMITERS = (",", ";", "\t")
_HEADER_SEARCH_ROWS = 20
_MAX_COLUMNS = 16_384  # Excel's own limit (column XFD)
_HEAD_BYTES = 1 << 20
_SAVE_AS_CSV = "save it from Excel as 'CSV UTF-8 (Comma delimited)' or as .xlsx and try again"


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


def read_table(
    path: str | Path, *, sheet: str | None = None, required: tuple[str, ...] = fields.REQUIRED
) -> InputTable:
    """Read a CSV or Excel realignment sheet.

    Raises InputError, whose message names the file and the fix, for anything unusable.

    >>> table = read_table(Path(__file__).parents[1] / "samples" / "realignment.csv")
    >>> int(table.frame.index[0])  # the first data row is row 2, as in Excel
    2
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path (and the FILE= argument).")
    if not path.is_file():
        raise InputError(f"{path}: is a folder, not a spreadsheet; pass a .csv or .xlsx file.")
    try:
        with path.open("rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise InputError(
            f"{path}: cannot be read ({exc.strerror}); check its permissions."
        ) from exc
    if not head:
        raise InputError(f"{path}: the file is empty; export the sheet again with its header row.")
    if head.startswith(_OLE_MAGIC):
        raise InputError(
            f"{path}: is a password-protected workbook or an old .xls file; remove the password "
            "(File > Info > Protect Workbook) and save it as .xlsx, or save it as CSV UTF-8."
        )
    if head.startswith(_ZIP_MAGIC):
        return _read_excel(path, sheet=sheet, required=required)
    if sheet is not None:
        raise InputError(f"{path}: --sheet applies to Excel workbooks only; this is a text file.")
    return _read_csv(path, head, required=required)


# --- CSV ---------------------------------------------------------------------------------


def _read_csv(path: Path, head: bytes, *, required: tuple[str, ...]) -> InputTable:
    encoding = _detect_encoding(path, head)
    head_text = head.decode(encoding, errors="ignore")
    if head_text.strip("\ufeff\r\n\t ,;") == "":
        raise InputError(
            f"{path}: the file has no content; export the sheet again with its header row."
        )
    header_index, delimiter = _find_csv_header(path, head_text)
    try:
        frame = pd.read_csv(
            path,
            sep=delimiter,
            header=None,
            skiprows=header_index,
            dtype=object,  # plain Python str cells: no per-cell inference, no NaN for "NA"
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            encoding=encoding,
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise InputError(
            f"{path}: a row has more cells than the header ({_first_line(exc)}); "
            "quote values that contain the delimiter, or remove the stray cells."
        ) from exc
    except (UnicodeDecodeError, ValueError, OSError) as exc:
        raise InputError(f"{path}: cannot be read as CSV ({exc}); {_SAVE_AS_CSV}.") from exc
    # Short rows come back as NaN even with na_filter off. A short row always lacks the last
    # cell, so one column tells whether any fill is needed.
    if frame.shape[1] and frame.iloc[:, -1].isna().any():
        frame = frame.fillna("")
    headers = [str(h) for h in frame.iloc[0].tolist()] if len(frame) else []
    body = frame.iloc[1:]
    return _build_table(
        path,
        headers=headers,
        body=body,
        header_row=header_index + 1,
        encoding=encoding,
        delimiter=delimiter,
        required=required,
    )


def _detect_encoding(path: Path, head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"  # what Excel's "Unicode text" writes
    data = path.read_bytes()
    if b"\x00" in data:
        raise InputError(
            f"{path}: contains binary data (NUL bytes), not a spreadsheet; {_SAVE_AS_CSV}."
        )
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{path}: starts as UTF-8 but byte {exc.start} is not valid UTF-8; {_SAVE_AS_CSV}."
            ) from exc
        return "utf-8-sig"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        data.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: is neither UTF-8 nor Windows-1252 text (byte 0x{data[exc.start]:02x} at "
            f"offset {exc.start}); {_SAVE_AS_CSV}."
        ) from exc


def _find_csv_header(path: Path, head_text: str) -> tuple[int, str]:
    # (known fields, -record index, delimiter, cells in the record)
    best: tuple[int, int, str, int] | None = None
    for delimiter in _DELIMITERS:
        for index, cells in enumerate(_head_records(head_text, delimiter)):
            known = len({f for f in (fields.field_for(c) for c in cells) if f is not None})
            candidate = (known, -index, delimiter, len(cells))
            if known and (best is None or candidate[:2] > best[:2]):
                best = candidate
    if best is None:
        raise InputError(
            f"{path}: no header row found (looked for columns such as Identifier, Email, "
            "FirstName, LastName in the first rows); add a header row, or run "
            "`bulk-assign template OUT.csv` for the expected columns."
        )
    if best[3] > _MAX_COLUMNS:
        # Not a sheet anyone filled in; reading it column by column would take minutes.
        raise InputError(
            f"{path}: the header row has {best[3]:,} columns, more than an Excel sheet holds "
            f"({_MAX_COLUMNS:,}); delete the unused columns to the right and save it again."
        )
    return -best[1], best[2]


def _head_records(head_text: str, delimiter: str) -> list[list[str]]:
    """The first records as pandas will count them (skiprows counts records, not lines).

    A quoted cell may hold a line break (a header wrapped with Alt+Enter in Excel), and only
    CR and LF end a record: splitting on str.splitlines() would also cut at U+2028, NEL or
    form feeds inside a cell and point pandas at the wrong row.
    """
    records: list[list[str]] = []
    reader = csv.reader(io.StringIO(head_text, newline=""), delimiter=delimiter)
    try:
        for cells in reader:
            records.append(cells)
            if len(records) >= _HEADER_SEARCH_ROWS:
                break
    except csv.Error:
        pass  # a cell longer than the csv module's limit, or the head cut mid-cell
    return records


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__


# --- Excel -------------------------------------------------------------------------------

_READ_ONLY_ABOVE_BYTES = 20 << 20


def _read_excel(path: Path, *, sheet: str | None, required: tuple[str, ...]) -> InputTable:
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
    return _build_table(
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
    for index, row in enumerate(rows[:_HEADER_SEARCH_ROWS]):
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


# --- shared ------------------------------------------------------------------------------


def _build_table(
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
