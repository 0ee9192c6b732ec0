"""When a row's write counts: its `sending` line is on disk and its place in the budget taken
at the moment the pacing hook lets it leave, and a write stopped before that moment leaves no
line and gives its place back. A fake client stands in for boto3 and its hooks."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bulk_assign.quota.budget import WriteBudget, WriteGate
from bulk_assign.quota.flight import Outgoing
from bulk_assign.results import CallCounts, Contact, Job, Status
from bulk_assign.run.assigner import RowAssigner, _Row
from bulk_assign.run.guard import RunGuard
from bulk_assign.settings import RunSettings
from bulk_assign.stops import RunStopping
from bulk_assign.store.journal import Journal

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
JOB = Job(row=2, catalog="Sandbox", identifier="O1000000",
          assignee=Contact("ana@example.com", "Ana", "Lima", "PartnerAccountManager"))


class FakeClient:
    """AssignOpportunity as the paced client does it: the before-send hook (here
    `Outgoing.leaving`) runs, then the request leaves; or the hook's stop cancels it first."""

    def __init__(self, outgoing: Outgoing, journal: Path, *, stopped: bool = False) -> None:
        self._outgoing = outgoing
        self._journal = journal
        self._stopped = stopped
        self.lines_when_sent: list[int] = []

    def assign_opportunity(self, **_: Any) -> dict[str, Any]:
        if self._stopped:
            raise RunStopping  # the stop came while it queued for its slot
        self._outgoing.leaving()
        self.lines_when_sent.append(self._journal.read_text("utf-8").count('"sending"'))
        return {"ResponseMetadata": {"RequestId": "req-1"}}


def _no_wait(seconds: float) -> bool:
    raise AssertionError("the gate waited: a place in the budget was not given back")


def _assigner(tmp_path: Path, *, stopped: bool = False
              ) -> tuple[RowAssigner, FakeClient, WriteGate, Journal]:
    guard = RunGuard(quota_wait_seconds=600, access_denied_limit=3, outage_seconds=15)
    gate = WriteGate(guard=guard, budget=WriteBudget(5), window=None, wait=False,
                     now=lambda: NOW, sleep=_no_wait, local_tz=UTC)
    journal = Journal(tmp_path / "journal.jsonl")
    outgoing = Outgoing()
    client = FakeClient(outgoing, journal.path, stopped=stopped)
    settings = RunSettings(input_path=tmp_path / "in.csv", catalog="Sandbox", pre_read=False)
    assigner = RowAssigner(settings, client, journal, guard,  # type: ignore[arg-type]
                           calls=CallCounts(), on_write_success=lambda: None,
                           on_write_throttled=lambda *_, **__: None,
                           now_iso=lambda: "2026-03-02T12:00:00.000Z", sent_before={},
                           before_write=gate.before_write, outgoing=outgoing)
    return assigner, client, gate, journal


def test_a_write_is_in_the_journal_and_the_budget_before_it_leaves(tmp_path: Path) -> None:
    assigner, client, gate, journal = _assigner(tmp_path)
    outcome = assigner.assign(JOB)
    journal.close()
    assert outcome.status is Status.SUCCEEDED and outcome.attempts == 1
    assert client.lines_when_sent == [1]  # fsynced before the request left, for a kill -9
    assert gate.facts()["budget_used_last_24h"] == 1


def test_a_write_stopped_before_it_left_leaves_no_line_and_costs_no_budget(
    tmp_path: Path,
) -> None:
    assigner, client, gate, journal = _assigner(tmp_path, stopped=True)
    with pytest.raises(RunStopping):
        assigner._write_once(_Row(job=JOB))
    journal.close()
    assert client.lines_when_sent == []
    assert '"sending"' not in journal.path.read_text("utf-8")
    assert gate.facts()["budget_used_last_24h"] == 0
    for _ in range(5):  # its place was given back: the whole budget is still there
        gate.before_write().left()
