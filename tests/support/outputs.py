"""Reading what a run leaves for the user: results.csv, failed.csv, rollback.csv."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd

from bulk_assign.sheet.reader import read_table
from bulk_assign.sheet.table import InputTable


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def read_results(folder: Path) -> list[dict[str, str]]:
    """The rows of `folder`/results.csv, as dicts of text."""
    return read_csv(folder / "results.csv")


def read_results_frame(path: Path) -> pd.DataFrame:
    """A results/failed CSV as Excel would show it: text cells, row numbers as the index."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    if "row" in frame.columns:
        frame = frame.set_index(frame["row"].astype(int))
    return frame


def input_rows(path: Path) -> int:
    return len(read_csv(path))


def wanted_owners(path: Path) -> dict[str, str]:
    """Identifier -> assignee email, as the (generated) input file says."""
    return {r["Identifier"]: r["Email"].strip().lower() for r in read_csv(path)}


def table(path: Path, **kwargs: Any) -> InputTable:
    return read_table(path, **kwargs)


def assert_rollback_validates(path: Path) -> None:
    """rollback.csv through `bulk-assign validate`'s reader and validator: no INVALID row."""
    from bulk_assign.check.validator import validate

    validation = validate(read_table(path), catalog=None)
    invalid = validation.error_message[validation.status.eq("INVALID")]
    assert invalid.empty, f"{path}: INVALID rows {dict(invalid)}"
