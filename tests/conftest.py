"""The fixtures every test folder shares, built on tests/support: hypothesis profiles, the
emulator, the AWS environment, umasks, and a check every test gets: any rollback.csv it writes
validates with zero INVALID rows.

Everything here is safe under pytest-xdist: emulators listen on ports the OS picks, files go to
tmp_path, and the environment changes through monkeypatch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from bulk_assign.emulator import Emulator, EmulatorConfig
from tests.support.env import isolate_aws_env, tool_env
from tests.support.outputs import assert_rollback_validates

# "ci" is derandomized: every run draws the same examples (from each test's own code), so
# `make test` passes or fails the same way every time and a failure replays as it is; "deep"
# draws new examples on every run, to look further.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    print_blob=True,
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


@pytest.fixture(scope="module")
def aws_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """For a whole module: in-process runs see only the emulator's keys."""
    with pytest.MonkeyPatch.context() as mp:
        isolate_aws_env(mp, tmp_path_factory.mktemp("aws"))
        yield


@pytest.fixture
def subprocess_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a `python -m bulk_assign` subprocess (see `tool_env`)."""
    return tool_env(tmp_path)


#: Modules with the longest tests (5-60 s each on 2 cores, `make test ARGS=--durations=40`),
#: longest first: they start first, each on its own xdist worker, so that no worker starts one
#: of them at the end while the others have nothing left to do.
SLOW_FIRST = (
    "tests/test_bench_smoke.py",
    "tests/attack/test_crash_runs.py",
    "tests/functional/test_journal_corruption_property.py",
    "tests/functional/test_sharing_runs.py",
    "tests/functional/test_faults_and_stops.py",
    "tests/functional/test_run_folder_lock.py",
    "tests/functional/test_verify_signoff.py",
    "tests/functional/test_outages.py",
    "tests/functional/test_hangup_and_early_signals.py",
    "tests/functional/test_export_transfer_verify_folders.py",
    "tests/functional/test_killed_invocation_counts.py",
    "tests/functional/test_owner_changed.py",
    "tests/functional/test_confirm_pty.py",
    "tests/attack/test_corpus.py",
    "tests/functional/test_plan_says.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slowest modules' tests first, each followed by one of the rest, then the rest in
    their order (every xdist worker sorts alike). `make test` hands out tests with `--dist load
    --maxschedchunk 1`: each worker gets two neighbours at first and one more as it finishes
    one, so the slow tests spread over the workers instead of queueing behind each other (in
    xdist's default chunks of consecutive tests one worker ran all eight bench smoke tests in
    turn, 110 s after the others had finished)."""
    def module(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    slow = sorted((i for i in items if module(i) in SLOW_FIRST),
                  key=lambda i: SLOW_FIRST.index(module(i)))
    rest = [i for i in items if module(i) not in SLOW_FIRST]
    paired = [i for pair in zip(slow, rest, strict=False) for i in pair]
    items[:] = paired + slow[len(rest):] + rest[len(slow):]
