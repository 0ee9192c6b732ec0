"""What a user would do instead of bulk-assign, each as the public samples write it."""

from __future__ import annotations

import csv
import random
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from benchmarks.support import tool_env


@dataclass(frozen=True)
class PeerResult:
    wall_seconds: float
    rows: int
    failed: int


def read_jobs(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as fh:
        return [
            {
                "Catalog": "Sandbox",
                "Identifier": row["Identifier"],
                "Assignee": {
                    "Email": row["Email"], "FirstName": row["FirstName"],
                    "LastName": row["LastName"], "BusinessTitle": "PartnerAccountManager",
                },
            }
            for row in csv.DictReader(fh)
        ]


def client(url: str, config: Config, *, access_key: str = "test") -> Any:
    return boto3.client(
        "partnercentral-selling", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id=access_key, aws_secret_access_key="test", config=config,
    )


def _call(api: Any, job: dict[str, Any]) -> bool:
    try:
        api.assign_opportunity(**job)
        return True
    except Exception:
        return False


def sequential_sleep(url: str, jobs: list[dict[str, Any]], rate: float) -> PeerResult:
    """(a) The AWS samples' loop: one call, then time.sleep(1/Q); SDK default retries."""
    api = client(url, Config())
    t0 = time.perf_counter()
    failed = 0
    for job in jobs:
        failed += not _call(api, job)
        time.sleep(1 / rate)
    return PeerResult(time.perf_counter() - t0, len(jobs), failed)


def plain_loop(url: str, jobs: list[dict[str, Any]]) -> PeerResult:
    """(b) A plain loop relying on the SDK's default retries."""
    api = client(url, Config())
    t0 = time.perf_counter()
    failed = sum(not _call(api, job) for job in jobs)
    return PeerResult(time.perf_counter() - t0, len(jobs), failed)


def adaptive_threads(url: str, jobs: list[dict[str, Any]], threads: int = 8) -> PeerResult:
    """(c) Threads sharing one client in botocore's adaptive retry mode (client-side rate
    limiting from throttle feedback)."""
    api = client(url, Config(retries={"mode": "adaptive", "max_attempts": 8},
                             max_pool_connections=threads))
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        ok = list(pool.map(lambda job: _call(api, job), jobs))
    return PeerResult(time.perf_counter() - t0, len(jobs), ok.count(False))


def threaded_loop(url: str, jobs: list[dict[str, Any]], threads: int) -> PeerResult:
    """A plain threaded loop, retries off: the client-overhead baseline."""
    api = client(url, Config(retries={"total_max_attempts": 1}, max_pool_connections=threads))
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        ok = list(pool.map(lambda job: _call(api, job), jobs))
    return PeerResult(time.perf_counter() - t0, len(jobs), ok.count(False))


def cli_available() -> bool:
    if shutil.which("aws") is None:
        return False
    probe = subprocess.run(["aws", "partnercentral-selling", "help"], capture_output=True,
                           env=tool_env(), timeout=60, check=False)
    return probe.returncode == 0


def cli_loop(url: str, jobs: list[dict[str, Any]]) -> PeerResult:
    """(d) The AWS CLI in a shell loop, one process per row."""
    env = tool_env()
    t0 = time.perf_counter()
    failed = 0
    for job in jobs:
        a = job["Assignee"]
        proc = subprocess.run(
            ["aws", "partnercentral-selling", "assign-opportunity", "--endpoint-url", url,
             "--region", "us-east-1", "--catalog", job["Catalog"], "--identifier",
             job["Identifier"], "--assignee",
             f"Email={a['Email']},FirstName={a['FirstName']},LastName={a['LastName']},"
             f"BusinessTitle={a['BusinessTitle']}"],
            capture_output=True, env=env, timeout=120, check=False,
        )
        failed += proc.returncode != 0
    return PeerResult(time.perf_counter() - t0, len(jobs), failed)


class SecondWriter:
    """A CRM sync of the same account that gets `rate` writes/s through, all run long.

    Its writes come at random moments (Poisson, as user edits do); a throttled one is retried
    every quarter of its interval until it lands, which is what it takes to keep its half of a
    burst-1 quota (with random pauses of the same mean it got under 10% of it beside us: our
    exact pacing wins that race)."""

    def __init__(self, url: str, jobs: list[dict[str, Any]], rate: float) -> None:
        self._api = client(url, Config(retries={"total_max_attempts": 1}), access_key="other")
        self._jobs = jobs
        self._interval = 1 / rate
        self._retry_after = self._interval / 4
        self._random = random.Random(11)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.accepted = 0

    def _run(self) -> None:
        i = 0
        due = time.monotonic()
        while not self._stop.is_set():
            while not _call(self._api, self._jobs[i % len(self._jobs)]):
                if self._stop.wait(self._retry_after):
                    return
            self.accepted += 1
            i += 1
            due += self._random.expovariate(1 / self._interval)
            self._stop.wait(max(0.0, due - time.monotonic()))

    def __enter__(self) -> SecondWriter:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
