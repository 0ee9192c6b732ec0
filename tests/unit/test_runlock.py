"""One process per run folder: the second is refused at once and told who holds the folder; a
holder killed with -9 leaves no lock behind; `lock_holder` reads without getting in the way."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bulk_assign.errors import EXIT_USAGE, UsageError
from bulk_assign.store.runlock import (
    LOCK_FILE,
    filesystem_type,
    hold_run_folder,
    lock_holder,
    network_warning,
)

ROOT = Path(__file__).resolve().parents[2]
HOLD = """
import sys, time
from pathlib import Path
from bulk_assign.store.runlock import hold_run_folder
with hold_run_folder(Path(sys.argv[1]), command="resume"):
    print("held", flush=True)
    time.sleep(60)
"""


@contextmanager
def _other_process_holds(folder: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process that holds `folder` until it is killed."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_a_second_holder_is_refused_at_once_naming_the_first(tmp_path: Path) -> None:
    since = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    with hold_run_folder(tmp_path, command="resume", now=lambda: since) as held:
        assert held.holder.pid == os.getpid()
        t0 = time.monotonic()
        with pytest.raises(UsageError) as refused, hold_run_folder(tmp_path, command="resume"):
            pytest.fail("a second holder got in")
        assert time.monotonic() - t0 < 1.0
    message = refused.value.message
    assert refused.value.exit_code == EXIT_USAGE
    assert f"pid {os.getpid()}" in message
    assert socket.gethostname() in message
    assert "since 2026-03-01T09:30:00Z" in message
    assert "Nothing was sent" in message and "kill" in message
    # Released on the way out: the next one gets in.
    with hold_run_folder(tmp_path, command="resume"):
        pass


def test_released_when_the_body_raises(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), hold_run_folder(tmp_path, command="run"):
        raise RuntimeError("boom")
    assert lock_holder(tmp_path) is None
    with hold_run_folder(tmp_path, command="run"):
        pass


def test_another_process_holds_it_then_dies_by_kill_9(tmp_path: Path) -> None:
    with _other_process_holds(tmp_path) as other:
        holder = lock_holder(tmp_path)
        assert holder is not None and holder.pid == other.pid
        with (pytest.raises(UsageError, match=f"pid {other.pid} on "),
              hold_run_folder(tmp_path, command="resume")):
            pass
        other.send_signal(signal.SIGKILL)
        other.wait(timeout=10)
    # The file still names the dead process, but the OS dropped its lock with it.
    assert json.loads((tmp_path / LOCK_FILE).read_text())["pid"] == other.pid
    assert lock_holder(tmp_path) is None
    with hold_run_folder(tmp_path, command="resume") as held:
        assert held.holder.pid == os.getpid()


def test_lock_holder_does_not_take_the_folder(tmp_path: Path) -> None:
    assert lock_holder(tmp_path) is None  # never held: no file
    assert not (tmp_path / LOCK_FILE).exists()
    with hold_run_folder(tmp_path, command="run"):
        for _ in range(50):
            assert lock_holder(tmp_path) is not None
    assert lock_holder(tmp_path) is None
    assert (tmp_path / LOCK_FILE).read_text() == ""  # a clean release leaves no holder


def test_a_new_run_rechecks_the_folder_once_held(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text("{}")
    (tmp_path / "journal.jsonl").write_text("")  # a run happened here meanwhile
    with (pytest.raises(UsageError, match="another run started in it"),
          hold_run_folder(tmp_path, command="run", new_run=True)):
        pass
    with hold_run_folder(tmp_path, command="resume"):
        pass  # resuming that run is what it is for


def test_the_command_line_is_recorded_without_url_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["/x/bulk-assign", "resume", "runs/a b",
                                      "--endpoint-url", "http://me:pw@127.0.0.1:1"])
    with hold_run_folder(tmp_path, command="resume") as held:
        recorded = json.loads((tmp_path / LOCK_FILE).read_text())
    assert recorded["command"] == held.holder.command
    assert recorded["command"] == (
        "bulk-assign resume … --endpoint-url http://***@127.0.0.1:1")


def test_the_command_is_recorded_without_a_value_that_may_name_a_person(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", [
        "bulk-assign", "transfer", "--catalog", "Sandbox", "--from", "ana.berg@example.com",
        "--to=bo.lund@example.com", "--first-name", "Bo", "--last-name", "Lund", "--phone",
        "+15550100199", "--title", "Partner Account Manager", "--out", "runs/ana-berg",
        "--max-tps", "0.5", "--yes"])
    with hold_run_folder(tmp_path, command="transfer"):
        recorded = (tmp_path / LOCK_FILE).read_text(encoding="utf-8")
    for personal in ("ana", "berg", "bo.lund", "Bo", "Lund", "5550100199", "Partner", "@"):
        assert personal not in recorded
    assert json.loads(recorded)["command"] == (
        "bulk-assign transfer --catalog Sandbox --from … --to=… --first-name … --last-name … "
        "--phone … --title … --out … --max-tps 0.5 --yes")


def test_the_lock_file_is_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        with hold_run_folder(tmp_path, command="run"):
            assert (tmp_path / LOCK_FILE).stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


MOUNTS = """\
sysfs /sys sysfs rw 0 0
/dev/sda1 / ext4 rw,relatime 0 0
server:/export /home nfs4 rw,vers=4.2 0 0
/dev/sdb1 /home/ana/local\\040disk ext4 rw 0 0
//nas/share /mnt/share cifs rw 0 0
"""


@pytest.mark.parametrize(("folder", "kind"), [
    ("/var/runs/x", "ext4"),
    ("/home/ana/runs/x", "nfs4"),
    ("/home/ana/local disk/runs/x", "ext4"),
    ("/mnt/share/runs", "cifs"),
])
def test_filesystem_type_is_the_deepest_mount(tmp_path: Path, folder: str, kind: str) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(MOUNTS)
    assert filesystem_type(Path(folder), mounts=mounts) == kind


def test_a_network_filesystem_is_warned_about(tmp_path: Path) -> None:
    mounts = tmp_path / "mounts"
    mounts.write_text(MOUNTS)
    warning = network_warning(Path("/home/ana/runs/x"), mounts=mounts)
    assert warning is not None
    assert "nfs4" in warning and "one machine only" in warning
    assert network_warning(Path("/var/runs/x"), mounts=mounts) is None
    assert network_warning(Path("/var/runs/x"), mounts=tmp_path / "none") is None
