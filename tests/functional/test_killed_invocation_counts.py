"""summary.json after a kill -9 (issue 24): the killed invocation never recorded its calls,
but its writes are in the journal, so the run's write count and writes per changed
opportunity match what the service saw."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path

from bulk_assign.emulator import Emulator, generate_seed
from tests.support.calls import calls
from tests.support.inputs import write_input
from tests.support.journals import journal_outcomes
from tests.support.runs import resume, tool_process, wait_until

WORKERS = 2


def test_writes_of_a_killed_invocation_still_count(
    emulator: Callable[..., Emulator], tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    emu = emulator(generate_seed(40), write_rate=20.0, read_rate=100.0, read_burst=10)
    source = write_input(tmp_path / "in.csv", 40)
    folder = tmp_path / "run"
    proc = tool_process(
        ["run", str(source), "--catalog", "Sandbox", "--endpoint-url", emu.url,
         "--out", str(folder), "--max-tps", "10", "--workers", str(WORKERS), "--share", "1",
         "--quiet"], subprocess_env, tmp_path / "run.out")
    try:
        wait_until(lambda: journal_outcomes(folder) >= 15, timeout=30, what="some rows")
        proc.kill()
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    again = resume(folder)
    assert again.code == 0, again.stdout
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    seen = len(calls(emu.state(), "AssignOpportunity"))
    # A write whose `sending` line was on disk may not have left when the process died: at
    # most one per worker is counted that the service never saw.
    assert seen <= summary["calls"]["write"] <= seen + WORKERS, (seen, summary["calls"])
    assert summary["invocations"][0]["calls"]["write"] >= 15
