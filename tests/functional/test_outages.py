"""Outages (issue 16): an endpoint with nothing listening, a service answering 500 to everything,
and an outage that starts mid-run and ends. Without --wait the run stops within the bound with
the unfinished rows SKIPPED for resume; with --wait it rides the outage out by itself."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from bulk_assign.emulator import Emulator
from tests.support.calls import applied_writes, calls, owners
from tests.support.emulators import fast, generated, refused_url
from tests.support.inputs import write_input
from tests.support.outputs import read_results, wanted_owners
from tests.support.runs import Run, resume, run, settings, wait_until

#: Short thresholds so that no test waits long: an outage after 1 s without an answer.
OUTAGE = 1.0
#: A bound for a run that keeps trying, not a figure: stopping takes 1-3 s on an idle machine
#: (the outage bound, the probe's retries), and once took 10.2 s under a full suite's load.
GAVE_UP_WITHIN = 30.0


def summary(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    return data


def run_log(folder: Path) -> str:
    return (folder / "run.log").read_text(encoding="utf-8")


def assert_file_applied_once(emu: Emulator, source: Path) -> None:
    state = emu.state()
    wanted = wanted_owners(source)
    assert {opp: owners(state)[opp] for opp in wanted} == wanted
    assert max(applied_writes(state).values(), default=0) == 1


@contextmanager
def outage_after(emu: Emulator, *, writes: int, ends_after: float | None = None
                 ) -> Iterator[dict[str, float]]:
    """Every call answers 500 once the emulator has seen `writes` writes; the faults are
    switched off again `ends_after` seconds later (None: the test does it). Yields the times
    (monotonic) of the switches."""
    switched: dict[str, float] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if len(calls(emu.state(), "AssignOpportunity")) >= writes:
                emu.configure(error_rate=1.0, reset_rate=0.0)
                switched["on"] = time.monotonic()
                break
            done.wait(0.01)
        if ends_after is not None and not done.wait(ends_after):
            emu.configure(error_rate=0.0)
            switched["off"] = time.monotonic()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield switched
    finally:
        done.set()
        thread.join(timeout=5)


# --- before the first row ------------------------------------------------------------------


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_nothing_listening_stops_before_any_row(tmp_path: Path, dry_run: bool) -> None:
    source = write_input(tmp_path / "in.csv", 20, duplicates_every=7)
    with refused_url() as url:
        began = time.monotonic()
        result = run(settings(source, url, tmp_path / "run", outage_seconds=OUTAGE,
                              dry_run=dry_run))
        assert time.monotonic() - began < GAVE_UP_WITHIN
    assert result.code == 3, result.stdout
    statuses = result.statuses()
    assert statuses == {"SKIPPED": 20, "DUPLICATE": 3}
    assert {r["error_class"] for r in result.results() if r["status"] == "SKIPPED"} == {
        "Unreachable"}
    assert all(r["attempts"] == "0" for r in result.results())
    text = result.stdout
    assert url in text and "us-east-1" in text
    for check in ("network", "VPN", "proxy", "--endpoint-url", "--region"):
        assert check in text, check
    assert f"bulk-assign resume {result.folder}" in text
    stop = summary(result.folder)["stop"]
    assert stop["reason"] == "Unreachable"
    assert stop["resume"] == f"bulk-assign resume {result.folder}"


def test_service_answering_500_stops_before_any_write(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(20), **fast(error_rate=1.0))
    source = write_input(tmp_path / "in.csv", 20)
    began = time.monotonic()
    result = run(settings(source, emu.url, tmp_path / "run", outage_seconds=OUTAGE))
    assert time.monotonic() - began < GAVE_UP_WITHIN
    assert result.code == 3, result.stdout
    assert result.statuses() == {"SKIPPED": 20}
    assert {r["error_class"] for r in result.results()} == {"ServiceUnavailable"}
    assert "AWS Health Dashboard" in result.stdout
    assert emu.url in result.stdout
    assert f"bulk-assign resume {result.folder}" in result.stdout
    assert calls(emu.state(), "AssignOpportunity") == []
    assert len(calls(emu.state(), "GetOpportunity")) <= 3, "the first read: 3 attempts"


# --- an outage mid-run ---------------------------------------------------------------------


def test_outage_mid_run_stops_within_the_bound_then_resume_finishes(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(40), **fast())
    source = write_input(tmp_path / "in.csv", 40)
    with outage_after(emu, writes=10) as switched:
        first = run(settings(source, emu.url, tmp_path / "run", max_tps=10.0,
                             outage_seconds=OUTAGE))
        ended = time.monotonic()
    assert "on" in switched, "the outage began before the run ended"
    assert ended - switched["on"] < 6, "an outage stops the run within a few seconds"
    assert first.code == 3, first.stdout
    statuses = first.statuses()
    assert statuses["FAILED"] == 0, [r for r in first.results() if r["status"] == "FAILED"]
    assert statuses["SUCCEEDED"] >= 10
    assert statuses["SUCCEEDED"] + statuses["SKIPPED"] == 40
    assert {r["error_class"] for r in first.results() if r["status"] == "SKIPPED"} == {
        "ServiceUnavailable"}
    assert "AWS Health Dashboard" in first.stdout
    assert f"bulk-assign resume {first.folder}" in first.stdout
    [outage] = summary(first.folder)["outages"]
    assert outage["kind"] == "ServiceUnavailable"
    assert outage["ended_at"] is None, "the run stopped during the outage"

    emu.configure(error_rate=0.0)
    again = resume(first.folder)
    assert again.code == 0, again.stdout
    assert {r["status"] for r in read_results(first.folder)} == {"SUCCEEDED"}
    assert_file_applied_once(emu, source)


def test_outage_mid_run_with_wait_finishes_by_itself(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(40), **fast())
    source = write_input(tmp_path / "in.csv", 40)
    with outage_after(emu, writes=10, ends_after=3.0) as switched:
        result = run(settings(source, emu.url, tmp_path / "run", max_tps=10.0,
                              outage_seconds=OUTAGE, wait=True))
    assert {"on", "off"} <= set(switched), "the outage began and ended during the run"
    assert result.code == 0, result.stdout
    assert result.statuses() == {"SUCCEEDED": 40}
    assert_file_applied_once(emu, source)
    [outage] = summary(result.folder)["outages"]
    assert outage["kind"] == "ServiceUnavailable"
    assert outage["began_at"] and outage["ended_at"]
    assert outage["began_at"] <= outage["ended_at"]
    assert 2.0 <= outage["seconds"] < 15.0
    assert outage["failed_calls"] >= 6
    assert set(outage["by_class"]) == {"HTTP 500 InternalServerException"}
    log = run_log(result.folder)
    assert "outage: no call has succeeded" in log
    assert "waiting (--wait)" in log
    assert "outage over after" in log
    assert summary(result.folder)["stop"] is None


def test_ctrl_c_during_a_wait_stops_and_resume_continues(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(40), **fast())
    source = write_input(tmp_path / "in.csv", 40)
    folder = tmp_path / "run"
    interrupted = threading.Event()

    def ctrl_c_once_waiting() -> None:
        try:
            wait_until(lambda: (folder / "run.log").exists()
                       and "waiting (--wait)" in run_log(folder), timeout=20,
                       what="the run to wait out the outage")
        except AssertionError:
            return  # the run ends as it will; the asserts below say what went wrong
        time.sleep(0.5)  # inside a pause
        interrupted.set()
        os.kill(os.getpid(), signal.SIGINT)

    ctrl_c = threading.Thread(target=ctrl_c_once_waiting, daemon=True)
    with outage_after(emu, writes=10):
        ctrl_c.start()
        first = run(settings(source, emu.url, folder, max_tps=10.0, outage_seconds=OUTAGE,
                             wait=True))
        ctrl_c.join(timeout=5)
    assert interrupted.is_set()
    assert first.code == 130, first.stdout
    statuses = first.statuses()
    assert statuses["FAILED"] == 0
    assert statuses["SKIPPED"] >= 1
    assert statuses["SUCCEEDED"] + statuses["SKIPPED"] == 40
    assert {r["error_class"] for r in first.results() if r["status"] == "SKIPPED"} == {
        "Interrupted"}
    assert f"bulk-assign resume {folder}" in first.stdout

    emu.configure(error_rate=0.0)
    again = resume(folder)
    assert again.code == 0, again.stdout
    assert {r["status"] for r in read_results(folder)} == {"SUCCEEDED"}
    assert_file_applied_once(emu, source)


# --- no outage -----------------------------------------------------------------------------


def test_a_sprinkle_of_faults_is_no_outage(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    """The faults `make bench` injects (10% 500s, 5% resets): retries absorb them."""
    emu = emulator(generated(60), **fast(error_rate=0.1, reset_rate=0.05, random_seed=16))
    source = write_input(tmp_path / "in.csv", 60)
    result: Run = run(settings(source, emu.url, tmp_path / "run"))
    assert result.code == 0, result.stdout
    assert result.statuses() == {"SUCCEEDED": 60}
    assert summary(result.folder)["outages"] == []
    assert "outage" not in run_log(result.folder)
    assert_file_applied_once(emu, source)
    faults = {c["outcome"] for c in calls(emu.state(), "AssignOpportunity")}
    assert {"InternalServerException", "reset"} <= faults


# --- rows whose attempts run out in an outage ------------------------------------------------


@pytest.mark.parametrize("pre_read", [True, False], ids=["pre-read", "no-snapshot"])
@pytest.mark.parametrize("wait", [False, True], ids=["stop", "wait"])
def test_rows_whose_attempts_run_out_in_an_outage_do_not_fail(
    emulator: Callable[..., Emulator], tmp_path: Path, wait: bool, pre_read: bool
) -> None:
    """Few attempts per row (--max-attempts 3): rows run out of them before the outage is
    declared, or while it is waited out. Their failure is the outage's, not theirs.

    (A row can still end FAILED when its attempts run out before MIN_FAILURES calls have
    failed in all; at 40 calls/s the other rows' failures make that count at once.)"""
    emu = emulator(generated(30), **fast())
    source = write_input(tmp_path / "in.csv", 30)
    with outage_after(emu, writes=8, ends_after=3.0 if wait else None):
        result = run(settings(source, emu.url, tmp_path / "run", max_tps=40.0,
                              max_attempts=3, outage_seconds=OUTAGE, wait=wait,
                              pre_read=pre_read))
    statuses = result.statuses()
    assert statuses["FAILED"] == 0, [
        (r["Identifier"], r["error_class"], r["attempts"]) for r in result.results()
        if r["status"] == "FAILED"]
    if wait:
        assert result.code == 0, result.stdout
        assert statuses == {"SUCCEEDED": 30}
        assert_file_applied_once(emu, source)
    else:
        assert result.code == 3, result.stdout
        assert statuses["SUCCEEDED"] + statuses["SKIPPED"] == 30
