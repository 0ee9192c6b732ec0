"""Fixtures of the functional tests: an isolated AWS environment and running emulators."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from functional_support import ROOT, isolated_aws_env

from bulk_assign.emulator import Emulator, EmulatorConfig


@pytest.fixture(scope="module", autouse=True)
def aws_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    scratch = tmp_path_factory.mktemp("aws")
    with pytest.MonkeyPatch.context() as mp:
        for name in [k for k in os.environ if k.startswith("AWS_")]:
            mp.delenv(name)
        for name, value in isolated_aws_env({}, scratch).items():
            mp.setenv(name, value)
        yield


@pytest.fixture
def subprocess_env(tmp_path: Path) -> dict[str, str]:
    env = isolated_aws_env(dict(os.environ), tmp_path)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


@pytest.fixture
def emulator() -> Iterator[Callable[..., Emulator]]:
    """Start in-process emulators (port 0) that stop after the test: emulator(seed, **config)."""
    running: list[Emulator] = []

    def start(seed: Any = None, **config: Any) -> Emulator:
        emu = Emulator(EmulatorConfig(**config), seed=seed).start()
        running.append(emu)
        return emu

    yield start
    for emu in running:
        emu.stop()


