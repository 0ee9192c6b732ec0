"""Input files: CSV rows with a cell changed, generated realignments over the emulator's
generated seed, workbooks with several sheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openpyxl

from tests.support.env import ROOT

SAMPLES = ROOT / "samples"
DEMO_INPUT = SAMPLES / "realignment.csv"
DEMO_SEED = SAMPLES / "seed.json"

HEADER = ["Identifier", "Email", "FirstName", "LastName", "Phone"]
GOOD = ["O1001", "ana@example.com", "Ana", "Silva", "+15550100199"]

#: The emulator's generated seed (`generated(n)`) holds O1000000 .. and users user0..user49.
START_ID = 1_000_000
USERS = 50


def row(**changes: str) -> list[str]:
    """A valid row of HEADER with some cells changed, e.g. `row(Email="")`."""
    values = dict(zip(HEADER, GOOD, strict=True))
    values.update(changes)
    return [values[h] for h in HEADER]


def csv_text(rows: Sequence[Sequence[str]], *, delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def write_csv(
    path: Path,
    rows: Sequence[Sequence[str]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8",
) -> Path:
    """Write `rows` (header first) as a CSV file in `encoding` (e.g. "utf-8-sig", "cp1252")."""
    path.write_bytes(csv_text(rows, delimiter=delimiter).encode(encoding))
    return path


def write_xlsx(
    path: Path,
    sheets: dict[str, Sequence[Sequence[Any]]],
    *,
    merge: str | None = None,
) -> Path:
    """Write a workbook with one sheet per entry (first entry first); `merge` e.g. "A1:B1"."""
    workbook = openpyxl.Workbook()
    first = True
    for title, rows in sheets.items():
        sheet = workbook.active if first else workbook.create_sheet()
        first = False
        assert sheet is not None
        sheet.title = title
        for values in rows:
            sheet.append(list(values))
        if merge and sheet is workbook.worksheets[0]:
            sheet.merge_cells(merge)
    workbook.save(path)
    return path


def assignee_for(i: int, *, in_place: bool) -> int:
    """Generated opportunity i is owned by user i % USERS; move it to the next user."""
    return i % USERS if in_place else (i + 1) % USERS


def write_input(path: Path, rows: int, *, in_place_every: int = 0, start: int = START_ID,
                duplicates_every: int = 0) -> Path:
    """An input file over the generated seed: row i reassigns O{start+i}.

    `in_place_every=2`: every second row names the current owner (UNCHANGED with the pre-read).
    `duplicates_every=k`: after every k-th row, a repeat of it (DUPLICATE).
    """
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["Identifier", "Email", "FirstName", "LastName", "Territory"])
        for i in range(rows):
            in_place = bool(in_place_every) and i % in_place_every == 0
            k = assignee_for(i, in_place=in_place)
            line = [f"O{start + i}", f"user{k}@example.com", "User", f"Number{k}", f"T{i % 7}"]
            out.writerow(line)
            if duplicates_every and i % duplicates_every == 0:
                out.writerow(line)
    return path
