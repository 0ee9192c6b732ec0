"""What the emulator's state says: its log of every call, the owners, the writes that landed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def calls(state: dict[str, Any], operation: str, identifier: str | None = None
          ) -> list[dict[str, Any]]:
    return [
        c for c in state["calls"]
        if c["operation"] == operation and (identifier is None or c["identifier"] == identifier)
    ]


def owners(state: dict[str, Any], catalog: str = "Sandbox") -> dict[str, str | None]:
    return {
        opp: (member or {}).get("Email") for opp, member in state["owners"][catalog].items()
    }


def applied_writes(state: dict[str, Any]) -> Counter[str]:
    """Identifier -> AssignOpportunity calls that changed the emulator's state."""
    return Counter(c["identifier"] for c in calls(state, "AssignOpportunity") if c["applied"])


def write_calls_by_identifier(state: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Identifier -> its AssignOpportunity calls, in the order the emulator saw them."""
    out: dict[str, list[dict[str, Any]]] = {}
    for call in calls(state, "AssignOpportunity"):
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


def write_figures(calls_: Sequence[dict[str, Any]], *, access_key: str = "test") -> CallFigures:
    writes = [c for c in calls_ if c["operation"] == "AssignOpportunity"
              and c.get("access_key", access_key) == access_key]
    ok = [c for c in writes if c["outcome"] not in ("ThrottlingException",)]
    times = [c["t"] for c in ok] or [0.0]
    return CallFigures(writes=len(writes), accepted=len(ok), throttled=len(writes) - len(ok),
                       first=min(times), last=max(times))
