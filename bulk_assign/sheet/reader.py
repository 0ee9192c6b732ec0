"""Read a realignment sheet (CSV or Excel) into a frame of text cells.

Every cell stays text: no NaN for "NA" or "NULL", no float for a phone number. Rows keep the
number an analyst sees in Excel (the header is row 1), so every message can point at a row.
This module checks the file and sends it to the CSV or the Excel reader by its first bytes;
`table.py` holds the `InputTable` both of them build.
"""

from __future__ import annotations

from pathlib import Path

from bulk_assign.errors import InputError
from bulk_assign.sheet import fields
from bulk_assign.sheet.csv_input import read_csv
from bulk_assign.sheet.excel_input import read_excel
from bulk_assign.sheet.table import InputTable

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # encrypted xlsx and legacy .xls
_HEAD_BYTES = 1 << 20


def read_table(
    path: str | Path, *, sheet: str | None = None, required: tuple[str, ...] = fields.REQUIRED
) -> InputTable:
    """Read a CSV or Excel realignment sheet.

    Raises InputError, whose message names the file and the fix, for anything unusable.

    >>> table = read_table(Path(__file__).parents[2] / "samples" / "realignment.csv")
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
        return read_excel(path, sheet=sheet, required=required)
    if sheet is not None:
        raise InputError(f"{path}: --sheet applies to Excel workbooks only; this is a text file.")
    return read_csv(path, head, required=required)
