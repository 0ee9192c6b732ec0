"""Reading real sheets: encodings, delimiters, headers, blank rows, Excel, and unusable files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bulk_assign.errors import InputError
from bulk_assign.sheet.reader import read_table
from tests.support.inputs import GOOD, HEADER, SAMPLES, row, write_csv, write_xlsx


def test_every_cell_is_text_and_rows_are_numbered_as_in_excel(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "in.csv",
        [HEADER, row(LastName="NA"), row(Identifier="O1002", LastName="NULL", Phone="0044123")],
    )
    t = read_table(path)
    assert list(t.frame.index) == [2, 3]
    assert t.frame.loc[2, "LastName"] == "NA"
    assert t.frame.loc[3, "LastName"] == "NULL"
    assert t.frame.loc[3, "Phone"] == "0044123"  # not the number 44123
    assert t.encoding == "utf-8" and t.delimiter == ","


@pytest.mark.parametrize(
    ("encoding", "expected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("cp1252", "cp1252")],
)
def test_encodings_read_back_exactly(tmp_path: Path, encoding: str, expected: str) -> None:
    path = write_csv(
        tmp_path / "in.csv", [HEADER, row(FirstName="Tomás", LastName="Núñez")], encoding=encoding
    )
    t = read_table(path)
    assert t.encoding == expected
    assert list(t.frame.columns) == HEADER  # no BOM glued to the first header
    assert (t.frame.loc[2, "FirstName"], t.frame.loc[2, "LastName"]) == ("Tomás", "Núñez")


def test_excel_unicode_text_utf16_tab_delimited(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "unicode.txt", [HEADER, row(LastName="Núñez"), row(Identifier="O7")],
        delimiter="\t", encoding="utf-16",
    )
    assert path.read_bytes()[:2] == b"\xff\xfe"
    t = read_table(path)
    assert t.delimiter == "\t"
    assert t.frame.loc[2, "LastName"] == "Núñez"
    assert t.frame.loc[3, "Identifier"] == "O7"


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_semicolon_and_tab_files(tmp_path: Path, delimiter: str) -> None:
    # A comma inside a value must not fool the delimiter choice.
    path = write_csv(
        tmp_path / "in.csv", [[*HEADER, "Notes"], [*GOOD, "north, south"]], delimiter=delimiter
    )
    t = read_table(path)
    assert t.delimiter == delimiter
    assert t.frame.loc[2, "Notes"] == "north, south"
    assert t.frame.loc[2, "Email"] == "ana@example.com"


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("OPPORTUNITY ID", "Identifier"), ("opportunity_id", "Identifier"),
        ("Opp-Id", "Identifier"), ("Opportunity.Identifier", "Identifier"),
        (" Opportunity ", "Identifier"), ("email address", "Email"),
        ("Assignee_Email", "Email"), ("given name", "FirstName"), ("SURNAME", "LastName"),
        ("family-name", "LastName"), ("business_title", "BusinessTitle"), ("mobile", "Phone"),
        ("phone.number", "Phone"), ("CATALOG", "Catalog"),
    ],
)
def test_header_aliases(tmp_path: Path, header: str, field: str) -> None:
    base = {"Identifier": "Opportunity Id", "Email": "Owner Email", "FirstName": "First Name",
            "LastName": "Last Name"}
    base[field] = header
    headers = list(base.values())
    path = write_csv(tmp_path / "in.csv", [headers, ["O1", "a@b.co", "A", "B"][: len(headers)]
                                           + [""] * (len(headers) - 4)])
    t = read_table(path)
    assert t.columns[field] == header.strip()


def test_header_not_on_row_1_keeps_excel_row_numbers(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "in.csv",
        [["Q3 realignment export"], ["generated 2026-07-01"], HEADER, row(), row(Identifier="O2")],
    )
    t = read_table(path)
    assert t.header_row == 3
    assert list(t.frame.index) == [4, 5]
    assert t.frame.loc[5, "Identifier"] == "O2"


def test_blank_rows_dropped_counted_and_later_rows_keep_their_number(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "in.csv",
        [HEADER, row(), ["", "", "", "", ""], ["  ", "\u00a0", "", "", ""], row(Identifier="O5"),
         [",,,,"][:0] or ["", "", "", "", ""]],
    )
    t = read_table(path)
    assert t.blank_rows == 3
    assert list(t.frame.index) == [2, 5]
    assert t.frame.loc[5, "Identifier"] == "O5"


def test_truly_empty_lines_in_the_middle_do_not_shift_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "in.csv"
    path.write_text(",".join(HEADER) + "\n" + ",".join(GOOD) + "\n\n\n"
                    + ",".join(row(Identifier="O9")) + "\n", encoding="utf-8")
    t = read_table(path)
    assert list(t.frame.index) == [2, 5]
    assert t.blank_rows == 2


def test_extra_columns_are_kept_in_order(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "in.csv",
        [["Territory", *HEADER, "Region", "Notes"], ["DACH", *GOOD, "EMEA", "n"]],
    )
    t = read_table(path)
    assert t.extra_columns == ("Territory", "Region", "Notes")
    assert list(t.frame.columns) == ["Territory", *HEADER, "Region", "Notes"]


def test_xlsx_sheet_by_name_and_by_position(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "in.xlsx",
        {"Notes": [["read me"]], "Q3": [HEADER, row(Identifier="O33")],
         "Q4": [HEADER, row(Identifier="O44")]},
    )
    assert read_table(path, sheet="Q4").frame.loc[2, "Identifier"] == "O44"
    by_position = read_table(path, sheet="2")
    assert by_position.sheet == "Q3" and by_position.frame.loc[2, "Identifier"] == "O33"
    with pytest.raises(InputError, match=r"no sheet 'Q5'.*'Notes', 'Q3', 'Q4'"):
        read_table(path, sheet="Q5")
    with pytest.raises(InputError, match="no header row found in sheet 'Notes'"):
        read_table(path)


def test_xlsx_numbers_come_back_as_the_text_typed(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "in.xlsx",
        {"S": [HEADER, ["O1", "a@b.co", "Ana", "None", 441234567890],
               ["O2", "a@b.co", "Ana", "NA", 4.41e11]]},
    )
    t = read_table(path)
    assert t.frame.loc[2, "Phone"] == "441234567890"
    assert t.frame.loc[3, "Phone"] == "441000000000"
    assert t.frame.loc[2, "LastName"] == "None" and t.encoding == "xlsx"


def test_csv_that_is_really_xlsx_and_xlsx_that_is_really_csv(tmp_path: Path) -> None:
    real_xlsx = write_xlsx(tmp_path / "real.xlsx", {"S": [HEADER, row()]})
    fake_csv = tmp_path / "fake.csv"
    shutil.copy(real_xlsx, fake_csv)
    assert read_table(fake_csv).frame.loc[2, "Email"] == "ana@example.com"
    fake_xlsx = write_csv(tmp_path / "fake.xlsx", [HEADER, row()])
    assert read_table(fake_xlsx).frame.loc[2, "Email"] == "ana@example.com"


def test_sample_workbook_matches_sample_csv() -> None:
    from_csv = read_table(SAMPLES / "realignment.csv")
    from_xlsx = read_table(SAMPLES / "realignment.xlsx")
    assert from_xlsx.sheet == "Q3 realignment"
    assert list(from_xlsx.frame.columns) == list(from_csv.frame.columns)
    assert from_xlsx.frame.equals(from_csv.frame)
    assert read_table(SAMPLES / "realignment.xlsx", sheet="1").frame.equals(from_csv.frame)
    with pytest.raises(InputError, match="no header row found in sheet 'Notes'"):
        read_table(SAMPLES / "realignment.xlsx", sheet="Notes")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "no such file"),
        (lambda p: (p.mkdir(), p)[1], "is a folder"),
        (lambda p: (p.write_bytes(b""), p)[1], "the file is empty"),
        (lambda p: (p.write_bytes(b"\xef\xbb\xbf"), p)[1], "no content"),
        (lambda p: (p.write_text(",".join(HEADER) + "\r\n"), p)[1], "header but no data rows"),
        (lambda p: (p.write_text("Identifier,Email,FirstName\nO1,a@b.co,A\n"), p)[1],
         "missing required column(s) LastName"),
        (lambda p: (p.write_text("Identifier,Email,Email Address,FirstName,LastName\n"
                                 "O1,a@b.co,a@b.co,A,B\n"), p)[1],
         "columns 'Email' and 'Email Address' both mean Email"),
        (lambda p: (p.write_bytes(b"Identifier,Email\x00\x01\x02" * 50), p)[1], "binary data"),
        (lambda p: (p.write_bytes(bytes(range(256)) * 8), p)[1], "binary data"),
        (lambda p: (p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504), p)[1],
         "password-protected"),
        (lambda p: (p.write_text("name,age\nann,3\n"), p)[1], "no header row found"),
    ],
    ids=["missing", "folder", "empty", "only-bom", "header-only", "missing-column", "ambiguous",
         "nul-bytes", "garbage", "encrypted-ole", "not-a-realignment"],
)
def test_unusable_inputs_raise_one_clear_error_naming_the_file(
    tmp_path: Path, make: object, message: str
) -> None:
    path = make(tmp_path / "in.csv")  # type: ignore[operator]
    with pytest.raises(InputError) as info:
        read_table(path)
    assert str(path) in info.value.message
    assert message in info.value.message
    assert "\n" not in info.value.message


def test_truncated_xlsx_is_reported_as_damaged(tmp_path: Path) -> None:
    whole = write_xlsx(tmp_path / "whole.xlsx", {"S": [HEADER, *[row() for _ in range(50)]]})
    cut = tmp_path / "cut.xlsx"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="damaged or is not an Excel workbook"):
        read_table(cut)


def test_merged_header_cells_are_refused(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "m.xlsx", {"S": [HEADER, row()]}, merge="D1:E1")
    with pytest.raises(InputError, match=r"header row 1 has merged cells \(D1:E1\)"):
        read_table(path)

