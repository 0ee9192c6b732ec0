"""The run folder: where it is, who may read it, and the record of what a run was started with.

`run.json` holds the settings and the input's path and sha256, so `resume` can refuse an input
that changed since and send the remaining rows exactly as the first run would have.

The folder holds staff data (assignees' and previous owners' emails, names and phones), so it
is private whatever the umask: a folder this module creates is 0700, and every file written
through it is 0600. Every file the tool writes into a run folder is opened here.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Final, TextIO

from bulk_assign.errors import UsageError

#: The run folder's files: the one place their names are typed.
RUN_RECORD: Final = "run.json"
JOURNAL: Final = "journal.jsonl"
RESULTS_CSV: Final = "results.csv"
FAILED_CSV: Final = "failed.csv"
ROLLBACK_CSV: Final = "rollback.csv"
SUMMARY_JSON: Final = "summary.json"
RESULTS_XLSX: Final = "results.xlsx"
RUN_LOG: Final = "run.log"
STATUS_JSON: Final = "status.json"
PRIVATE_FILE: Final = 0o600
PRIVATE_FOLDER: Final = 0o700


def default_run_dir(input_path: Path, now: datetime, *, root: Path = Path("runs")) -> Path:
    """`runs/<input stem>-<UTC yyyymmddThhmmss>`, with `-2`, `-3`... if that already exists."""
    base = root / f"{input_path.stem}-{now.strftime('%Y%m%dT%H%M%S')}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def make_run_dir(out: Path | None, input_path: Path, now: datetime) -> Path:
    """The run's folder, created 0700 if it is new; an existing `--out` folder keeps its mode.

    Whether the folder may take a run is the lock's question: `runlock.prepare_run_dir`.
    """
    if out is None:
        return _new_default_dir(input_path, now)
    folder = out
    check_out_path(folder)
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        _make_private_dir(folder)
    except FileExistsError:
        if not folder.is_dir():
            raise UsageError(f"--out {folder}: a part of that path is a file.") from None
        # The user's own folder (or one made a moment ago): its mode is theirs to choose.
    except OSError as exc:
        raise UsageError(f"--out {folder}: cannot create the folder ({exc.strerror}).") from exc
    return folder


def check_out_path(out: Path | None) -> None:
    """Refuse an `--out` that is a file."""
    if out is not None and out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file; name a folder for the run's files.")


def holds_a_run(folder: Path) -> bool:
    """Whether a run happened in `folder`. A run.json alone is a run that stopped before its
    first call (a bad profile, a refused confirmation): nothing to resume, the folder may be
    used again."""
    return (folder / RUN_RECORD).exists() and any(
        (folder / name).exists() for name in (JOURNAL, RESULTS_CSV))


def _new_default_dir(input_path: Path, now: datetime) -> Path:
    while True:
        folder = default_run_dir(input_path, now)
        try:
            folder.parent.mkdir(parents=True, exist_ok=True)
            _make_private_dir(folder)
        except FileExistsError:
            continue  # another run took that name a moment ago: take the next one
        except OSError as exc:
            raise UsageError(
                f"{folder}: cannot create the run folder ({exc.strerror}); pass --out DIR."
            ) from exc
        return folder


def _make_private_dir(folder: Path) -> None:
    """mkdir that raises FileExistsError, then 0700 exactly (the umask may take bits away)."""
    folder.mkdir(mode=PRIVATE_FOLDER)
    os.chmod(folder, PRIVATE_FOLDER)


# --- private files ------------------------------------------------------------------------------


def private_fd(path: Path, flags: int, *, mode: int = PRIVATE_FILE) -> int:
    """`os.open(path, flags | O_CREAT)` whose file has `mode` whatever the umask; a file that
    existed (e.g. written by an older version, 0644) is brought to `mode` too."""
    fd = os.open(path, flags | os.O_CREAT, mode)
    try:
        os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_private_append(path: Path) -> TextIO:
    """A UTF-8 text file opened to append (journal.jsonl), 0600."""
    return os.fdopen(private_fd(path, os.O_WRONLY | os.O_APPEND), "a", encoding="utf-8")


def touch_private(path: Path) -> None:
    """Create `path` 0600 (or make it 0600) without changing its content: for files another
    library opens itself, such as run.log's `logging.FileHandler`."""
    os.close(private_fd(path, os.O_WRONLY))


@contextmanager
def atomic_binary(path: Path, *, mode: int = PRIVATE_FILE) -> Iterator[BinaryIO]:
    """Write `path` through a temporary file that is fsynced and `os.replace`d into place, so a
    crash never leaves half a file; the file is `mode` (0600) whatever the umask.

    Example::

        with atomic_binary(Path(folder) / RESULTS_XLSX) as fh:
            workbook.save(fh)
    """
    tmp = path.with_name(path.name + ".tmp")
    try:
        with os.fdopen(private_fd(tmp, os.O_WRONLY | os.O_TRUNC, mode=mode), "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)
    _fsync_folder(path.parent)


@contextmanager
def atomic_text(
    path: Path, *, encoding: str = "utf-8", newline: str | None = None, mode: int = PRIVATE_FILE
) -> Iterator[TextIO]:
    """`atomic_binary` for text: `with atomic_text(path, encoding="utf-8-sig") as fh: ...`."""
    with atomic_binary(path, mode=mode) as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline=newline)
        try:
            yield text
            text.flush()
        finally:
            text.detach()  # `atomic_binary` closes the file, after its fsync


def write_atomic(path: Path, data: str | bytes, *, mode: int = PRIVATE_FILE) -> None:
    """Write all of `data` (text as UTF-8) atomically, fsynced, `mode` (0600) whatever the umask.

    Example::

        write_atomic(Path(folder) / SUMMARY_JSON, "{}\\n")
    """
    with atomic_binary(path, mode=mode) as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; best effort where a folder cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a folder; the file itself is on disk
    finally:
        os.close(fd)


# --- run.json -----------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_record(folder: Path, record: dict[str, Any]) -> None:
    write_atomic(folder / RUN_RECORD, json.dumps(record, indent=2) + "\n")


def read_record(folder: Path) -> dict[str, Any]:
    path = folder / RUN_RECORD
    if not path.is_file():
        raise UsageError(
            f"{folder}: is not a bulk-assign run folder (no {RUN_RECORD}); pass the folder "
            "printed as 'Run folder' by `bulk-assign run`."
        )
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: cannot be read ({exc}); the run folder is damaged.") from exc
    shape = {"input": str, "input_sha256": str, "settings": dict}
    wrong = [key for key, kind in shape.items()
             if not isinstance(data, dict) or not isinstance(data.get(key), kind)]
    if wrong:
        raise UsageError(
            f"{path}: is damaged ({', '.join(wrong)} missing or of the wrong kind); start a new "
            "run with the same input (rows already in place come out UNCHANGED)."
        )
    return data
