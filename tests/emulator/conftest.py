"""Fixtures for the emulator's functional tests: running emulators and a client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from emulator_support import make_client

from bulk_assign.emulator import Emulator, EmulatorConfig


@pytest.fixture
def start() -> Iterator[Callable[..., Emulator]]:
    """Start emulators (port 0) that are stopped after the test."""
    running: list[Emulator] = []

    def _start(seed: dict[str, Any] | None = None, **settings: Any) -> Emulator:
        emu = Emulator(EmulatorConfig(**settings), seed=seed).start()
        running.append(emu)
        return emu

    yield _start
    for emu in running:
        emu.stop()


@pytest.fixture
def emu(start: Callable[..., Emulator]) -> Emulator:
    """The demo seed with quotas off."""
    return start(quotas=False)


@pytest.fixture
def client(emu: Emulator) -> Any:
    return make_client(emu.url)
