"""Hypothesis profiles: "ci" (the default, fast) and "deep" (HYPOTHESIS_PROFILE=deep), and a
check every test gets: any rollback.csv it writes validates with zero INVALID rows."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "deep",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(autouse=True)
def _every_rollback_csv_validates(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever a test does, every rollback.csv it leaves in its tmp_path runs as it is: the
    tool's own reader and validator find zero INVALID rows in it."""
    folder: Path | None = (
        request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    )
    yield
    if folder is None:
        return
    from helpers_files import assert_rollback_validates  # late: most tests write no rollback

    for path in folder.rglob("rollback.csv"):
        assert_rollback_validates(path)



@pytest.fixture(params=[0o022, 0o000], ids=["umask022", "umask000"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    """Run the test under a permissive umask (and restore the old one): files the tool makes
    must be private whatever the user's umask."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)
