"""A run's invocations (the first `run` and each `resume`), kept in run.json, and the run-wide
figures summary.json reports from them: calls, time running, first start and last finish.

An invocation is recorded when it starts and completed when it ends; one killed with kill -9
stays without an end, and still counts as started: its writes are counted from the journal's
`sending` lines (one per write that left) between its start and the next invocation's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

CALL_KEYS = ("write", "read", "throttled_write", "throttled_read")


def started(record: dict[str, Any], *, command: str, at: str, **facts: Any) -> int:
    """Add an invocation to `record` (run.json's content); returns its index."""
    invocations = record.setdefault("invocations", [])
    invocations.append({"command": command, "started_at": at, "finished_at": None,
                        "exit_code": None, "running_seconds": None, "calls": None, **facts})
    return len(invocations) - 1


def finished(record: dict[str, Any], index: int, *, at: str, exit_code: int,
             running_seconds: float, calls: Mapping[str, int],
             outages: list[dict[str, Any]] | None = None) -> None:
    record["invocations"][index].update(
        finished_at=at, exit_code=exit_code, running_seconds=round(running_seconds, 3),
        calls={key: int(calls[key]) for key in CALL_KEYS}, outages=outages or [])


def totals(record: Mapping[str, Any], *, changed: int, unchanged: int,
           write_times: Sequence[float] = ()) -> dict[str, Any]:
    """The run-wide figures over every invocation recorded so far. `write_times`: the epoch
    seconds of the journal's `sending` lines, for the writes of an invocation that was killed
    before it could record its calls."""
    invocations = _with_killed_writes(list(record.get("invocations", [])), write_times)
    calls = {key: 0 for key in CALL_KEYS}
    for invocation in invocations:
        for key in CALL_KEYS:
            calls[key] += int((invocation.get("calls") or {}).get(key, 0))
    running = sum(float(i.get("running_seconds") or 0) for i in invocations)
    ends = [i["finished_at"] for i in invocations if i.get("finished_at")]
    return {
        "started_at": invocations[0]["started_at"] if invocations else None,
        "finished_at": max(ends) if ends else None,
        "wall_seconds": round(running, 3),
        "calls": {
            **calls,
            "throttled": calls["throttled_write"] + calls["throttled_read"],
            "changed": changed,
            "unchanged": unchanged,
            "writes_per_changed": round(calls["write"] / changed, 3) if changed else None,
        },
        "effective_writes_per_second": round(calls["write"] / running, 3) if running else None,
        "outages": [o for i in invocations for o in i.get("outages") or []],
        "invocations": invocations,
    }


def _with_killed_writes(invocations: list[dict[str, Any]], write_times: Sequence[float]
                        ) -> list[dict[str, Any]]:
    """Invocations killed before they recorded their calls get the journal's writes that no
    recorded invocation counted: all of them to a single killed one; several share them by
    their time spans (the last takes what the spans leave, as start times are whole seconds).
    """
    killed = [i for i, inv in enumerate(invocations) if inv.get("calls") is None]
    if not killed or not write_times:
        return invocations
    recorded = sum(int((inv.get("calls") or {}).get("write", 0)) for inv in invocations)
    left = max(0, len(write_times) - recorded)
    for index in killed:
        share = left if index == killed[-1] else min(
            left, _writes_during(invocations, index, write_times))
        left -= share
        invocations[index] = {**invocations[index], "calls": {"write": share}}
    return invocations


def _writes_during(invocations: list[dict[str, Any]], index: int,
                   write_times: Sequence[float]) -> int:
    """Writes the journal holds from invocation `index`'s start to the next one's."""
    begin = _epoch(invocations[index].get("started_at"))
    end = (_epoch(invocations[index + 1].get("started_at")) if index + 1 < len(invocations)
           else float("inf"))
    return sum(begin <= t < end for t in write_times)


def _epoch(text: Any) -> float:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return float("-inf")
