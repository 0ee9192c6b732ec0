"""export, transfer and verify as neighbours of a run: verify.xlsx beside verify.csv, one
process per run folder (verify and transfer hold it), and every file they write private
whatever the umask. Against the emulator over HTTP."""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import openpyxl
import pytest

from bulk_assign import cli
from bulk_assign.commands import run as app
from bulk_assign.commands import verify
from bulk_assign.commands.export import ExportSettings, export_command
from bulk_assign.commands.transfer import transfer_command
from bulk_assign.commands.verify import verify_command
from bulk_assign.emulator import Emulator
from bulk_assign.results import Contact
from bulk_assign.run.export_rows import ExportFilters
from bulk_assign.sheet.cells import unescape
from bulk_assign.store.runlock import hold_run_folder, lock_holder
from tests.support.calls import applied_writes, calls, owners
from tests.support.emulators import fast, generated
from tests.support.outputs import read_csv
from tests.support.runs import run, settings, tool_process

GREEN, RED, AMBER = "C6EFCE", "FFC7CE", "FFEB9C"


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _reads(emu: Emulator) -> int:
    state = emu.state()
    return len(calls(state, "GetOpportunity")) + len(calls(state, "ListOpportunities"))


def _verified_run(emu: Emulator, tmp_path: Path, ids: list[str], **overrides: Any) -> Path:
    """A run of `ids` (plus one unknown opportunity) to user5, then one drifted to user6."""
    sheet = tmp_path / "in.csv"
    lines = [f"{i},user5@example.com,User,Number5" for i in [*ids, "O888888888"]]
    sheet.write_text("Identifier,Email,FirstName,LastName\n" + "\n".join(lines) + "\n",
                     encoding="utf-8")
    result = run(settings(sheet, emu.url, tmp_path / "run", **overrides))
    assert result.code == 1, result.stdout  # the unknown opportunity FAILED
    client = boto3.client("partnercentral-selling", endpoint_url=emu.url,
                          region_name="us-east-1")
    client.assign_opportunity(Catalog="Sandbox", Identifier=ids[0], Assignee={
        "Email": "user6@example.com", "FirstName": "User", "LastName": "Number6",
        "BusinessTitle": "PartnerAccountManager"})
    return result.folder


def test_verify_xlsx_holds_verify_csv_with_coloured_verdicts_and_is_private(
    umask: int, emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    seed = generated(6, users=7)
    emu = emulator(seed, **fast())
    ids = sorted(seed["catalogs"]["Sandbox"]["opportunities"])[:4]
    folder = _verified_run(emu, tmp_path, ids, output_format="xlsx")
    text = io.StringIO()
    assert verify_command(folder, all_rows=True, stdout=text) == 1, text.getvalue()
    book_path = folder / "verify.xlsx"
    assert str(book_path) in text.getvalue()
    expected = [[unescape(v) for v in r.values()] for r in read_csv(folder / "verify.csv")]
    sheet = openpyxl.load_workbook(book_path)["Verify"]
    cells = list(sheet.iter_rows(min_row=2))
    assert [["" if c.value is None else c.value for c in r] for r in cells] == expected
    assert all(c.data_type == "s" for r in sheet.iter_rows() for c in r if c.value is not None)
    verdict_at = [c.value for c in sheet[1]].index("verdict")
    fills = {r[1].value: (r[verdict_at].value, r[verdict_at].fill.fgColor.rgb) for r in cells}
    assert fills[ids[0]] == ("DRIFTED", "00" + RED)
    assert fills["O888888888"] == ("NOT_SENT", "00" + AMBER)  # FAILED in the run
    assert {fills[i] for i in ids[1:]} == {("MATCH", "00" + GREEN)}
    assert sheet.freeze_panes == "A2"
    assert _mode(book_path) == _mode(folder / "verify.csv") == 0o600
    assert {_mode(p) for p in folder.iterdir()} == {0o600}


def test_verify_writes_no_workbook_where_the_run_wrote_none(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    seed = generated(3, users=7)
    emu = emulator(seed, **fast())
    folder = _verified_run(emu, tmp_path, sorted(seed["catalogs"]["Sandbox"]["opportunities"]))
    assert not (folder / "results.xlsx").exists()
    assert cli.main(["verify", str(folder)]) == 1
    assert (folder / "verify.csv").exists() and not (folder / "verify.xlsx").exists()


def test_verify_holds_the_run_folder_and_is_refused_while_another_holds_it(
    emulator: Callable[..., Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed = generated(3, users=7)
    emu = emulator(seed, **fast())
    folder = _verified_run(emu, tmp_path, sorted(seed["catalogs"]["Sandbox"]["opportunities"]))
    capsys.readouterr()
    before = _reads(emu)
    with hold_run_folder(folder, command="resume"):
        assert cli.main(["verify", str(folder)]) == 2
    assert _reads(emu) == before  # refused before any read
    assert not (folder / "verify.csv").exists()
    assert f"pid {os.getpid()}" in capsys.readouterr().err

    holders = []
    real = verify.write_verify_files

    def spy(frame: Any, where: Path, *, workbook: bool) -> list[Path]:
        holders.append(lock_holder(where))
        return real(frame, where, workbook=workbook)

    monkeypatch.setattr(verify, "write_verify_files", spy)
    assert verify_command(folder, stdout=io.StringIO()) == 1
    assert len(holders) == 1 and holders[0] is not None
    assert holders[0].pid == os.getpid() and "verify" in holders[0].command
    assert lock_holder(folder) is None  # released at the end


def test_a_second_transfer_into_the_same_folder_is_refused_between_export_and_run(
    umask: int, emulator: Callable[..., Emulator], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, subprocess_env: dict[str, str],
) -> None:
    seed = generated(30, users=5)
    emu = emulator(seed, **fast())
    before = owners(emu.state())
    expected = {i for i, o in before.items() if o == "user2@example.com"}
    assert expected
    folder = tmp_path / "transfer"
    real_run = app.run_command
    seen: dict[str, Any] = {}

    def between_export_and_run(settings_: Any, **kwargs: Any) -> int:
        """The first transfer has exported input.csv and is about to run it: a second
        transfer with the same --out arrives now, from another terminal."""
        seen["holder"] = lock_holder(folder)
        seen["input"] = (folder / "input.csv").read_bytes()
        reads = _reads(emu)
        log = tmp_path / "second.log"
        second = tool_process(
            ["transfer", "--catalog", "Sandbox", "--from", "user2@example.com",
             "--to", "user3@example.com", "--first-name", "User", "--last-name", "Number3",
             "--out", str(folder), "--endpoint-url", emu.url, "--yes", "--quiet"],
            subprocess_env, log)
        try:
            seen["second"] = second.wait(timeout=60)
        except subprocess.TimeoutExpired:
            second.kill()
            second.wait()
            raise
        seen["second_log"] = log.read_text(errors="replace")
        seen["second_reads"] = _reads(emu) - reads
        return real_run(settings_, **kwargs)

    monkeypatch.setattr(app, "run_command", between_export_and_run)
    text = io.StringIO()
    export = ExportSettings(catalog="Sandbox", endpoint_url=emu.url, read_tps=200.0)
    code = transfer_command(
        export, settings(Path(), emu.url, folder), from_email="user2@example.com",
        to=Contact("user4@example.com", "User", "Number4", "PartnerAccountManager"),
        quiet=True, stdout=text, stdin=io.StringIO(""))
    assert code == 0, text.getvalue()
    holder = seen["holder"]
    assert holder is not None and holder.pid == os.getpid() and "transfer" in holder.command
    assert seen["second"] == 2, seen["second_log"]
    assert "is in use by" in seen["second_log"] and f"pid {os.getpid()}" in seen["second_log"]
    assert seen["second_reads"] == 0
    assert (folder / "input.csv").read_bytes() == seen["input"]  # the run's sheet, untouched
    after = owners(emu.state())
    assert {i for i in before if before[i] != after[i]} == expected
    assert {after[i] for i in expected} == {"user4@example.com"}
    assert applied_writes(emu.state()) == dict.fromkeys(expected, 1)
    assert lock_holder(folder) is None
    assert _mode(folder) == 0o700
    assert {_mode(p) for p in folder.iterdir()} == {0o600}


def test_export_files_are_private_whatever_the_umask(
    umask: int, emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(40, users=4), **fast())
    emu.configure(reject_credentials_after=15)
    out = tmp_path / "owners.xlsx"
    text = io.StringIO()
    export = ExportSettings(catalog="Sandbox", filters=ExportFilters(), endpoint_url=emu.url,
                            read_tps=200.0)
    assert export_command(export, out=out, quiet=True, stdout=text) == 3, text.getvalue()
    partial = tmp_path / "owners.xlsx.partial.jsonl"
    assert partial.exists() and _mode(partial) == 0o600
    emu.configure(reject_credentials_after=None)
    assert export_command(export, out=out, quiet=True, stdout=text) == 0, text.getvalue()
    assert _mode(out) == 0o600 and not partial.exists()
    csv_out = tmp_path / "owners.csv"
    assert export_command(export, out=csv_out, quiet=True, stdout=text) == 0
    assert _mode(csv_out) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["owners.csv", "owners.xlsx"]
