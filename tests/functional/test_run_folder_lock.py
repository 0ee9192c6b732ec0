"""One process per run folder, against the emulator: a second resume is refused at once with zero
calls while the first goes on, no opportunity is written twice, and a run killed with -9 leaves
no lock in the way of its resume. Every file of a run folder is private whatever the umask."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bulk_assign.commands import run as app
from bulk_assign.commands.resume import resume_command
from bulk_assign.commands.validate import validate_command
from bulk_assign.emulator import Emulator
from bulk_assign.errors import UsageError
from bulk_assign.store.runlock import LOCK_FILE, lock_holder
from tests.support.calls import applied_writes, owners
from tests.support.emulators import fast, generated
from tests.support.inputs import write_input
from tests.support.journals import journal_outcomes
from tests.support.outputs import read_results, wanted_owners
from tests.support.runs import (
    resume,
    run,
    run_process,
    settings,
    tool_process,
    wait_until,
)

ROWS = 80
PACE = 10  # writes/s: the resume below stays in flight for several seconds
FINAL = {"SUCCEEDED", "UNCHANGED"}


def _wait(proc: subprocess.Popen[bytes], log: Path, *, timeout: float = 90) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(log.read_text(errors="replace")) from None


def _assert_all_done_once(emu: Emulator, folder: Path, source: Path) -> None:
    rows = read_results(folder)
    assert len(rows) == ROWS and {r["status"] for r in rows} <= FINAL, {
        (r["status"], r["error_class"]) for r in rows}
    state = emu.state()
    wanted = wanted_owners(source)
    assert {k: owners(state)[k] for k in wanted} == wanted
    applied = applied_writes(state)
    assert max(applied.values()) == 1, applied.most_common(3)


def test_a_second_resume_is_refused_at_once_while_the_first_goes_on(
    emulator: Callable[..., Emulator], tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    emu = emulator(generated(ROWS), **fast(reject_credentials_after=8))
    other = emulator(generated(ROWS), **fast())  # the one the refused resumes are pointed at
    source = write_input(tmp_path / "in.csv", ROWS, in_place_every=10)
    folder = tmp_path / "run"
    assert run(settings(source, emu.url, folder, max_tps=PACE)).code == 3  # credentials expired
    emu.configure(reject_credentials_after=None)
    before = len(emu.state()["calls"])

    first_log = tmp_path / "first.log"
    first = tool_process(["resume", str(folder), "--quiet"], subprocess_env, first_log)
    try:
        wait_until(lambda: len(emu.state()["calls"]) > before + 3 or first.poll() is not None,
                   timeout=60, what="the first resume's calls")
        assert first.poll() is None, first_log.read_text(errors="replace")
        # Each call now takes a second: the first resume stays in flight however slowly a busy
        # machine starts the second process below.
        emu.configure(latency_ms=1000.0)
        holder = lock_holder(folder)
        assert holder is not None and holder.pid == first.pid

        # In this process: refused within a second, naming the holder, before any call.
        t0 = time.monotonic()
        with pytest.raises(UsageError) as refused:
            resume_command(folder, endpoint_url=other.url, quiet=True)
        assert time.monotonic() - t0 < 1.0
        message = refused.value.message
        assert f"pid {first.pid} on {socket.gethostname()}" in message
        assert "bulk-assign resume … --quiet" in message  # no value that may name a person
        assert f"since {holder.since}" in message

        # A new run into that folder is refused too, naming the same holder.
        with pytest.raises(UsageError, match=f"in use by pid {first.pid} on "):
            app.run_command(settings(source, other.url, folder), quiet=True)

        # As a user types it in a second terminal: exit 2 while the first still runs.
        second_log = tmp_path / "second.log"
        second = tool_process(["resume", str(folder), "--quiet", "--endpoint-url", other.url],
                              subprocess_env, second_log)
        assert _wait(second, second_log, timeout=30) == 2
        assert first.poll() is None, "the second resume waited for the first to end"
        said = second_log.read_text(errors="replace")
        assert f"is in use by pid {first.pid}" in said and "Nothing was sent" in said
        assert other.state()["calls"] == []

        emu.configure(latency_ms=0.0)
        assert _wait(first, first_log) == 0, first_log.read_text(errors="replace")
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=10)
    _assert_all_done_once(emu, folder, source)
    assert lock_holder(folder) is None


def test_a_run_killed_with_9_is_resumed_at_once(
    emulator: Callable[..., Emulator], tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    emu = emulator(generated(ROWS), **fast())
    source = write_input(tmp_path / "in.csv", ROWS)
    folder = tmp_path / "run"
    log = tmp_path / "run.out"
    killed = run_process(source, emu.url, folder, "--max-tps", str(PACE), env=subprocess_env,
                         log=log)
    try:
        wait_until(lambda: journal_outcomes(folder) >= 5 or killed.poll() is not None,
                   timeout=60, what="the run's first outcomes")
        assert killed.poll() is None, log.read_text(errors="replace")
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=10)
    finally:
        if killed.poll() is None:
            killed.kill()
            killed.wait(timeout=10)
    # The lock file still names the dead process; the lock died with it.
    assert f'"pid": {killed.pid}' in (folder / LOCK_FILE).read_text()
    t0 = time.monotonic()
    again = resume(folder)
    assert again.code == 0, again.stdout
    assert "in use" not in again.stdout
    assert time.monotonic() - t0 < 60
    _assert_all_done_once(emu, folder, source)


RUN_FILES = {".lock", "run.json", "journal.jsonl", "run.log", "results.csv", "failed.csv",
             "rollback.csv", "summary.json", "status.json"}


def _modes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()}


def test_a_run_folder_and_all_its_files_are_private(
    umask: int, emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(10), **fast())
    source = write_input(tmp_path / "in.csv", 12)  # the last two name no opportunity: FAILED
    folder = tmp_path / "runs" / "one"
    first = run(settings(source, emu.url, folder))
    assert first.code == 1
    assert first.statuses() == {"SUCCEEDED": 10, "FAILED": 2}
    assert (folder.stat().st_mode & 0o777) == 0o700
    assert _modes(folder) == dict.fromkeys(RUN_FILES, 0o600)
    # A resume rewrites them all: still private.
    assert resume(folder).code == 1
    assert _modes(folder) == dict.fromkeys(RUN_FILES, 0o600)
    assert (folder.stat().st_mode & 0o777) == 0o700


def test_an_existing_out_folder_keeps_its_mode_and_its_files_are_private(
    umask: int, emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(5), **fast())
    source = write_input(tmp_path / "in.csv", 5)
    folder = tmp_path / "team"
    folder.mkdir()
    os.chmod(folder, 0o750)
    assert run(settings(source, emu.url, folder)).code == 0
    assert (folder.stat().st_mode & 0o777) == 0o750
    assert set(_modes(folder).values()) == {0o600}


def test_validate_writes_a_private_folder(umask: int, tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.csv", 3)
    folder = tmp_path / "checked"
    assert validate_command(input_path=source, catalog="Sandbox", out=folder,
                                stdout=io.StringIO()) == 0
    assert (folder.stat().st_mode & 0o777) == 0o700
    assert _modes(folder) == {"results.csv": 0o600, "summary.json": 0o600}
