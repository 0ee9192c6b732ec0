"""Quotas: token buckets (unit, injected clock) and the real pace over HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bulk_assign.emulator import Emulator, EmulatorConfig, generate_seed, synthetic_users
from bulk_assign.emulator.quota import DAY_SECONDS, QuotaBucket, QuotaGate
from tests.support.emulators import ASSIGNEE, make_client, post_json


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_starts_full_and_refills_at_rate() -> None:
    clock = FakeClock()
    bucket = QuotaBucket(rate=2.0, burst=3, clock=clock)
    assert [bucket.try_take() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5  # one token at 2/s
    assert [bucket.try_take() for _ in range(2)] == [True, False]
    clock.now += 100  # never more than the burst
    assert sum(bucket.try_take() for _ in range(10)) == 3


def test_gate_groups_caps_and_switch_off() -> None:
    clock = FakeClock()
    gate = QuotaGate(EmulatorConfig(write_daily_cap=2, write_burst=5, clock=clock))
    assert [gate.admit("write") for _ in range(3)] == [True, True, False]
    assert all(gate.admit("read") for _ in range(10))
    assert not gate.admit("read")
    clock.now += DAY_SECONDS
    assert gate.admit("write")  # the rolling day moved on
    gate.reconfigure(EmulatorConfig(quotas=False, clock=clock))
    assert all(gate.admit("write") for _ in range(100))


def test_config_rejects_nonsense() -> None:
    for bad in (
        {"write_rate": -1},
        {"read_burst": 0},
        {"error_rate": 1.5},
        {"error_rate": 0.6, "reset_rate": 0.6},
        {"jitter_ms": 5, "latency_ms": 1},
        {"port": 70000},
        {"credentials": {}},
    ):
        with pytest.raises(ValueError):
            EmulatorConfig(**bad)


def hammer(url: str, seconds: float, threads: int = 8) -> None:
    client = make_client(url, max_pool_connections=threads)
    deadline = time.monotonic() + seconds
    users = synthetic_users()

    def work(worker: int) -> None:
        i = 0
        while time.monotonic() < deadline:
            email = users[(worker * 7 + i) % len(users)]
            i += 1
            assignee = {**ASSIGNEE, "Email": email}
            try:
                client.assign_opportunity(
                    Catalog="Sandbox", Identifier=f"O{1_000_000 + worker}", Assignee=assignee
                )
            except ClientError as error:
                assert error.response["Error"]["Code"] == "ThrottlingException"
                assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429

    pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


#: Measures the emulator's bucket on the wall clock: run alone (`make test`'s pacing step), where
#: 8 client threads reliably outrun 20 writes/s.
@pytest.mark.pacing
def test_write_rate_is_enforced_over_http(emulator: Callable[..., Emulator]) -> None:
    rate, burst = 20.0, 1
    emu = emulator(seed=generate_seed(10), write_rate=rate, write_burst=burst)
    hammer(emu.url, seconds=1.5)
    state = emu.state()
    calls = [c for c in state["calls"] if c["operation"] == "AssignOpportunity"]
    accepted = [c["t"] for c in calls if c["outcome"] == "ok"]
    throttled = [c for c in calls if c["outcome"] == "ThrottlingException"]
    assert throttled, "8 threads must outrun 20/s"
    assert state["throttled"]["write"] == len(throttled)
    span = accepted[-1] - accepted[0]
    measured = (len(accepted) - burst) / span
    assert measured == pytest.approx(rate, rel=0.15)
    assert state["counts"]["AssignOpportunity"]["applied"] == len(accepted)


def test_throttled_calls_change_nothing(emulator: Callable[..., Emulator]) -> None:
    emu = emulator(seed=generate_seed(3), write_rate=0.001, write_burst=1)
    client = make_client(emu.url)
    first = {**ASSIGNEE, "Email": "user1@example.com"}
    second = {**ASSIGNEE, "Email": "user2@example.com"}
    client.assign_opportunity(Catalog="Sandbox", Identifier="O1000000", Assignee=first)
    with pytest.raises(ClientError, match="ThrottlingException"):
        client.assign_opportunity(Catalog="Sandbox", Identifier="O1000000", Assignee=second)
    assert emu.state()["owners"]["Sandbox"]["O1000000"]["Email"] == "user1@example.com"
    assert emu.state()["throttled"] == {"write": 1, "read": 0}


def test_read_daily_cap(emulator: Callable[..., Emulator]) -> None:
    emu = emulator(read_rate=1000, read_burst=1000, read_daily_cap=3)
    client: Any = make_client(emu.url)
    for _ in range(3):
        client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")
    with pytest.raises(ClientError, match="ThrottlingException"):
        client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")
    emu.configure(read_daily_cap=5)  # the count so far is kept
    client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")
    client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")
    with pytest.raises(ClientError, match="ThrottlingException"):
        client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")


def test_write_burst_set_at_run_time() -> None:
    clock = FakeClock()
    gate = QuotaGate(EmulatorConfig(write_rate=10, write_burst=1, clock=clock))
    assert [gate.admit("write") for _ in range(2)] == [True, False]
    gate.reconfigure(EmulatorConfig(write_rate=10, write_burst=10, clock=clock))  # 1 s of quota
    assert sum(gate.admit("write") for _ in range(20)) == 10


def test_switching_faults_does_not_refill_the_buckets() -> None:
    clock = FakeClock()
    config = EmulatorConfig(write_rate=1, write_burst=1, clock=clock)
    gate = QuotaGate(config)
    assert gate.admit("write")
    for change in ({"error_rate": 1.0}, {"error_rate": 0.0}, {"latency_ms": 5.0}):
        config = config.replace(**change)
        gate.reconfigure(config)
        assert not gate.admit("write"), change
    clock.now += 1.0
    assert gate.admit("write")


def test_write_burst_over_http(emulator: Callable[..., Emulator]) -> None:
    emu = emulator(seed=generate_seed(12), write_rate=0.001, write_burst=1)
    client = make_client(emu.url)
    status, config = post_json(emu.url + "/_emulator/config", {"write_burst": 5})
    assert (status, config["write_burst"]) == (200, 5)
    outcomes = []
    for k in range(7):
        try:
            client.assign_opportunity(
                Catalog="Sandbox",
                Identifier=f"O{1_000_000 + k}",
                Assignee={**ASSIGNEE, "Email": f"user{k + 1}@example.com"},
            )
            outcomes.append("ok")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])
    assert outcomes == ["ok"] * 5 + ["ThrottlingException"] * 2
