"""export, transfer and verify against the emulator over HTTP: what they select is checked
against the emulator's seed and state, never against the tool's own output."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import openpyxl
import pytest

from bulk_assign import cli
from bulk_assign.check.validator import validate
from bulk_assign.commands.export import ExportSettings, export_command, filters_from
from bulk_assign.commands.transfer import transfer_command
from bulk_assign.commands.verify import verify_command
from bulk_assign.emulator import Emulator
from bulk_assign.results import Contact
from bulk_assign.run.export_rows import ExportFilters
from bulk_assign.sheet.reader import read_table
from tests.support.calls import applied_writes, calls, owners
from tests.support.emulators import fast, generated
from tests.support.outputs import read_csv
from tests.support.runs import run, settings

N = 60


def _opps(seed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    opps: dict[str, dict[str, Any]] = seed["catalogs"]["Sandbox"]["opportunities"]
    return opps


def _export(url: str, out: Path, filters: ExportFilters | None = None) -> tuple[int, str]:
    text = io.StringIO()
    code = export_command(ExportSettings(catalog="Sandbox", filters=filters or ExportFilters(),
                                         endpoint_url=url, read_tps=200.0),
                          out=out, quiet=True, stdout=text)
    return code, text.getvalue()


def _ids(path: Path) -> set[str]:
    return {r["Identifier"] for r in read_csv(path)}


@pytest.fixture
def seeded(emulator: Callable[..., Emulator]) -> tuple[Emulator, dict[str, Any]]:
    seed = generated(N, users=7)
    return emulator(seed, **fast()), seed


def test_each_filter_narrows_to_what_the_emulator_holds(
    seeded: tuple[Emulator, dict[str, Any]], tmp_path: Path
) -> None:
    emu, seed = seeded
    opps = _opps(seed)
    some = next(iter(opps.values()))
    since = "2024-09-01"
    cutoff = datetime(2024, 9, 1, tzinfo=UTC)
    ids_sheet = tmp_path / "chosen.csv"  # not an export's --out: that is never overwritten
    chosen = [*sorted(opps)[5:12], "O999999999"]  # one unknown: left out, named, exit 1
    ids_sheet.write_text("Opportunity Id\n" + "\n".join(chosen) + "\n", encoding="utf-8")
    cases = {
        "stage": (filters_from(owners=[], stages=[some["stage"].lower()], customers=[],
                               modified_since=None, ids=None),
                  {i for i, o in opps.items() if o["stage"] == some["stage"]}),
        "customer": (filters_from(owners=[], stages=[], customers=[some["company"].upper()],
                                  modified_since=None, ids=None),
                     {i for i, o in opps.items() if o["company"] == some["company"]}),
        "modified": (filters_from(owners=[], stages=[], customers=[], modified_since=since,
                                  ids=None),
                     {i for i, o in opps.items()
                      if datetime.fromisoformat(o["modified"].replace("Z", "+00:00"))
                      >= cutoff}),
        "owner": (filters_from(owners=["User2@Example.com"], stages=[], customers=[],
                               modified_since=None, ids=None),
                  {i for i, o in owners(emu.state()).items() if o == "user2@example.com"}),
        "ids": (filters_from(owners=[], stages=[], customers=[], modified_since=None,
                             ids=ids_sheet), set(sorted(opps)[5:12])),
    }
    for name, (filters, expected) in cases.items():
        assert 0 < len(expected) < N, name
        out = tmp_path / f"{name}.csv"
        code, text = _export(emu.url, out, filters)
        assert code == (1 if name == "ids" else 0), text
        assert _ids(out) == expected, name
    assert "do not exist in catalog Sandbox: O999999999" in text


def test_export_is_run_input_two_edits_cost_two_writes(
    seeded: tuple[Emulator, dict[str, Any]], tmp_path: Path
) -> None:
    emu, _ = seeded
    out = tmp_path / "owners.xlsx"
    code, text = _export(emu.url, out)
    assert code == 0 and "Export complete" in text
    assert not (tmp_path / "owners.xlsx.partial.jsonl").exists()
    before = owners(emu.state())
    book = openpyxl.load_workbook(out)
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header[:2] == ["Identifier", "Catalog"] and "Current Email" in header
    assert all(c.value is None or c.data_type == "s" for row in sheet.iter_rows() for c in row)
    email = header.index("Email") + 1
    moved = {}
    for row in (2, 3):
        ident = sheet.cell(row=row, column=1).value
        target = "user6@example.com" if before[ident] != "user6@example.com" \
            else "user5@example.com"
        sheet.cell(row=row, column=email).value = target
        moved[ident] = target
    book.save(out)
    table = read_table(out)
    assert table.columns["ExpectedOwner"] == "Current Email"  # the owner when exported
    assert validate(table, catalog="Sandbox").counts() == {"VALID": N}
    result = run(settings(out, emu.url, tmp_path / "run"))
    assert result.code == 0, result.stdout
    assert applied_writes(emu.state()) == dict.fromkeys(moved, 1)
    assert result.statuses() == {"SUCCEEDED": 2, "UNCHANGED": N - 2}
    after = owners(emu.state())
    assert {i: after[i] for i in moved} == moved


def test_csv_export_keeps_a_phone_and_no_owner_rows_blank(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    seed = generated(3, users=2)
    opps = _opps(seed)
    first, second, _ = sorted(opps)
    opps[first]["team"][0]["Phone"] = "+15550100199"
    opps[second]["team"] = []
    emu = emulator(seed, **fast())
    out = tmp_path / "owners.csv"
    assert _export(emu.url, out)[0] == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = {r["Identifier"]: r for r in read_csv(out)}
    assert rows[first]["Phone"] == "'+15550100199"  # formula-safe; the reader takes it back
    assert rows[second]["Email"] == rows[second]["Current Email"] == ""
    validation = validate(read_table(out), catalog="Sandbox")
    assert validation.values.at[2, "Phone"] == "+15550100199"
    assert validation.status.tolist().count("INVALID") == 1  # the opportunity with no owner


def test_interrupted_export_continues_without_reading_again(
    seeded: tuple[Emulator, dict[str, Any]], tmp_path: Path
) -> None:
    emu, _ = seeded
    emu.configure(reject_credentials_after=25)
    out = tmp_path / "owners.csv"
    code, text = _export(emu.url, out)
    assert code == 3, text
    assert not out.exists() and "Not complete" in text
    partial = tmp_path / "owners.csv.partial.jsonl"
    kept = len(partial.read_text(encoding="utf-8").splitlines())
    assert 10 <= kept <= 24
    emu.configure(reject_credentials_after=None)
    code, text = _export(emu.url, out)
    assert code == 0, text
    assert len(_ids(out)) == N and not partial.exists()
    gets = [c for c in calls(emu.state(), "GetOpportunity") if c["outcome"] == "ok"]
    assert len(gets) == N  # each opportunity read once over both invocations
    assert len({c["identifier"] for c in gets}) == N


def test_transfer_moves_exactly_the_from_owners_matching_and_rollback_restores(
    seeded: tuple[Emulator, dict[str, Any]], tmp_path: Path
) -> None:
    emu, seed = seeded
    opps = _opps(seed)
    before = owners(emu.state())
    stage = opps[sorted(opps)[3]]["stage"]
    expected = {i for i, o in opps.items() if before[i] == "user3@example.com"
                and o["stage"] == stage}
    assert expected and expected != {i for i, o in before.items() if o == "user3@example.com"}
    text = io.StringIO()
    folder = tmp_path / "transfer"
    export = ExportSettings(catalog="Sandbox", endpoint_url=emu.url, read_tps=200.0,
                            filters=ExportFilters(stages=(stage,)))
    code = transfer_command(
        export, settings(Path(), emu.url, folder), from_email="USER3@example.com",
        to=Contact("user4@example.com", "User", "Number4", "PartnerAccountManager"),
        quiet=True, stdout=text, stdin=io.StringIO(""))
    assert code == 0, text.getvalue()
    after = owners(emu.state())
    changed = {i for i in before if before[i] != after[i]}
    assert changed == expected
    assert {after[i] for i in changed} == {"user4@example.com"}
    assert set(applied_writes(emu.state())) == expected
    assert {r["Identifier"] for r in read_csv(folder / "input.csv")} == expected
    assert (folder / "journal.jsonl").exists() and (folder / "results.csv").exists()
    back = run(settings(folder / "rollback.csv", emu.url, tmp_path / "back"))
    assert back.code == 0, back.stdout
    assert owners(emu.state()) == before


def test_verify_finds_drift_and_names_the_row_never_sent(
    seeded: tuple[Emulator, dict[str, Any]], tmp_path: Path
) -> None:
    emu, seed = seeded
    ids = sorted(_opps(seed))[:4]
    sheet = tmp_path / "in.csv"
    lines = [f"{i},user5@example.com,User,Number5" for i in ids] + \
            ["O888888888,user5@example.com,User,Number5"]
    sheet.write_text("Identifier,Email,FirstName,LastName\n" + "\n".join(lines) + "\n",
                     encoding="utf-8")
    result = run(settings(sheet, emu.url, tmp_path / "run"))
    assert result.code == 1  # the unknown opportunity FAILED
    changed = [r["Identifier"] for r in result.results() if r["status"] == "SUCCEEDED"]
    assert changed
    text = io.StringIO()
    # The unknown opportunity FAILED: the run did not do all it meant to, no sign-off.
    assert verify_command(result.folder, stdout=text) == 1, text.getvalue()
    assert "NOT_SENT             1" in text.getvalue()
    client = boto3.client("partnercentral-selling", endpoint_url=emu.url,
                          region_name="us-east-1")
    client.assign_opportunity(Catalog="Sandbox", Identifier=changed[0], Assignee={
        "Email": "user6@example.com", "FirstName": "User", "LastName": "Number6",
        "BusinessTitle": "PartnerAccountManager"})
    assert cli.main(["verify", str(result.folder), "--all"]) == 1
    verdicts = {r["Identifier"]: r for r in read_csv(result.folder / "verify.csv")}
    assert verdicts[changed[0]]["verdict"] == "DRIFTED"
    assert verdicts[changed[0]]["owner now"] == "user6@example.com"
    assert verdicts["O888888888"]["verdict"] == "NOT_SENT"
    assert verdicts["O888888888"]["run status"] == "FAILED"
    assert verdicts["O888888888"]["error_class"] == "ResourceNotFoundException"
    assert {verdicts[i]["verdict"] for i in ids if i != changed[0]} == {"MATCH"}
    assert len(verdicts) == len(lines)
