"""Issue 23 against the emulator: `transfer` and `export` take effect as their options say
(budget, window, filters, hidden rows, --out) and leave no person in the run folder's .lock.

What is checked is what the emulator saw (`GET /_emulator/state`) and what the user gets.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bulk_assign import cli
from bulk_assign.commands import run as app
from bulk_assign.commands.export import ExportSettings, export_command, filters_from
from bulk_assign.emulator import Emulator
from bulk_assign.errors import UsageError
from bulk_assign.run.exporter import PartialFile, partial_path
from tests.support.calls import calls, owners
from tests.support.emulators import fast, generated
from tests.support.outputs import read_csv, read_results
from tests.support.runs import tool_process, wait_until
from tests.support.workbooks import workbook

FROM, TO = "user2@example.com", "user3@example.com"


def _transfer_args(emu: Emulator, folder: Path, *more: str) -> list[str]:
    return ["transfer", "--catalog", "Sandbox", "--from", FROM, "--to", TO,
            "--first-name", "User", "--last-name", "Number3", "--out", str(folder),
            "--endpoint-url", emu.url, "--yes", "--quiet", "--max-tps", "40",
            "--read-tps", "200", "--lookback", "0", *more]


def _theirs(emu: Emulator) -> list[str]:
    return sorted(i for i, o in owners(emu.state()).items() if o == FROM)


@pytest.fixture
def emu(emulator: Callable[..., Emulator]) -> Emulator:
    return emulator(generated(40, users=5), **fast())


def test_transfer_daily_budget_writes_exactly_that_many_and_stops(
    emu: Emulator, tmp_path: Path
) -> None:
    theirs = _theirs(emu)
    assert len(theirs) > 4
    folder = tmp_path / "t"
    assert cli.main(_transfer_args(emu, folder, "--daily-budget", "4")) == 3
    writes = calls(emu.state(), "AssignOpportunity")
    assert len(writes) == 4
    results = read_results(folder)
    assert sorted(r["status"] for r in results) == sorted(
        ["SUCCEEDED"] * 4 + ["SKIPPED"] * (len(theirs) - 4))
    assert {r["error_class"] for r in results if r["status"] == "SKIPPED"} == {"BudgetSpent"}
    record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    assert record["settings"]["daily_budget"] == 4


def test_transfer_dry_run_exports_and_plans_and_writes_nothing(
    emu: Emulator, tmp_path: Path
) -> None:
    folder = tmp_path / "t"
    assert cli.main(_transfer_args(emu, folder, "--dry-run", "--share", "0.5", "--window",
                                   "22:00-06:00", "--wait", "--account-tps", "2",
                                   "--timeout", "12", "--workers", "3")) == 0
    assert calls(emu.state(), "AssignOpportunity") == []
    assert {r["status"] for r in read_results(folder)} == {"DRY_RUN"}
    assert len(read_results(folder)) == len(_theirs(emu))
    recorded = json.loads((folder / "run.json").read_text(encoding="utf-8"))["settings"]
    assert {k: recorded[k] for k in ("dry_run", "share", "window", "wait", "account_tps",
                                     "read_timeout", "workers", "max_tps", "read_tps",
                                     "lookback_seconds")} == {
        "dry_run": True, "share": 0.5, "window": "22:00-06:00", "wait": True,
        "account_tps": 2.0, "read_timeout": 12.0, "workers": 3, "max_tps": 40.0,
        "read_tps": 200.0, "lookback_seconds": 0.0}


def test_a_stopped_transfer_export_continues_with_its_own_out(
    emu: Emulator, tmp_path: Path
) -> None:
    folder = tmp_path / "t"
    emu.configure(reject_credentials_after=10)
    assert cli.main(_transfer_args(emu, folder)) == 3
    assert not (folder / "input.csv").exists()
    emu.configure(reject_credentials_after=None)
    assert cli.main(_transfer_args(emu, folder)) == 0
    gets = [c for c in calls(emu.state(), "GetOpportunity") if c["outcome"] == "ok"]
    assert len({c["identifier"] for c in gets}) == 40
    assert {r["status"] for r in read_results(folder)} == {"SUCCEEDED"}


def test_transfer_with_an_empty_filter_is_refused_before_any_call(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "t"
    with pytest.raises(SystemExit) as refused:
        cli.main(_transfer_args(emu, folder, "--customer", ""))
    assert refused.value.code == 2
    assert "--customer: is empty" in capsys.readouterr().err
    assert emu.state()["calls"] == []
    assert not folder.exists()


def test_transfer_ids_with_a_hidden_row_leaves_that_opportunity_alone(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, hidden, third = _theirs(emu)[:3]
    ids = workbook(tmp_path / "ids.xlsx", [["Identifier"], [first], [hidden], [third]],
                   filtered_rows=[3])
    before = owners(emu.state())
    assert cli.main(_transfer_args(emu, tmp_path / "refused", "--ids", str(ids))) == 2
    message = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--hidden-rows" in message and "row 3" in message
    assert emu.state()["calls"] == []

    code = cli.main(_transfer_args(emu, tmp_path / "t", "--ids", str(ids),
                                   "--hidden-rows", "skip"))
    assert code == 0
    after = owners(emu.state())
    assert after[hidden] == before[hidden] == FROM
    assert (after[first], after[third]) == (TO, TO)
    assert calls(emu.state(), "GetOpportunity", hidden) == []
    assert {i for i, o in after.items() if o != before[i]} == {first, third}


def test_export_ids_follows_the_hidden_rows_rule(emu: Emulator, tmp_path: Path) -> None:
    first, hidden = sorted(owners(emu.state()))[:2]
    ids = workbook(tmp_path / "ids.xlsx", [["Identifier"], [first], [hidden]], hidden_rows=[3])
    out = tmp_path / "out.csv"
    assert cli.main(["export", "--catalog", "Sandbox", "--out", str(out), "--ids", str(ids),
                     "--endpoint-url", emu.url, "--quiet"]) == 2
    assert emu.state()["calls"] == [] and not out.exists()
    assert cli.main(["export", "--catalog", "Sandbox", "--out", str(out), "--ids", str(ids),
                     "--hidden-rows", "send", "--endpoint-url", emu.url, "--quiet"]) == 0
    assert {r["Identifier"] for r in read_csv(out)} == {first, hidden}


def _export(emu: Emulator, out: Path, *, force: bool = False, stage: str | None = None
            ) -> tuple[int, str]:
    text = io.StringIO()
    filters = filters_from(owners=[], stages=[stage] if stage else [], customers=[],
                           modified_since=None, ids=None)
    try:
        code = export_command(ExportSettings(catalog="Sandbox", endpoint_url=emu.url,
                                             read_tps=200.0, filters=filters),
                              out=out, force=force, quiet=True, stdout=text)
    except UsageError as exc:
        return exc.exit_code, exc.message
    return code, text.getvalue()


def test_export_over_an_edited_file_is_refused_and_force_replaces_it(
    emu: Emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "owners.csv"
    argv = ["export", "--catalog", "Sandbox", "--out", str(out), "--stage", "Prospect",
            "--endpoint-url", emu.url, "--quiet"]
    assert cli.main(argv) == 0
    edited = out.read_bytes().replace(b"@example.com", b"@example.org", 1)
    out.write_bytes(edited)
    seen = len(emu.state()["calls"])
    capsys.readouterr()
    assert cli.main(argv) == 2
    message = capsys.readouterr().err.strip().splitlines()
    assert len(message) == 1 and "--force" in message[0] and "already exists" in message[0]
    assert out.read_bytes() == edited
    assert len(emu.state()["calls"]) == seen  # refused before any call
    assert cli.main([*argv, "--force"]) == 0
    assert b"@example.org" not in out.read_bytes()  # the service's owners again


def test_export_continues_its_own_unfinished_output_and_spares_another_export_s_reads(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "owners.csv"
    partial = partial_path(out)
    # An export of one stage stops half way: its reads are kept in the partial file.
    emu.configure(reject_credentials_after=5)
    assert _export(emu, out, stage="Prospect")[0] == 3
    theirs = partial.read_text(encoding="utf-8").splitlines()
    assert theirs and not out.exists()
    emu.configure(reject_credentials_after=None)
    # Another export (every stage) into the same file completes: the stopped one's reads stay.
    assert _export(emu, out)[0] == 0
    assert partial.read_text(encoding="utf-8").splitlines() == theirs
    # ...and the file it wrote is not the stopped export's to replace.
    assert _export(emu, out, stage="Prospect")[0] == 2
    out.unlink()

    # Killed between writing its output and dropping its reads: the same export goes on over
    # its own output without --force.
    with monkeypatch.context() as killed:
        killed.setattr(PartialFile, "remove", lambda self: self.close())
        assert _export(emu, out, stage="Prospect")[0] == 0
    assert out.exists() and partial.exists()
    assert _export(emu, out, stage="Prospect")[0] == 0
    assert not partial.exists()
    assert _export(emu, out, stage="Prospect")[0] == 2  # complete now: never overwritten


def test_transfer_waits_for_its_window_writing_nothing_and_ctrl_c_exits_130(
    emu: Emulator, tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    folder = tmp_path / "t"
    opens = datetime.now() + timedelta(hours=2)
    window = f"{opens:%H:%M}-{opens + timedelta(hours=1):%H:%M}"
    log = tmp_path / "transfer.log"
    args = _transfer_args(emu, folder, "--window", window)
    proc = tool_process(args, subprocess_env, log)
    try:
        wait_until(lambda: '"cause": "window"' in _read(folder / "status.json"), timeout=30,
                   what="the transfer to wait for its window")
        lock = _read(folder / ".lock")
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    except (subprocess.TimeoutExpired, AssertionError):
        proc.kill()
        proc.wait()
        raise
    assert code == 130, log.read_text(errors="replace")
    assert calls(emu.state(), "AssignOpportunity") == []
    assert {(r["status"], r["error_class"]) for r in read_results(folder)} == {
        ("SKIPPED", "Interrupted")}
    _assert_names_nobody(lock)


def test_the_lock_of_a_running_transfer_names_nobody(
    emu: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "t"
    args = [*_transfer_args(emu, folder), "--phone", "+15550100199"]
    monkeypatch.setattr(sys, "argv", ["bulk-assign", *args])
    seen: list[str] = []
    real = app.execute

    def spy(*a: Any, **kw: Any) -> int:
        seen.append((folder / ".lock").read_text(encoding="utf-8"))
        return real(*a, **kw)

    monkeypatch.setattr(app, "execute", spy)
    assert cli.main(args) == 0
    assert len(seen) == 1
    held = json.loads(seen[0])
    assert held["pid"] == os.getpid() and held["command"].startswith("bulk-assign transfer")
    _assert_names_nobody(seen[0])


def _assert_names_nobody(lock: str) -> None:
    assert "--from … --to …" in json.loads(lock)["command"]
    for personal in ("@", "user2", "user3", "User", "Number3", "5550100199"):
        assert personal not in lock, personal


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""
