"""The preview's files: preview.csv (formula-safe) and preview.xlsx (every cell text) with the
sheets Preview, By person and Summary, written atomically into the preview folder."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import pandas as pd

from bulk_assign.check.verdicts import Preview, Verdict
from bulk_assign.report.files import write_csv
from bulk_assign.report.workbook import AMBER, BAD, GOOD, GREY, StatusLook, TableSheet
from bulk_assign.report.workbook import write_tables_workbook as write_book
from bulk_assign.settings import DAILY_WRITE_QUOTA
from bulk_assign.store.runfolder import atomic_binary

PREVIEW_CSV: Final = "preview.csv"
PREVIEW_XLSX: Final = "preview.xlsx"
VERDICT_LOOKS: Final[Mapping[str, StatusLook]] = {
    Verdict.MOVE: StatusLook(None, None, "5B9BD5", "the run moves it to the new owner"),
    Verdict.ALREADY: StatusLook(*GOOD, "the new owner owns it already: no write"),
    Verdict.CHANGED: StatusLook(*AMBER, "someone other than the row's expected owner owns it"),
    Verdict.NOT_FOUND: StatusLook(*BAD, "no such opportunity"),
    Verdict.UNREADABLE: StatusLook(*AMBER, "could not be read: preview again"),
    Verdict.INVALID: StatusLook(*BAD, "caught by validation: see note"),
    "DUPLICATE": StatusLook(*GREY, "repeat of an earlier row, never sent"),
    "SKIPPED": StatusLook(*GREY, "left out (hidden row, --hidden-rows skip)"),
}


def duration(seconds: float) -> str:
    """`1h 23m 20s`, `4m 05s`.

    >>> duration(5000), duration(245)
    ('1h 23m 20s', '4m 05s')
    """
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def facts(preview: Preview, head: Mapping[str, Any], *, pace: float,
          daily_budget: int) -> list[tuple[str, str]]:
    """The Summary sheet's lines (and preview.json's `facts`): what a sales leader signs."""
    writes = preview.writes
    lines = [(label, str(head.get(key, ""))) for label, key in (
        ("Input file", "input"), ("Input sha256", "input_sha256"), ("Catalog", "catalog"),
        ("Previewed at (UTC)", "finished_at"), ("Reads", "reads"))]
    lines.append(("Rows", str(len(preview.frame))))
    always = [str(v) for v in Verdict]
    for verdict in [*always, "DUPLICATE", "SKIPPED"]:
        count = preview.counts.get(verdict, 0)
        if count or verdict in always:
            lines.append((f"  {verdict}", str(count)))
    lines += [
        ("Writes the run needs (MOVE + CHANGED)", str(writes)),
        (f"Duration at {pace:g} write/s", duration(writes / pace)),
        (f"Share of the run's daily budget ({daily_budget:,})",
         f"{writes / daily_budget:.1%}"),
        (f"Share of the account's daily quota ({DAILY_WRITE_QUOTA:,}, shared)",
         f"{writes / DAILY_WRITE_QUOTA:.1%}"),
        ("People losing or gaining", str(max(len(preview.people) - 1, 0))),
    ]
    return lines


def write_preview_files(folder: Path, preview: Preview, summary: list[tuple[str, str]]
                        ) -> list[Path]:
    """preview.csv and preview.xlsx, both atomic and 0600."""
    csv_path, book = folder / PREVIEW_CSV, folder / PREVIEW_XLSX
    write_csv(preview.frame, csv_path)
    summary_frame = pd.DataFrame(summary, columns=["fact", "value"], dtype=object)
    with atomic_binary(book) as fh:
        write_book(fh, [
            TableSheet("Preview", preview.frame, look_column="verdict", looks=VERDICT_LOOKS),
            TableSheet("By person", preview.people),
            TableSheet("Summary", summary_frame),
        ])
    return [csv_path, book]
