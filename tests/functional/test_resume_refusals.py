"""A run folder that cannot be trusted is never resumed into writes: a dry-run folder, a damaged
or missing journal, a damaged run.json. Each is refused with exit 2 and one sentence naming the
file (and the line), before any call, leaving rollback.csv exactly as it was."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bulk_assign import cli
from bulk_assign.emulator import Emulator
from tests.support.emulators import fast, generated, running_emulator
from tests.support.env import ROOT
from tests.support.inputs import write_input
from tests.support.outputs import read_results
from tests.support.runs import run, settings

ROWS = 16


def _cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    return cli.main(argv)


def test_a_dry_run_folder_is_never_resumed_into_writes(
    emulator: Callable[..., Emulator], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu = emulator(generated(ROWS), **fast())
    source = write_input(tmp_path / "in.csv", ROWS)
    folder = tmp_path / "dry"
    assert _cli(["run", str(source), "--catalog", "Sandbox", "--endpoint-url", emu.url,
                 "--dry-run", "--out", str(folder), "--quiet"], monkeypatch) == 0
    summary_before = (folder / "summary.json").read_bytes()
    capsys.readouterr()
    # The rehearsal read the first opportunity (is the service there?) and wrote nothing.
    assert [c["operation"] for c in emu.state()["calls"]] == ["GetOpportunity"]
    emu.reset()

    assert _cli(["resume", str(folder), "--quiet"], monkeypatch) == 2
    err = capsys.readouterr().err
    assert "dry run" in err
    assert f"bulk-assign run {source} --catalog Sandbox" in err  # the real run's command
    assert "Traceback" not in err
    assert emu.state()["calls"] == []
    assert (folder / "summary.json").read_bytes() == summary_before
    assert json.loads(summary_before)["dry_run"] is True
    assert {r["status"] for r in read_results(folder)} == {"DRY_RUN"}


# --- a run that changed rows and stopped with rows left (rejected credentials) ----------------


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, aws_env: None
             ) -> Iterator[tuple[Emulator, Path]]:
    """A run that changed about half the rows (rollback.csv has them) and left the rest
    SKIPPED, made once for the module; the emulator then accepts the credentials again, so a
    resume could send. Each test damages its own copy of the folder: the resumes here are all
    refused, and each test checks on the emulator's call log that its own sent nothing."""
    tmp = tmp_path_factory.mktemp("partly-done")
    # Each row is read before it is written, so after ROWS + ROWS/2 accepted calls at least
    # half the rows and at most three quarters are written, however far the reads ran ahead
    # (after ROWS calls, a loaded machine once wrote 2 of 16).
    with running_emulator(generated(ROWS),
                          **fast(reject_credentials_after=ROWS + ROWS // 2)) as emu:
        source = write_input(tmp / "in.csv", ROWS)
        first = run(settings(source, emu.url, tmp / "run"))
        assert first.code == 3
        statuses = first.statuses()
        assert statuses["SUCCEEDED"] >= 3 and statuses["SKIPPED"] >= 3, statuses
        assert (first.folder / "rollback.csv").exists()
        emu.configure(reject_credentials_after=None)
        yield emu, first.folder


def _partly_done(prepared: tuple[Emulator, Path], tmp_path: Path) -> tuple[Emulator, Path]:
    """This test's own copy of the prepared run folder (resume takes the folder it is given)."""
    emu, folder = prepared
    return emu, Path(shutil.copytree(folder, tmp_path / "run"))


def _resume_process(folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bulk_assign", "resume", str(folder), "--quiet"], cwd=ROOT,
        env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )


def _assert_refused(result: subprocess.CompletedProcess[str], *, names: str) -> str:
    """Exit 2, one line of error naming `names`, no traceback; returns the message."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bulk-assign: error: "), result.stderr
    assert names in lines[0], lines[0]
    return lines[0]


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().split(b"\n")[:-1]


def _nul_over_lines(journal: Path, first: int, last: int) -> None:
    """Overwrite lines first..last (1-based, newlines included) with NUL bytes, as a crash on
    some filesystems leaves them."""
    data = journal.read_bytes()
    lines = data.split(b"\n")
    start = sum(len(line) + 1 for line in lines[: first - 1])
    end = sum(len(line) + 1 for line in lines[:last])
    journal.write_bytes(data[:start] + b"\0" * (end - start) + data[end:])


@pytest.mark.parametrize("damage", ["nul-middle", "nul-tail", "deleted"])
def test_a_damaged_or_missing_journal_stops_resume_and_keeps_rollback(
    damage: str, prepared: tuple[Emulator, Path], tmp_path: Path,
    subprocess_env: dict[str, str],
) -> None:
    emu, folder = _partly_done(prepared, tmp_path)
    journal = folder / "journal.jsonl"
    rollback = (folder / "rollback.csv").read_bytes()
    results = (folder / "results.csv").read_bytes()
    count = len(_lines(journal))
    if damage == "nul-middle":
        _nul_over_lines(journal, 2, 4)
    elif damage == "nul-tail":  # the file's end, its last newline too
        _nul_over_lines(journal, count - 2, count)
    else:
        journal.unlink()
    calls_before = len(emu.state()["calls"])

    message = _assert_refused(_resume_process(folder, subprocess_env), names="journal.jsonl")
    if damage == "nul-middle":
        assert "line 2" in message
    assert len(emu.state()["calls"]) == calls_before
    assert (folder / "rollback.csv").read_bytes() == rollback
    assert (folder / "results.csv").read_bytes() == results


def _outcome_line(journal: Path, status: str = "SUCCEEDED") -> int:
    """The index (0-based) of the first outcome line of a row with `status`."""
    for i, line in enumerate(_lines(journal)):
        record = json.loads(line)
        if record["event"] == "outcome" and record["status"] == status:
            return i
    raise AssertionError(f"no {status} outcome in the journal")


def _replace_journal_line(folder: Path, change: Callable[[dict[str, Any]], object]) -> None:
    journal = folder / "journal.jsonl"
    lines = _lines(journal)
    i = _outcome_line(journal)
    lines[i] = json.dumps(change(json.loads(lines[i]))).encode()
    journal.write_bytes(b"\n".join(lines) + b"\n")


def _edit_record(folder: Path, change: Callable[[dict[str, Any]], object]) -> None:
    path = folder / "run.json"
    path.write_text(json.dumps(change(json.loads(path.read_text(encoding="utf-8")))),
                    encoding="utf-8")


def _without(record: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != key}


def _settings_with(record: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**record, "settings": {**record["settings"], **changes}}


DAMAGES: dict[str, tuple[str, Callable[[Path], None]]] = {
    "journal line null": ("journal.jsonl", lambda f: _replace_journal_line(f, lambda r: None)),
    "journal lower-case status": ("journal.jsonl", lambda f: _replace_journal_line(
        f, lambda r: {**r, "status": r["status"].lower()})),
    "journal missing status": ("journal.jsonl", lambda f: _replace_journal_line(
        f, lambda r: _without(r, "status"))),
    "journal list": ("journal.jsonl", lambda f: _replace_journal_line(f, lambda r: [r])),
    "journal previous_owner list": ("journal.jsonl", lambda f: _replace_journal_line(
        f, lambda r: {**r, "previous_owner": list((r["previous_owner"] or {}).values())})),
    "run.json max_tps 0": ("run.json", lambda f: _edit_record(
        f, lambda r: _settings_with(r, max_tps=0))),
    "run.json missing catalog": ("run.json", lambda f: _edit_record(
        f, lambda r: {**r, "settings": _without(r["settings"], "catalog")})),
    "run.json missing input_sha256": ("run.json", lambda f: _edit_record(
        f, lambda r: _without(r, "input_sha256"))),
    "run.json settings list": ("run.json", lambda f: _edit_record(
        f, lambda r: {**r, "settings": list(r["settings"].items())})),
    "run.json list": ("run.json", lambda f: _edit_record(f, lambda r: [r])),
    "run.json max_tps text": ("run.json", lambda f: _edit_record(
        f, lambda r: _settings_with(r, max_tps="fast"))),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_journal_line_or_run_record_is_one_sentence_not_a_traceback(
    damage: str, prepared: tuple[Emulator, Path], tmp_path: Path,
    subprocess_env: dict[str, str],
) -> None:
    emu, folder = _partly_done(prepared, tmp_path)
    rollback = (folder / "rollback.csv").read_bytes()
    names, corrupt = DAMAGES[damage]
    corrupt(folder)
    calls_before = len(emu.state()["calls"])

    message = _assert_refused(_resume_process(folder, subprocess_env), names=names)
    if names == "journal.jsonl":
        assert "line " in message
    assert len(emu.state()["calls"]) == calls_before
    assert (folder / "rollback.csv").read_bytes() == rollback
