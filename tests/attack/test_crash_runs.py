"""kill -9 at random moments, of the run and of the resumes that follow it: no finished row is
lost, every opportunity ends as the file says, and none gets a second write once one landed
(the pre-read and the journal's `sending` marker settle a write that was in flight)."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.support.calls import applied_writes, no_write_after_an_applied_one, owners
from tests.support.emulators import generated, running_emulator
from tests.support.env import tool_env
from tests.support.inputs import write_input
from tests.support.journals import FINAL, journal_final_rows, journal_state
from tests.support.outputs import read_results, wanted_owners
from tests.support.runs import tool_process, wait_until

ROWS = 90
PACE = 20
KILLS = 4
FINISH_TIMEOUT = 60


def _kill_at_random_moment(proc: subprocess.Popen[bytes], emu_calls: Callable[[], int],
                           rng: random.Random, folder: Path) -> bool:
    """SIGKILL `proc` 0.3-1.5 s after it made its first call with its run folder made (the
    look-back's read comes before it: a kill then leaves nothing to resume); False if it
    ended first."""
    before = emu_calls()
    wait_until(lambda: (emu_calls() > before and (folder / "run.json").exists())
               or proc.poll() is not None, timeout=30, what="the tool's first call")
    deadline = time.monotonic() + rng.uniform(0.3, 1.5)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    return True


def test_kill_9_run_and_resumes_at_random_moments_loses_nothing_and_writes_once(
    tmp_path: Path,
) -> None:
    rng = random.Random(20240607)
    source = write_input(tmp_path / "in.csv", ROWS, in_place_every=5)
    folder = tmp_path / "run"
    env = tool_env(tmp_path)
    with running_emulator(
        generated(ROWS), write_rate=PACE, write_burst=1, read_rate=None,
        latency_ms=20.0, jitter_ms=10.0, reset_rate=0.03, random_seed=5,
    ) as emu:
        def count() -> int:
            return len(emu.state()["calls"])

        commands = [["run", str(source), "--catalog", "Sandbox", "--out", str(folder),
                     "--endpoint-url", emu.url, "--max-tps", str(PACE), "--quiet"]]
        commands += [["resume", str(folder), "--quiet"]] * KILLS
        finished_before_kill: dict[int, str] = {}
        kills = 0
        for i, args in enumerate(commands):
            log = tmp_path / f"tool-{i}.log"
            proc = tool_process(args, env, log)
            if i < KILLS and _kill_at_random_moment(proc, count, rng, folder):
                kills += 1
                # What the journal holds at the kill must survive everything that follows.
                finished_before_kill.update(journal_final_rows(folder))
            else:
                code = proc.wait(timeout=FINISH_TIMEOUT)
                assert code == 0, log.read_text(errors="replace")
                break
        state = emu.state()

    assert kills >= 2, "the run finished before most kills: give it more rows"
    assert finished_before_kill, "no row had finished before any kill"

    rows = read_results(folder)
    assert len(rows) == ROWS
    assert [int(r["row"]) for r in rows] == list(range(2, ROWS + 2))
    assert {r["status"] for r in rows} <= FINAL, [
        (r["row"], r["status"], r["error_class"]) for r in rows if r["status"] not in FINAL]
    by_row = {int(r["row"]): r["status"] for r in rows}
    assert {row: by_row[row] for row in finished_before_kill} == finished_before_kill

    wanted = wanted_owners(source)
    now = owners(state)
    assert {opp: now[opp] for opp in wanted} == wanted
    applied = applied_writes(state)
    assert max(applied.values()) == 1, applied.most_common(3)
    assert no_write_after_an_applied_one(state) == {}
    # Every row the journal ever recorded as finished ends with a final outcome too.
    journalled = set(journal_state(folder).outcomes)
    assert journalled == set(range(2, ROWS + 2))
