"""Read a CSV (or Excel "Unicode text") file: the encoding, the delimiter and the header row.

The encoding is UTF-8 (with or without a BOM), UTF-16 or Windows-1252, judged from the bytes;
the header is the record among the first rows that names the most known fields (the earliest on
a tie), tried with a comma, a semicolon and a tab.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from bulk_assign.errors import InputError
from bulk_assign.sheet import fields
from bulk_assign.sheet.table import HEADER_SEARCH_ROWS, InputTable, build_table

_DELIMITERS = (",", ";", "\t")
_MAX_COLUMNS = 16_384  # Excel's own limit (column XFD)
_SAVE_AS_CSV = "save it from Excel as 'CSV UTF-8 (Comma delimited)' or as .xlsx and try again"


def read_csv(path: Path, head: bytes, *, required: tuple[str, ...]) -> InputTable:
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
    return build_table(
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
            if len(records) >= HEADER_SEARCH_ROWS:
                break
    except csv.Error:
        pass  # a cell longer than the csv module's limit, or the head cut mid-cell
    return records


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
