"""Helpers of the attack runs: the functional helpers, plus what faults, kills and privacy need.

The functional helpers (tests/functional/functional_support.py) are reused as they are; their
folder is put on sys.path here because tests/attack has no conftest of its own.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FUNCTIONAL = Path(__file__).resolve().parents[1] / "functional"
if str(FUNCTIONAL) not in sys.path:
    sys.path.insert(0, str(FUNCTIONAL))

import functional_support as fs  # noqa: E402

from bulk_assign.emulator import Emulator, EmulatorConfig  # noqa: E402

#: Statuses a row keeps for good once the journal holds them.
FINAL = frozenset({"SUCCEEDED", "UNCHANGED"})


@contextmanager
def emulator(seed: Any, **config: Any) -> Iterator[Emulator]:
    """An in-process emulator on a free port, stopped after the block."""
    with Emulator(EmulatorConfig(**config), seed=seed) as emu:
        yield emu


def tool_env(scratch: Path, *, key: str = fs.KEY, secret: str = fs.SECRET) -> dict[str, str]:
    """The environment of a `python -m bulk_assign` subprocess: only the given keys."""
    env = fs.isolated_aws_env(dict(os.environ), scratch, secret=secret)
    env["AWS_ACCESS_KEY_ID"] = key
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(fs.ROOT), os.environ.get("PYTHONPATH")]))
    return env


def isolate_aws_env(monkeypatch: Any, scratch: Path) -> None:
    """In-process runs see only the emulator's keys, never the machine's AWS set-up."""
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in fs.isolated_aws_env({}, scratch).items():
        monkeypatch.setenv(name, value)


def journal_records(folder: Path) -> list[dict[str, Any]]:
    """Every whole line of journal.jsonl (a line a kill -9 cut short is left out)."""
    path = folder / "journal.jsonl"
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


def journal_final_rows(folder: Path) -> dict[int, str]:
    """row -> status of the rows whose last journalled outcome is SUCCEEDED or UNCHANGED."""
    last: dict[int, str] = {}
    for record in journal_records(folder):
        if record.get("event") == "outcome":
            last[int(record["row"])] = str(record["status"])
    return {row: status for row, status in last.items() if status in FINAL}


def write_calls_by_identifier(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Identifier -> its AssignOpportunity calls, in the order the emulator saw them."""
    out: dict[str, list[dict[str, Any]]] = {}
    for call in fs.calls(state, "AssignOpportunity"):
        out.setdefault(call["identifier"], []).append(call)
    return out


def no_write_after_an_applied_one(state: dict[str, Any]) -> dict[str, list[str]]:
    """Identifiers that got another write after one had landed: {identifier: outcomes}.

    A write that landed but whose answer was lost (reset, slow) must be settled by a re-read,
    never by a second write, whatever that second write's fate.
    """
    wasted = {}
    for identifier, writes in write_calls_by_identifier(state).items():
        landed = [i for i, c in enumerate(writes) if c["applied"]]
        if landed and landed[0] < len(writes) - 1:
            wasted[identifier] = [str(c["outcome"]) for c in writes]
    return wasted
