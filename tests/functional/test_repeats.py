"""Repeated rows end to end: the emulator sees no write for an opportunity that two rows give
to different people, and exactly one for an opportunity that two rows give to the same one."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bulk_assign.emulator import Emulator
from tests.support.calls import applied_writes, calls, owners
from tests.support.emulators import fast, generated
from tests.support.runs import run, settings

HEADER = ["Identifier", "Email", "FirstName", "LastName", "Territory"]
ROWS = [
    # Excel row 2 and 3: one opportunity, two different people.
    ["O1000000", "user7@example.com", "User", "Number7", "North"],
    ["O1000000", "user8@example.com", "User", "Number8", "South"],
    # Rows 4, 5 and 6: one opportunity, one person (the email's case differs).
    ["O1000001", "user2@example.com", "User", "Number2", "East"],
    ["O1000001", "USER2@Example.com", "User", "Number2", "East"],
    ["O1000001", "user2@example.com", "User", "Number2", "West"],
    # Row 7: an ordinary row, so the run does write.
    ["O1000002", "user9@example.com", "User", "Number9", "North"],
]


def _input(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(HEADER)
        out.writerows(ROWS)
    return path


@pytest.mark.parametrize("snapshot", [True, False], ids=["pre-read", "no-snapshot"])
def test_conflicting_rows_make_no_write_and_duplicates_make_one(
    emulator: Callable[..., Emulator], tmp_path: Path, snapshot: bool
) -> None:
    emu = emulator(generated(5), **fast())
    before = owners(emu.state())
    result = run(settings(_input(tmp_path / "in.csv"), emu.url, tmp_path / "run",
                          pre_read=snapshot))
    state = emu.state()

    # The emulator: nothing at all for the conflicting opportunity, one write for the repeated
    # one, and the ordinary row written once.
    assert calls(state, "AssignOpportunity", "O1000000") == []
    assert calls(state, "GetOpportunity", "O1000000") == []
    assert applied_writes(state) == {"O1000001": 1, "O1000002": 1}
    assert len(calls(state, "AssignOpportunity")) == 2
    now = owners(state)
    assert now["O1000000"] == before["O1000000"] == "user0@example.com"
    assert now["O1000001"] == "user2@example.com"
    assert now["O1000002"] == "user9@example.com"

    # What the user reads: both conflicting rows held back, naming each other; the first of
    # the repeats sent, the others named as its duplicates.
    by_row = result.by_row()
    assert {row: r["status"] for row, r in by_row.items()} == {
        2: "INVALID", 3: "INVALID", 4: "SUCCEEDED", 5: "DUPLICATE", 6: "DUPLICATE",
        7: "SUCCEEDED"}
    assert by_row[2]["error_class"] == by_row[3]["error_class"] == "CONFLICTING_ASSIGNMENT"
    for row, names in ((2, 3), (3, 2), (5, 4), (6, 4)):
        message = by_row[row]["error_message"]
        assert re.search(rf"\brow\b.*\b{names}\b", message), (row, message)
    assert result.code == 1  # some row INVALID
