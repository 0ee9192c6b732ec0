"""RunSettings: rejected at construction with a clear message, sized sensibly, recorded exactly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bulk_assign.settings import DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_TPS, RunSettings


def _settings(**kw: Any) -> RunSettings:
    return RunSettings(input_path=Path("in.csv"), catalog=kw.pop("catalog", "Sandbox"), **kw)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"catalog": "Prod"}, "catalog must be one of"),
        ({"catalog": "sandbox"}, "'sandbox'"),
        ({"max_tps": 0}, "max_tps must be greater than 0, not 0"),
        ({"max_tps": -1.5}, "max_tps must be greater than 0, not -1.5"),
        ({"max_tps": float("nan")}, "max_tps must be greater than 0"),
        ({"read_tps": 0.0}, "read_tps must be greater than 0"),
        ({"connect_timeout": 0}, "connect_timeout must be greater than 0"),
        ({"read_timeout": -1}, "read_timeout must be greater than 0"),
        ({"quota_wait_seconds": 0}, "quota_wait_seconds must be greater than 0"),
        ({"max_attempts": 0}, "max_attempts must be 1 or more, not 0"),
        ({"access_denied_limit": 0}, "access_denied_limit must be 1 or more"),
        ({"workers": 0}, "workers must be 1 or more, not 0"),
        ({"workers": -3}, "workers must be 1 or more, not -3"),
    ],
)
def test_invalid_settings_raise_a_clear_value_error(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as info:
        _settings(**changes)
    assert message in str(info.value)


def test_defaults_follow_the_spec() -> None:
    s = _settings()
    assert s.max_tps == DEFAULT_MAX_TPS == 1.0
    assert s.max_attempts == DEFAULT_MAX_ATTEMPTS == 8
    assert s.read_tps == 10.0 and s.pre_read and not s.dry_run
    assert not s.allow_other_titles
    assert s.region == "us-east-1"


def test_settings_are_frozen() -> None:
    s = _settings()
    with pytest.raises(AttributeError):
        s.max_tps = 5.0  # type: ignore[misc]
    changed = s.replace(max_tps=0.5)
    assert changed.max_tps == 0.5 and s.max_tps == 1.0
    with pytest.raises(ValueError, match="max_tps"):
        s.replace(max_tps=0)  # a change is validated like a new object


@pytest.mark.parametrize("max_tps", [0.1, 1.0, 2.0, 10.0, 50.0, 1000.0])
def test_default_worker_count_covers_the_pace_and_stays_bounded(max_tps: float) -> None:
    n = _settings(max_tps=max_tps).worker_count
    assert 4 <= n <= 64
    # At least the writes in flight at that pace (0.5 s calls) plus as many reads and retries.
    assert n >= min(64, 2 * max_tps * 0.5)


def test_default_worker_count_grows_with_the_pace() -> None:
    counts = [_settings(max_tps=q).worker_count for q in (1.0, 10.0, 40.0)]
    assert counts == sorted(counts) and counts[0] < counts[-1]


def test_explicit_workers_win() -> None:
    assert _settings(workers=1).worker_count == 1
    assert _settings(workers=200, max_tps=0.1).worker_count == 200


def test_to_json_from_json_round_trip_through_run_json() -> None:
    s = _settings(
        catalog="AWS", sheet="Q3", out_dir=Path("runs/x"), allow_other_titles=True,
        dry_run=True, max_tps=0.5, read_tps=4.0, workers=3, max_attempts=2,
        connect_timeout=1.5, read_timeout=9.0, quota_wait_seconds=60.0,
        access_denied_limit=5, profile="partner", region="eu-west-1",
        endpoint_url="http://127.0.0.1:8765", pre_read=False,
    )
    data = json.loads(json.dumps(s.to_json()))  # what run.json holds
    assert data["input_path"] == "in.csv" and data["out_dir"] == str(Path("runs/x"))
    back = RunSettings.from_json(data)
    assert back == s
    assert isinstance(back.input_path, Path) and isinstance(back.out_dir, Path)


def test_from_json_round_trip_with_defaults_and_unknown_keys() -> None:
    s = _settings()
    data = {**json.loads(json.dumps(s.to_json())), "from_a_newer_version": 1}
    assert RunSettings.from_json(data) == s
    assert RunSettings.from_json(data).out_dir is None


def test_from_json_validates_a_tampered_record() -> None:
    data = _settings().to_json()
    data["max_tps"] = -1
    with pytest.raises(ValueError, match="max_tps must be greater than 0"):
        RunSettings.from_json(data)
