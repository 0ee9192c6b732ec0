"""The pre-read: no write for a row already in place, an undo file that really undoes, and the
call counts in summary.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bulk_assign.emulator import Emulator
from tests.support.calls import applied_writes, calls
from tests.support.emulators import fast, generated
from tests.support.inputs import write_input
from tests.support.outputs import read_csv
from tests.support.runs import run, settings


def _summary(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return data


def test_rows_already_in_place_cost_no_write_and_a_rerun_costs_none(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(20), **fast())
    source = write_input(tmp_path / "in.csv", 20, in_place_every=2)
    in_place = {r["Identifier"] for i, r in enumerate(read_csv(source)) if i % 2 == 0}
    result = run(settings(source, emu.url, tmp_path / "run"))
    assert result.code == 0
    rows = {r["Identifier"]: r for r in result.results()}
    assert {k for k, r in rows.items() if r["status"] == "UNCHANGED"} == in_place
    assert {r["status"] for k, r in rows.items() if k not in in_place} == {"SUCCEEDED"}
    state = emu.state()
    assert all(calls(state, "AssignOpportunity", k) == [] for k in in_place)
    assert applied_writes(state) == {k: 1 for k in rows if k not in in_place}

    summary = _summary(result.folder)
    assert summary["calls"]["write"] == 10
    assert summary["calls"]["read"] == 20
    assert summary["calls"]["writes_per_changed"] == 1.0
    assert summary["by_status"] == {"UNCHANGED": 10, "SUCCEEDED": 10}

    writes_before = len(calls(state, "AssignOpportunity"))
    rerun = run(settings(source, emu.url, tmp_path / "rerun"))
    assert rerun.code == 0
    assert rerun.statuses() == {"UNCHANGED": 20}
    assert len(calls(emu.state(), "AssignOpportunity")) == writes_before
    assert _summary(rerun.folder)["calls"]["write"] == 0


def test_rollback_file_restores_every_previous_owner(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(12), **fast())
    before = emu.state()["owners"]["Sandbox"]
    source = write_input(tmp_path / "in.csv", 12, in_place_every=3)
    result = run(settings(source, emu.url, tmp_path / "run"))
    assert result.code == 0
    changed = emu.state()["owners"]["Sandbox"]
    assert changed != before
    rollback = result.folder / "rollback.csv"
    assert len(read_csv(rollback)) == 8  # only the rows that changed

    undo = run(settings(rollback, emu.url, tmp_path / "undo"))
    assert undo.code == 0
    assert undo.statuses() == {"SUCCEEDED": 8}
    assert emu.state()["owners"]["Sandbox"] == before


def test_no_snapshot_makes_no_read(emulator: Callable[..., Emulator], tmp_path: Path) -> None:
    emu = emulator(generated(6), **fast())
    source = write_input(tmp_path / "in.csv", 6)
    result = run(settings(source, emu.url, tmp_path / "run", pre_read=False))
    assert result.code == 0
    assert result.statuses() == {"SUCCEEDED": 6}
    state = emu.state()
    assert calls(state, "GetOpportunity") == []
    assert len(calls(state, "AssignOpportunity")) == 6
    summary = _summary(result.folder)
    assert summary["calls"]["read"] == 0
    assert summary["calls"]["write"] == 6
    assert not (result.folder / "rollback.csv").exists()
    assert len(summary["not_undoable"]) == 6
