"""The `preview` command: validate like `run`, read every valid row's owner, write the sign-off
files; the plan line, the progress bar, what to do after a stop, and the exit code.

The reads are `run/preview.py`'s, the verdicts `check/verdicts.py`'s, the files
`report/preview_book.py`'s. The folder defaults to
`runs/<input stem>-preview/`, so the same command continues a stopped preview; a finished one
is previewed afresh (every owner read again) the next time.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from bulk_assign import __version__
from bulk_assign.api.client import make_client, pinned_connection
from bulk_assign.check import hidden
from bulk_assign.check.verdicts import Preview, Verdict, build
from bulk_assign.console import stop_on_signals
from bulk_assign.errors import EXIT_ABORTED, EXIT_INTERRUPTED, EXIT_OK, EXIT_ROWS_FAILED
from bulk_assign.report.preview_book import PREVIEW_CSV, PREVIEW_XLSX, facts, write_preview_files
from bulk_assign.run.plan import validated
from bulk_assign.run.preview import READS, RECORD, ReadLog, read_owners, read_record, write_record
from bulk_assign.run.reads import DEFAULT_READ_WORKERS, PacedReader, make_guard, read_seconds
from bulk_assign.settings import RunSettings
from bulk_assign.stops import StopReason
from bulk_assign.store.runfolder import sha256_of
from bulk_assign.store.runlock import check_out_dir, prepare_run_dir
from bulk_assign.timestamps import iso, utc_now

#: Verdicts that need nobody's attention before the run.
_FINE = frozenset({str(Verdict.MOVE), str(Verdict.ALREADY), "DUPLICATE", "SKIPPED"})


def preview_folder(settings: RunSettings) -> Path:
    """`--out`, or `runs/<input stem>-preview` (the same one each time: it continues)."""
    return settings.out_dir or Path("runs") / f"{settings.input_path.stem}-preview"


def preview_command(settings: RunSettings, *, quiet: bool = False,
                    now: Callable[[], datetime] = utc_now, stdout: TextIO | None = None,
                    environ: Mapping[str, str] | None = None) -> int:
    """`bulk-assign preview`: 0 every row MOVE / ALREADY, 1 some row needs a look (CHANGED,
    NOT_FOUND, UNREADABLE, INVALID), 2 usage, 3 aborted, 130 interrupted."""
    stdout = stdout or sys.stdout
    started, t0 = now(), time.monotonic()
    settings, _ = pinned_connection(settings, os.environ if environ is None else environ)
    validation = validated(settings)
    hidden.check(validation.table, choice=settings.hidden_rows)
    folder = preview_folder(settings)
    check_out_dir(folder)
    folder = prepare_run_dir(folder, settings.input_path, started)
    sha = sha256_of(settings.input_path)
    head: dict[str, Any] = {
        "command": "preview", "tool_version": __version__,
        "input": str(settings.input_path.resolve()), "input_sha256": sha,
        "catalog": settings.catalog, "sheet": settings.sheet,
        "hidden_rows": settings.hidden_rows, "started_at": iso(started), "complete": False,
    }
    _fresh_start(folder)
    write_record(folder, head)
    log = ReadLog(folder / READS, sha256=sha, catalog=settings.catalog)
    jobs = list(validation.jobs())
    earlier = len(log.load())
    print(f"Preview folder: {folder}", file=stdout)
    print(plan_text(len(jobs), earlier=earlier, read_tps=settings.read_tps), file=stdout)
    guard = make_guard(next_step="run the same preview again")
    reader = PacedReader(make_client(settings, pool_size=DEFAULT_READ_WORKERS), guard,
                         read_tps=settings.read_tps, max_attempts=settings.max_attempts)
    with stop_on_signals(guard, stdout=stdout), tqdm(
            total=len(jobs), initial=earlier, unit="opp", desc="read", dynamic_ncols=True,
            disable=quiet or not sys.stderr.isatty(), file=sys.stderr) as bar:
        def tick() -> None:
            bar.update(1)

        seen = read_owners(reader, jobs, log=log, workers=DEFAULT_READ_WORKERS, on_read=tick)
    stop = guard.stop_info
    if stop is not None:
        print(f"Preview stopped ({stop.reason}): {stop.sentence()}\nNot complete: what was "
              f"read is kept in {log.path}; run the same command again to continue.",
              file=stdout)
        return EXIT_INTERRUPTED if stop.reason is StopReason.INTERRUPTED else EXIT_ABORTED
    preview = build(validation, seen)
    head.update(finished_at=iso(now()), wall_seconds=round(time.monotonic() - t0, 3),
                reads=reader.calls.read)
    summary = facts(preview, head, pace=min(settings.max_tps, settings.account_tps),
                    daily_budget=settings.daily_budget)
    paths = write_preview_files(folder, preview, summary)
    write_record(folder, {**head, "complete": True, "by_verdict": preview.counts,
                          "writes_needed": preview.writes, "facts": dict(summary)})
    print(summary_text(preview, summary, paths=paths, folder=folder, settings=settings),
          file=stdout)
    return EXIT_OK if set(preview.counts) <= _FINE else EXIT_ROWS_FAILED


def _fresh_start(folder: Path) -> None:
    """A finished preview is not continued: the next one reads every owner again, and its
    files go until the new ones are written (a stopped preview leaves none to sign)."""
    if (folder / RECORD).exists() and read_record(folder).get("complete"):
        for name in (READS, PREVIEW_CSV, PREVIEW_XLSX):
            (folder / name).unlink(missing_ok=True)


def plan_text(rows: int, *, earlier: int, read_tps: float) -> str:
    reads = max(rows - earlier, 0)
    seconds = round(read_seconds(reads, read_tps))
    text = (f"Plan: {rows} valid row(s); {reads} to read with GetOpportunity at {read_tps:g}/s: "
            f"about {seconds // 60}m {seconds % 60:02d}s. No write.")
    if earlier:
        text += f"\n  {earlier} read by a stopped preview are kept."
    return text


def summary_text(preview: Preview, summary: list[tuple[str, str]], *, paths: list[Path],
                 folder: Path, settings: RunSettings) -> str:
    lines = ["", "Verdict           Rows"]
    lines += [f"  {v:<15} {n:>6}" for v, n in preview.counts.items()]
    lines += [f"  {'total':<15} {len(preview.frame):>6}", ""]
    lines += [f"{label}: {value}" for label, value in summary[-5:]]
    lines += ["", *(f"  {p}" for p in paths), "",
              "Once signed off: bulk-assign run "
              f"{settings.input_path} --catalog {settings.catalog} --from-preview {folder}"]
    return "\n".join(lines)
