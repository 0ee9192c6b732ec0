"""Running the tool as a user does: `run` and `resume` in-process (the same code the CLI calls),
`python -m bulk_assign` in a fresh interpreter when a process must be killed or signalled, and
`validate` offline.

Every run asserts on what a user sees: exit codes, results.csv, the terminal text, the
emulator's owners and its log of every call.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from bulk_assign.commands import run as app
from bulk_assign.commands.resume import resume_command
from bulk_assign.commands.validate import validate_command
from bulk_assign.settings import RunSettings
from tests.support.env import ROOT
from tests.support.journals import journal_outcomes
from tests.support.outputs import read_results, read_results_frame


@dataclass
class Run:
    code: int
    stdout: str
    folder: Path

    def results(self) -> list[dict[str, str]]:
        return read_results(self.folder)

    def by_row(self) -> dict[int, dict[str, str]]:
        return {int(r["row"]): r for r in self.results()}

    def statuses(self) -> Counter[str]:
        return Counter(r["status"] for r in self.results())


def settings(input_path: Path, url: str, out: Path, **overrides: Any) -> RunSettings:
    """Sandbox settings against `url`, paced fast enough for a short test."""
    values: dict[str, Any] = {
        "input_path": input_path, "catalog": "Sandbox", "out_dir": out, "endpoint_url": url,
        "max_tps": 40.0, "read_tps": 100.0,
    }
    values.update(overrides)
    return RunSettings(**values)


def run(settings_: RunSettings, **kwargs: Any) -> Run:
    """`bulk-assign run` in-process; returns the exit code, the terminal text and the folder."""
    out = io.StringIO()
    code = app.run_command(settings_, quiet=True, stdout=out, stdin=io.StringIO(""), **kwargs)
    assert settings_.out_dir is not None
    return Run(code=code, stdout=out.getvalue(), folder=settings_.out_dir)


def resume(folder: Path, **kwargs: Any) -> Run:
    out = io.StringIO()
    code = resume_command(folder, quiet=True, stdout=out, stdin=io.StringIO(""), **kwargs)
    return Run(code=code, stdout=out.getvalue(), folder=folder)


def tool_process(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`python -m bulk_assign ARGS` with its output going to `log`."""
    with log.open("wb") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "bulk_assign", *args], cwd=ROOT, env=env,
            stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
        )


def run_process(source: Path, url: str, folder: Path, *options: str, env: dict[str, str],
                log: Path) -> subprocess.Popen[bytes]:
    """`bulk-assign run SOURCE --catalog Sandbox` against `url` into `folder`, quiet, in its own
    process (as an analyst starts it from a shell), for a test that signals or kills it."""
    return tool_process(["run", str(source), "--catalog", "Sandbox", "--endpoint-url", url,
                         "--out", str(folder), *options, "--quiet"], env, log)


def stop_once_rows_finish(proc: subprocess.Popen[bytes], folder: Path, *, rows: int,
                          sig: int, timeout: float = 30) -> int:
    """Send `sig` to a running `proc` once the journal of `folder` holds `rows` outcomes;
    returns its exit code (killed and failed if it hangs)."""
    try:
        wait_until(lambda: journal_outcomes(folder) >= rows, timeout=timeout,
                   what="the run to finish some rows")
        proc.send_signal(sig)
        return proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def run_cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`python -m bulk_assign ARGS` in a fresh interpreter, as an analyst would run it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "bulk_assign", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=60, check=False,
    )


def run_validate(
    path: Path, out: Path, *, catalog: str | None = None, sheet: str | None = None
) -> tuple[int, pd.DataFrame, str]:
    """Run `validate_command` and return (exit code, results.csv as text cells, stdout)."""
    stdout = io.StringIO()
    code = validate_command(
        input_path=path, catalog=catalog, sheet=sheet, out=out, stdout=stdout
    )
    return code, read_results_frame(out / "results.csv"), stdout.getvalue()


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll `predicate` every 20 ms; fail after `timeout` seconds (a bound for a hung run, not a
    figure: a loaded machine takes longer, never a test's result)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
