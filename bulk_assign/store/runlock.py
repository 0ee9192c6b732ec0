"""One process per run folder: an exclusive `flock` on the folder's `.lock` file.

`run` and `resume` hold it from before the journal is opened until they end. The operating
system drops a `flock` when its process dies, even by `kill -9`, so a lock can never go stale:
the file may stay behind, holding the last holder's details, but the next process locks it at
once. The file tells a second process who holds the folder (pid, host, command, since). The
command names its options but shows values only of those that cannot name a person (pacing,
catalog, region...): `transfer --from ... --to ... --first-name ...` leaves no email or name.

`lock_holder(folder)` reads it without taking the lock, for `status`. `transfer` holds the
folder across its export and the run it starts: `lend_run_folder` lets that inner run use it.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Final

from bulk_assign.errors import UsageError
from bulk_assign.store.runfolder import check_out_path, holds_a_run, make_run_dir, private_fd
from bulk_assign.timestamps import iso, utc_now

LOCK_FILE: Final = ".lock"
#: How long a process keeps trying before it calls the folder busy: long enough to step around
#: `lock_holder`'s instant probe and a holder that has not written its details yet, short
#: enough to be "at once".
BUSY_GRACE_SECONDS: Final = 0.3
#: Options whose value the lock file may show: none of them can name a person. Every other value
#: (emails, names, phones, titles, files and folders, which may be named after people) is `…`.
SHOWN_VALUES: Final = frozenset({
    "--catalog", "--max-tps", "--read-tps", "--workers", "--max-attempts", "--timeout",
    "--share", "--lookback", "--account-tps", "--daily-budget", "--window", "--quota-wait",
    "--region", "--endpoint-url", "--format", "--hidden-rows",
})
HIDDEN_VALUE: Final = "…"
_OPTION = re.compile(r"--?[A-Za-z][A-Za-z0-9-]*")

#: Filesystem types (as /proc/mounts names them) whose locks other machines may not see.
NETWORK_FILESYSTEMS: Final = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "ceph", "glusterfs", "lustre",
    "gpfs", "9p", "fuse.sshfs", "fuse.glusterfs", "fuse.s3fs", "fuse.rclone", "davfs",
})


@dataclass(frozen=True)
class LockHolder:
    """Who holds a run folder, as its `.lock` file says."""

    pid: int
    host: str
    command: str
    since: str

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, since {self.since}: {self.command}"


@dataclass(frozen=True)
class HeldRunFolder:
    """A run folder this process holds; `warning` is for the user (a network filesystem)."""

    folder: Path
    holder: LockHolder
    warning: str | None


#: The folder an outer command lent to the commands it runs (see `lend_run_folder`).
_LENT: ContextVar[tuple[HeldRunFolder, str] | None] = ContextVar("lent_run_folder",
                                                                 default=None)


@contextmanager
def lend_run_folder(held: HeldRunFolder, *, to: str) -> Iterator[None]:
    """Within this block (this thread only), `hold_run_folder(held.folder, command=to)` yields
    `held` instead of refusing: a command that holds the folder runs another in it, no gap.

    Example::

        with hold_run_folder(folder, command="transfer") as held:
            export_into(folder)
            with lend_run_folder(held, to="run"):
                run_cmd.run_command(settings)  # its hold_run_folder(folder) gets `held`
    """
    token = _LENT.set((held, to))
    try:
        yield
    finally:
        _LENT.reset(token)


@contextmanager
def hold_run_folder(
    folder: Path,
    *,
    command: str,
    new_run: bool = False,
    now: Callable[[], datetime] = utc_now,
) -> Iterator[HeldRunFolder]:
    """Hold `folder` for this process, or raise UsageError (exit 2) naming who holds it.

    `command` is the subcommand ("run", "resume"); `new_run` re-checks, once the folder is
    held, that no other run started in it meanwhile.

    Example::

        with hold_run_folder(Path("runs/x"), command="resume"):
            ...  # open the journal, send, write the files
    """
    lent = _LENT.get()
    if lent is not None and lent[1] == command and _same_folder(lent[0].folder, folder):
        if new_run and holds_a_run(folder):
            raise UsageError(f"--out {folder}: already holds a run; pick another folder.")
        yield lent[0]
        return
    try:
        fd = private_fd(folder / LOCK_FILE, os.O_RDWR)
    except OSError as exc:
        raise UsageError(f"{folder}: cannot create its lock file ({exc.strerror}).") from exc
    try:
        _acquire(fd, folder)
        if new_run and holds_a_run(folder):
            raise UsageError(
                f"--out {folder}: another run started in it a moment ago; pick another folder."
            )
        holder = LockHolder(pid=os.getpid(), host=socket.gethostname(),
                            command=_command_line(command), since=iso(now()))
        _write_holder(fd, holder)
        try:
            yield HeldRunFolder(folder=folder, holder=holder, warning=network_warning(folder))
        finally:
            os.ftruncate(fd, 0)  # released cleanly: nobody holds it
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _same_folder(one: Path, other: Path) -> bool:
    try:
        return one.samefile(other)
    except OSError:
        return False


def _acquire(fd: int, folder: Path) -> None:
    deadline = time.monotonic() + BUSY_GRACE_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise UsageError(_busy_message(folder)) from None
            time.sleep(0.02)
        except OSError as exc:  # ENOLCK: a filesystem without locks
            raise UsageError(
                f"{folder}: cannot be locked ({exc.strerror}), so a second bulk-assign could "
                "send the same rows again. Copy the run folder to a local disk and resume it "
                "there, or pick an --out on a local disk."
            ) from exc


def _busy_message(folder: Path) -> str:
    holder = _read_holder(folder)
    who = holder.describe() if holder else "another process (it has not said which yet)"
    fix = (f"wait for it to finish or stop it (`kill {holder.pid}` on {holder.host})"
           if holder else "wait for it to finish")
    return (f"{folder}: is in use by {who}. One process per run folder: {fix}, then try again. "
            "Nothing was sent.")


def lock_holder(folder: Path) -> LockHolder | None:
    """Who holds `folder` now, or None; never waits and never blocks a run.

    It reads `.lock` and probes it with a shared lock for an instant (a run that meets the
    probe retries for `BUSY_GRACE_SECONDS`): details left by a process that died are no holder.
    """
    try:
        fd = os.open(folder / LOCK_FILE, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(folder) or LockHolder(pid=0, host="?", command="?", since="?")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_holder(folder: Path) -> LockHolder | None:
    try:
        data = json.loads((folder / LOCK_FILE).read_text(encoding="utf-8"))
        return LockHolder(pid=int(data["pid"]), host=str(data["host"]),
                          command=str(data["command"]), since=str(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no file, empty (released, or the holder is writing it), or damaged


def _write_holder(fd: int, holder: LockHolder) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, (json.dumps(asdict(holder)) + "\n").encode("utf-8"), 0)


def _command_line(command: str, argv: list[str] | None = None) -> str:
    """This process's command as typed, without a value that may name a person.

    Options are named; a value is shown only for an option in `SHOWN_VALUES` (a URL's
    user:password part masked all the same), every other value and argument is `…`.

    >>> _command_line("transfer", ["x", "transfer", "--from", "ana@example.com",
    ...                            "--catalog=Sandbox", "--yes"])
    'bulk-assign transfer --from … --catalog=Sandbox --yes'
    """
    args = (sys.argv if argv is None else argv)[1:]
    if command not in args:  # called as a library (or under a test runner)
        return f"bulk-assign {command} (called from Python)"
    words = ["bulk-assign"]
    named = False  # the command's name is in `words`
    shown = False  # the word before was an option whose value may be shown
    for arg in args:
        name, equals, value = arg.partition("=")
        if arg == command and not named:
            words.append(arg)
            named, shown = True, False
        elif _OPTION.fullmatch(arg):
            words.append(arg)
            shown = arg in SHOWN_VALUES
        elif equals and _OPTION.fullmatch(name):
            words.append(f"{name}={shlex.quote(value) if name in SHOWN_VALUES else HIDDEN_VALUE}")
            shown = False
        else:
            words.append(shlex.quote(arg) if shown else HIDDEN_VALUE)
            shown = False
    line = " ".join(words)
    return re.sub(r"(://)[^/@\s]+@", r"\1***@", line)


# --- network filesystems ------------------------------------------------------------------------


def filesystem_type(folder: Path, *, mounts: Path = Path("/proc/mounts")) -> str | None:
    """The type of the filesystem `folder` is on, from /proc/mounts; None where unknown."""
    try:
        lines = mounts.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    target = folder.resolve()
    best: tuple[int, str] | None = None
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        # /proc/mounts writes a space in a path as \040.
        point = Path(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), parts[1]))
        if target.is_relative_to(point) and (best is None or len(point.parts) >= best[0]):
            best = (len(point.parts), parts[2])
    return None if best is None else best[1]


def network_warning(folder: Path, *, mounts: Path = Path("/proc/mounts")) -> str | None:
    """A warning when `folder` is on a network filesystem; None on a local disk."""
    kind = filesystem_type(folder, mounts=mounts)
    if kind not in NETWORK_FILESYSTEMS:
        return None
    return (
        f"Warning: {folder} is on a network filesystem ({kind}). Its lock keeps a second "
        "bulk-assign on this machine out, but one on another machine may not see it: run and "
        "resume this folder from one machine only."
    )


def prepare_run_dir(out: Path | None, input_path: Path, now: datetime) -> Path:
    """The run's folder (`runfolder.make_run_dir`), once `check_out_dir` lets `out` take a run."""
    check_out_dir(out)
    return make_run_dir(out, input_path, now)


def check_out_dir(out: Path | None) -> None:
    """Refuse an `--out` that is a file or holds a run (before any call is made)."""
    if out is None or not out.exists():
        return
    check_out_path(out)
    if holds_a_run(out):
        raise UsageError(_holds_a_run(out))


def _holds_a_run(folder: Path) -> str:
    holder = lock_holder(folder)
    if holder is not None:
        return (f"--out {folder}: holds a run that is in use by {holder.describe()}; pick "
                "another folder. Nothing was sent.")
    return (f"--out {folder}: already holds a run; continue it with `bulk-assign resume "
            f"{folder}` or pick another folder.")
