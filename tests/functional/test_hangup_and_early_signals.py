"""A closed terminal (SIGHUP) stops a run as Ctrl-C does, and a SIGTERM in the first moments
of the process never leaves a half-written run folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bulk_assign.commands import run as app
from bulk_assign.emulator import Emulator
from bulk_assign.run.guard import RunGuard
from tests.support.calls import applied_writes
from tests.support.emulators import fast, generated
from tests.support.inputs import write_input
from tests.support.journals import journal_outcomes
from tests.support.outputs import read_csv, read_results, wanted_owners
from tests.support.runs import (
    resume,
    run,
    run_process,
    settings,
    stop_once_rows_finish,
    wait_until,
)


def _wait(proc: subprocess.Popen[bytes], *, timeout: float = 30) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


def test_sighup_mid_run_writes_every_file_and_resume_finishes(
    emulator: Callable[..., Emulator], tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    emu = emulator(generated(40), write_rate=10.0, read_rate=100.0, read_burst=10)
    source = write_input(tmp_path / "in.csv", 40)
    folder = tmp_path / "run"
    output = tmp_path / "run.out"
    proc = run_process(source, emu.url, folder, "--max-tps", "10", env=subprocess_env,
                       log=output)
    code = stop_once_rows_finish(proc, folder, rows=6, sig=signal.SIGHUP)
    text = output.read_text(encoding="utf-8", errors="replace")
    assert code == 130, text
    results = read_results(folder)
    assert len(results) == 40
    skipped = [r for r in results if r["status"] == "SKIPPED"]
    assert skipped, "the run stopped before the end"
    assert {r["error_class"] for r in skipped} == {"Interrupted"}
    assert {r["status"] for r in results} == {"SUCCEEDED", "SKIPPED"}
    assert len(read_csv(folder / "failed.csv")) == len(skipped)
    assert (folder / "summary.json").exists()
    assert f"bulk-assign resume {folder}" in text

    again = resume(folder)
    assert again.code == 0
    assert {r["status"] for r in read_results(folder)} == {"SUCCEEDED"}
    applied = applied_writes(emu.state())
    assert set(applied) == set(wanted_owners(source)) and set(applied.values()) == {1}


@pytest.mark.parametrize("delay", [0.0, 0.15, 0.3, 0.5, 0.8])
def test_sigterm_right_at_start_leaves_no_half_written_folder(
    delay: float, emulator: Callable[..., Emulator], tmp_path: Path,
    subprocess_env: dict[str, str],
) -> None:
    emu = emulator(generated(10), **fast())
    source = write_input(tmp_path / "in.csv", 10)
    folder = tmp_path / "run"
    output = tmp_path / "run.out"
    proc = run_process(source, emu.url, folder, "--max-tps", "2", env=subprocess_env,
                       log=output)
    try:
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        code = _wait(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = output.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in text, text
    if code == -signal.SIGTERM:
        # Killed before Python ran any of our code (exit 143 in a shell): nothing written.
        assert not folder.exists(), text
        assert emu.state()["calls"] == []
    else:
        assert code == 130, text
        _complete_or_reusable(folder)
    # Whatever the moment, the folder does not stand in the way of the run it was meant for...
    if not (folder / "journal.jsonl").exists():
        again = run(settings(source, emu.url, folder))
    else:  # ...or it is a stopped run that resume finishes.
        again = resume(folder)
    assert again.code == 0, again.stdout
    assert {r["status"] for r in read_results(folder)} == {"SUCCEEDED"}
    assert set(applied_writes(emu.state()).values()) == {1}


def _complete_or_reusable(folder: Path) -> None:
    """No folder; an empty one or one with only run.json (a plain run may use it); or a run
    stopped cleanly with every file written."""
    if not folder.exists():
        return
    files = {p.name for p in folder.iterdir()} - {".lock", "run.lock"}
    if files <= {"run.json", "run.log"}:
        return
    assert {"run.json", "journal.jsonl", "results.csv", "summary.json"} <= files, files
    assert not any(name.endswith(".tmp") for name in files), files
    results = read_results(folder)
    assert len(results) == 10
    assert {r["status"] for r in results} <= {"SUCCEEDED", "UNCHANGED", "SKIPPED"}
    assert {r["error_class"] for r in results if r["status"] == "SKIPPED"} <= {"Interrupted"}


#: Run as `python -c`: sends the process SIGTERM as the import of MODULE starts (a C
#: extension's initialisation or a dataclass being built is where it used to land), then says
#: whether the import went on, and runs the tool as `python -m bulk_assign` does.
_SIGNAL_DURING_IMPORT = """
import os, signal, sys
MODULE, SIGNAL = sys.argv[1], getattr(signal, sys.argv[2])
class Trip:
    def find_spec(self, name, path=None, target=None):
        if name == MODULE:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), SIGNAL)
            for _ in range(100_000):  # the handler runs here, between bytecodes
                pass
            print("the import went on", flush=True)
        return None
sys.meta_path.insert(0, Trip())
del sys.argv[1:3]
from bulk_assign.__main__ import entry
raise SystemExit(entry())
"""


@pytest.mark.parametrize(("module", "sig"), [
    ("bulk_assign.report.files", "SIGTERM"), ("openpyxl", "SIGHUP"),
    ("bulk_assign.emulator", "SIGINT"),
])
def test_a_signal_during_the_imports_is_noted_and_acted_on_once_they_are_done(
    module: str, sig: str, emulator: Callable[..., Emulator], tmp_path: Path,
    subprocess_env: dict[str, str],
) -> None:
    """Raised inside an import, a KeyboardInterrupt could be swallowed by the module being
    initialised (the run then went on and sent every row) or end the process with SIGINT
    (exit -2) however it was handled. It is noted, and interrupts once the imports are done:
    exit 130, no folder, no call."""
    emu = emulator(generated(10), **fast())
    source = write_input(tmp_path / "in.csv", 10)
    folder = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-c", _SIGNAL_DURING_IMPORT, module, sig, "run", str(source),
         "--catalog", "Sandbox", "--endpoint-url", emu.url, "--out", str(folder), "--quiet"],
        env=subprocess_env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
        timeout=60, check=False)
    text = done.stdout + done.stderr
    assert "the import went on" in text, text
    assert done.returncode == 130, text
    assert "bulk-assign: interrupted" in text and "Traceback" not in text, text
    assert not folder.exists()
    assert emu.state()["calls"] == []


def test_a_signal_while_the_guards_lock_is_held_still_stops_the_run_with_130(
    emulator: Callable[..., Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The handler runs in the main thread whatever that thread holds: it records the stop
    without the guard's lock, so the run stops at once even while the lock is taken."""
    emu = emulator(generated(30), **fast())
    source = write_input(tmp_path / "in.csv", 30)
    folder = tmp_path / "run"
    guards: list[RunGuard] = []

    def capture(*args: Any, **kwargs: Any) -> RunGuard:
        guards.append(real_run_guard(*args, **kwargs))
        return guards[-1]

    real_run_guard = app.run_guard
    monkeypatch.setattr(app, "run_guard", capture)
    seen: list[bool] = []

    def hold_the_lock_and_signal() -> None:
        wait_until(lambda: journal_outcomes(folder) >= 3, timeout=30,
                   what="the run to finish some rows")
        guard = guards[0]
        with guard._lock:
            os.kill(os.getpid(), signal.SIGINT)
            deadline = time.monotonic() + 2.0
            while not guard.stopping and time.monotonic() < deadline:
                time.sleep(0.01)
            seen.append(guard.stopping)

    helper = threading.Thread(target=hold_the_lock_and_signal, daemon=True)
    helper.start()
    result = run(settings(source, emu.url, folder, max_tps=10.0))
    helper.join(10)
    assert seen == [True], "the stop waited for the guard's lock"
    assert result.code == 130, result.stdout
    statuses = {(r["status"], r["error_class"]) for r in result.results()}
    assert ("SKIPPED", "Interrupted") in statuses
    assert statuses <= {("SUCCEEDED", ""), ("SKIPPED", "Interrupted")}
    assert "stop: Interrupted: interrupted by SIGINT" in (folder / "run.log").read_text("utf-8")
