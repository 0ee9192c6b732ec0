"""Regenerate samples/realignment.xlsx from samples/realignment.csv.

    .venv/bin/python samples/make_samples.py

The workbook holds the same rows as the CSV on sheet "Q3 realignment" (every cell text, the
Phone column formatted as Text so Excel keeps the "+"), and a second sheet "Notes", as an
analyst's workbook would.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import openpyxl

HERE = Path(__file__).resolve().parent
SHEET = "Q3 realignment"
NOTES = (
    ("Q3 territory realignment: one row per opportunity.",),
    ("Check it with: bulk-assign validate samples/realignment.xlsx --catalog Sandbox",),
    ("Phone numbers are text: keep the leading + and the country code.",),
)


def build(source: Path, target: Path) -> Path:
    """Write `target` (.xlsx) with the rows of `source` (.csv, UTF-8) as text cells."""
    with source.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = SHEET
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values, start=1):
            cell = sheet.cell(row=r, column=c)
            if value == "":
                continue
            cell.value = value
            # A value like "=HYPERLINK(...)" stays the text it is in the CSV, not a formula.
            cell.data_type = "s"
    for c, name in enumerate(header, start=1):
        letter = sheet.cell(row=1, column=c).column_letter
        sheet.column_dimensions[letter].width = max(12, len(name) + 4)
        if "phone" in name.casefold() or "mobile" in name.casefold():
            for r in range(1, len(rows) + 1):
                sheet.cell(row=r, column=c).number_format = "@"
    notes = workbook.create_sheet("Notes")
    for line in NOTES:
        notes.append(list(line))
    workbook.save(target)
    return target


def main(argv: list[str]) -> int:
    source = Path(argv[1]) if len(argv) > 1 else HERE / "realignment.csv"
    target = Path(argv[2]) if len(argv) > 2 else source.with_suffix(".xlsx")
    print(f"Wrote {build(source, target)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
