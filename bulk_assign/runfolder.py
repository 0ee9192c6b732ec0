"""The run folder: where it is, and the record of what a run was started with.

`run.json` holds the settings and the input's path and sha256, so `resume` can refuse an input
that changed since and send the remaining rows exactly as the first run would have.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from bulk_assign.errors import UsageError

RUN_RECORD = "run.json"


def default_run_dir(input_path: Path, now: datetime, *, root: Path = Path("runs")) -> Path:
    """`runs/<input stem>-<UTC yyyymmddThhmmss>`, with `-2`, `-3`... if that already exists."""
    base = root / f"{input_path.stem}-{now.strftime('%Y%m%dT%H%M%S')}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def prepare_run_dir(out: Path | None, input_path: Path, now: datetime) -> Path:
    folder = out if out is not None else default_run_dir(input_path, now)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder}: is a file; name a folder for the run's files.")
    # A run.json alone is a run that stopped before its first call (a bad profile, a refused
    # confirmation): nothing to resume, so the folder may be used again.
    happened = any((folder / name).exists() for name in ("journal.jsonl", "results.csv"))
    if folder.exists() and (folder / RUN_RECORD).exists() and happened:
        raise UsageError(
            f"--out {folder}: already holds a run; continue it with `bulk-assign resume {folder}` "
            "or pick another folder."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {folder}: cannot create the folder ({exc.strerror}).") from exc
    return folder


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_record(folder: Path, record: dict[str, Any]) -> None:
    tmp = folder / (RUN_RECORD + ".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    tmp.replace(folder / RUN_RECORD)


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
