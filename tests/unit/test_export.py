"""export's pieces without a network: filters, the sheet's columns, the partial file."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bulk_assign.cli import main
from bulk_assign.errors import UsageError
from bulk_assign.results import Contact
from bulk_assign.run.export_rows import (
    EXPORT_COLUMNS,
    ExportFilters,
    Found,
    Target,
    parse_since,
    stage_named,
)
from bulk_assign.run.exporter import PartialFile, export_frame
from bulk_assign.sheet import fields

OWNER = Contact("ana@example.com", "Ana", "Silva", "PartnerAccountManager", "+15550100199")


def test_only_the_input_columns_and_the_expected_owner_are_taken_as_fields() -> None:
    taken = {c: fields.field_for(c) for c in EXPORT_COLUMNS if fields.field_for(c)}
    assert taken == {**{c: c for c in (fields.IDENTIFIER, fields.CATALOG,
                                       *fields.ASSIGNEE_FIELDS)},
                     "Current Email": fields.EXPECTED_OWNER}


def test_stage_and_date_filters_say_the_fix() -> None:
    assert stage_named("closed lost") == "Closed Lost"
    with pytest.raises(UsageError, match="Prospect"):
        stage_named("Won")
    assert parse_since("2026-07-01") == datetime(2026, 7, 1, tzinfo=UTC)
    with pytest.raises(UsageError, match="2026-07-01"):
        parse_since("July")


def test_bad_stage_on_the_command_line_exits_2_before_any_call(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["export", "--catalog", "Sandbox", "--out", str(tmp_path / "x.csv"),
                 "--stage", "Won", "--endpoint-url", "http://127.0.0.1:9"])
    assert code == 2
    assert "not a stage" in capsys.readouterr().err


def test_more_customers_than_the_model_allows_are_listed_in_passes() -> None:
    names = tuple(f"Customer {i}" for i in range(23))
    requests = ExportFilters(customers=names).list_requests("Sandbox")
    assert [len(r["CustomerCompanyName"]) for r in requests] == [10, 10, 3]
    assert all(r["Sort"] == {"SortBy": "Identifier", "SortOrder": "ASCENDING"}
               for r in requests)


def test_owner_filter_and_sheet_cells() -> None:
    owned = Found("O1", "Sandbox", customer="AnyCo", owner=OWNER)
    orphan = Found("O2", "Sandbox")
    keep = ExportFilters(owners=("ana@example.com",))
    assert [keep.keeps(f) for f in (owned, orphan)] == [True, False]
    frame = export_frame([owned, orphan])
    assert frame.loc[0, "Email"] == frame.loc[0, "Current Email"] == "ana@example.com"
    assert frame.loc[0, "Phone"] == "+15550100199"
    assert frame.loc[1, ["Email", "FirstName", "Current Email"]].tolist() == ["", "", ""]
    moved = export_frame([owned], assignee=Contact("bo@example.com", "Bo", "Berg", "PAM"))
    assert moved.loc[0, ["Current Email", "Email"]].tolist() == ["ana@example.com",
                                                                 "bo@example.com"]


def test_partial_file_survives_a_cut_line(tmp_path: Path) -> None:
    partial = PartialFile(tmp_path / "x.csv.partial.jsonl")
    partial.add(catalog="Sandbox", target=Target("O1", "t1"),
                found=Found("O1", "Sandbox", owner=OWNER))
    partial.close()
    with partial.path.open("a", encoding="utf-8") as fh:
        fh.write('{"catalog": "Sandbox", "id": "O2"')  # a kill mid-line
    partial.add(catalog="Sandbox", target=Target("O3", "t3"), found=None)
    partial.close()
    loaded = PartialFile(partial.path).load("Sandbox")
    assert set(loaded) == {"O1", "O3"}
    assert loaded["O1"][1] is not None and loaded["O1"][1].owner == OWNER
    assert loaded["O3"] == ("t3", None)
    assert PartialFile(partial.path).load("AWS") == {}


def test_a_complete_export_drops_only_its_own_reads_and_owns_only_what_it_wrote(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.csv.partial.jsonl"
    out = tmp_path / "x.csv"
    keys = {name: filters.key(catalog) for name, filters, catalog in (
        ("all", ExportFilters(), "Sandbox"), ("prospects", ExportFilters(stages=("Prospect",)),
                                              "Sandbox"), ("aws", ExportFilters(), "AWS"))}
    assert len(set(keys.values())) == 3
    for name, catalog in (("prospects", "Sandbox"), ("aws", "AWS"), ("all", "Sandbox")):
        stopped = PartialFile(path, export=keys[name])
        stopped.add(catalog=catalog, target=Target(f"O{len(name)}", "t"), found=None)
        stopped.close()
    out.write_text("Identifier\nO1\n", encoding="utf-8")
    done = PartialFile(path, export=keys["all"])
    assert not done.owns(out)
    done.wrote(out)
    assert done.owns(out) and not PartialFile(path, export=keys["aws"]).owns(out)
    out.write_text("Identifier\nO2\n", encoding="utf-8")  # edited since: not its own now
    assert not done.owns(out)
    done.remove()
    left = PartialFile(path, export=keys["prospects"])
    assert set(left.load("Sandbox")) == {"O9"} and set(left.load("AWS")) == {"O3"}
    left.remove()
    PartialFile(path, export=keys["aws"]).remove()
    assert not path.exists()


def test_xlsx_export_is_text_cells_in_one_sheet_private_whatever_the_umask(
    tmp_path: Path,
) -> None:
    import os

    import openpyxl

    from bulk_assign.run.export_rows import SHEET_TITLE
    from bulk_assign.run.exporter import write_export

    hostile = Contact("=HYPERLINK(\"http://x\")", "@SUM(1)", "-2+3", "#N/A", "+44 20 7946 0001")
    frame = export_frame([Found("O00123", "Sandbox", customer="=1+1", owner=hostile)])
    out = tmp_path / "owners.xlsx"
    old = os.umask(0)
    try:
        write_export(frame, out)
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["owners.xlsx"]  # no temporary left
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == [SHEET_TITLE]
    sheet = book[SHEET_TITLE]
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[0] == list(EXPORT_COLUMNS)
    assert rows[1] == [None if v == "" else v for v in frame.iloc[0].tolist()]
    cells = [c for r in sheet.iter_rows() for c in r if c.value is not None]
    assert all(c.data_type == "s" for c in cells)
    assert all(c.number_format == "@" for c in cells[len(EXPORT_COLUMNS):])
