"""`bulk-assign template`: an empty input file with the canonical headers."""

from __future__ import annotations

import csv
from pathlib import Path

from bulk_assign.errors import UsageError
from bulk_assign.sheet import fields

HEADERS = (
    fields.IDENTIFIER, fields.EMAIL, fields.FIRST_NAME, fields.LAST_NAME, fields.BUSINESS_TITLE,
    fields.PHONE, fields.CATALOG,
)


def write_template(out: Path, *, xlsx: bool) -> Path:
    """Create `out` with the header row only; never overwrite a file."""
    if out.exists():
        raise UsageError(f"{out}: already exists; pick another name (it is never overwritten).")
    if not out.parent.is_dir():
        raise UsageError(f"{out}: folder {out.parent} does not exist; create it first.")
    if xlsx:
        import openpyxl
        from openpyxl.utils import get_column_letter

        workbook = openpyxl.Workbook()
        sheet = workbook.worksheets[0]
        sheet.title = "Realignment"
        sheet.append(list(HEADERS))
        # Text format keeps "+1555..." and leading zeros as typed instead of numbers.
        for column in range(1, len(HEADERS) + 1):
            sheet.column_dimensions[get_column_letter(column)].width = 24
            for row in range(2, 1002):
                sheet.cell(row=row, column=column).number_format = "@"
        workbook.save(out)
    else:
        with out.open("w", newline="", encoding="utf-8-sig") as fh:
            csv.writer(fh).writerow(HEADERS)
    return out
