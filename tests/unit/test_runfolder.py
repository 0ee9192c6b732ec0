"""Run folders are private whatever the umask, and every file in them is written whole or not at
all (one atomic writer for all of them)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bulk_assign.errors import UsageError
from bulk_assign.store.journal import Journal
from bulk_assign.store.runfolder import (
    atomic_binary,
    atomic_text,
    touch_private,
    write_atomic,
)
from bulk_assign.store.runlock import prepare_run_dir

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_a_new_run_folder_is_0700(umask: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  ) -> None:
    monkeypatch.chdir(tmp_path)
    default = prepare_run_dir(None, Path("in.csv"), NOW)
    assert default == Path("runs/in-20260301T093000")
    assert _mode(default) == 0o700
    second = prepare_run_dir(None, Path("in.csv"), NOW)
    assert second == Path("runs/in-20260301T093000-2") and _mode(second) == 0o700
    named = prepare_run_dir(tmp_path / "a" / "b", Path("in.csv"), NOW)
    assert _mode(named) == 0o700


def test_an_existing_out_folder_keeps_its_mode(umask: int, tmp_path: Path) -> None:
    mine = tmp_path / "shared"
    mine.mkdir()
    os.chmod(mine, 0o750)
    assert prepare_run_dir(mine, Path("in.csv"), NOW) == mine
    assert _mode(mine) == 0o750


def test_an_out_path_through_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        prepare_run_dir(tmp_path / "f", Path("in.csv"), NOW)
    with pytest.raises(UsageError, match="--out"):
        prepare_run_dir(tmp_path / "f" / "run", Path("in.csv"), NOW)


def test_every_writer_makes_0600_files(umask: int, tmp_path: Path) -> None:
    write_atomic(tmp_path / "summary.json", "{}\n")
    with atomic_text(tmp_path / "results.csv", encoding="utf-8-sig", newline="") as fh:
        fh.write("row\r\n2\r\n")
    with atomic_binary(tmp_path / "results.xlsx") as raw:
        raw.write(b"PK")
    touch_private(tmp_path / "run.log")
    journal = Journal(tmp_path / "journal.jsonl")
    journal.close()
    names = {p.name: _mode(p) for p in tmp_path.iterdir()}
    assert names == dict.fromkeys(
        ["summary.json", "results.csv", "results.xlsx", "run.log", "journal.jsonl"], 0o600)
    assert (tmp_path / "results.csv").read_bytes() == b"\xef\xbb\xbfrow\r\n2\r\n"


def test_files_left_readable_by_an_older_version_become_0600(tmp_path: Path) -> None:
    for name in ("journal.jsonl", "run.log", "summary.json"):
        (tmp_path / name).write_text("old\n")
        os.chmod(tmp_path / name, 0o644)
    Journal(tmp_path / "journal.jsonl").close()
    touch_private(tmp_path / "run.log")
    write_atomic(tmp_path / "summary.json", "new\n")
    assert {p.name: _mode(p) for p in tmp_path.iterdir()} == {
        "journal.jsonl": 0o600, "run.log": 0o600, "summary.json": 0o600}
    assert (tmp_path / "journal.jsonl").read_text() == "old\n"  # appended to, not replaced
    assert (tmp_path / "run.log").read_text() == "old\n"


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "results.csv"
    write_atomic(target, "old\n")
    with pytest.raises(RuntimeError), atomic_text(target) as fh:
        fh.write("half of the new")
        raise RuntimeError("disk full")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]
