"""Shared pieces of the benchmarks: an emulator in its own process, inputs, call-log figures."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_ID = 1_000_000
USERS = 50
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


@contextmanager
def emulator_process(*options: str) -> Iterator[str]:
    """`python -m bulk_assign.emulator --port 0 OPTIONS` on its own core; yields its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bulk_assign.emulator", "--port", "0", *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if "http://" not in first:
            detail = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"emulator did not start: {first}{detail}")
        yield first.strip().split()[-1]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def state(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/_emulator/state", timeout=10) as response:
        data: dict[str, Any] = json.load(response)
    return data


def post(url: str, path: str, body: dict[str, Any] | None = None) -> None:
    request = urllib.request.Request(
        f"{url}{path}", data=json.dumps(body or {}).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def assignee_for(i: int, *, in_place: bool) -> int:
    """Generated opportunity i is owned by user i % USERS; move it to the next user."""
    return i % USERS if in_place else (i + 1) % USERS


def write_input(path: Path, rows: int, *, in_place_every: int = 0, start: int = START_ID,
                duplicates_every: int = 0) -> Path:
    """An input file over the generated seed: row i reassigns O{start+i}.

    `in_place_every=2`: every second row names the current owner (UNCHANGED with the pre-read).
    `duplicates_every=k`: after every k-th row, a repeat of it (DUPLICATE).
    """
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["Identifier", "Email", "FirstName", "LastName", "Territory"])
        for i in range(rows):
            in_place = bool(in_place_every) and i % in_place_every == 0
            k = assignee_for(i, in_place=in_place)
            line = [f"O{start + i}", f"user{k}@example.com", "User", f"Number{k}", f"T{i % 7}"]
            out.writerow(line)
            if duplicates_every and i % duplicates_every == 0:
                out.writerow(line)
    return path


@dataclass(frozen=True)
class CallFigures:
    """What the emulator saw of one client's AssignOpportunity calls."""

    writes: int
    accepted: int
    throttled: int
    first: float
    last: float

    @property
    def throttled_share(self) -> float:
        return self.throttled / self.writes if self.writes else 0.0

    def ratio_to_limit(self, rate: float) -> float:
        """Wall from first to last accepted write against (N-1)/Q, the physical minimum."""
        if self.accepted < 2:
            return float("nan")
        return (self.last - self.first) / ((self.accepted - 1) / rate)


def write_figures(calls: Sequence[dict[str, Any]], *, access_key: str = "test") -> CallFigures:
    writes = [c for c in calls if c["operation"] == "AssignOpportunity"
              and c.get("access_key", access_key) == access_key]
    ok = [c for c in writes if c["outcome"] not in ("ThrottlingException",)]
    throttled = len(writes) - len(ok)
    times = [c["t"] for c in ok] or [0.0]
    return CallFigures(writes=len(writes), accepted=len(ok), throttled=throttled,
                       first=min(times), last=max(times))


def tool_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(CREDENTIALS)
    return env
