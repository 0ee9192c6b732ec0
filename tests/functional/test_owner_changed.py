"""Lost updates, end to end against the emulator: an owner who changed after the sheet was made
(or after the run, for an undo) is left alone, SKIPPED / OwnerChanged, with no write spent."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import openpyxl
import pytest

from bulk_assign import cli
from bulk_assign.commands import run as app
from bulk_assign.commands.export import ExportSettings, export_command
from bulk_assign.commands.preview import preview_command
from bulk_assign.commands.transfer import transfer_command
from bulk_assign.emulator import Emulator
from bulk_assign.errors import UsageError
from bulk_assign.results import Contact
from bulk_assign.run.export_rows import ExportFilters
from tests.support.calls import calls, owners
from tests.support.emulators import fast, generated
from tests.support.outputs import read_csv
from tests.support.runs import Run, resume, run, settings

N, USERS = 12, 4
IDS = [f"O{1_000_000 + i}" for i in range(N)]


def _user(k: int) -> str:
    return f"user{k % USERS}@example.com"


def _move(url: str, identifier: str, k: int) -> None:
    """Another writer (the CRM sync, a colleague in the console) changes the owner."""
    client = boto3.client("partnercentral-selling", endpoint_url=url, region_name="us-east-1")
    client.assign_opportunity(Catalog="Sandbox", Identifier=identifier, Assignee={
        "Email": _user(k), "FirstName": "User", "LastName": f"Number{k % USERS}",
        "BusinessTitle": "PartnerAccountManager"})


def _writes(emu: Emulator, ids: list[str]) -> int:
    state = emu.state()
    return sum(len(calls(state, "AssignOpportunity", i)) for i in ids)


def _export_and_edit(emu: Emulator, tmp_path: Path, moves: dict[str, int]) -> Path:
    """The export, with the rows of `moves` given to user k (the rest left as they are)."""
    book = tmp_path / "book.csv"
    text = io.StringIO()
    assert export_command(ExportSettings(catalog="Sandbox", endpoint_url=emu.url,
                                         read_tps=200.0), out=book, quiet=True, stdout=text) == 0
    rows = read_csv(book)
    for line in rows:
        if line["Identifier"] in moves:
            k = moves[line["Identifier"]]
            line.update(Email=_user(k), FirstName="User", LastName=f"Number{k % USERS}")
    with book.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return book


def _by_id(result: Run) -> dict[str, dict[str, str]]:
    return {r["Identifier"]: r for r in result.results()}


@pytest.fixture
def emu(emulator: Callable[..., Emulator]) -> Emulator:
    return emulator(generated(N, users=USERS), **fast())


def test_changed_owners_are_left_alone_overwritten_on_request_and_undo_respects_later_changes(
    emu: Emulator, tmp_path: Path
) -> None:
    moves = {i: n + 1 for n, i in enumerate(IDS[:8])}  # opportunity n: user n -> user n+1
    book = _export_and_edit(emu, tmp_path, moves)
    before = owners(emu.state())
    changed = IDS[:3]
    for n, ident in enumerate(changed):
        _move(emu.url, ident, n + 2)  # a third person: neither Current Email nor the assignee
    writes_before = _writes(emu, changed)

    first = run(settings(book, emu.url, tmp_path / "run"))
    assert first.code == 0, first.stdout
    assert "Owner check: 12 row(s)" in first.stdout
    rows = _by_id(first)
    assert {i: (rows[i]["status"], rows[i]["error_class"]) for i in changed} == dict.fromkeys(
        changed, ("SKIPPED", "OwnerChanged"))
    assert _writes(emu, changed) == writes_before  # not one write
    assert {rows[i]["status"] for i in IDS[3:8]} == {"SUCCEEDED"}
    assert {rows[i]["status"] for i in IDS[8:]} == {"UNCHANGED"}
    assert f"{_user(2)} (User Number2) owns it now, not {before[IDS[0]]}" in \
        rows[IDS[0]]["error_message"]
    failed = read_csv(first.folder / "failed.csv")
    assert [r["Identifier"] for r in failed] == changed
    assert {r["error_class"] for r in failed} == {"OwnerChanged"}
    log = (first.folder / "run.log").read_text(encoding="utf-8")
    assert "OwnerChanged" in log and "@" not in log and "Number" not in log
    summary = (first.folder / "summary.json").read_text(encoding="utf-8")
    assert '"OwnerChanged": 3' in summary

    again = run(settings(book, emu.url, tmp_path / "overwrite", overwrite_changed=True))
    assert again.code == 0, again.stdout
    assert "--overwrite-changed: 12 row(s)" in again.stdout
    rows = _by_id(again)
    assert {rows[i]["status"] for i in changed} == {"SUCCEEDED"}
    assert {rows[i]["status"] for i in IDS[3:]} == {"UNCHANGED"}
    assert {owners(emu.state())[i] for i in changed} == {_user(n + 1) for n in range(3)}

    later = IDS[3:5]  # moved on after the run: the undo must leave them
    for n, ident in enumerate(later, start=3):
        _move(emu.url, ident, n + 2)  # neither the owner before the run nor the one it set
    now = owners(emu.state())
    undo = run(settings(first.folder / "rollback.csv", emu.url, tmp_path / "undo"))
    assert undo.code == 0, undo.stdout
    rows = _by_id(undo)
    assert {i: rows[i]["error_class"] for i in later} == dict.fromkeys(later, "OwnerChanged")
    assert {rows[i]["status"] for i in IDS[5:8]} == {"SUCCEEDED"}
    after = owners(emu.state())
    assert {i: after[i] for i in later} == {i: now[i] for i in later}
    assert {i: after[i] for i in IDS[5:8]} == {i: before[i] for i in IDS[5:8]}


def test_no_snapshot_turns_the_check_off_and_the_plan_says_so(
    emu: Emulator, tmp_path: Path
) -> None:
    book = _export_and_edit(emu, tmp_path, {IDS[0]: 1})
    _move(emu.url, IDS[0], 2)
    result = run(settings(book, emu.url, tmp_path / "run", pre_read=False))
    assert "Owner check OFF (--no-snapshot" in result.stdout
    assert _by_id(result)[IDS[0]]["status"] == "SUCCEEDED"


def test_transfer_leaves_an_opportunity_that_left_the_from_owner_after_the_export(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = [i for n, i in enumerate(IDS) if n % USERS == 1]
    moved = mine[0]
    real_run = app.run_command

    def run_after_a_colleague(*args: Any, **kwargs: Any) -> int:
        _move(emu.url, moved, 3)  # between the export step and the first write
        return real_run(*args, **kwargs)

    monkeypatch.setattr(app, "run_command", run_after_a_colleague)
    folder = tmp_path / "transfer"
    text = io.StringIO()
    code = transfer_command(
        ExportSettings(catalog="Sandbox", endpoint_url=emu.url, read_tps=200.0,
                       filters=ExportFilters()),
        settings(Path(), emu.url, folder), from_email=_user(1),
        to=Contact(_user(2), "User", "Number2", "PartnerAccountManager"),
        quiet=True, stdout=text, stdin=io.StringIO(""))
    assert code == 0, text.getvalue()
    rows = _by_id(Run(code, text.getvalue(), folder))
    assert (rows[moved]["status"], rows[moved]["error_class"]) == ("SKIPPED", "OwnerChanged")
    assert {rows[i]["status"] for i in mine[1:]} == {"SUCCEEDED"}
    after = owners(emu.state())
    assert after[moved] == _user(3)
    assert _writes(emu, [moved]) == 1  # the colleague's; none of the transfer's


# --- the sign-off: preview, then run from it ----------------------------------------------------


def _preview(emu: Emulator, book: Path, folder: Path) -> tuple[int, str]:
    text = io.StringIO()
    code = preview_command(settings(book, emu.url, folder), quiet=True, stdout=text)
    return code, text.getvalue()


def _with_rows(book: Path, extra: list[dict[str, str]]) -> None:
    rows = read_csv(book)
    with book.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows + [{**rows[0], **line} for line in extra])


def test_preview_then_run_from_it_catches_what_changed_after_the_sign_off(
    emu: Emulator, tmp_path: Path
) -> None:
    moves = {i: n + 1 for n, i in enumerate(IDS[:6])}
    book = _export_and_edit(emu, tmp_path, moves)
    _with_rows(book, [{"Identifier": "O999999999"},  # gone from the catalog
                      {"Identifier": "O999999998", "Email": "not-an-email"}])
    _move(emu.url, IDS[0], 2)  # changed after the export, before the preview
    folder = tmp_path / "preview"
    code, text = _preview(emu, book, folder)
    assert code == 1, text  # CHANGED, NOT_FOUND and INVALID rows need a look
    lines = {r["Identifier"]: r for r in read_csv(folder / "preview.csv")}
    verdicts = {i: lines[i]["verdict"] for i in lines}
    assert verdicts[IDS[0]] == "CHANGED" and lines[IDS[0]]["current owner"] == _user(2)
    assert {verdicts[i] for i in IDS[1:6]} == {"MOVE"}
    assert {verdicts[i] for i in IDS[6:]} == {"ALREADY"}
    assert (verdicts["O999999999"], verdicts["O999999998"]) == ("NOT_FOUND", "INVALID")
    book_file = openpyxl.load_workbook(folder / "preview.xlsx")
    assert book_file.sheetnames == ["Preview", "By person", "Summary"]
    assert all(c.value is None or c.data_type == "s"
               for sheet in book_file for row in sheet.iter_rows() for c in row)
    people = [[c.value for c in row] for row in book_file["By person"].iter_rows(min_row=2)]
    *each, total = people
    assert total[0] == "Total" and total[2] == total[3] == "6"  # five MOVE + one CHANGED
    assert sum(int(p[2]) for p in each) == sum(int(p[3]) for p in each) == 6
    assert sum(int(p[4]) for p in each) == 0
    sizes = [int(p[2]) + int(p[3]) for p in each]
    assert sizes == sorted(sizes, reverse=True)
    summary = {r[0].value: r[1].value for r in book_file["Summary"].iter_rows(min_row=2)}
    assert summary["Writes the run needs (MOVE + CHANGED)"] == "6"
    assert summary["Share of the run's daily budget (8,000)"] == "0.1%"
    assert emu.state()["calls"] and not [c for c in calls(emu.state(), "AssignOpportunity")
                                         if c["identifier"] not in (IDS[0],)]

    after_sign_off = IDS[1:4]
    for n, ident in enumerate(after_sign_off, start=1):
        _move(emu.url, ident, n + 2)
    writes_before = _writes(emu, IDS)
    result = run(settings(book, emu.url, tmp_path / "run", from_preview=str(folder)))
    rows = _by_id(result)
    assert {i: rows[i]["error_class"] for i in after_sign_off} == dict.fromkeys(
        after_sign_off, "OwnerChanged")
    assert {rows[i]["status"] for i in (IDS[0], *IDS[4:6])} == {"SUCCEEDED"}
    assert {rows[i]["status"] for i in IDS[6:]} == {"UNCHANGED"}
    assert rows["O999999999"]["error_class"] == "ResourceNotFoundException"
    assert _writes(emu, IDS) - writes_before == 3  # the CHANGED one the approver saw, two MOVE
    assert owners(emu.state())[IDS[0]] == _user(1)


def test_a_stopped_preview_continues_and_a_changed_sheet_is_refused(
    emu: Emulator, tmp_path: Path
) -> None:
    book = _export_and_edit(emu, tmp_path, {IDS[0]: 1})
    folder = tmp_path / "preview"
    assert _preview(emu, book, folder)[0] == 0
    gets = len(calls(emu.state(), "GetOpportunity"))
    code, text = _preview(emu, book, folder)  # a finished preview is previewed afresh
    assert code == 0 and "kept" not in text
    assert len(calls(emu.state(), "GetOpportunity")) - gets == N
    record = folder / "preview.json"
    record.write_text(record.read_text(encoding="utf-8").replace(
        '"complete": true', '"complete": false'), encoding="utf-8")
    reads = folder / "preview_reads.jsonl"
    reads.write_text("".join(reads.read_text(encoding="utf-8").splitlines(True)[:5]) + '{"cut',
                     encoding="utf-8")
    gets = len(calls(emu.state(), "GetOpportunity"))
    code, text = _preview(emu, book, folder)
    assert code == 0, text
    assert "5 read by a stopped preview are kept" in text
    assert len(calls(emu.state(), "GetOpportunity")) - gets == N - 5
    assert "--from-preview" in text
    _with_rows(book, [{"Identifier": IDS[0]}])  # edited after the sign-off
    out = io.StringIO()
    with pytest.raises(UsageError, match="changed since the sign-off"):
        app.run_command(settings(book, emu.url, tmp_path / "run", from_preview=str(folder)),
                        quiet=True, stdout=out, stdin=io.StringIO(""))
    assert not calls(emu.state(), "AssignOpportunity")


def test_the_command_line_previews_formula_safe_and_runs_with_overwrite_changed(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = _export_and_edit(emu, tmp_path, {IDS[0]: 1, IDS[1]: 2})
    rows = read_csv(book)
    rows[1]["FirstName"] = "=HYPERLINK(1)"
    with book.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    folder = tmp_path / "preview"
    fast_options = ["--endpoint-url", emu.url, "--read-tps", "100", "--quiet"]
    assert cli.main(["preview", str(book), "--catalog", "Sandbox", "--out", str(folder),
                     *fast_options]) == 0
    assert f"--from-preview {folder}" in capsys.readouterr().out
    with (folder / "preview.csv").open(encoding="utf-8-sig", newline="") as fh:
        cells = [c for line in csv.reader(fh) for c in line]
    assert "'=HYPERLINK(1) Number2" in cells and not any(c.startswith("=") for c in cells)
    sheet = openpyxl.load_workbook(folder / "preview.xlsx")["Preview"]
    formula = [c for row in sheet.iter_rows() for c in row if c.value == "=HYPERLINK(1) Number2"]
    assert formula and all(c.data_type == "s" for c in formula)

    _move(emu.url, IDS[0], 3)
    code = cli.main(["run", str(book), "--catalog", "Sandbox", "--out", str(tmp_path / "run"),
                     "--from-preview", str(folder), "--overwrite-changed", "--max-tps", "40",
                     "--lookback", "0", *fast_options])
    text = capsys.readouterr().out
    assert code == 0, text
    assert f"Expected owners: those the preview in {folder} read." in text
    assert "--overwrite-changed: 12 row(s)" in text
    assert owners(emu.state())[IDS[0]] == _user(1)


def test_resume_reads_an_owner_changed_row_again_and_writes_it_once_it_is_back(
    emu: Emulator, tmp_path: Path
) -> None:
    book = _export_and_edit(emu, tmp_path, {IDS[0]: 1, IDS[1]: 2})
    expected = owners(emu.state())[IDS[0]]
    _move(emu.url, IDS[0], 3)
    first = run(settings(book, emu.url, tmp_path / "run"))
    assert first.code == 0 and _by_id(first)[IDS[0]]["error_class"] == "OwnerChanged"
    _move(emu.url, IDS[0], 0)  # the colleague undid their change
    assert owners(emu.state())[IDS[0]] == expected
    again = resume(first.folder)
    assert again.code == 0, again.stdout
    assert "1 to send" in again.stdout
    assert _by_id(again)[IDS[0]]["status"] == "SUCCEEDED"
    assert owners(emu.state())[IDS[0]] == _user(1)
