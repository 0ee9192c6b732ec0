"""Excel input traps: hidden and filtered rows, hidden columns and sheets, formulas without a
saved value, and the hints where the fix is obvious (offline: reader, validator, --hidden-rows)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from bulk_assign.check import hidden
from bulk_assign.check.validator import validate
from bulk_assign.errors import InputError, UsageError
from bulk_assign.sheet import excel_input
from bulk_assign.sheet.excel_marks import scan_sheet
from bulk_assign.sheet.reader import read_table
from tests.support.inputs import GOOD, HEADER, row, write_csv
from tests.support.runs import run_validate
from tests.support.workbooks import set_cached_values, workbook

TERRITORY = [*HEADER, "Territory"]


def people(n: int) -> list[list[str]]:
    """A header and `n` valid rows O1001.. with a Territory that cycles North, South, East."""
    territories = ("North", "South", "East")
    return [TERRITORY] + [
        [*row(Identifier=f"O{1001 + i}", Email=f"user{i}@example.com"), territories[i % 3]]
        for i in range(n)
    ]


# --- hidden rows and columns ------------------------------------------------------------------


def test_rows_hidden_by_hand_are_found_and_still_read(tmp_path: Path) -> None:
    path = workbook(tmp_path / "in.xlsx", people(6), hidden_rows=[3, 6])
    table = read_table(path)
    assert table.hidden_rows == (3, 6)
    assert list(table.frame.index) == [2, 3, 4, 5, 6, 7]  # nothing dropped by the reader


def test_rows_hidden_by_an_autofilter_are_found(tmp_path: Path) -> None:
    # Keep only North (rows 2 and 5): the filter hides the others, as Excel saves it.
    path = workbook(tmp_path / "in.xlsx", people(6), filtered_rows=[3, 4, 6, 7])
    with zipfile.ZipFile(path) as package:
        xml = package.read("xl/worksheets/sheet1.xml").decode()
    assert "<autoFilter" in xml and 'hidden="1"' in xml
    assert read_table(path).hidden_rows == (3, 4, 6, 7)


def test_hidden_rows_above_the_header_or_blank_do_not_count(tmp_path: Path) -> None:
    rows = [["Q3 realignment"], TERRITORY, *people(3)[1:], [""] * 6, [*GOOD, "North"]]
    path = workbook(tmp_path / "in.xlsx", rows, hidden_rows=[1, 6])  # a title, a blank row
    table = read_table(path)
    assert table.header_row == 2 and table.blank_rows == 1
    assert table.hidden_rows == ()


def test_hidden_required_column_is_named_and_hidden_extra_column_ignored(tmp_path: Path) -> None:
    path = workbook(tmp_path / "in.xlsx", people(2), hidden_columns=["B", "F"])
    table = read_table(path)
    assert table.hidden_columns == {"Email": "B ('Email')"}  # F is Territory: an extra
    assert table.hidden_rows == ()


def test_csv_has_nothing_hidden(tmp_path: Path) -> None:
    table = read_table(write_csv(tmp_path / "in.csv", people(3)))
    assert (table.hidden_rows, table.hidden_columns, table.uncalculated) == ((), {}, {})
    hidden.check(table, choice=None)  # no refusal


def test_big_workbooks_read_in_read_only_mode_find_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = people(5)
    rows[2][1] = '=LOWER("X@EXAMPLE.COM")'
    path = workbook(tmp_path / "in.xlsx", rows, hidden_rows=[4], hidden_columns=["A"])
    monkeypatch.setattr(excel_input, "_READ_ONLY_ABOVE_BYTES", 0)
    table = read_table(path)
    assert table.hidden_rows == (4,)
    assert table.hidden_columns == {"Identifier": "A ('Identifier')"}
    assert table.uncalculated == {"Email": (3,)}


def test_sheet_xml_as_other_writers_save_it(tmp_path: Path) -> None:
    """Prefixed tags, rows and cells without `r`, shared formulas, `true` for booleans, and an
    x14 extension whose own <xm:f> is no cell formula."""
    sheet = (
        '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
        '<x:cols><x:col min="2" max="4" hidden="true"/></x:cols><x:sheetData>'
        '<x:row><x:c><x:v>1</x:v></x:c></x:row>'
        '<x:row hidden="true"><x:c><x:f>1+1</x:f><x:v>2</x:v></x:c>'
        '<x:c><x:f t="shared" si="0"/></x:c></x:row>'
        '<x:row r="7"><x:c r="C7" t="str"><x:f>""</x:f><x:v></x:v></x:c>'
        '<x:c><x:f>A1</x:f><x:v></x:v></x:c></x:row>'
        '</x:sheetData><x:extLst><x:ext><xm:f>Lists!A1:A5</xm:f></x:ext></x:extLst>'
        '</x:worksheet>'
    )
    path = tmp_path / "raw.zip"
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("sheet.xml", sheet)
    with zipfile.ZipFile(path) as package:
        marks = scan_sheet(package, "sheet.xml")
    assert marks.hidden_rows == frozenset({2})
    assert marks.hidden_columns == ((2, 4),) and marks.column_hidden(3)
    # B2: a shared formula without a value; D7: an empty numeric value; C7 is a text "".
    assert marks.uncalculated == ((2, 2), (7, 4))


# --- formulas -----------------------------------------------------------------------------------


def formula_book(tmp_path: Path, cached: str | None) -> Path:
    rows = [HEADER, row(), row(Identifier="O1002", Email='=LOWER("BO@EXAMPLE.COM")')]
    path = workbook(tmp_path / "in.xlsx", rows)
    if cached != "as openpyxl writes it":
        set_cached_values(path, {"B3": cached})
    return path


def test_formula_with_a_saved_value_reads_as_that_value(tmp_path: Path) -> None:
    table = read_table(formula_book(tmp_path, "bo@example.com"))
    assert table.frame.loc[3, "Email"] == "bo@example.com"
    assert table.uncalculated == {}
    assert list(validate(table, catalog="Sandbox").status) == ["VALID", "VALID"]


@pytest.mark.parametrize("cached", [None, "as openpyxl writes it"])
def test_formula_without_a_saved_value_is_invalid_and_says_so(
    tmp_path: Path, cached: str | None
) -> None:
    table = read_table(formula_book(tmp_path, cached))
    assert table.uncalculated == {"Email": (3,)}
    v = validate(table, catalog="Sandbox")
    assert (v.status[3], v.error_class[3]) == ("INVALID", "UNCALCULATED_FORMULA")
    message = v.error_message[3]
    assert "Email (column B) is a formula that Excel never calculated" in message
    assert "open the file in Excel and save it" in message and "paste it as values" in message
    assert "Email is empty" not in message
    assert v.status[2] == "VALID"


def test_formula_in_an_extra_column_is_counted_but_harmless(tmp_path: Path) -> None:
    rows = [TERRITORY, [*GOOD, '=UPPER("north")'], [*row(Identifier="O1002"), "South"]]
    path = workbook(tmp_path / "in.xlsx", rows)
    code, results, _ = run_validate(path, tmp_path / "out", catalog="Sandbox")
    assert code == 0 and list(results["status"]) == ["VALID", "VALID"]
    summary = (tmp_path / "out" / "summary.json").read_text()
    assert '"formula_without_value": 1' in summary


def test_summary_counts_formula_rows(tmp_path: Path) -> None:
    rows = [HEADER, row(FirstName="=A2"), row(Identifier="O1002", LastName="=A3"), row(
        Identifier="O1003")]
    path = workbook(tmp_path / "in.xlsx", rows)
    code, results, stdout = run_validate(path, tmp_path / "out", catalog="Sandbox")
    assert code == 1
    assert list(results["error_class"]) == ["UNCALCULATED_FORMULA"] * 2 + [""]
    assert "FirstName (column C)" in results["error_message"].iloc[0]
    assert "LastName (column D)" in results["error_message"].iloc[1]
    assert "UNCALCULATED_FORMULA" in stdout
    assert '"formula_without_value": 2' in (tmp_path / "out" / "summary.json").read_text()


# --- hints ----------------------------------------------------------------------------------------


def test_digits_only_identifier_gets_a_suggestion_never_a_correction(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "in.csv", [HEADER, row(Identifier="5100010"),
                                           row(Identifier="X12")])
    v = validate(read_table(path), catalog="Sandbox")
    assert (v.status[2], v.error_class[2]) == ("INVALID", "INVALID_IDENTIFIER")
    assert "did you mean O5100010?" in v.error_message[2]
    assert v.values.loc[2, "Identifier"] == "5100010"  # not corrected
    assert "did you mean" not in v.error_message[3]


def test_digits_from_an_excel_number_cell_get_the_suggestion_too(tmp_path: Path) -> None:
    path = workbook(tmp_path / "in.xlsx", [HEADER, [5100010, *GOOD[1:]]])
    v = validate(read_table(path), catalog="Sandbox")
    assert "did you mean O5100010?" in v.error_message[2]


def test_default_sheet_is_the_first_visible_one(tmp_path: Path) -> None:
    path = workbook(tmp_path / "in.xlsx", people(2), before=[("Lookup", "hidden")])
    assert read_table(path).sheet == "Realignment"
    with pytest.raises(InputError, match="no header row found in sheet 'Lookup'"):
        read_table(path, sheet="Lookup")  # named, a hidden sheet is still read


def test_sheet_without_header_lists_the_sheets_with_hidden_ones_marked(tmp_path: Path) -> None:
    path = workbook(tmp_path / "in.xlsx", people(2),
                    before=[("Cover", "visible"), ("Old", "hidden")])
    with pytest.raises(InputError) as caught:
        read_table(path)
    message = caught.value.message
    assert "no header row found in sheet 'Cover'" in message
    assert "'Cover', 'Old' (hidden), 'Realignment'" in message
    assert "--sheet" in message
    with pytest.raises(InputError, match=r"'Old' \(hidden\)"):
        read_table(path, sheet="Nope")


# --- the --hidden-rows decision ---------------------------------------------------------------


def test_without_a_choice_hidden_rows_are_refused_with_the_rows_named(tmp_path: Path) -> None:
    table = read_table(workbook(tmp_path / "in.xlsx", people(12),
                                hidden_rows=[3, 4, 5, 7, 9, 10, 11]))
    with pytest.raises(UsageError) as caught:
        hidden.check(table, choice=None)
    message = caught.value.message
    assert "7 hidden row(s) (rows 3, 4, 5, 7, 9 and 2 more" in message
    assert "--hidden-rows skip" in message and "--hidden-rows send" in message
    assert "Nothing was sent" in message
    hidden.check(table, choice="skip")
    hidden.check(table, choice="send")


def test_hidden_required_column_is_refused_unless_send(tmp_path: Path) -> None:
    table = read_table(workbook(tmp_path / "in.xlsx", people(2), hidden_columns=["D"]))
    for choice in (None, "skip"):
        with pytest.raises(UsageError, match=r"LastName in column D \('LastName'\)"):
            hidden.check(table, choice=choice)
    hidden.check(table, choice="send")


def test_skip_leaves_hidden_rows_out_before_looking_for_repeats(tmp_path: Path) -> None:
    # Row 2 (hidden) and row 3 assign the same opportunity; row 4 (hidden) conflicts with row 5.
    rows = [HEADER, row(), row(), row(Identifier="O1002"),
            row(Identifier="O1002", Email="bo@example.com")]
    table = read_table(workbook(tmp_path / "in.xlsx", rows, hidden_rows=[2, 4]))
    everything = hidden.validate_for_run(table, choice="send", catalog="Sandbox")
    assert list(everything.status) == ["VALID", "DUPLICATE", "INVALID", "INVALID"]
    visible = hidden.validate_for_run(table, choice="skip", catalog="Sandbox")
    assert list(visible.status) == ["SKIPPED", "VALID", "SKIPPED", "VALID"]
    assert list(visible.error_class) == ["HiddenRow", "", "HiddenRow", ""]
    assert [job.row for job in visible.jobs()] == [3, 5]


def test_skip_with_every_row_hidden_sends_nothing(tmp_path: Path) -> None:
    table = read_table(workbook(tmp_path / "in.xlsx", people(2), hidden_rows=[2, 3]))
    v = hidden.validate_for_run(table, choice="skip", catalog="Sandbox")
    assert list(v.status) == ["SKIPPED", "SKIPPED"] and list(v.jobs()) == []


def test_validate_says_how_many_rows_are_hidden_and_which(tmp_path: Path) -> None:
    path = workbook(tmp_path / "in.xlsx", people(4), filtered_rows=[3, 5])
    code, results, stdout = run_validate(path, tmp_path / "out", catalog="Sandbox")
    assert code == 0 and list(results["status"]) == ["VALID"] * 4
    assert "Hidden rows: 2 of 4 data rows are hidden in Excel" in stdout
    assert "rows 3, 5" in stdout and "--hidden-rows" in stdout
    summary = (tmp_path / "out" / "summary.json").read_text()
    assert '"count": 2' in summary


def test_hidden_rows_notes_follow_the_choice(tmp_path: Path) -> None:
    table = read_table(workbook(tmp_path / "in.xlsx", people(3), hidden_rows=[3],
                                hidden_columns=["B"]))
    skip = "\n".join(hidden.notes(table, choice="skip"))
    send = "\n".join(hidden.notes(table, choice="send"))
    assert "1 of 3 data rows" in skip and "row 3;" in skip and "not sent" in skip
    assert "they are sent too" in send
    assert "Hidden column: Email is read from column B ('Email')" in send


def test_hidden_rows_setting_takes_send_or_skip_only() -> None:
    from bulk_assign.settings import RunSettings

    for choice in (None, "send", "skip"):
        settings = RunSettings(input_path=Path("in.xlsx"), catalog="Sandbox", hidden_rows=choice)
        assert RunSettings.from_json(settings.to_json()).hidden_rows == choice
    with pytest.raises(ValueError, match="hidden_rows must be 'send' or 'skip', not 'all'"):
        RunSettings(input_path=Path("in.xlsx"), catalog="Sandbox", hidden_rows="all")
