"""The plan says what will happen (issue 24): the write window and when writing starts, why
there was no look-back, and when a resume whose budget is spent can write again."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bulk_assign.commands import run as app
from bulk_assign.emulator import Emulator
from bulk_assign.quota.budget import AGE_MARGIN, DAY, local_time
from bulk_assign.run.plan import plan_run
from bulk_assign.store.journal import journal_write_times
from tests.support.calls import calls
from tests.support.emulators import fast, generated
from tests.support.inputs import write_input
from tests.support.runs import resume, run, settings


def _window(start: datetime, hours: int = 2) -> str:
    local = start.astimezone()
    return f"{local:%H:%M}-{local + timedelta(hours=hours):%H:%M}"


def test_a_closed_window_is_in_the_plan_with_when_writing_starts(tmp_path: Path) -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    opens = now + timedelta(hours=3)
    source = write_input(tmp_path / "in.csv", 4)
    plan = plan_run(settings(source, "http://127.0.0.1:1", tmp_path / "run",
                             window=_window(opens)))
    text = app.plan_text(plan, now=now)
    assert f"Write window {_window(opens)} (local time): closed now: writing starts at " \
           f"{local_time(opens)}" in text


def test_a_run_with_an_open_window_says_so_and_why_it_did_not_look_back(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(10), **fast())
    source = write_input(tmp_path / "in.csv", 4)
    window = _window(datetime.now(UTC) - timedelta(minutes=30))
    result = run(settings(source, emu.url, tmp_path / "run", window=window, share=1.0))
    assert result.code == 0, result.stdout
    assert f"Write window {window} (local time): open now" in result.stdout
    assert "a dry run makes no call" not in result.stdout
    assert "not looked up (--share takes its share whatever they do)" in result.stdout


def test_a_resume_whose_budget_is_spent_says_when_it_can_write_again(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(10), **fast())
    source = write_input(tmp_path / "in.csv", 5)
    first = run(settings(source, emu.url, tmp_path / "run", daily_budget=2, workers=1))
    assert first.code == 3, first.stdout
    again = resume(first.folder)
    assert again.code == 3, again.stdout
    oldest = journal_write_times(first.folder / "journal.jsonl")[0]
    allowed = datetime.fromtimestamp(oldest + DAY + AGE_MARGIN, UTC)
    assert ("The daily budget of 2 writes in 24 h is spent: writes can start at "
            f"{local_time(allowed)}") in again.stdout


def test_waited_seconds_is_the_time_the_run_waited_not_the_workers_sum(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    """The window opens 6 s after the test starts (the run's clock is shifted so that a window
    of whole minutes opens then): six rows wait together, and the run's wait is most of its
    own wall time, never more. Six workers' waits summed would be about six times the wall.

    The bounds are taken from the run's own wall time, not from the test's start: on a loaded
    machine the start ate 3.3 s of a 4 s lead (the run then waited 0.7 s, rightly)."""
    real = datetime.now(UTC)
    opens = real.replace(second=0, microsecond=0) + timedelta(hours=1)
    shift = opens - timedelta(seconds=6) - real
    emu = emulator(generated(10), **fast())
    source = write_input(tmp_path / "in.csv", 6)
    started = time.monotonic()
    result = run(settings(source, emu.url, tmp_path / "run", window=_window(opens),
                          share=1.0, pre_read=False), now=lambda: datetime.now(UTC) + shift)
    took = time.monotonic() - started
    assert result.code == 0, result.stdout
    summary = json.loads((result.folder / "summary.json").read_text(encoding="utf-8"))
    waited = summary["quota_use"]["waited_seconds"]["window"]
    wall = summary["wall_seconds"]
    # Writing six rows at 40/s once the window opens, and the run's own start and end, take
    # well under 1.5 s; everything else was the wait, counted once.
    assert 0 < waited <= wall <= took, summary["quota_use"]
    assert waited >= wall - 1.5, (waited, wall)
    writes = calls(emu.state(), "AssignOpportunity")
    assert len(writes) == 6
