"""An Excel realignment filtered down to the analyst's territory, run against the emulator:
hidden rows are refused, skipped or sent as asked, and a resume keeps the choice."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bulk_assign import cli
from bulk_assign.emulator import Emulator
from tests.support.calls import calls, owners
from tests.support.emulators import fast, generated
from tests.support.outputs import read_csv
from tests.support.runs import Run, resume, run, settings
from tests.support.workbooks import set_cached_values, workbook

ROWS = 9
FIRST_ID = 1_000_000
HEADER = ["Identifier", "Email", "FirstName", "LastName", "Territory"]
#: Excel rows (data starts on row 2) the filter on Territory hides: everything but North.
FILTERED = [r for r in range(2, ROWS + 2) if (r - 2) % 3 != 0]
VISIBLE = [r for r in range(2, ROWS + 2) if r not in FILTERED]


def ident(excel_row: int) -> str:
    return f"O{FIRST_ID + excel_row - 2}"


def filtered_book(path: Path) -> Path:
    """Opportunity i moves to user i+1; the sheet is filtered down to the North rows."""
    territories = ("North", "South", "East")
    rows = [HEADER] + [
        [f"O{FIRST_ID + i}", f"user{i + 1}@example.com", "User", f"Number{i + 1}",
         territories[i % 3]]
        for i in range(ROWS)
    ]
    return workbook(path, rows, filtered_rows=FILTERED)


def assigned(emu: Emulator) -> set[str]:
    return {c["identifier"] for c in calls(emu.state(), "AssignOpportunity")}


def test_hidden_rows_without_a_choice_send_nothing(
    emulator: Callable[..., Emulator], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = emulator(generated(ROWS), **fast())
    source = filtered_book(tmp_path / "territory.xlsx")
    code = cli.main(["run", str(source), "--catalog", "Sandbox", "--endpoint-url", emu.url,
                     "--out", str(tmp_path / "run"), "--max-tps", "40", "--quiet"])
    assert code == 2
    out, err = capsys.readouterr()
    assert f"{len(FILTERED)} hidden row(s) (rows 3, 4, 6, 7, 9 and 1 more" in err
    assert "--hidden-rows skip" in err and "Nothing was sent" in err
    assert "Traceback" not in err
    assert "Hidden rows: 6 of 9 data rows" in out  # the plan said so first
    assert emu.state()["calls"] == []  # not even a pre-read
    assert not (tmp_path / "run").exists()


def test_skip_sends_only_the_visible_rows_and_reports_the_rest(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(ROWS), **fast())
    source = filtered_book(tmp_path / "territory.xlsx")
    result = run(settings(source, emu.url, tmp_path / "run", hidden_rows="skip"))
    assert result.code == 0, result.stdout
    assert assigned(emu) == {ident(r) for r in VISIBLE}
    rows = result.by_row()
    assert list(rows) == list(range(2, ROWS + 2))  # one line per input row, in order
    for r in FILTERED:
        assert (rows[r]["status"], rows[r]["error_class"]) == ("SKIPPED", "HiddenRow")
        assert rows[r]["Identifier"] == ident(r)
    assert {rows[r]["status"] for r in VISIBLE} == {"SUCCEEDED"}
    now = owners(emu.state())
    assert all(now[ident(r)] == f"user{r - 1}@example.com" for r in VISIBLE)
    assert all(now[ident(r)] == f"user{(r - 2) % 50}@example.com" for r in FILTERED)
    assert "not sent (--hidden-rows skip)" in result.stdout
    # failed.csv, fed back as it is, must not send what the analyst left out.
    assert not (result.folder / "failed.csv").exists()


def test_send_sends_every_row(emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = emulator(generated(ROWS), **fast())
    source = filtered_book(tmp_path / "territory.xlsx")
    result = run(settings(source, emu.url, tmp_path / "run", hidden_rows="send"))
    assert result.code == 0, result.stdout
    assert assigned(emu) == {ident(r) for r in range(2, ROWS + 2)}
    assert set(result.statuses()) == {"SUCCEEDED"}


def test_resume_keeps_the_skip_choice(emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = emulator(generated(ROWS), **fast(reject_credentials_after=2))
    source = filtered_book(tmp_path / "territory.xlsx")
    first = run(settings(source, emu.url, tmp_path / "run", hidden_rows="skip", workers=1))
    assert first.code == 3, first.stdout  # credentials "expired" mid-run
    record = json.loads((first.folder / "run.json").read_text())
    assert record["settings"]["hidden_rows"] == "skip"

    emu.configure(reject_credentials_after=None)
    again: Run = resume(first.folder)
    assert again.code == 0, again.stdout
    assert assigned(emu) == {ident(r) for r in VISIBLE}
    rows = again.by_row()
    assert {(rows[r]["status"], rows[r]["error_class"]) for r in FILTERED} == {
        ("SKIPPED", "HiddenRow")}
    assert {rows[r]["status"] for r in VISIBLE} == {"SUCCEEDED"}


def test_hidden_required_column_is_refused_and_send_uses_it(
    emulator: Callable[..., Emulator], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    emu = emulator(generated(2), **fast())
    rows = [HEADER, [ident(2), "user1@example.com", "User", "Number1", "North"],
            [ident(3), "user2@example.com", "User", "Number2", "North"]]
    source = workbook(tmp_path / "in.xlsx", rows, hidden_columns=["B"])
    argv = ["run", str(source), "--catalog", "Sandbox", "--endpoint-url", emu.url,
            "--max-tps", "40", "--quiet"]
    assert cli.main([*argv, "--out", str(tmp_path / "a"), "--hidden-rows", "skip"]) == 2
    assert "Email in column B ('Email')" in capsys.readouterr().err
    assert emu.state()["calls"] == []
    assert cli.main([*argv, "--out", str(tmp_path / "b"), "--hidden-rows", "send"]) == 0
    assert assigned(emu) == {ident(2), ident(3)}


def test_uncalculated_formula_rows_are_invalid_and_not_sent(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(3), **fast())
    rows = [HEADER] + [
        [ident(r), f'=LOWER("USER{r}@EXAMPLE.COM")', "User", f"Number{r}", "North"]
        for r in (2, 3, 4)
    ]
    source = workbook(tmp_path / "in.xlsx", rows)
    set_cached_values(source, {"B2": "user2@example.com", "B3": None})  # B4: <v /> as written
    result = run(settings(source, emu.url, tmp_path / "run"))
    assert result.code == 1
    assert assigned(emu) == {ident(2)}
    by_row = result.by_row()
    assert by_row[2]["status"] == "SUCCEEDED"
    for r in (3, 4):
        assert (by_row[r]["status"], by_row[r]["error_class"]) == (
            "INVALID", "UNCALCULATED_FORMULA")
        assert "Email (column B) is a formula that Excel never calculated" in (
            by_row[r]["error_message"])
    summary = json.loads((result.folder / "summary.json").read_text())
    assert summary["formula_without_value"] == 2
    assert summary["by_error_class"]["UNCALCULATED_FORMULA"] == 2
    failed = read_csv(result.folder / "failed.csv")
    assert [f["Identifier"] for f in failed] == [ident(3), ident(4)]
