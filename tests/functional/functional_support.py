"""Helpers of the functional tests: the real tool and boto3 against the emulator over HTTP.

Every run here goes through the same code a user runs (`app.run_command`, `resume_command`,
`cli.main`, or `python -m bulk_assign` in a subprocess when a process must be killed or
signalled), and asserts on what a user sees: exit codes, results.csv, the terminal text, the
emulator's owners and its log of every call.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bulk_assign.commands import run as app
from bulk_assign.commands.resume import resume_command
from bulk_assign.emulator import generate_seed
from bulk_assign.settings import RunSettings

ROOT = Path(__file__).resolve().parents[2]
DEMO_INPUT = ROOT / "samples" / "realignment.csv"
DEMO_SEED = ROOT / "samples" / "seed.json"
KEY, SECRET = "test", "test"


# --- environment: the emulator's keys, never the machine's own AWS set-up ---------------------


def isolated_aws_env(
    base: dict[str, str], scratch: Path, *, secret: str = SECRET
) -> dict[str, str]:
    """`base` without any AWS_* variable, plus the emulator's keys and unreadable config files."""
    env = {k: v for k, v in base.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_CONFIG_FILE": str(scratch / "no-such-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-such-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    return env


# --- emulators --------------------------------------------------------------------------------


def fast(**overrides: Any) -> dict[str, Any]:
    """No per-second quota (daily caps still apply): a test that is not about pacing is
    neither slowed nor made flaky by a throttle that scheduling jitter caused."""
    config: dict[str, Any] = {"write_rate": None, "read_rate": None}
    config.update(overrides)
    return config


# --- running the tool -------------------------------------------------------------------------


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


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def journal_outcomes(folder: Path) -> int:
    path = folder / "journal.jsonl"
    if not path.exists():
        return 0
    return path.read_text(encoding="utf-8", errors="replace").count('"event": "outcome"')


# --- reading what the user gets ---------------------------------------------------------------


def read_results(folder: Path) -> list[dict[str, str]]:
    with (folder / "results.csv").open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def input_rows(path: Path) -> int:
    return len(read_csv(path))


def wanted_owners(path: Path) -> dict[str, str]:
    """Identifier -> assignee email, as the (generated) input file says."""
    return {r["Identifier"]: r["Email"].strip().lower() for r in read_csv(path)}


def owners(state: dict[str, Any], catalog: str = "Sandbox") -> dict[str, str | None]:
    return {
        opp: (member or {}).get("Email") for opp, member in state["owners"][catalog].items()
    }


def calls(state: dict[str, Any], operation: str, identifier: str | None = None
          ) -> list[dict[str, Any]]:
    return [
        c for c in state["calls"]
        if c["operation"] == operation and (identifier is None or c["identifier"] == identifier)
    ]


def applied_writes(state: dict[str, Any]) -> Counter[str]:
    """Identifier -> AssignOpportunity calls that changed the emulator's state."""
    return Counter(c["identifier"] for c in calls(state, "AssignOpportunity") if c["applied"])


def generated(n: int, **kwargs: Any) -> dict[str, Any]:
    return generate_seed(n, **kwargs)
