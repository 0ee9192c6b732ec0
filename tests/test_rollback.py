"""rollback.csv: complete rows the tool accepts back, or the opportunity listed as not undoable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bulk_assign.check.validator import Validation, validate
from bulk_assign.report.files import OutputPaths, rollback_plan, write_outputs
from bulk_assign.results import Contact, RowOutcome, Status
from bulk_assign.sheet.reader import read_table
from tests.support.inputs import HEADER, row, write_csv
from tests.support.outputs import assert_rollback_validates

OWNER = Contact(email="Bo.Ng@Example.com", first_name="Bo", last_name="Ng",
                business_title="PartnerAccountManager", phone="+15550100100")


def _validation(tmp_path: Path, count: int) -> Validation:
    rows = [row(Identifier=f"O{i}") for i in range(1, count + 1)]
    return validate(read_table(write_csv(tmp_path / "in.csv", [HEADER, *rows])),
                    catalog="Sandbox")


def _succeeded(r: int, owner: Contact | None, why: str = "") -> RowOutcome:
    return RowOutcome(row=r, status=Status.SUCCEEDED, previous_owner=owner,
                      not_undoable_reason=why)


def _write(tmp_path: Path, outcomes: dict[int, RowOutcome]) -> tuple[dict[str, object], Path]:
    validation = _validation(tmp_path, len(outcomes))
    out = tmp_path / "out"
    out.mkdir()
    summary = write_outputs(OutputPaths.in_folder(out), validation, outcomes, {})
    return summary, out / "rollback.csv"


@pytest.mark.parametrize(
    ("owner", "words"),
    [
        (Contact(email="bo@example.com", first_name="", last_name="",
                 business_title="PartnerAccountManager"), "FirstName is empty; LastName is empty"),
        (Contact(email="bo@example.com", first_name="Bo", last_name="",
                 business_title="PartnerAccountManager"), "LastName is empty"),
        (Contact(email="", first_name="Bo", last_name="Ng",
                 business_title="PartnerAccountManager"), "Email is empty"),
        (OWNER.__class__(**{**OWNER.__dict__, "phone": "555-0100"}), "Phone must be +"),
        (OWNER.__class__(**{**OWNER.__dict__, "business_title": "SolutionsArchitect"}),
         "is not PartnerAccountManager"),
    ],
)
def test_an_owner_the_tool_would_refuse_is_not_undoable_with_the_reason(
    tmp_path: Path, owner: Contact, words: str
) -> None:
    summary, rollback = _write(tmp_path, {2: _succeeded(2, OWNER), 3: _succeeded(3, owner)})
    assert_rollback_validates(rollback)
    lines = read_table(rollback).frame
    assert list(lines["Identifier"]) == ["O1"]
    [refused] = summary["not_undoable"]  # type: ignore[misc]
    assert refused["row"] == 3 and refused["identifier"] == "O2"
    assert words in refused["reason"]
    assert "restore it in Partner Central by hand" in refused["reason"]
    assert "bo@example.com" not in refused["reason"]


def test_complete_owners_are_written_as_a_run_ready_file(tmp_path: Path) -> None:
    no_phone = Contact(email="cy@example.com", first_name="=Cy", last_name="-Lee",
                       business_title="PartnerAccountManager")
    summary, rollback = _write(tmp_path, {2: _succeeded(2, OWNER), 3: _succeeded(3, no_phone),
                                          4: _succeeded(4, None, "the opportunity had no owner "
                                                        "before")})
    assert_rollback_validates(rollback)
    jobs = {j.identifier: j for j in validate(read_table(rollback), catalog="Sandbox").jobs()}
    assert jobs["O1"].assignee == Contact(
        email="bo.ng@example.com", first_name="Bo", last_name="Ng",
        business_title="PartnerAccountManager", phone="+15550100100",
    )
    assert jobs["O2"].assignee.first_name == "=Cy" and jobs["O2"].assignee.phone == ""
    assert set(jobs) == {"O1", "O2"}
    assert summary["not_undoable"] == [
        {"row": 4, "identifier": "O3", "reason": "the opportunity had no owner before"}
    ]
    written = json.loads((rollback.parent / "summary.json").read_text(encoding="utf-8"))
    assert written["not_undoable"] == summary["not_undoable"]


def test_nothing_undoable_writes_no_rollback_file(tmp_path: Path) -> None:
    summary, rollback = _write(tmp_path, {2: _succeeded(2, Contact("", "", "", ""))})
    assert not rollback.exists()
    assert "rollback" not in summary["files"]  # type: ignore[operator]
    assert len(summary["not_undoable"]) == 1  # type: ignore[arg-type]


def test_only_succeeded_rows_are_undone(tmp_path: Path) -> None:
    validation = _validation(tmp_path, 2)
    plan = rollback_plan(validation, {
        2: RowOutcome(row=2, status=Status.UNCHANGED, previous_owner=OWNER),
        3: RowOutcome(row=3, status=Status.FAILED, previous_owner=OWNER),
    })
    assert plan.frame.empty and plan.not_undoable == []


def test_the_conftest_check_catches_an_invalid_rollback_file(tmp_path: Path) -> None:
    bad = write_csv(tmp_path / "bad.csv", [HEADER, row(FirstName="")])
    with pytest.raises(AssertionError, match="INVALID rows"):
        assert_rollback_validates(bad)
