"""Sharing the account's quota, end to end: the look-back, the daily budget across resumes, a
window's wait that Ctrl-C ends, and `status` beside a run."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from bulk_assign.commands.status import status_command
from bulk_assign.emulator import Emulator
from bulk_assign.quota.budget import AGE_MARGIN, DAY
from tests.support.calls import calls
from tests.support.emulators import fast, generated
from tests.support.env import KEY, SECRET
from tests.support.inputs import write_input
from tests.support.outputs import read_results
from tests.support.runs import (
    resume,
    run,
    run_process,
    settings,
    tool_process,
    wait_until,
)


def _summary(folder: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return data


class _Crm:
    """Another writer of the account, through its own boto3 client."""

    def __init__(self, url: str) -> None:
        self._api = boto3.client("partnercentral-selling", endpoint_url=url,
                                 region_name="us-east-1", aws_access_key_id=KEY,
                                 aws_secret_access_key=SECRET)

    def writes(self, identifier: str) -> None:
        self._api.assign_opportunity(Catalog="Sandbox", Identifier=identifier, Assignee={
            "Email": "user1@example.com", "FirstName": "U", "LastName": "One",
            "BusinessTitle": "PartnerAccountManager"})


def _during(folder: Path) -> dict[str, Any]:
    """summary.json's word on what the live look-back measured during the run."""
    quota = _summary(folder)["quota_use"]
    assert isinstance(quota, dict)
    during: dict[str, Any] = quota["other_writers_during_run"]
    return during


def _status(folder: Path) -> str:
    out = io.StringIO()
    assert status_command(folder, stdout=out) == 0
    return out.getvalue()


def _age_the_journal(folder: Path, hours: float | None = None, *,
                     first_ages_out_in: float | None = None) -> None:
    """As if the run's writes had left `hours` earlier: a day passes without waiting for it.
    Or shifted so that the first of them leaves the budget's 24 h (and its margin)
    `first_ages_out_in` seconds from now: a wait measured from now, which does not shrink by
    however long a busy machine took between the write and this call."""
    path = folder / "journal.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    sent = [r for r in records if r.get("event") == "sending"]
    times = [datetime.fromisoformat(r["at"].replace("Z", "+00:00")) for r in sent]
    if first_ages_out_in is not None:
        due = datetime.now(UTC) + timedelta(seconds=first_ages_out_in - DAY - AGE_MARGIN)
        shift = min(times) - due
    else:
        assert hours is not None
        shift = timedelta(hours=hours)
    for record, at in zip(sent, times, strict=True):
        record["at"] = (at - shift).isoformat()
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def test_a_spent_budget_stops_resumes_refuse_until_the_writes_age_out(
    emulator: Callable[..., Emulator], tmp_path: Path,
) -> None:
    emu = emulator(generated(10), **fast())
    source = write_input(tmp_path / "in.csv", 8)
    first = run(settings(source, emu.url, tmp_path / "run", daily_budget=5, workers=1))
    assert first.code == 3
    assert first.statuses() == {"SUCCEEDED": 5, "SKIPPED": 3}
    assert {r["error_class"] for r in first.results() if r["status"] == "SKIPPED"} == {
        "BudgetSpent"}
    assert "daily budget of 5 writes" in first.stdout
    assert "The next write is allowed at" in first.stdout and "--wait" in first.stdout
    quota = _summary(first.folder)["quota_use"]
    assert isinstance(quota, dict)
    assert quota["daily_budget"] == 5 and quota["peak_writes_in_24h"] == 5
    assert "Rows left to send: 3" in _status(first.folder)
    assert "5 SUCCEEDED" in _status(first.folder)

    writes = len(calls(emu.state(), "AssignOpportunity"))
    again = resume(first.folder)  # the same day: the journal's writes still count
    assert again.code == 3
    assert len(calls(emu.state(), "AssignOpportunity")) == writes
    assert again.statuses() == {"SUCCEEDED": 5, "SKIPPED": 3}

    _age_the_journal(first.folder, hours=25)
    later = resume(first.folder)
    assert later.code == 0, later.stdout
    assert later.statuses() == {"SUCCEEDED": 8}
    assert len(calls(emu.state(), "AssignOpportunity")) == writes + 3


def test_with_wait_a_run_meets_its_budget_and_goes_on(
    emulator: Callable[..., Emulator], tmp_path: Path,
) -> None:
    """A budget spent by an earlier invocation a day ago ages out while the run waits."""
    emu = emulator(generated(10), **fast())
    source = write_input(tmp_path / "in.csv", 6)
    first = run(settings(source, emu.url, tmp_path / "run", daily_budget=3, workers=1))
    assert first.code == 3
    # The first of the three writes leaves the last 24 h (+ the margin) 6 s from now: the
    # resume waits for it (a busy machine took over 2.5 s to reach the resume's first write).
    _age_the_journal(first.folder, first_ages_out_in=6.0)
    later = resume(first.folder, wait=True)
    assert later.code == 0, later.stdout
    assert later.statuses() == {"SUCCEEDED": 6}
    quota = _summary(first.folder)["quota_use"]
    assert isinstance(quota, dict)
    waited = quota["waited_seconds"]
    assert isinstance(waited, dict) and 0.5 < waited["budget"] < 10
    assert "waiting for the budget until" in (first.folder / "run.log").read_text("utf-8")


def test_the_look_back_sees_the_other_writers_and_the_plan_leaves_them_room(
    emulator: Callable[..., Emulator], tmp_path: Path,
) -> None:
    emu = emulator(generated(60), **fast())
    crm = _Crm(emu.url)
    for i in range(30, 42):  # a CRM wrote 12 opportunities in the last minute
        crm.writes(f"O10000{i}")
    source = write_input(tmp_path / "in.csv", 4)
    # An hour's look-back: their 12 writes of the last seconds are a writer at work now, not
    # 12 writes an hour. Measured from the first of them, never over less than 15 s.
    result = run(settings(source, emu.url, tmp_path / "run", max_tps=10.0, account_tps=10.0,
                          lookback_seconds=3600))
    assert result.code == 0
    assert ("Other writers on the account: 0.8 writes/s, measured over the last 15 s (12 "
            "writes in the 1 h look-back), 12 opportunities changed in the last 24 h"
            ) in result.stdout
    quota = _summary(result.folder)["quota_use"]
    assert isinstance(quota, dict)
    assert quota["planned_pace"] == pytest.approx(10.0 - 0.8 - 0.3)  # their 0.8/s, a margin
    assert quota["other_writers"]["measured_over_seconds"] == 15.0
    # ...and it starts at half the quota, climbing as writes go through.
    assert "starts at 5/s and climbs" in result.stdout
    assert "During the run: looks at the others again about every 6 s" in result.stdout
    listed = calls(emu.state(), "ListOpportunities")
    assert len(listed) == 1  # the run took less than 6 s: no live look yet

    rerun = run(settings(source, emu.url, tmp_path / "rerun", max_tps=1.0, lookback_seconds=60,
                         share=1.0))
    assert "--share" in rerun.stdout and len(calls(emu.state(), "ListOpportunities")) == 1


@pytest.fixture
def quick_looks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The live look-back at a test's time scale: a look every 0.3 s (not every 5 s at these
    quotas), at most every 0.1 s, a rate measured over at least 1 s (not 15 s)."""
    monkeypatch.setattr("bulk_assign.quota.sharing.look_every", lambda quota: 0.3)
    monkeypatch.setattr("bulk_assign.quota.lookback.LOOK_MIN_SECONDS", 0.1)
    monkeypatch.setattr("bulk_assign.quota.lookback.MIN_SPAN_SECONDS", 1.0)


def _crm_writes(url: str, stop: threading.Event, *, after: float, every: float) -> None:
    """Another writer of the account: from `after` seconds on, a write every `every` s."""
    crm = _Crm(url)
    i = 300
    if stop.wait(after):
        return
    while not stop.wait(every):
        crm.writes(f"O{1000000 + i}")
        i += 1


@pytest.mark.usefixtures("quick_looks")
def test_a_writer_that_starts_mid_run_is_measured_and_the_pace_makes_room(
    emulator: Callable[..., Emulator], tmp_path: Path,
) -> None:
    emu = emulator(generated(600), **fast())
    source = write_input(tmp_path / "in.csv", 80)
    stop = threading.Event()
    crm = threading.Thread(target=_crm_writes, args=(emu.url, stop),
                           kwargs={"after": 1.0, "every": 0.1})
    crm.start()
    try:
        result = run(settings(source, emu.url, tmp_path / "run", max_tps=20.0,
                              account_tps=20.0))
    finally:
        stop.set()
        crm.join(timeout=10)
    assert result.code == 0, result.stdout
    assert result.statuses() == {"SUCCEEDED": 80}
    during = _during(result.folder)
    rates = [m["writes_per_second"] for m in during["measured"]]
    assert during["looks"] >= 3 and during["failed"] == 0
    # The CRM's 10 writes/s at most (never our own 20/s), seen once it writes.
    assert 3.0 <= max(rates) <= 12.0, rates
    log = (result.folder / "run.log").read_text(encoding="utf-8")
    assert "the others write" in log and "the pace may reach" in log
    assert "Other writers during the last invocation (writes/s" in _status(result.folder)


@pytest.mark.usefixtures("quick_looks")
def test_a_run_alone_never_takes_its_own_writes_for_another_writer(
    emulator: Callable[..., Emulator], tmp_path: Path,
) -> None:
    emu = emulator(generated(60), **fast())
    source = write_input(tmp_path / "in.csv", 50)
    result = run(settings(source, emu.url, tmp_path / "run", max_tps=20.0, account_tps=20.0))
    assert result.code == 0, result.stdout
    during = _during(result.folder)
    assert during["looks"] >= 3, during
    assert {m["writes_per_second"] for m in during["measured"]} == {0.0}
    assert len(calls(emu.state(), "ListOpportunities")) == 1 + during["pages_read"]


def test_ctrl_c_while_waiting_for_the_window_exits_130_and_resume_continues(
    emulator: Callable[..., Emulator], tmp_path: Path, subprocess_env: dict[str, str],
) -> None:
    emu = emulator(generated(10), **fast())
    source = write_input(tmp_path / "in.csv", 5)
    folder = tmp_path / "run"
    opens = datetime.now() + timedelta(hours=2)
    window = f"{opens:%H:%M}-{opens + timedelta(hours=1):%H:%M}"
    output = tmp_path / "run.out"
    proc = run_process(source, emu.url, folder, "--max-tps", "20", "--window", window,
                       env=subprocess_env, log=output)
    try:
        wait_until(lambda: '"cause": "window"' in _read(folder / "status.json"), timeout=30,
                   what="the run to wait for its window")
        seen = _status(folder)
        assert "State: running" in seen and "Waiting for the window until" in seen
        assert f"{opens:%H:%M}" in seen and "Rows left to send: 5" in seen
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    text = output.read_text(encoding="utf-8", errors="replace")
    assert code == 130, text
    assert {(r["status"], r["error_class"]) for r in read_results(folder)} == {
        ("SKIPPED", "Interrupted")}
    assert calls(emu.state(), "AssignOpportunity") == []
    assert "waiting for the window until" in (folder / "run.log").read_text("utf-8")

    record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    record["settings"]["window"] = None  # the team widened the window: resume goes on
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")
    later = resume(folder)
    assert later.code == 0 and later.statuses() == {"SUCCEEDED": 5}
    assert "State: finished" in _status(folder)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _sending_lines(folder: Path) -> int:
    text = (folder / "journal.jsonl").read_text(encoding="utf-8")
    return text.count('"event": "sending"')


def _writes_agree(folder: Path, emu: Emulator) -> int:
    """The service's count of AssignOpportunity calls, which the journal's `sending` lines, the
    summary's writes and the budget's use all equal; returned."""
    seen = len(calls(emu.state(), "AssignOpportunity"))
    summary = _summary(folder)
    written = summary["calls"]
    quota = summary["quota_use"]
    assert isinstance(written, dict) and isinstance(quota, dict)
    assert (_sending_lines(folder), written["write"], quota["budget_used_last_24h"]) == (
        seen, seen, seen)
    return seen


def _raise_budget(folder: Path, budget: int) -> None:
    record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    record["settings"]["daily_budget"] = budget
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")


def test_a_budget_stop_counts_only_the_writes_that_left(
    emulator: Callable[..., Emulator], tmp_path: Path,
) -> None:
    """Six workers queue for the write slots, so rows are waiting when the budget runs out:
    they hold no budget, the run made exactly the budget's writes, and a larger budget on
    resume sends exactly the difference."""
    emu = emulator(generated(30), **fast())
    source = write_input(tmp_path / "in.csv", 30)
    first = run(settings(source, emu.url, tmp_path / "run", daily_budget=10, workers=6,
                         max_tps=40.0))
    assert first.code == 3
    assert first.statuses() == {"SUCCEEDED": 10, "SKIPPED": 20}
    assert {r["error_class"] for r in first.results() if r["status"] == "SKIPPED"} == {
        "BudgetSpent"}
    assert _writes_agree(first.folder, emu) == 10
    assert "Writes used: 10 " in first.stdout

    _raise_budget(first.folder, 15)
    again = resume(first.folder)
    assert again.code == 3, again.stdout
    assert again.statuses() == {"SUCCEEDED": 15, "SKIPPED": 15}
    assert _writes_agree(first.folder, emu) == 15


def test_after_a_sigterm_the_budget_holds_only_the_writes_that_left_and_resume_uses_the_rest(
    emulator: Callable[..., Emulator], tmp_path: Path, subprocess_env: dict[str, str],
) -> None:
    emu = emulator(generated(40), **fast())  # no throttle: each write is one row done
    source = write_input(tmp_path / "in.csv", 40)
    folder = tmp_path / "run"
    output = tmp_path / "run.out"
    proc = tool_process(  # six workers queue for the write slots, ten a second
        ["run", str(source), "--catalog", "Sandbox", "--endpoint-url", emu.url, "--out",
         str(folder), "--max-tps", "10", "--read-tps", "100", "--workers", "6", "--daily-budget",
         "16", "--quiet"],
        subprocess_env, output)
    try:
        wait_until(lambda: _read(folder / "journal.jsonl").count('"outcome"') >= 3, timeout=30,
                   what="the run to finish some rows")
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert code == 130, output.read_text(encoding="utf-8", errors="replace")
    before = _writes_agree(folder, emu)
    assert before < 16

    later = resume(folder)  # not refused: the rows that were queued hold no budget
    assert later.code == 3, later.stdout
    assert _writes_agree(folder, emu) == 16
    assert later.statuses() == {"SUCCEEDED": 16, "SKIPPED": 24}
