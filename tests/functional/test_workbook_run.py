"""A run of the Excel sample against the emulator leaves results.xlsx beside results.csv, and its
Failed sheet goes back into `run --sheet Failed` as it stands."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import openpyxl

from bulk_assign.emulator import Emulator
from bulk_assign.sheet.cells import unescape
from tests.support.emulators import fast
from tests.support.env import ROOT
from tests.support.runs import resume, run, settings

EXCEL_SAMPLE = ROOT / "samples" / "realignment.xlsx"


def csv_cells(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [[unescape(c) for c in line] for line in csv.reader(fh)]


def test_excel_run_writes_a_workbook_whose_failed_sheet_runs_again(
    emulator: Callable[..., Emulator], tmp_path: Path,
) -> None:
    emu = emulator(None, **fast())
    first = run(settings(EXCEL_SAMPLE, emu.url, tmp_path / "first"))
    assert first.code == 1
    book_path = first.folder / "results.xlsx"
    assert f"workbook:  {book_path}" in first.stdout
    book = openpyxl.load_workbook(book_path)
    results = [["" if v is None else v for v in line]
               for line in book["Results"].iter_rows(values_only=True)]
    assert results == csv_cells(first.folder / "results.csv")
    status_at = results[0].index("status")
    fills = {}
    for line in book["Results"].iter_rows(min_row=2):
        cell = line[status_at]
        fills.setdefault(cell.value, cell.fill.fgColor.rgb if cell.fill.fill_type else None)
    assert fills["SUCCEEDED"] == fills["UNCHANGED"] == "00C6EFCE"
    assert fills["FAILED"] == fills["INVALID"] == "00FFC7CE"
    summary = json.loads((first.folder / "summary.json").read_text(encoding="utf-8"))
    facts = {line[0]: line[1] for line in book["Summary"].iter_rows(values_only=True) if line[0]}
    assert facts["Writes (AssignOpportunity calls)"] == summary["calls"]["write"] > 0
    assert facts["Reads (GetOpportunity calls)"] == summary["calls"]["read"]
    assert facts["Opportunities changed"] == summary["by_status"]["SUCCEEDED"]

    # resume keeps the run's choice and rewrites the workbook with the CSVs.
    book_path.unlink()
    assert resume(first.folder).code == 1
    rewritten = openpyxl.load_workbook(book_path)["Results"].iter_rows(values_only=True)
    assert [["" if v is None else v for v in line] for line in rewritten] == csv_cells(
        first.folder / "results.csv")

    # The analyst hands the Failed sheet back as it stands.
    again_input = tmp_path / "to-fix.xlsx"
    shutil.copy(book_path, again_input)
    calls_before = len(emu.state()["calls"])
    again = run(settings(again_input, emu.url, tmp_path / "again", sheet="Failed"))
    assert again.code == 1  # rows judged again, not a refused file (2)
    failed_before = [r for r in first.results() if r["status"] in ("INVALID", "FAILED")]
    assert len(again.results()) == len(failed_before)
    assert [(r["status"], r["error_class"]) for r in again.results()] == [
        (r["status"], r["error_class"]) for r in failed_before
    ]
    # Only the rows that had failed at the service are tried again: never an INVALID one.
    tried = {c["identifier"] for c in emu.state()["calls"][calls_before:]
             if c["operation"] != "ListOpportunities"}  # the look-back names no row
    ident = "Opportunity Id"
    assert tried == {r[ident] for r in failed_before if r["status"] == "FAILED"} != set()
