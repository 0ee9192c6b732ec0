"""Fixtures of the emulator's own tests: the demo seed with quotas off, and a client for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bulk_assign.emulator import Emulator
from tests.support.emulators import make_client


@pytest.fixture
def emu(emulator: Callable[..., Emulator]) -> Emulator:
    """The demo seed with quotas off."""
    return emulator(quotas=False)


@pytest.fixture
def client(emu: Emulator) -> Any:
    return make_client(emu.url)
