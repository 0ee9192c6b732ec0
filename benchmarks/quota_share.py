"""`python -m benchmarks --only sharing`: how bulk-assign shares the write quota with a CRM.

Emulator at Q writes/s (30-70 ms latency), burst 1 s of quota or 1; a CRM writer that starts
before the run (so the look-back sees it), writes at random moments at a share of Q and retries
a throttled write as the SDK's standard mode does (3 attempts, full-jitter backoff), its times
scaled by 1/Q. Each case three times in the full set (`make bench-full`), once in the default
(`make bench`; see `Repeats`): the CRM's share of writes that succeeded during the run, our wall
against (N-1)/(rate left to us), and the spread over the repeats.

The cases are data (`SCENARIOS`): a new one is a `Case` row (its bucket, the CRM's share and
start, the look-back, its targets and repeats), not new code.
"""

from __future__ import annotations

import io
import json
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.config import Config

from benchmarks import peers
from benchmarks.support import START_ID, emulator_process, post, write_input
from bulk_assign.quota.lookback import timeline

Q = 10.0
ROWS = 250
LEAD_SECONDS = 45.0


@dataclass(frozen=True)
class Repeats:
    """How many times a case runs in each set. Repeat k uses seed k (the CRM's moments, hence
    what the look-back counts), so one repeat is the first figure of the full set's three."""

    full: int = 3  # `make bench-full`
    default: int = 1  # `make bench`: every case at least once, so the table keeps its rows
    quick: int = 0  # the smoke test (tiny sizes)

    def of(self, profile: str) -> int:
        count: int = getattr(self, profile)
        return count


@dataclass(frozen=True)
class Case:
    """One case of the sharing set: the bucket, the CRM, the targets, the repeats."""

    burst: int
    #: The CRM's share of Q (0: nobody else writes).
    share: float
    crm_target: str = ""
    wall_target: str = ""
    repeats: Repeats = Repeats()
    #: When the CRM starts, in seconds from our run's start: None, the set's lead before it
    #: (-lead); a positive value starts it that long into the run.
    crm_start: float | None = None
    #: The run's look-back in seconds; None: the lead, so it reads exactly the CRM's writes.
    lookback: float | None = None
    #: The table's name for the case; empty: "burst B, CRM S%".
    label: str = ""
    #: Rows of our run, and the CRM's lead before it (None: the set's); the quick set (the
    #: smoke test) keeps its tiny sizes.
    rows: int | None = None
    lead: float | None = None

    def sized(self, profile: str, rows: int, lead: float) -> tuple[int, float]:
        if profile == "quick":
            return rows, lead
        return self.rows or rows, self.lead or lead

    @property
    def name(self) -> str:
        return self.label or f"burst {self.burst:g}, CRM {self.share:.0%}"


#: One repeat each in `make bench`, from the spread of the three repeats recorded in
#: results/latest.md and sharing.md (2026-11-29; the seed-0 figure first):
SCENARIOS: tuple[Case, ...] = (
    # 1.023 1.023 1.023 at both bursts (1.024-1.032 an hour earlier, noisier host): the
    # repeats agree to 0.01.
    Case(10, 0.0, wall_target="<= 1.03"),
    Case(1, 0.0, wall_target="<= 1.03"),
    # 1.067 1.094 1.047, CRM 100% x3: spread 0.05, the worst 0.06 inside the target.
    Case(10, 0.1, ">= 95%", "<= 1.15"),
    # 1.093 1.169 1.072, CRM 98-100%: spread 0.10, the worst 0.13 inside the target.
    Case(10, 0.5, ">= 90%", "<= 1.3"),
    # 2.346 2.207 2.305, CRM 84% 90% 89%: seed 0 is the worst repeat on both figures; a kept
    # share near 80% needs the full set to judge (about 50 CRM writes: +-5 points a repeat).
    Case(1, 0.1, ">= 80%", "<= 2.5"),
    # Reported only: 2.763 2.540 3.356, CRM 77-79%. Also the smoke test's case.
    Case(1, 0.5, "reported", "reported", repeats=Repeats(quick=1)),
    # The others measured, not guessed (issue 27, its set-up: 400 rows, the default 1 h
    # look-back). A CRM at work for a minute is its rate now, not 600 writes an hour...
    Case(10, 0.1, ">= 95%", "<= 1.15", lookback=3600.0, rows=400, lead=60.0,
         label="burst 10, CRM 10% from 1 min before"),
    # ...and one that starts 20 s into the run is met by the live look-back.
    Case(10, 0.1, ">= 95%", "<= 1.25", crm_start=20.0, lookback=3600.0, rows=400,
         label="burst 10, CRM 10% from 20 s in"),
)


def _check_scenarios() -> None:
    """`make bench` and `make bench-full` differ in sizes and repeats, never in table rows:
    every case runs at least once in both, the full set keeps three repeats, the quick set
    (the smoke test) runs one case at least."""
    for case in SCENARIOS:
        assert case.repeats.default >= 1 and case.repeats.full >= 3, case.name
    assert len({case.name for case in SCENARIOS}) == len(SCENARIOS)
    assert any(case.repeats.quick for case in SCENARIOS)


_check_scenarios()  # on import: the bench smoke test (python -m benchmarks) fails on a bad table

class Crm:
    """Poisson writes at `rate`; each up to 3 attempts, full-jitter backoff base 1 s / Q."""

    def __init__(self, url: str, jobs: list[dict[str, Any]], rate: float, seed: int, *,
                 delay: float = 0.0) -> None:
        self._api = peers.client(url, Config(retries={"total_max_attempts": 1},
                                             max_pool_connections=16), access_key="other")
        self._jobs, self._rate, self._delay = jobs, rate, delay
        self._random = random.Random(seed)
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=12)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._lock = threading.Lock()
        self.writes: list[tuple[float, bool]] = []  # (first attempt time, succeeded)

    def _run(self) -> None:
        if self._stop.wait(self._delay):
            return
        i, due = 0, time.monotonic()
        while not self._stop.is_set():
            job = self._jobs[i % len(self._jobs)]
            self._pool.submit(self._write, job, seed=self._random.random())
            i += 1
            due += self._random.expovariate(self._rate)
            self._stop.wait(max(0.0, due - time.monotonic()))

    def _write(self, job: dict[str, Any], *, seed: float) -> None:
        local = random.Random(seed)
        started, ok = time.monotonic(), False
        for attempt in range(3):
            try:
                self._api.assign_opportunity(**job)
                ok = True
                break
            except Exception:
                if attempt < 2:
                    time.sleep(local.random() * min(20.0, 2 ** attempt) / Q)
        with self._lock:
            self.writes.append((started, ok))

    def kept(self, start: float, end: float) -> tuple[int, int]:
        with self._lock:
            during = [ok for t, ok in self.writes if start <= t <= end]
        return sum(during), len(during)

    def __enter__(self) -> Crm:
        if self._rate > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._pool.shutdown(wait=True)


@dataclass(frozen=True)
class Trial:
    crm_kept: float | None
    wall_ratio: float
    ours_failed: int
    pace: float
    #: Our throttled writes (jitter retried at once, and the others' tokens).
    throttled: int
    #: The others' rate as the live look-back measured it during the run (writes/s).
    measured: str = ""


def _trial(url: str, path: Path, out: Path, crm_jobs: list[dict[str, Any]], case: Case, *,
           seed: int, rows: int, lead: float) -> Trial:
    from bulk_assign.commands.run import run_command
    from bulk_assign.settings import RunSettings

    crm_start = -lead if case.crm_start is None else case.crm_start
    lookback = lead if case.lookback is None else case.lookback
    post(url, "/_emulator/reset")
    with Crm(url, crm_jobs, case.share * Q, seed, delay=max(0.0, crm_start)) as crm:
        time.sleep(max(0.0, -crm_start) if case.share else 0)
        start = time.monotonic()
        run_command(RunSettings(input_path=path, catalog="Sandbox", out_dir=out, endpoint_url=url,
                                max_tps=Q, read_tps=5 * Q, lookback_seconds=lookback),
                    quiet=True, stdout=io.StringIO())
        end = time.monotonic()
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    ok, total = crm.kept(start, end)
    left = Q * (1 - case.share)
    return Trial(crm_kept=ok / total if total else None,
                 wall_ratio=summary["wall_seconds"] / ((rows - 1) / left),
                 ours_failed=sum(n for s, n in summary["by_status"].items() if s != "SUCCEEDED"),
                 pace=summary["quota_use"]["planned_pace"],
                 throttled=int(summary["calls"]["throttled_write"]),
                 measured=timeline((summary["quota_use"]["other_writers_during_run"] or {})
                                   .get("measured", [])))


def run(table: Any, work: Path, *, rows: int = ROWS, lead: float = LEAD_SECONDS,
        profile: str = "full", scenarios: tuple[Case, ...] = SCENARIOS,
        only: tuple[str, ...] = ()) -> None:
    """Each case of `scenarios` (those whose name holds one of `only`, if any) as many times
    as its `repeats` say for `profile`."""
    most = max(case.sized(profile, rows, lead)[0] for case in scenarios)
    crm_jobs = peers.read_jobs(write_input(work / "crm.csv", 2000, start=START_ID + most))
    for i, case in enumerate(scenarios):
        repeats = case.repeats.of(profile)
        if not repeats or (only and not any(text in case.name for text in only)):
            continue
        n, case_lead = case.sized(profile, rows, lead)
        path = write_input(work / f"share-{n}.csv", n)
        options = ("--generate", str(most + 2100), "--write-rate", str(Q), "--write-burst",
                   str(int(case.burst)), "--read-rate", str(10 * Q), "--latency-ms", "50",
                   "--jitter-ms", "20", "--quiet")
        name = case.name
        with emulator_process(*options) as url:
            post(url, "/_emulator/config", {"credentials": {"test": "test", "other": "test"}})
            trials = [_trial(url, path, work / f"s-{i}-{k}", crm_jobs,
                             case, seed=k, rows=n, lead=case_lead)
                      for k in range(repeats)]
        walls = [t.wall_ratio for t in trials]
        table.add("6 share", name, "our wall / ((N-1)/left)",
                  " ".join(f"{w:.3f}" for w in walls), case.wall_target)
        table.add("6 share", name, "our writes throttled",
                  " ".join(str(t.throttled) for t in trials))
        table.add("6 share", name, "our rows not SUCCEEDED",
                  str(sum(t.ours_failed for t in trials)), "0")
        table.add("6 share", name, "planned pace (look-back)",
                  " ".join(f"{t.pace:.2f}" for t in trials))
        table.add("6 share", name, "others measured, writes/s (repeat 1)",
                  trials[0].measured or "no live look")
        kept = [t.crm_kept for t in trials if t.crm_kept is not None]
        if kept:
            table.add("6 share", name, "CRM writes kept",
                      " ".join(f"{100 * k:.0f}%" for k in kept), case.crm_target)
            spread = (f"{100 * (max(kept) - min(kept)):.0f}" if len(kept) > 1
                      else "n/a (1 repeat)")
            table.add("6 share", name, "CRM kept spread (points)", spread, "<= 10")
