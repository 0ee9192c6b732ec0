"""A run remembers where it went: the endpoint from AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING is
recorded, a resume goes there without the variable, an override is shown and recorded, and a
resume pointed at a service that has none of the opportunities stops before any row is final."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bulk_assign import cli
from bulk_assign.emulator import Emulator
from tests.support.calls import applied_writes, calls, owners
from tests.support.emulators import fast, generated
from tests.support.inputs import write_input
from tests.support.outputs import read_results, wanted_owners

ROWS = 12
VARIABLE = "AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING"


def _cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    return cli.main(argv)


def _record(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    return data


def test_the_endpoint_from_the_environment_is_kept_and_a_wrong_one_changes_nothing(
    emulator: Callable[..., Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu = emulator(generated(ROWS), **fast(reject_credentials_after=ROWS))
    empty = emulator(generated(0), **fast())  # a service without any of the opportunities
    source = write_input(tmp_path / "in.csv", ROWS)
    folder = tmp_path / "run"
    monkeypatch.setenv(VARIABLE, emu.url)
    assert _cli(["run", str(source), "--catalog", "Sandbox", "--out", str(folder),
                 "--max-tps", "40", "--quiet"], monkeypatch) == 3  # credentials "expired"
    record = _record(folder)
    assert record["settings"]["endpoint_url"] == emu.url
    assert record["sources"]["endpoint_url"] == VARIABLE
    left = [r["Identifier"] for r in read_results(folder) if r["status"] == "SKIPPED"]
    assert left
    emu.configure(reject_credentials_after=None)
    monkeypatch.delenv(VARIABLE)
    calls_before = len(emu.state()["calls"])

    # Told to go elsewhere: the plan says so, the probe finds nothing, no row becomes final.
    capsys.readouterr()
    assert _cli(["resume", str(folder), "--endpoint-url", empty.url, "--quiet"],
                monkeypatch) == 3
    said = capsys.readouterr()
    assert f"endpoint_url changed from {emu.url} to {empty.url}" in said.out + said.err
    assert len(emu.state()["calls"]) == calls_before
    elsewhere = empty.state()["calls"]
    # Reads only: the look-back's page and the first rows' pre-reads, no write.
    assert elsewhere and {c["operation"] for c in elsewhere} <= {"GetOpportunity",
                                                                 "ListOpportunities"}
    assert sum(c["operation"] == "GetOpportunity" for c in elsewhere) <= 3  # the probe's
    rows = {r["Identifier"]: r for r in read_results(folder)}
    assert {(rows[i]["status"], rows[i]["error_class"]) for i in left} == {("SKIPPED", "Aborted")}
    assert not any(r["status"] == "FAILED" for r in rows.values())
    override = _record(folder)["invocations"][-1]
    assert override["command"] == "resume" and override["exit_code"] == 3
    assert override["endpoint"] == empty.url
    assert override["overrides"] == {"endpoint_url": empty.url}
    assert _record(folder)["settings"]["endpoint_url"] == emu.url  # the run's own stays

    # A plain resume, without the variable: back to the run's own endpoint, and it finishes.
    assert _cli(["resume", str(folder), "--quiet"], monkeypatch) == 0
    state = emu.state()
    assert {r["status"] for r in read_results(folder)} == {"SUCCEEDED"}
    assert {k: owners(state)[k] for k in wanted_owners(source)} == wanted_owners(source)
    assert set(applied_writes(state).values()) == {1}
    assert {c["identifier"] for c in calls(state, "AssignOpportunity")
            if c["applied"]} == set(wanted_owners(source))
    assert _record(folder)["invocations"][-1]["endpoint"] == emu.url
    assert len(empty.state()["calls"]) == len(elsewhere)


def test_a_bad_profile_leaves_a_folder_a_plain_run_may_use(
    emulator: Callable[..., Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu = emulator(generated(5), **fast())
    source = write_input(tmp_path / "in.csv", 5)
    folder = tmp_path / "run"
    argv = ["run", str(source), "--catalog", "Sandbox", "--endpoint-url", emu.url,
            "--out", str(folder), "--max-tps", "40", "--quiet"]
    assert _cli([*argv, "--profile", "nosuch"], monkeypatch) == 2
    err = capsys.readouterr().err
    assert "'nosuch' not found" in err and "Traceback" not in err
    assert emu.state()["calls"] == []
    assert not (folder / "run.json").exists() or not (folder / "journal.jsonl").exists()

    assert _cli(argv, monkeypatch) == 0
    assert {r["status"] for r in read_results(folder)} == {"SUCCEEDED"}
    assert _record(folder)["settings"]["profile"] is None
    assert {k: owners(emu.state())[k] for k in wanted_owners(source)} == wanted_owners(source)
