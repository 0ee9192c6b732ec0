"""Runs that must stop (credentials, daily quota, production without confirmation) stop cleanly
and say how to go on; resume sends exactly what is left."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bulk_assign import cli
from bulk_assign.emulator import Emulator
from tests.support.calls import applied_writes, owners
from tests.support.emulators import fast, generated
from tests.support.inputs import write_input
from tests.support.outputs import read_results, wanted_owners
from tests.support.runs import resume, run, settings


def test_rejected_credentials_abort_at_once(
    emulator: Callable[..., Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    emu = emulator(generated(20), **fast())
    source = write_input(tmp_path / "in.csv", 20)
    result = run(settings(source, emu.url, tmp_path / "run"))
    assert result.code == 3
    # The look-back's one ListOpportunities is refused too; then at most a few calls.
    seen = [c for c in emu.state()["calls"] if c["operation"] != "ListOpportunities"]
    assert 1 <= len(seen) <= 3
    assert {c["outcome"] for c in seen} == {"InvalidSignatureException"}
    assert {(r["status"], r["error_class"]) for r in result.results()} == {("SKIPPED", "Aborted")}
    assert "InvalidSignatureException" in result.stdout
    assert "access keys" in result.stdout or "aws sso login" in result.stdout
    assert f"bulk-assign resume {result.folder}" in result.stdout
    _names_the_real_folder(result.folder)


def _names_the_real_folder(folder: Path) -> None:
    """No placeholder reaches a file: summary.json and run.log name the run folder itself."""
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["stop"]["resume"] == f"bulk-assign resume {folder}"
    for name in ("summary.json", "run.log"):
        assert "RUN_DIR" not in (folder / name).read_text(encoding="utf-8"), name


def test_credentials_expiring_mid_run_abort_then_resume_finishes(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(30), **fast(reject_credentials_after=20))
    source = write_input(tmp_path / "in.csv", 30)
    first = run(settings(source, emu.url, tmp_path / "run", max_tps=20.0))
    assert first.code == 3
    statuses = first.statuses()
    assert statuses["SUCCEEDED"] >= 1
    assert statuses["SUCCEEDED"] + statuses["SKIPPED"] == 30, statuses
    assert {r["error_class"] for r in first.results() if r["status"] == "SKIPPED"} == {"Aborted"}
    assert "bulk-assign resume" in first.stdout

    emu.configure(reject_credentials_after=None)
    again = resume(first.folder)
    assert again.code == 0
    assert {r["status"] for r in read_results(first.folder)} == {"SUCCEEDED"}
    state = emu.state()
    assert {k: owners(state)[k] for k in wanted_owners(source)} == wanted_owners(source)
    assert max(applied_writes(state).values()) == 1


def test_spent_daily_quota_stops_with_quota_exhausted(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(15), **fast(write_daily_cap=5))
    source = write_input(tmp_path / "in.csv", 15)
    result = run(settings(source, emu.url, tmp_path / "run", quota_wait_seconds=2.0))
    assert result.code == 3
    rows = result.results()
    assert sum(r["status"] == "SUCCEEDED" for r in rows) == 5
    assert {(r["status"], r["error_class"]) for r in rows if r["status"] != "SUCCEEDED"} == {
        ("SKIPPED", "QuotaExhausted")}
    assert "quota" in result.stdout
    # It says when the quota frees up again.
    assert re.search(r"resume (after|in|tomorrow)\b", result.stdout, re.IGNORECASE), result.stdout
    assert f"bulk-assign resume {result.folder}" in result.stdout
    _names_the_real_folder(result.folder)


def _cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no terminal to confirm on
    return cli.main(argv)


def test_production_needs_yes_without_a_terminal(
    emulator: Callable[..., Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu = emulator(generated(5, catalog="AWS"), **fast())
    source = write_input(tmp_path / "in.csv", 5)
    argv = ["run", str(source), "--catalog", "AWS", "--endpoint-url", emu.url,
            "--max-tps", "20", "--quiet"]
    assert _cli([*argv, "--out", str(tmp_path / "refused")], monkeypatch) == 2
    err = capsys.readouterr().err
    assert "--yes" in err and "Nothing was sent" in err
    assert emu.state()["calls"] == []

    assert _cli([*argv, "--out", str(tmp_path / "confirmed"), "--yes"], monkeypatch) == 0
    assert {r["status"] for r in read_results(tmp_path / "confirmed")} == {"SUCCEEDED"}
    assert {k: owners(emu.state(), "AWS")[k] for k in wanted_owners(source)} == wanted_owners(
        source)


def test_resume_of_a_finished_run_sends_nothing_and_refuses_a_changed_file(
    emulator: Callable[..., Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu = emulator(generated(8), **fast())
    source = write_input(tmp_path / "in.csv", 8, in_place_every=4)
    first = run(settings(source, emu.url, tmp_path / "run"))
    assert first.code == 0
    before = read_results(first.folder)
    calls_before = len(emu.state()["calls"])

    assert _cli(["resume", str(first.folder), "--quiet"], monkeypatch) == 0
    assert len(emu.state()["calls"]) == calls_before
    after = read_results(first.folder)
    keep = ("row", "status", "error_class", "attempts", "request_id", "Identifier")
    assert [{k: r[k] for k in keep} for r in after] == [{k: r[k] for k in keep} for r in before]

    with source.open("a", encoding="utf-8") as fh:
        fh.write("O1000007,user1@example.com,User,Number1,T0\n")
    capsys.readouterr()
    assert _cli(["resume", str(first.folder), "--quiet"], monkeypatch) == 2
    err = capsys.readouterr().err
    assert "changed" in err and str(source) in err
    assert len(emu.state()["calls"]) == calls_before
