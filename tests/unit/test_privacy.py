"""No email, phone or name of a row in results messages or logs; identifiers stay readable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bulk_assign.report.privacy import scrub
from bulk_assign.results import Contact

ANA = Contact(email="ana.silva@example.com", first_name="Ana", last_name="Silva",
              business_title="PartnerAccountManager", phone="+15550100199")


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("User ana.silva@example.com is not registered", "ana.silva@example.com"),
        ("Assignee <bob+tag@sub.example.co.uk> rejected", "bob+tag@sub.example.co.uk"),
        ("Email 'x_y@corp.io': invalid", "x_y@corp.io"),
        ("Phone +1 555 010 0199 is invalid", "555 010 0199"),
        ("Phone +44 (20) 7946-0958 is invalid", "7946-0958"),
        ("Phone +15550100199 is invalid", "15550100199"),
    ],
)
def test_emails_and_phones_are_removed(text: str, gone: str) -> None:
    out = scrub(text)
    assert gone not in out
    assert "<email>" in out or "<phone>" in out


def test_the_rows_own_names_email_and_phone_are_removed() -> None:
    text = ("Assignee Ana Silva (ANA.SILVA@EXAMPLE.COM, +15550100199) is not a registered user "
            "for Identifier O5100001")
    out = scrub(text, ANA)
    for private in ("Ana", "Silva", "ANA.SILVA", "EXAMPLE.COM", "5550100199"):
        assert private.casefold() not in out.casefold(), out
    assert "O5100001" in out
    assert "is not a registered user" in out


def test_an_email_that_contains_the_name_is_removed_whole() -> None:
    out = scrub("User ana.silva@example.com is not registered", ANA)
    assert "example.com" not in out and "ana" not in out.casefold()
    assert out == "User <email> is not registered"


@pytest.mark.parametrize(
    "text",
    [
        "ValidationException: Identifier O5100001 not found",
        "Opportunity O5100001 does not exist in catalog Sandbox",
        "RequestId: 3f2a9c1e-7b4d-4e21-9a0b-6c5d8e7f1a2b",
        "arn:aws:partnercentral:us-east-1:123456789012:catalog/AWS/opportunity/O5100001",
        "Rate exceeded (ThrottlingException), retry after 1000 ms",
    ],
)
def test_identifiers_and_request_ids_are_left_intact(text: str) -> None:
    assert scrub(text) == text
    assert scrub(text, ANA) == text


def test_a_short_name_is_not_cut_out_of_other_words() -> None:
    al = Contact(email="al@example.com", first_name="Al", last_name="Ng",
                 business_title="PartnerAccountManager")
    out = scrub("ValidationException: the assignee Al Ng is not a registered user", al)
    assert out.startswith("ValidationException: the assignee")
    assert "registered" in out and "Al Ng" not in out


def test_names_with_regex_characters_are_matched_literally() -> None:
    odd = Contact(email="a@b.co", first_name="J.(R)", last_name="O'Brien+",
                  business_title="PartnerAccountManager")
    out = scrub("User J.(R) O'Brien+ unknown; JxRy stays", odd)
    assert "J.(R)" not in out and "O'Brien+" not in out
    assert "JxRy stays" in out


@given(
    local=st.from_regex(r"[a-z][a-z0-9._+-]{0,15}", fullmatch=True),
    domain=st.from_regex(r"[a-z0-9-]{1,12}\.[a-z]{2,6}", fullmatch=True),
    before=st.sampled_from(["", "User ", "(", "<", "'", "Email: ", "x "]),
    after=st.sampled_from(["", " is invalid", ")", ">", "'", ", next", "; more"]),
)
def test_any_plain_email_disappears(local: str, domain: str, before: str, after: str) -> None:
    email = f"{local}@{domain}"
    out = scrub(before + email + after)
    assert "@" not in out
    assert out == before + "<email>" + after
