"""Injected latency and faults: 500s, dropped connections, slow answers; seeded and repeatable."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from bulk_assign.emulator import Emulator
from tests.support.emulators import ASSIGNEE, make_client, post_json


def outcomes(emu: Emulator, calls: int) -> list[str]:
    client = make_client(emu.url)
    seen = []
    for _ in range(calls):
        try:
            client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")
            seen.append("ok")
        except ClientError as error:
            seen.append(error.response["Error"]["Code"])
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    return seen


def test_error_rate_gives_about_that_share_of_500s(emulator: Callable[..., Emulator]) -> None:
    emu = emulator(quotas=False, error_rate=0.5, random_seed=7)
    seen = outcomes(emu, 200)
    assert set(seen) == {"ok", "InternalServerException"}
    assert 0.4 <= seen.count("InternalServerException") / len(seen) <= 0.6
    assert emu.state()["faults"]["error"] == seen.count("InternalServerException")


def test_error_fault_is_not_applied(emulator: Callable[..., Emulator]) -> None:
    emu = emulator(quotas=False, error_rate=1.0)
    client = make_client(emu.url)
    with pytest.raises(ClientError, match="InternalServerException"):
        client.assign_opportunity(Catalog="Sandbox", Identifier="O5100001", Assignee=ASSIGNEE)
    assert emu.state()["owners"]["Sandbox"]["O5100001"]["Email"] != ASSIGNEE["Email"]
    assert emu.state()["counts"]["AssignOpportunity"] == {"InternalServerException": 1}


def test_same_seed_same_fault_sequence(emulator: Callable[..., Emulator]) -> None:
    first = outcomes(emulator(quotas=False, error_rate=0.3, random_seed=42), 40)
    second = outcomes(emulator(quotas=False, error_rate=0.3, random_seed=42), 40)
    other = outcomes(emulator(quotas=False, error_rate=0.3, random_seed=43), 40)
    assert first == second
    assert first != other


def test_reset_applies_then_drops_the_connection(emulator: Callable[..., Emulator]) -> None:
    emu = emulator(quotas=False, reset_rate=1.0)
    client = make_client(emu.url)
    with pytest.raises(ConnectionClosedError):
        client.assign_opportunity(Catalog="Sandbox", Identifier="O5100001", Assignee=ASSIGNEE)
    state = emu.state()
    assert state["owners"]["Sandbox"]["O5100001"] == ASSIGNEE
    assert state["calls"][-1]["outcome"] == "reset"
    assert state["calls"][-1]["applied"] is True
    assert state["counts"]["AssignOpportunity"] == {"reset": 1, "applied": 1}
    assert state["faults"]["reset"] == 1
    # The client recovers on a new connection once the fault is off.
    emu.configure(reset_rate=0.0)
    assert client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")["OpportunityTeam"] == [
        ASSIGNEE
    ]


def test_slow_answer_beyond_read_timeout(emulator: Callable[..., Emulator]) -> None:
    emu = emulator(quotas=False, slow_rate=1.0, slow_seconds=0.6)
    client = make_client(emu.url, read_timeout=0.2, connect_timeout=1)
    with pytest.raises(ReadTimeoutError):
        client.assign_opportunity(Catalog="Sandbox", Identifier="O5100001", Assignee=ASSIGNEE)
    # Applied although the client gave up: a re-read finds the new owner.
    assert emu.state()["owners"]["Sandbox"]["O5100001"] == ASSIGNEE
    assert emu.state()["calls"][-1]["outcome"] == "slow"


#: Measures the emulator's latency on the wall clock: run alone (`make test`'s pacing step), where
#: a parallel test's load cannot stretch a call's own overhead past the 0.2 s bound.
@pytest.mark.pacing
def test_latency_is_added_after_the_quota_decision(emulator: Callable[..., Emulator]) -> None:
    emu = emulator(quotas=False, latency_ms=80, jitter_ms=20)
    client = make_client(emu.url)
    client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")  # connect first
    began = time.perf_counter()
    for _ in range(5):
        client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")
    mean = (time.perf_counter() - began) / 5
    assert 0.055 <= mean <= 0.2


def test_an_outage_is_switched_on_and_off_over_http(emulator: Callable[..., Emulator]) -> None:
    emu = emulator(quotas=False)
    client = make_client(emu.url)
    status, config = post_json(emu.url + "/_emulator/config", {"error_rate": 1.0})
    assert (status, config["error_rate"]) == (200, 1.0)
    assert outcomes(emu, 10) == ["InternalServerException"] * 10
    with pytest.raises(ClientError, match="InternalServerException"):
        client.assign_opportunity(Catalog="Sandbox", Identifier="O5100001", Assignee=ASSIGNEE)
    with pytest.raises(ClientError, match="InternalServerException"):
        client.list_opportunities(Catalog="Sandbox")
    status, _ = post_json(emu.url + "/_emulator/config", {"error_rate": 0})
    assert status == 200
    assert outcomes(emu, 10) == ["ok"] * 10
    assert emu.state()["owners"]["Sandbox"]["O5100001"]["Email"] != ASSIGNEE["Email"]


def test_connection_resets_are_switched_on_and_off_over_http(
    emulator: Callable[..., Emulator],
) -> None:
    emu = emulator(quotas=False)
    client = make_client(emu.url)
    status, _ = post_json(emu.url + "/_emulator/config", {"reset_rate": 1.0})
    assert status == 200
    with pytest.raises(ConnectionClosedError):
        client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")
    # Both at once: a full outage out of a sprinkle of faults is one request.
    status, _ = post_json(emu.url + "/_emulator/config", {"reset_rate": 0.05, "error_rate": 0.1})
    assert status == 200
    status, problem = post_json(emu.url + "/_emulator/config", {"error_rate": 1.0})
    assert status == 400 and "must be <= 1" in problem["message"]
    status, _ = post_json(emu.url + "/_emulator/config", {"reset_rate": 0, "error_rate": 1.0})
    assert status == 200
    assert outcomes(emu, 5) == ["InternalServerException"] * 5
    post_json(emu.url + "/_emulator/config", {"error_rate": 0})
    assert outcomes(emu, 5) == ["ok"] * 5
    assert emu.state()["faults"]["reset"] == 1
