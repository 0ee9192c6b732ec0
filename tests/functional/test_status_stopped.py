"""`status` of a stopped run says why it stopped and when writes can go on; `status` of a dry
run answers; both from the run folder alone (issue 24). Against the emulator over HTTP."""

from __future__ import annotations

import io
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bulk_assign import cli
from bulk_assign.commands.status import status_command
from bulk_assign.emulator import Emulator
from bulk_assign.quota.budget import AGE_MARGIN, DAY, local_time
from bulk_assign.store.journal import journal_write_times
from tests.support.emulators import fast, generated
from tests.support.inputs import write_input
from tests.support.runs import run, settings


def _status(folder: Path) -> str:
    out = io.StringIO()
    assert status_command(folder, stdout=out) == 0
    return out.getvalue()


def test_status_of_a_budget_stopped_run_names_the_budget_and_the_time(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(10), **fast())
    source = write_input(tmp_path / "in.csv", 6)
    first = run(settings(source, emu.url, tmp_path / "run", daily_budget=4, workers=1))
    assert first.code == 3, first.stdout
    source.unlink()  # status needs only the run folder
    text = _status(first.folder)
    assert "Stopped (BudgetSpent): the daily budget of 4 writes in 24 h is spent" in text
    assert "Writes can go on at " in text and "daily budget of 4 writes" in text
    assert "Rows left to send: 2" in text
    # the oldest of the 4 writes ages out a day (and a minute) after it left
    oldest = journal_write_times(first.folder / "journal.jsonl")[0]
    allowed = datetime.fromtimestamp(oldest + DAY + AGE_MARGIN, UTC)
    assert f"Writes can go on at {local_time(allowed)}" in text


def test_status_of_a_dry_run_folder_answers(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(10), **fast())
    source = write_input(tmp_path / "in.csv", 6)
    dry = run(settings(source, emu.url, tmp_path / "run", dry_run=True))
    assert dry.code == 0, dry.stdout
    assert cli.main(["status", str(dry.folder)]) == 0
    assert "a dry run (nothing was sent); 6 row(s) would be sent" in _status(dry.folder)


def test_status_of_a_run_stopped_by_an_outage_says_so(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    source = write_input(tmp_path / "in.csv", 3)
    stopped = run(settings(source, url, tmp_path / "run", outage_seconds=1.0, share=1.0))
    assert stopped.code == 3, stopped.stdout
    text = _status(stopped.folder)
    assert "Stopped (Unreachable): the service is out of reach" in text
    assert "Writes can go on once the service can be reached again." in text
    assert "Rows left to send: 3" in text
