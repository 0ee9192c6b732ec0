"""Normalisation and checks on real files: what an analyst sees per row."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_assign.check.problems import CODES, UNCALCULATED_FORMULA
from bulk_assign.check.rules import canonical_catalog
from bulk_assign.check.validator import Validation, validate
from bulk_assign.cli_values import catalog as catalog_option
from bulk_assign.results import Contact
from bulk_assign.sheet.reader import read_table
from tests.support.inputs import HEADER, SAMPLES, row, write_csv

CAT_HEADER = [*HEADER, "Catalog"]


def check(tmp_path: Path, rows: list[list[str]], *, header: list[str] | None = None,
          catalog: str | None = None) -> Validation:
    path = write_csv(tmp_path / "in.csv", [header or HEADER, *rows])
    return validate(read_table(path), catalog=catalog)


def verdict(v: Validation, r: int) -> tuple[str, str, str]:
    return v.status[r], v.error_class[r], v.error_message[r]


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"Identifier": ""}, "MISSING_IDENTIFIER", "Identifier is empty"),
        ({"Identifier": "OPP-12"}, "INVALID_IDENTIFIER", "letter O and 1 to 19 digits"),
        ({"Identifier": "O" + "1" * 20}, "INVALID_IDENTIFIER", "1 to 19 digits"),
        ({"Email": ""}, "MISSING_EMAIL", "Email is empty"),
        ({"Email": "ana@example"}, "INVALID_EMAIL", "not a valid address"),
        ({"Email": "ana silva@example.com"}, "INVALID_EMAIL", "no spaces"),
        ({"FirstName": ""}, "MISSING_FIRST_NAME", "FirstName is empty"),
        ({"LastName": " "}, "MISSING_LAST_NAME", "LastName is empty"),
        ({"FirstName": "A" * 81}, "FIELD_TOO_LONG", "FirstName is 81 characters, the limit is 80"),
        ({"Email": "a" * 70 + "@example.com"}, "FIELD_TOO_LONG", "Email is 82 characters"),
        ({"Phone": "555-0100"}, "INVALID_PHONE", "Phone must be + and the country code"),
        ({"Phone": "+1555010019912345"}, "INVALID_PHONE", "up to 15 digits"),
    ],
)
def test_each_code_with_a_plain_message(
    tmp_path: Path, changes: dict[str, str], code: str, words: str
) -> None:
    v = check(tmp_path, [row(), row(**{"Identifier": "O2002", **changes})])
    assert verdict(v, 2) == ("VALID", "", "")
    status, error_class, message = verdict(v, 3)
    assert (status, error_class) == ("INVALID", code)
    assert words in message


def test_catalog_codes(tmp_path: Path) -> None:
    rows = [[*row(Identifier=f"O{i}"), cat] for i, cat in
            enumerate(["Sandbox", "sandbox", "AWS", "Prod", ""], start=1)]
    v = check(tmp_path, rows, header=CAT_HEADER, catalog="Sandbox")
    assert [v.status[r] for r in range(2, 7)] == ["VALID", "VALID", "INVALID", "INVALID", "VALID"]
    assert v.error_class[4] == "CATALOG_MISMATCH"
    assert "Catalog AWS differs from the run's --catalog Sandbox" in v.error_message[4]
    assert v.error_class[5] == "INVALID_CATALOG"
    assert list(v.values.loc[[2, 3, 6], "Catalog"]) == ["Sandbox", "Sandbox", "Sandbox"]
    without = validate(read_table(tmp_path / "in.csv"), catalog=None)
    assert without.status[4] == "VALID" and without.values.loc[4, "Catalog"] == "AWS"
    assert check(tmp_path, [[*row(), "aws"]], header=CAT_HEADER).values.loc[2, "Catalog"] == "AWS"


def test_every_problem_is_listed_and_the_first_is_the_class(tmp_path: Path) -> None:
    v = check(tmp_path, [row(Identifier="X1", Email="nope", FirstName="", Phone="12")])
    status, error_class, message = verdict(v, 2)
    assert (status, error_class) == ("INVALID", "INVALID_IDENTIFIER")
    parts = message.split("; ")
    assert len(parts) == 4
    assert [p.split(" ")[0] for p in parts] == ["Identifier", "Email", "FirstName", "Phone"]


def test_normalisation_reaches_the_request(tmp_path: Path) -> None:
    rows = [
        row(Identifier=" o123 ", Email="  Ana.Silva@Example.COM\u00a0", FirstName="\u200bAna\u00a0",
            LastName="\u00a0Silva\u200b", Phone="+1 (555) 010-0199"),
        row(Identifier="O124", Phone="0044 20 7946 0000"),
        row(Identifier="O125", Phone="+44.20.7946.0000"),
        row(Identifier="O126", Phone=""),
    ]
    v = check(tmp_path, rows, catalog="Sandbox")
    assert set(v.status) == {"VALID"}
    jobs = {j.row: j for j in v.jobs()}
    assert jobs[2].identifier == "O123" and jobs[2].catalog == "Sandbox"
    assert jobs[2].assignee == Contact(
        email="ana.silva@example.com", first_name="Ana", last_name="Silva",
        business_title="PartnerAccountManager", phone="+15550100199",
    )
    assert jobs[3].assignee.phone == "+442079460000"
    assert jobs[4].assignee.phone == "+442079460000"
    assert jobs[5].assignee.to_api().get("Phone") is None
    assert list(jobs) == [2, 3, 4, 5]


def _titled(tmp_path: Path, header: str, titles: list[str], **options: bool) -> Validation:
    rows = [[*row(Identifier=f"O{i}"), title] for i, title in enumerate(titles, start=1)]
    path = write_csv(tmp_path / "in.csv", [[*HEADER, header], *rows])
    return validate(read_table(path), catalog="Sandbox", **options)


@pytest.mark.parametrize("header", ["Title", "Job Title", "job_title"])
def test_job_title_columns_are_echoed_and_every_row_is_sent_as_the_owner(
    tmp_path: Path, header: str
) -> None:
    v = _titled(tmp_path, header, ["Senior Account Manager", "", "Channel Lead"])
    assert set(v.status) == {"VALID"}
    assert {j.assignee.business_title for j in v.jobs()} == {"PartnerAccountManager"}
    assert header in v.table.extra_columns


def test_business_title_column_blank_or_owner_is_sent_as_the_owner(tmp_path: Path) -> None:
    v = _titled(tmp_path, "Business Title",
                ["", "PartnerAccountManager", "partner account manager", "Partner_Account_Manager"])
    assert set(v.status) == {"VALID"}
    assert {j.assignee.business_title for j in v.jobs()} == {"PartnerAccountManager"}


def test_other_business_title_is_invalid_without_the_option(tmp_path: Path) -> None:
    v = _titled(tmp_path, "BusinessTitle", ["", "SolutionsArchitect"])
    assert verdict(v, 2) == ("VALID", "", "")
    status, error_class, message = verdict(v, 3)
    assert (status, error_class) == ("INVALID", "NOT_OWNER_TITLE")
    assert "'SolutionsArchitect' is not PartnerAccountManager" in message
    assert "the owner would not change" in message
    assert "--allow-other-titles" in message


def test_other_business_title_is_sent_with_the_option(tmp_path: Path) -> None:
    v = _titled(tmp_path, "BusinessTitle", ["", "SolutionsArchitect"], allow_other_titles=True)
    assert set(v.status) == {"VALID"}
    titles = {j.row: j.assignee.business_title for j in v.jobs()}
    assert titles == {2: "PartnerAccountManager", 3: "SolutionsArchitect"}


def test_the_option_without_a_business_title_column_sends_the_owner_title(
    tmp_path: Path,
) -> None:
    v = _titled(tmp_path, "Title", ["Channel Lead"], allow_other_titles=True)
    assert next(v.jobs()).assignee.business_title == "PartnerAccountManager"


def test_trunk_zero_after_the_country_code_is_refused_with_a_hint(tmp_path: Path) -> None:
    v = check(tmp_path, [row(Phone="+44 (0)20 7946 0001"), row(Identifier="O2",
                                                               Phone="0044(0)2079460001"),
                         row(Identifier="O3", Phone="+1 (555) 010-0199")])
    for r in (2, 3):
        status, error_class, message = verdict(v, r)
        assert (status, error_class) == ("INVALID", "INVALID_PHONE")
        assert "drop the (0) after the country code" in message
    assert verdict(v, 4) == ("VALID", "", "")
    assert v.values.loc[4, "Phone"] == "+15550100199"


ARABIC_INDIC = "".join(chr(0x0660 + int(d)) for d in "442079460001")
FULLWIDTH = "".join(chr(0xFF10 + int(d)) for d in "442079460000")


@pytest.mark.parametrize("phone", [f"+{ARABIC_INDIC}", f"+44{ARABIC_INDIC[2:]}", f"+{FULLWIDTH}"])
def test_only_ascii_digits_make_a_phone(tmp_path: Path, phone: str) -> None:
    v = check(tmp_path, [row(Phone=phone)])
    status, error_class, message = verdict(v, 2)
    assert (status, error_class) == ("INVALID", "INVALID_PHONE")
    assert "digits other than 0-9" in message


def test_excel_scientific_phone_gets_the_hint(tmp_path: Path) -> None:
    v = check(tmp_path, [row(Phone="4.41E+11"), row(Identifier="O7", Phone="441234567890")])
    assert v.error_class[2] == "INVALID_PHONE"
    assert "Excel turned the number into 4.41E+11" in v.error_message[2]
    assert "format the column as Text" in v.error_message[2]
    assert "no leading +" in v.error_message[3]


@pytest.mark.parametrize(
    ("column", "code"),
    [("Identifier", "INVALID_IDENTIFIER"), ("Email", "INVALID_EMAIL"),
     ("FirstName", "MISSING_FIRST_NAME"), ("LastName", "MISSING_LAST_NAME"),
     ("Phone", "INVALID_PHONE")],
)
def test_excel_error_values_are_named(tmp_path: Path, column: str, code: str) -> None:
    v = check(tmp_path, [row(**{column: "#N/A"})])
    assert v.error_class[2] == code
    assert "Excel error #N/A" in v.error_message[2]


@pytest.mark.parametrize("last", ["NULL", "NA", "None", "N/A", "nan", "null"])
def test_words_that_look_like_missing_values_are_real_names(tmp_path: Path, last: str) -> None:
    v = check(tmp_path, [row(LastName=last)])
    assert v.status[2] == "VALID"
    assert next(v.jobs()).assignee.last_name == last


def test_duplicates_are_sent_once_and_name_the_first_row(tmp_path: Path) -> None:
    v = check(tmp_path, [
        row(), row(Identifier="O2"), row(Identifier="o1001", Email=" ANA@example.com "),
        row(Phone="+1 555 010 0199"),
    ])
    assert [v.status[r] for r in (2, 3, 4, 5)] == ["VALID", "VALID", "DUPLICATE", "DUPLICATE"]
    assert v.error_message[4] == "same assignment as row 2: sent once"
    assert v.error_class[4] == ""
    assert [j.row for j in v.jobs()] == [2, 3]
    assert v.counts() == {"VALID": 2, "DUPLICATE": 2}


def test_catalog_names_fold_in_one_place() -> None:
    assert [canonical_catalog(c) for c in ("aws", " SANDBOX ", "Sandbox", "Prod", "")] == [
        "AWS", "Sandbox", "Sandbox", None, None,
    ]
    assert catalog_option("sandbox") == "Sandbox"  # the CLI's --catalog uses the same function


def test_conflicts_send_none_and_each_names_the_others(tmp_path: Path) -> None:
    v = check(tmp_path, [
        row(), row(Identifier="O2"), row(Email="bo@example.com"), row(FirstName="Anna"),
        row(),
    ])
    for r, others in ((2, "4, 5, 6"), (4, "2, 5, 6"), (6, "2, 4, 5")):
        assert v.status[r] == "INVALID" and v.error_class[r] == "CONFLICTING_ASSIGNMENT"
        assert f"row(s) {others} assign the same opportunity to someone else" in v.error_message[r]
    assert list(v.valid_rows()) == [3]


def test_same_email_is_one_person_whatever_the_spelling(tmp_path: Path) -> None:
    v = check(tmp_path, [
        row(LastName="O'Brien"), row(LastName="O'brien"),
        row(LastName="O'Brien", Email="ANA@example.com", Phone=""),
        row(LastName="O'Brien", FirstName="Anna", Phone="+1 555 010 0100"),
    ])
    assert [v.status[r] for r in (2, 3, 4, 5)] == ["VALID", "DUPLICATE", "DUPLICATE", "DUPLICATE"]
    assert set(v.error_class) == {""}
    assert v.error_message[3] == (
        "same person as row 2 (same opportunity and email; LastName differs): sent once, "
        "with row 2's values"
    )
    assert "; Phone differs)" in v.error_message[4]
    assert "; FirstName, Phone differ)" in v.error_message[5]
    assert [j.row for j in v.jobs()] == [2]
    # the message names fields, never the values (names and phones stay out of messages)
    assert "Brien" not in v.error_message[3] and "+1" not in v.error_message[5]


def test_an_invalid_first_row_does_not_swallow_a_valid_repeat(tmp_path: Path) -> None:
    v = check(tmp_path, [row(FirstName=""), row(), row(LastName="Silva-Costa")])
    assert [v.status[r] for r in (2, 3, 4)] == ["INVALID", "VALID", "DUPLICATE"]
    assert v.error_class[2] == "MISSING_FIRST_NAME"
    assert v.error_message[4].startswith("same person as row 3")
    assert [j.row for j in v.jobs()] == [3]


def test_same_identifier_in_two_catalogs_is_not_a_conflict(tmp_path: Path) -> None:
    v = check(tmp_path, [[*row(), "AWS"], [*row(Email="bo@example.com"), "Sandbox"]],
              header=CAT_HEADER)
    assert list(v.status) == ["VALID", "VALID"]


def test_sample_bad_rows_show_every_code_once() -> None:
    v = validate(read_table(SAMPLES / "bad_rows.csv"), catalog="Sandbox")
    classes = [c for c in v.error_class if c]
    text_codes = [c for c in CODES if c != UNCALCULATED_FORMULA]  # a CSV holds no formula
    assert sorted(set(classes)) == sorted(text_codes)
    assert classes.count("CONFLICTING_ASSIGNMENT") == 2
    assert len(classes) == len(text_codes) + 1
    assert v.counts() == {"INVALID": 13, "VALID": 1, "DUPLICATE": 1}
    # the "Why" column says which code each row shows
    why = v.table.frame["Why"]
    for r, code in v.error_class.items():
        assert why[r].startswith(code or ("DUPLICATE" if v.status[r] == "DUPLICATE" else "VALID"))
