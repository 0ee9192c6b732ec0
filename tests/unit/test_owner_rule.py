"""The expected-owner rule (owners.py): which rows count as changed since the sheet was made."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_assign.check.owners import (
    changed_message,
    has_changed,
    plan_lines,
    results_message,
    skipped,
)
from bulk_assign.check.validator import validate
from bulk_assign.report.privacy import scrub
from bulk_assign.results import OWNER_CHANGED, Contact, Job, Status
from bulk_assign.sheet import fields
from bulk_assign.sheet.reader import read_table
from tests.support.inputs import write_csv

ANA = Contact("ana@example.com", "Ana", "Lima", "PartnerAccountManager")
BO = Contact("bo@example.com", "Bo", "Berg", "PartnerAccountManager")
CY = Contact("cy@example.com", "Cy", "Diaz", "PartnerAccountManager")


def _job(expected: str | None) -> Job:
    return Job(row=2, catalog="Sandbox", identifier="O1", assignee=BO, expected_owner=expected)


@pytest.mark.parametrize(
    ("owner", "expected", "changed"),
    [
        (ANA, "ana@example.com", False),  # as the sheet says: move it
        (ANA, "ANA@example.com ", False),  # emails compare case-blind
        (BO, "ana@example.com", False),  # the assignee already: UNCHANGED, not changed
        (CY, "ana@example.com", True),  # a third person
        (None, "ana@example.com", True),  # the owner went away
        (None, "", False),  # no owner then, none now
        (CY, "", True),  # no owner when the sheet was made, one now
        (BO, "", False),  # ... unless it is the assignee
        (CY, None, False),  # the sheet expects nothing: nothing is checked
        (None, None, False),
    ],
)
def test_changed_means_neither_the_expected_owner_nor_the_assignee(
    owner: Contact | None, expected: str | None, changed: bool
) -> None:
    assert has_changed(owner, _job(expected)) is changed


def test_the_outcome_is_skipped_with_no_person_in_its_own_words() -> None:
    outcome = skipped(CY, _job("ana@example.com"), finished_at="t")
    assert (outcome.status, outcome.error_class, outcome.attempts) == (
        Status.SKIPPED, OWNER_CHANGED, 0)
    assert outcome.previous_owner == CY  # kept as data, for the results files
    assert scrub(outcome.error_message) == outcome.error_message
    assert "Cy" not in outcome.error_message and "ana@" not in outcome.error_message
    shown = results_message(outcome, "ana@example.com")
    assert "cy@example.com (Cy Diaz) owns it now" in shown
    assert "not ana@example.com" in shown and "--overwrite-changed" in shown


def test_the_message_for_an_opportunity_that_had_no_owner_or_lost_it() -> None:
    assert "not nobody (no owner when the sheet was made)" in changed_message(CY, "")
    assert "nobody owns it now" in changed_message(None, "ana@example.com")


def test_the_plan_says_whether_the_check_is_on() -> None:
    assert plan_lines(expects=0, pre_read=True, overwrite=False) == []
    assert "SKIPPED / OwnerChanged" in plan_lines(expects=3, pre_read=True, overwrite=False)[0]
    assert "written anyway" in plan_lines(expects=3, pre_read=True, overwrite=True)[0]
    assert "OFF" in plan_lines(expects=3, pre_read=False, overwrite=False)[0]


@pytest.mark.parametrize("header", ["Current Email", "Current Owner Email", "Expected Owner",
                                    "From Email", "expected_owner", "CURRENT-EMAIL"])
def test_each_expected_owner_header_is_recognised(tmp_path: Path, header: str) -> None:
    path = write_csv(tmp_path / "in.csv", [
        ["Identifier", "Email", "FirstName", "LastName", header],
        ["O1", "bo@example.com", "Bo", "Berg", " Ana@Example.com "],
        ["O2", "bo@example.com", "Bo", "Berg", ""],
    ])
    table = read_table(path)
    assert table.columns[fields.EXPECTED_OWNER] == header
    jobs = list(validate(table, catalog="Sandbox").jobs())
    assert [j.expected_owner for j in jobs] == ["ana@example.com", ""]
    assert [j.assignee.email for j in jobs] == ["bo@example.com"] * 2


@pytest.mark.parametrize("header", ["Owner Email", "Assignee Email", "Email"])
def test_headers_that_name_the_assignee_still_do(tmp_path: Path, header: str) -> None:
    path = write_csv(tmp_path / "in.csv", [
        ["Identifier", header, "FirstName", "LastName"], ["O1", "bo@example.com", "Bo", "Berg"]])
    table = read_table(path)
    assert table.columns[fields.EMAIL] == header
    assert fields.EXPECTED_OWNER not in table.columns
    [job] = validate(table, catalog="Sandbox").jobs()
    assert job.expected_owner is None


def test_by_person_adds_up_with_ownerless_rows_and_sorts_by_the_size_of_the_change() -> None:
    import pandas as pd

    from bulk_assign.check.verdicts import COLUMNS, NO_OWNER, by_person

    def line(verdict: str, now: str, new: str) -> list[str]:
        return ["2", verdict, "O1", now, "", new, "", "", "", ""]

    frame = pd.DataFrame([
        line("MOVE", "ana@x.com", "bo@x.com"), line("MOVE", "ana@x.com", "bo@x.com"),
        line("CHANGED", "cy@x.com", "ana@x.com"), line("MOVE", NO_OWNER, "cy@x.com"),
        line("ALREADY", "bo@x.com", "bo@x.com"), line("NOT_FOUND", "", "bo@x.com"),
    ], columns=list(COLUMNS))
    people = by_person(frame).values.tolist()
    assert people[-1] == ["Total", "4 people", "4", "4", "0"]
    assert [p[0] for p in people[:2]] == ["ana@x.com", "bo@x.com"]  # 3 and 2 rows of change
    assert {p[0]: (p[2], p[3], p[4]) for p in people[:-1]} == {
        "ana@x.com": ("2", "1", "-1"), "bo@x.com": ("0", "2", "+2"),
        "cy@x.com": ("1", "1", "0"), NO_OWNER: ("1", "0", "-1")}
