"""verify as a sign-off (issue 24): it signs off only what the run did, works from the run
folder alone, stops in an outage like a run, and never replaces the last complete verify.csv
with a failed one. Against the emulator over HTTP."""

from __future__ import annotations

import io
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bulk_assign import cli
from bulk_assign.commands.verify import verify_command
from bulk_assign.emulator import Emulator
from tests.support.calls import calls
from tests.support.emulators import fast, generated
from tests.support.outputs import read_csv
from tests.support.runs import run, settings, tool_process, wait_until

#: An outage after 1 s without an answer: no test waits long.
OUTAGE = 1.0
N = 6


def _sheet(path: Path, ids: list[str], *, title: str = "") -> Path:
    head = "Identifier,Email,FirstName,LastName" + (",BusinessTitle" if title else "")
    tail = f",{title}" if title else ""
    lines = [f"{i},user5@example.com,User,Number5{tail}" for i in ids]
    path.write_text(head + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def _verify(folder: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = verify_command(folder, stdout=out, all_rows="--all" in args)
    return code, out.getvalue()


def _verdicts(folder: Path) -> dict[str, dict[str, str]]:
    return {r["Identifier"]: r for r in read_csv(folder / "verify.csv")}


def _nothing_listening() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def emu(emulator: Callable[..., Emulator]) -> Emulator:
    return emulator(generated(N, users=7), **fast())


@pytest.fixture
def finished(emu: Emulator, tmp_path: Path) -> Path:
    ids = [f"O{1_000_000 + i}" for i in range(N)]
    result = run(settings(_sheet(tmp_path / "in.csv", ids), emu.url, tmp_path / "run",
                          outage_seconds=OUTAGE))
    assert result.code == 0, result.stdout
    return result.folder


def test_verify_quiet_signs_off_a_finished_run_even_after_its_sheet_changed(
    finished: Path, tmp_path: Path
) -> None:
    assert cli.main(["verify", "--quiet", str(finished)]) == 0
    sheet = tmp_path / "in.csv"
    sheet.write_text(sheet.read_text(encoding="utf-8").replace("user5", "user6"),
                     encoding="utf-8")
    assert cli.main(["verify", "--quiet", str(finished)]) == 0
    assert {v["intended assignee"] for v in _verdicts(finished).values()} == \
        {"user5@example.com"}
    sheet.unlink()
    assert cli.main(["verify", "--quiet", str(finished)]) == 0
    assert {v["verdict"] for v in _verdicts(finished).values()} == {"MATCH"}


def test_verify_of_a_budget_stopped_run_names_the_rows_never_sent(
    emu: Emulator, tmp_path: Path
) -> None:
    ids = [f"O{1_000_000 + i}" for i in range(N)]
    result = run(settings(_sheet(tmp_path / "in.csv", ids), emu.url, tmp_path / "run",
                          daily_budget=2, workers=1))
    assert result.code == 3, result.stdout
    code, text = _verify(result.folder)
    assert code == 1, text
    verdicts = _verdicts(result.folder)
    sent = {i for i, v in verdicts.items() if v["verdict"] == "MATCH"}
    unsent = {i: v for i, v in verdicts.items() if v["verdict"] == "NOT_SENT"}
    assert len(sent) == 2 and len(unsent) == N - 2, verdicts
    assert {(v["run status"], v["error_class"]) for v in unsent.values()} == \
        {("SKIPPED", "BudgetSpent")}
    assert "never sent (NOT_SENT)" in text
    reads = [c["identifier"] for c in calls(emu.state(), "GetOpportunity")]
    assert not set(unsent) & set(reads[-2:])  # the unsent rows were not read again


def test_verify_of_a_dry_run_has_nothing_to_verify_and_calls_no_row_drifted(
    emu: Emulator, tmp_path: Path
) -> None:
    ids = [f"O{1_000_000 + i}" for i in range(N)]
    result = run(settings(_sheet(tmp_path / "in.csv", ids), emu.url, tmp_path / "run",
                          dry_run=True))
    assert result.code == 0, result.stdout
    code, text = _verify(result.folder)
    assert code == 2 and "dry run" in text, text
    assert not (result.folder / "verify.csv").exists()
    code, text = _verify(result.folder, "--all")
    assert code == 2, text
    assert {v["verdict"] for v in _verdicts(result.folder).values()} == {"NOT_SENT"}
    assert {v["run status"] for v in _verdicts(result.folder).values()} == {"DRY_RUN"}


def test_a_row_sent_with_another_title_is_checked_as_a_team_member(
    emu: Emulator, tmp_path: Path
) -> None:
    ids = ["O1000001", "O1000002"]
    sheet = _sheet(tmp_path / "in.csv", ids, title="SolutionsArchitect")
    result = run(settings(sheet, emu.url, tmp_path / "run", allow_other_titles=True))
    assert result.code == 0, result.stdout
    code, text = _verify(result.folder)
    assert code == 0, text
    verdicts = _verdicts(result.folder)
    assert {v["verdict"] for v in verdicts.values()} == {"MATCH"}
    assert all(v["owner now"] != "user5@example.com" for v in verdicts.values())


def _stops_within(seconds: float, folder: Path, **kwargs: Any) -> str:
    before = (folder / "verify.csv").read_bytes()
    out = io.StringIO()
    started = time.monotonic()
    code = verify_command(folder, stdout=out, **kwargs)
    took = time.monotonic() - started
    assert code == 3, out.getvalue()
    assert took < seconds, (took, out.getvalue())
    assert (folder / "verify.csv").read_bytes() == before  # the last good one stands
    return out.getvalue()


def test_verify_with_the_endpoint_gone_stops_and_keeps_the_last_good_verify(
    finished: Path
) -> None:
    assert _verify(finished)[0] == 0
    text = _stops_within(20, finished, endpoint_url=_nothing_listening())
    assert "Check the network" in text and "run verify again" in text


def test_verify_against_a_service_failing_everything_stops(
    emu: Emulator, finished: Path
) -> None:
    assert _verify(finished)[0] == 0
    emu.configure(error_rate=1.0, reset_rate=0.0)
    text = _stops_within(20, finished)
    assert "ServiceUnavailable" in text and "5xx" in text


def test_verify_at_the_wrong_endpoint_stops_with_the_runs_sentence(
    emulator: Callable[..., Emulator], finished: Path
) -> None:
    assert _verify(finished)[0] == 0
    other = emulator(generated(N, users=7, start=2_000_000), **fast())
    text = _stops_within(20, finished, endpoint_url=other.url)
    assert "this looks like the wrong endpoint, region or catalog" in text


def test_interrupted_verify_keeps_what_it_read_and_continues(
    emulator: Callable[..., Emulator], tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    n = 40
    emu = emulator(generated(n, users=7), **fast())
    ids = [f"O{1_000_000 + i}" for i in range(n)]
    result = run(settings(_sheet(tmp_path / "in.csv", ids), emu.url, tmp_path / "run",
                          read_tps=10.0))
    assert result.code == 0, result.stdout
    folder = result.folder
    changed = result.statuses()["SUCCEEDED"]
    partial = folder / "verify.partial.jsonl"
    proc = tool_process(["verify", str(folder), "--quiet"], subprocess_env,
                        tmp_path / "verify.log")
    wait_until(lambda: partial.exists() and partial.read_text().count("\n") >= 5,
               timeout=30, what="some reads")
    reads_before = len(calls(emu.state(), "GetOpportunity"))
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130, (tmp_path / "verify.log").read_text()
    assert not (folder / "verify.csv").exists()
    kept = partial.read_text().count("\n")
    assert 5 <= kept < changed
    code, text = _verify(folder)
    assert code == 0, text
    assert f"{kept} read by an interrupted verify are reused" in text
    reads_after = len(calls(emu.state(), "GetOpportunity"))
    assert reads_after - reads_before <= changed - kept + 8  # + the calls cut short in flight
    assert not partial.exists()
    assert len(_verdicts(folder)) == changed
    assert len([p for p in os.listdir(folder) if p.startswith("verify-")]) == 1


def test_an_outage_in_the_middle_of_a_verify_stops_it_like_a_run(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    n = 40
    emu = emulator(generated(n, users=7), **fast())
    ids = [f"O{1_000_000 + i}" for i in range(n)]
    result = run(settings(_sheet(tmp_path / "in.csv", ids), emu.url, tmp_path / "run",
                          read_tps=10.0, pre_read=False, outage_seconds=OUTAGE))
    assert result.code == 0, result.stdout
    done = threading.Event()

    def fail_after_some_reads() -> None:
        while not done.wait(0.01):
            if len(calls(emu.state(), "GetOpportunity")) >= 8:
                emu.configure(error_rate=1.0, reset_rate=0.0)
                return

    watcher = threading.Thread(target=fail_after_some_reads)
    watcher.start()
    out = io.StringIO()
    started = time.monotonic()
    try:
        code = verify_command(result.folder, stdout=out)
    finally:
        done.set()
        watcher.join()
    assert code == 3, out.getvalue()
    assert time.monotonic() - started < 15, out.getvalue()
    assert "Stopped (ServiceUnavailable)" in out.getvalue()
    assert not (result.folder / "verify.csv").exists()
    kept = (result.folder / "verify.partial.jsonl").read_text().count("\n")
    assert kept >= 5


def test_verify_of_a_transfer_that_never_ran_has_nothing_to_verify(tmp_path: Path) -> None:
    folder = tmp_path / "transfer"
    folder.mkdir()
    (folder / "input.csv.partial.jsonl").write_text("", encoding="utf-8")
    code, text = _verify(folder)
    assert code == 2 and "the transfer never ran" in text, text


def test_verify_says_it_waits_for_the_read_quota_and_stops_after_quota_wait(
    emu: Emulator, finished: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (finished / "results.csv").read_bytes()
    emu.configure(read_daily_cap=1)  # the run's reads spent it
    started = time.monotonic()
    code = cli.main(["verify", str(finished), "--quota-wait", "0.05", "--quiet"])
    text = capsys.readouterr().out
    assert code == 3, text
    assert time.monotonic() - started < 20
    assert "reads throttled: waiting for the read quota, at most until " in text
    assert "Stopped (QuotaExhausted)" in text
    assert not (finished / "verify.csv").exists()
    assert (finished / "results.csv").read_bytes() == before
