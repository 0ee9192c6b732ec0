"""The write budget is used at the allowed pace: measured by the emulator, with and without
another writer in the same account."""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import re
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from bulk_assign.api.client import Turn, paced
from bulk_assign.emulator import Emulator
from bulk_assign.quota.bucket import PACE_MARGIN, PACE_MARGIN_SECONDS, SIGN_LEAD, TokenBucket
from tests.support.calls import applied_writes, calls, write_figures
from tests.support.emulators import emulator_process, fast, generated, state
from tests.support.inputs import write_input
from tests.support.runs import run, settings

#: Every test here measures real pacing on the wall clock: `make test` runs them after the rest,
#: one at a time (`-m pacing -p no:xdist`), so that no parallel test's load moves the figures.
pytestmark = pytest.mark.pacing

RATE = 20.0


def test_writes_arrive_at_the_allowed_pace(tmp_path: Path) -> None:
    """60 rows at 20 writes/s, 10-30 ms latency: the service sees the writes arrive one interval
    apart and almost none throttled. The emulator runs in its own process, as AWS would.

    The median gap between arrivals is the tool's own spacing: (1 + 1%) / Q plus half a
    millisecond, so 1.02 / Q, which the bench's wall / ((N-1)/Q) ~1.025 reflects. Load on the
    machine barely moves it (1.02-1.06 over two dozen runs at load 6-14 on 2 cores, up to 1.10
    in a full suite run), so its bounds are tight. The whole run's pace also pays for the
    throttles that arrival jitter causes on a loaded machine (0.80-0.97 of Q, up to 7 of 67
    writes throttled, in those same runs); its bounds are what such a machine reliably
    achieves."""
    options = ("--generate", "60", "--write-rate", str(RATE), "--read-rate", "200",
               "--read-burst", "20", "--latency-ms", "20", "--jitter-ms", "10", "--quiet")
    source = write_input(tmp_path / "in.csv", 60)
    with emulator_process(*options) as url:
        result = run(settings(source, url, tmp_path / "run", max_tps=RATE))
        seen = state(url)
    assert result.code == 0
    assert result.statuses() == {"SUCCEEDED": 60}
    figures = write_figures(seen["calls"])
    assert figures.accepted == 60
    arrivals = sorted(c["t"] for c in calls(seen, "AssignOpportunity"))
    gap = statistics.median(b - a for a, b in itertools.pairwise(arrivals)) * RATE
    # Below 1.0 the tool sends faster than allowed; above 1.10 it leaves quota unused (a 10%
    # pacing margin, 1.114, fails; a run whose jitter throttles cost it AIMD steps reached 1.10
    # on this project's 2-core machines). Where the bounds come from: `make bench` measures the
    # same spacing as wall / ((N-1)/Q) = 1.023-1.024 on a quiet 2-core host and 1.027-1.032 on a
    # noisier one (benchmarks/results/latest.md scenario 1, results/sharing.md "burst 1, CRM
    # 0%" and its notes; the README's pacing table), and this test's own spread was 1.02-1.06
    # at load 6-14: 1.10 sits above the whole spread, 1.114 (a 10% margin) outside it.
    assert 1.0 <= gap <= 1.10, f"median gap between writes {gap:.3f} / Q"
    pace = (figures.accepted - 1) / (figures.last - figures.first) / RATE
    # The emulator's burst-1 bucket caps the accepted pace at Q. The lower bound is what a
    # loaded machine reliably achieves (0.80-0.97 of Q over two dozen runs at load 6-14, above);
    # the benchmark's 0.5% (quiet) to 2.4% (noisier host) throttled writes (results/latest.md,
    # README) are far inside the 15% allowed for a loaded one.
    assert 0.75 <= pace <= 1.005, f"accepted writes/s {pace * RATE:.2f}"
    assert figures.throttled_share <= 0.15, f"{figures.throttled} of {figures.writes} throttled"


def _rival(url: str, stop: threading.Event, rate: float) -> None:
    """A CRM integration of the same account: its own key, writing other opportunities at
    random moments at `rate`, never retrying."""
    client = boto3.client(
        "partnercentral-selling", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="rival", aws_secret_access_key="rival-secret",
        config=Config(retries={"total_max_attempts": 1}),
    )
    pick = random.Random(5)
    due = time.monotonic()
    i = 0
    while not stop.is_set():
        k = i % 50
        # Throttled: a CRM sync just tries again later.
        with contextlib.suppress(Exception):
            client.assign_opportunity(
                Catalog="Sandbox", Identifier=f"O{1_000_050 + k}",
                Assignee={"Email": f"user{k}@example.com", "FirstName": "User",
                          "LastName": f"Number{k}", "BusinessTitle": "PartnerAccountManager"},
            )
        i += 1
        due += pick.expovariate(rate)
        stop.wait(max(0.0, due - time.monotonic()))


def test_another_writer_slows_us_down_and_every_row_still_succeeds(
    emulator: Callable[..., Emulator], tmp_path: Path
) -> None:
    emu = emulator(generated(100), **fast(
        write_rate=RATE, credentials={"test": "test", "rival": "rival-secret"}))
    stop = threading.Event()
    # The CRM wants half the quota (as in `make bench`): the run leaves it that, so it does not
    # race a writer for every token (one that wants all of it leaves a run nothing to share).
    rival = threading.Thread(target=_rival, args=(emu.url, stop, RATE / 2), daemon=True)
    rival.start()
    try:
        time.sleep(0.3)
        source = write_input(tmp_path / "in.csv", 15)
        started = time.time()
        result = run(settings(source, emu.url, tmp_path / "run", max_tps=RATE))
        finished = time.time()
    finally:
        stop.set()
        rival.join(timeout=5)
    seen = emu.state()

    assert result.code == 0
    assert result.statuses() == {"SUCCEEDED": 15}
    ours = write_figures(seen["calls"], access_key="test")
    theirs = [c for c in calls(seen, "AssignOpportunity")
              if c["access_key"] == "rival" and started <= c["t"] <= finished]
    assert len(theirs) >= 5, "the other writer was writing during our run"
    # Every write we made either changed its row once or was throttled: nothing else wasted.
    assert ours.accepted == 15
    assert {k: v for k, v in applied_writes(seen).items() if int(k[1:]) < 1_000_050} == {
        f"O{1_000_000 + i}": 1 for i in range(15)}
    summary: dict[str, Any] = json.loads((result.folder / "summary.json").read_text())
    assert summary["calls"]["throttled_write"] == ours.throttled
    assert summary["calls"]["write"] == ours.writes
    # A throttle slows our pace down...
    log = (result.folder / "run.log").read_text(encoding="utf-8")
    if ours.throttled:
        changes = [(float(old), float(new))
                   for old, new in re.findall(r"write pace ([\d.]+) -> ([\d.]+)", log)]
        assert any(new < old for old, new in changes), changes
        assert max(max(change) for change in changes) <= RATE
    # ...and the other writer costs us a few throttles, not a storm: fewer than one per row.
    assert ours.throttled < 15, f"{ours.throttled} throttled writes for 15 rows"


def test_a_write_is_signed_just_before_it_leaves_however_long_it_queued(
    emulator: Callable[..., Emulator]
) -> None:
    """Calls queue for their slot before botocore signs them, and wait at most SIGN_LEAD once
    signed: a long queue (a slow pace, a window) never sends a stale signature, and signing's
    jitter does not fall between the pace and the wire."""
    emu = emulator(generated(12), **fast())
    client = boto3.client(
        "partnercentral-selling", endpoint_url=emu.url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=4),
    )
    bucket = TokenBucket(8.0)
    stamps: dict[str, list[tuple[int, float]]] = {"asked": [], "signed": [], "sent": []}

    def stamp(name: str) -> Callable[..., None]:
        return lambda **_: stamps[name].append((threading.get_ident(), time.monotonic()))

    def step(take: Callable[[], bool]) -> Callable[[], None]:
        def hook() -> None:
            assert take()
        return hook

    event = "partnercentral-selling.AssignOpportunity"
    client.meta.events.register_first(f"before-sign.{event}", stamp("asked"))
    client.meta.events.register_last(f"before-sign.{event}", stamp("signed"))
    client.meta.events.register_last(f"before-send.{event}", stamp("sent"))

    def write(i: int) -> None:
        client.assign_opportunity(
            Catalog="Sandbox", Identifier=f"O{1_000_000 + i}",
            Assignee={"Email": f"user{i}@example.com", "FirstName": "User",
                      "LastName": f"Number{i}", "BusinessTitle": "PartnerAccountManager"})

    with paced(client, {"AssignOpportunity": Turn(step(bucket.reserve), step(bucket.depart))}), \
            ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(12)))

    def per_call(name: str) -> list[float]:
        ordered = sorted(stamps[name])  # by thread, then time: one call after another
        return [t for _, t in ordered]

    asked, signed, sent = per_call("asked"), per_call("signed"), per_call("sent")
    assert len(sent) == 12
    queued = [s - a for a, s in zip(asked, signed, strict=True)]
    assert max(queued) >= 0.2, "with 4 callers at 8/s, some waited their turn before signing"
    late = [s - g for g, s in zip(signed, sent, strict=True)]
    assert max(late) <= SIGN_LEAD + 0.05, f"signed {max(late):.3f} s before it left"
    departures = sorted(sent)
    assert min(b - a for a, b in itertools.pairwise(departures)) >= bucket.interval - 0.002


def test_a_write_that_came_a_little_early_goes_again_at_once_and_costs_no_pace(
    tmp_path: Path,
) -> None:
    """Arrival jitter: the token comes a few milliseconds after the call. Here the service's
    bucket refills 5% slower than our pace (1 write/s, the real quota, against a run told
    1.05), so every write after the first arrives about 38 ms early and is throttled. Each
    such write goes again a tenth of an interval (96 ms) after it left, ahead of the queue, and
    lands; nothing slows the pace, and no throttle is taken for another writer. The retry at
    once is one of the row's `--max-attempts` (2 here): every row succeeds on its first or
    second write.

    The emulator runs in its own process, as AWS would. A write the emulator stamps late (its
    handler thread waits for a CPU) makes the next one that much earlier than its bucket
    allows; the retry then lands only if that delay is below the retry's lead over the token
    (96 - 38 = 58 ms here). At 10 writes/s that lead was 6 ms, which a busy CI machine
    exceeded (a row FAILED); at the real quota's 1/s it is ten times that."""
    options = ("--generate", "40", "--write-rate", "1", "--read-rate", "1000", "--read-burst",
               "100", "--quiet")
    rows = 6
    source = write_input(tmp_path / "in.csv", rows)
    with emulator_process(*options) as url:
        result = run(settings(source, url, tmp_path / "run", max_tps=1.05, max_attempts=2))
        seen = state(url)

    assert result.code == 0
    assert result.statuses() == {"SUCCEEDED": rows}
    writes = sorted(calls(seen, "AssignOpportunity"), key=lambda c: c["t"])
    throttled = [i for i, c in enumerate(writes) if c["outcome"] == "ThrottlingException"]
    assert len(throttled) >= 3, "the service's slower bucket refused some writes"
    assert len(writes) == rows + len(throttled), "each refused write was sent again once"
    interval = (1 + PACE_MARGIN) / 1.05 + PACE_MARGIN_SECONDS
    for i in throttled:
        again = writes[i + 1]
        assert again["identifier"] == writes[i]["identifier"], "the retry went first"
        assert again["outcome"] == "ok"
        # A tenth of an interval after the refused one: not a backoff, not the next slot.
        assert again["t"] - writes[i]["t"] < 0.5 * interval
    log = (result.folder / "run.log").read_text(encoding="utf-8")
    assert "write pace" not in log, "a throttle whose retry at once lands does not slow down"
    assert "another writer" not in log
    summary: dict[str, Any] = json.loads((result.folder / "summary.json").read_text())
    assert summary["calls"]["throttled_write"] == len(throttled)
    assert {r["attempts"] for r in result.results()} <= {"1", "2"}
