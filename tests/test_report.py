"""results.csv / failed.csv / summary.json as an analyst opens them in Excel."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from bulk_assign.check.validator import validate
from bulk_assign.report.files import OutputPaths, format_summary, write_outputs
from bulk_assign.sheet.cells import escape_formulas
from bulk_assign.sheet.reader import read_table
from tests.support.inputs import HEADER, row, write_csv
from tests.support.outputs import read_results_frame

TRIGGERS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tx", "\rx", "\nx"]


def write(tmp_path: Path, rows: list[list[str]], *, header: list[str] | None = None,
          catalog: str | None = "Sandbox") -> tuple[dict[str, object], OutputPaths]:
    path = write_csv(tmp_path / "in.csv", [header or HEADER, *rows])
    out = tmp_path / "out"
    out.mkdir()
    paths = OutputPaths.in_folder(out)
    validation = validate(read_table(path), catalog=catalog)
    summary = write_outputs(paths, validation, {}, {"input": str(path), "encoding": "utf-8"})
    return summary, paths


def test_results_one_line_per_row_in_input_order_with_bom_and_extras(tmp_path: Path) -> None:
    header = ["Territory", *HEADER, "Region", "Notes"]
    rows = [
        ["DACH", *row(Identifier="O3"), "EMEA", "a"],
        ["ANZ", *row(Identifier=""), "APJ", "b"],
        ["", "", "", "", "", "", "", ""],
        ["Japan", *row(Identifier="O1"), "APJ", "c"],
        ["Japan", *row(Identifier="O1"), "APJ", "again"],
    ]
    summary, paths = write(tmp_path, rows, header=header)
    raw = paths.results.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    results = read_results_frame(paths.results)
    assert list(results.columns) == [
        "row", "status", "error_class", "error_message", "attempts", "request_id",
        "finished_at", *header,
    ]
    assert list(results.index) == [2, 3, 5, 6]
    assert list(results["status"]) == ["VALID", "INVALID", "VALID", "DUPLICATE"]
    assert list(results["Notes"]) == ["a", "b", "c", "again"]
    assert list(results["Territory"]) == ["DACH", "ANZ", "Japan", "Japan"]
    assert summary["rows"] == 4 and summary["blank_rows_dropped"] == 1
    on_disk = json.loads(paths.summary.read_text(encoding="utf-8"))
    assert on_disk["by_status"] == {"VALID": 2, "INVALID": 1, "DUPLICATE": 1}
    assert on_disk["by_error_class"] == {"MISSING_IDENTIFIER": 1}
    text = format_summary(on_disk)
    assert "blank rows dropped: 1" in text and "MISSING_IDENTIFIER" in text


@pytest.mark.parametrize("value", TRIGGERS)
def test_every_formula_trigger_is_escaped_in_results_and_failed(
    tmp_path: Path, value: str
) -> None:
    header = [*HEADER, "Notes"]
    rows = [[*row(FirstName=value, LastName=value, Email=""), value]]
    _, paths = write(tmp_path, rows, header=header)
    for path in (paths.results, paths.failed):
        frame = read_results_frame(path)
        assert frame["Notes"].iloc[0] == "'" + value
        assert frame["FirstName"].iloc[0] == "'" + value
    # An INVALID row's failed.csv line carries the phone escaped too.
    failed = read_results_frame(paths.failed)
    assert failed["Phone"].iloc[0] == "'+15550100199"


def test_escape_leaves_safe_text_alone() -> None:
    frame = pd.DataFrame({"a": ["O'Brien", "x=1", "", "'=already"], "n": [1, 2, 3, 4]})
    escaped = escape_formulas(frame)
    assert escaped["a"].tolist() == ["O'Brien", "x=1", "", "'=already"]
    assert escaped["n"].tolist() == [1, 2, 3, 4]


def test_failed_csv_fed_back_reads_the_same_rows_and_headers(tmp_path: Path) -> None:
    header = ["Opportunity Id", "Assignee Email", "First Name", "Last Name", "Phone Number",
              "Territory", "Notes"]
    rows = [
        ["O1", "ana@example.com", "Ana", "Silva", "+1 (555) 010-0199", "DACH", "=HYPERLINK(1)"],
        ["O2", "bo@example", "Bo", "Li", "+15550100198", "ANZ", "fix email"],
        ["", "cy@example.com", "Cy", "Né", "+44 20 7946 0000", "Nordics", ""],
    ]
    _, paths = write(tmp_path, rows, header=header)
    failed = read_results_frame(paths.failed)
    assert list(failed.columns) == [*header, "error_class", "error_message"]
    assert list(failed["Opportunity Id"]) == ["O2", ""]

    again = read_table(paths.failed)
    assert list(again.frame.columns) == [*header, "error_class", "error_message"]
    assert again.columns["Phone"] == "Phone Number"
    assert list(again.frame["Last Name"]) == ["Li", "Né"]
    second = validate(again, catalog="Sandbox")
    jobs = second.values
    assert list(jobs["Phone"]) == ["+15550100198", "+442079460000"]
    assert list(second.error_class) == ["INVALID_EMAIL", "MISSING_IDENTIFIER"]

    # Fixed in Excel and fed back: the old error columns do not pile up.
    fixed = read_results_frame(paths.failed)
    fixed.loc[fixed.index[0], "Assignee Email"] = "bo@example.com"
    fixed.loc[fixed.index[1], "Opportunity Id"] = "O3"
    fixed.to_csv(tmp_path / "fixed.csv", index=False, encoding="utf-8-sig")
    out = tmp_path / "out2"
    out.mkdir()
    paths2 = OutputPaths.in_folder(out)
    summary = write_outputs(paths2, validate(read_table(tmp_path / "fixed.csv"), catalog="Sandbox"),
                            {}, {})
    assert summary["by_status"] == {"VALID": 2}
    assert not paths2.failed.exists()
    results = read_results_frame(paths2.results)
    assert list(results.columns).count("error_class") == 1
    assert list(results["Phone Number"]) == ["'+15550100198", "'+44 20 7946 0000"]
