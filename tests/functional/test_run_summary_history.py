"""summary.json describes the whole run across its invocations: a resume adds to the first run's
calls and changes instead of replacing them, and lists every invocation."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bulk_assign.emulator import Emulator
from tests.support.calls import calls
from tests.support.emulators import fast, generated
from tests.support.inputs import write_input
from tests.support.runs import resume, run, settings

ROWS = 14


def _summary(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return data


def test_summary_counts_the_whole_run_across_resumes(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    # Every row is read before it is written: after ROWS + ROWS/2 accepted calls some writes
    # went, whatever the timing (after ROWS calls the reads alone could use them all up).
    emu = emulator(generated(ROWS), **fast(reject_credentials_after=ROWS + ROWS // 2))
    source = write_input(tmp_path / "in.csv", ROWS, in_place_every=7)  # 2 rows already in place
    first = run(settings(source, emu.url, tmp_path / "run"))
    assert first.code == 3
    after_first = _summary(first.folder)
    first_writes = len(calls(emu.state(), "AssignOpportunity"))
    assert after_first["calls"]["write"] == first_writes > 0

    emu.configure(reject_credentials_after=None)
    assert resume(first.folder).code == 0
    state = emu.state()
    summary = _summary(first.folder)
    writes, reads = len(calls(state, "AssignOpportunity")), len(calls(state, "GetOpportunity"))
    assert writes > first_writes
    assert summary["calls"]["write"] == writes and summary["calls"]["read"] == reads
    assert summary["calls"]["changed"] == ROWS - 2
    assert summary["calls"]["unchanged"] == 2
    assert summary["calls"]["writes_per_changed"] == round(writes / (ROWS - 2), 3)
    assert summary["started_at"] == after_first["started_at"]
    assert summary["finished_at"] >= after_first["finished_at"]
    invocations = summary["invocations"]
    assert [(i["command"], i["exit_code"]) for i in invocations] == [("run", 3), ("resume", 0)]
    assert sum(i["calls"]["write"] for i in invocations) == writes
    assert sum(i["calls"]["read"] for i in invocations) == reads
    assert invocations[0]["started_at"] == summary["started_at"]
    assert all(i["finished_at"] >= i["started_at"] for i in invocations)
    assert summary["wall_seconds"] >= sum(i["running_seconds"] for i in invocations) - 0.01

    # A resume of the finished run sends nothing and still reports the run's writes.
    again = resume(first.folder)
    assert again.code == 0
    assert len(emu.state()["calls"]) == len(state["calls"])
    final = _summary(first.folder)
    assert final["calls"]["write"] == writes
    assert final["calls"]["changed"] == ROWS - 2
    assert final["started_at"] == after_first["started_at"]
    assert [(i["command"], i["exit_code"]) for i in final["invocations"]] == [
        ("run", 3), ("resume", 0), ("resume", 0)]
    assert final["invocations"][-1]["calls"]["write"] == 0
    assert f"Writes used: {writes}" in again.stdout
