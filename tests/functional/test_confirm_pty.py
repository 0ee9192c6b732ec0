"""Production confirmation on a real pseudo-terminal: `--catalog AWS` shows the row count and
goes on only when the user types it back; `resume` of such a run asks again.

The tool runs as `python -m bulk_assign` with a pty as its controlling terminal and as stdin,
stdout and stderr, so the test reads whatever the user would see, on whichever stream (or
/dev/tty) the prompt is written.
"""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bulk_assign.emulator import Emulator
from tests.support.calls import applied_writes, owners
from tests.support.emulators import fast, generated
from tests.support.env import ROOT
from tests.support.inputs import write_input
from tests.support.outputs import read_results, wanted_owners

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX pseudo-terminals")

#: Makes the pty (its stdin) the controlling terminal of a new session, then becomes the tool:
#: so /dev/tty is the pty too. (subprocess cannot do this without an unsafe preexec_fn.)
_ON_A_TERMINAL = (
    "import fcntl, os, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "os.execv(sys.executable, [sys.executable, '-m', 'bulk_assign', *sys.argv[1:]])"
)
PROMPT = re.compile(rb"[Tt]ype ([\d,]+)\b")


class Terminal:
    """One `bulk-assign` process on a pseudo-terminal, and everything it showed there."""

    def __init__(self, args: list[str], env: dict[str, str], *,
                 stdout: Path | None = None) -> None:
        """`stdout`: a file the tool's standard output is redirected to (`> out.txt`)."""
        self._master, slave = os.openpty()
        try:
            with (stdout.open("wb") if stdout else open(os.devnull, "wb")) as out:
                self.proc = subprocess.Popen(
                    [sys.executable, "-c", _ON_A_TERMINAL, *args], cwd=ROOT, env=env,
                    stdin=slave, stdout=out if stdout else slave, stderr=slave,
                    start_new_session=True,
                )
        finally:
            os.close(slave)  # the child holds it now: EOF on the master once the child exits
        self.seen = b""

    def _read(self, deadline: float) -> bool:
        """Read what is there (waiting until `deadline`); False at end of output."""
        ready, _, _ = select.select([self._master], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return True
        try:
            chunk = os.read(self._master, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        self.seen += chunk
        return bool(chunk)

    def expect(self, pattern: re.Pattern[bytes], *, timeout: float = 30.0) -> re.Match[bytes]:
        deadline = time.monotonic() + timeout
        while (found := pattern.search(self.seen)) is None:
            if time.monotonic() > deadline or not self._read(deadline):
                raise AssertionError(f"no {pattern.pattern!r} on the terminal:\n{self.text}")
        return found

    def type(self, line: str) -> None:
        os.write(self._master, line.encode() + b"\r")

    def finish(self, *, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(deadline):
            pass
        try:
            return self.proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        finally:
            self._close_master()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close_master()

    def _close_master(self) -> None:
        if self._master >= 0:
            os.close(self._master)
            self._master = -1

    @property
    def text(self) -> str:
        return self.seen.decode("utf-8", errors="replace").replace("\r\n", "\n")


@pytest.fixture
def terminal(subprocess_env: dict[str, str]) -> Iterator[Callable[..., Terminal]]:
    opened: list[Terminal] = []

    def open_(*args: str, stdout: Path | None = None) -> Terminal:
        term = Terminal(list(args), subprocess_env, stdout=stdout)
        opened.append(term)
        return term

    yield open_
    for term in opened:
        term.close()


def _asked_for(term: Terminal) -> int:
    return int(term.expect(PROMPT)[1].replace(b",", b""))


def test_production_goes_on_only_with_the_row_count_typed_back(
    emulator: Callable[..., Emulator], terminal: Callable[..., Terminal], tmp_path: Path
) -> None:
    emu = emulator(generated(5, catalog="AWS"), **fast())
    source = write_input(tmp_path / "in.csv", 5)
    command = ["run", str(source), "--catalog", "AWS", "--endpoint-url", emu.url,
               "--max-tps", "20", "--quiet"]

    refused = terminal(*command, "--out", str(tmp_path / "refused"))
    assert _asked_for(refused) == 5
    refused.type("4")
    assert refused.finish() == 2, refused.text
    assert re.search(r"nothing was sent", refused.text, re.IGNORECASE), refused.text
    # No row read, no write: only the look-back's read-only page, which the plan shows.
    assert [c["operation"] for c in emu.state()["calls"]] == ["ListOpportunities"]

    accepted = terminal(*command, "--out", str(tmp_path / "accepted"))
    assert _asked_for(accepted) == 5
    accepted.type("5")
    assert accepted.finish() == 0, accepted.text
    state = emu.state()
    assert applied_writes(state) == {f"O{1_000_000 + i}": 1 for i in range(5)}
    assert {k: owners(state, "AWS")[k] for k in wanted_owners(source)} == wanted_owners(source)
    assert {r["status"] for r in read_results(tmp_path / "accepted")} == {"SUCCEEDED"}


def test_resume_of_a_production_run_asks_again(
    emulator: Callable[..., Emulator], terminal: Callable[..., Terminal], tmp_path: Path
) -> None:
    # The credentials "expire" after 3 rows' pre-read and write: the run stops with rows left.
    emu = emulator(generated(10, catalog="AWS"), **fast(reject_credentials_after=6))
    source = write_input(tmp_path / "in.csv", 10)
    folder = tmp_path / "run"
    first = terminal("run", str(source), "--catalog", "AWS", "--endpoint-url", emu.url,
                     "--max-tps", "20", "--quiet", "--out", str(folder))
    assert _asked_for(first) == 10
    first.type("10")
    assert first.finish() == 3, first.text
    left = sum(r["status"] != "SUCCEEDED" for r in read_results(folder))
    assert 0 < left < 10
    emu.configure(reject_credentials_after=None)
    calls_before = _row_calls(emu)

    refused = terminal("resume", str(folder), "--quiet")
    assert _asked_for(refused) == left  # asks again, for the rows still to send
    refused.type("10")  # the first run's count is not the answer
    assert refused.finish() == 2, refused.text
    assert _row_calls(emu) == calls_before

    again = terminal("resume", str(folder), "--quiet")
    assert _asked_for(again) == left
    again.type(str(left))
    assert again.finish() == 0, again.text
    state = emu.state()
    assert {r["status"] for r in read_results(folder)} == {"SUCCEEDED"}
    assert {k: owners(state, "AWS")[k] for k in wanted_owners(source)} == wanted_owners(source)
    assert set(applied_writes(state).values()) == {1}


def test_the_question_reaches_the_terminal_when_stdout_goes_to_a_file(
    emulator: Callable[..., Emulator], terminal: Callable[..., Terminal], tmp_path: Path
) -> None:
    emu = emulator(generated(4, catalog="AWS"), **fast())
    source = write_input(tmp_path / "in.csv", 4)
    redirected = tmp_path / "out.txt"
    term = terminal("run", str(source), "--catalog", "AWS", "--endpoint-url", emu.url,
                    "--max-tps", "20", "--quiet", "--out", str(tmp_path / "run"),
                    stdout=redirected)
    assert _asked_for(term) == 4  # on the terminal, although stdout is a file
    assert "Plan: 4 row(s) to send" in term.text  # with the plan it asks about
    assert _row_calls(emu) == 0  # no row read, no write before the answer
    term.type("4")
    assert term.finish() == 0, term.text
    written = redirected.read_text(encoding="utf-8")
    assert not PROMPT.search(written.encode()), written
    assert "Run folder:" in written  # the rest of the output still goes where it was sent
    assert {r["status"] for r in read_results(tmp_path / "run")} == {"SUCCEEDED"}
    assert {k: owners(emu.state(), "AWS")[k] for k in wanted_owners(source)} == wanted_owners(
        source)


def _row_calls(emu: Emulator) -> int:
    """Calls about rows (reads and writes), not the look-back's ListOpportunities pages."""
    return sum(c["operation"] != "ListOpportunities" for c in emu.state()["calls"])
