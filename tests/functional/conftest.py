"""The functional tests run the real tool against the emulator: never with the machine's AWS
set-up (the fixtures themselves are in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module", autouse=True)
def _isolated_aws(aws_env: None) -> None:
    """Every module of this folder runs with the emulator's keys only."""
