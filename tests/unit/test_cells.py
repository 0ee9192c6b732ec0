"""The formula escape of our CSVs: nothing a spreadsheet would run gets out unescaped, and
reading our own files back gives every value back exactly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bulk_assign.sheet.cells import (
    FORMULA_TRIGGERS,
    escape,
    escape_header,
    is_escaped,
    is_formula_like,
    unescape,
)

texts = st.text() | st.sampled_from(FORMULA_TRIGGERS).flatmap(
    lambda t: st.text().map(lambda rest: t + rest)
)


@given(texts.filter(lambda v: not is_escaped(v)))
def test_unescape_gives_back_what_escape_took(value: str) -> None:
    """Every value but one that itself starts with `'` and a trigger: that one is read as
    escaped whoever wrote it (an analyst's `'+1 555...` in Excel is the phone +1 555...), so
    it cannot round-trip (hypothesis found `'@`; see the test below)."""
    assert unescape(escape(value)) == value


def test_a_value_that_starts_with_an_apostrophe_and_a_trigger_is_read_as_escaped() -> None:
    for typed, read in (("'+1 555 0100", "+1 555 0100"), ("'@", "@"), ("'=x", "=x")):
        assert is_escaped(typed) and unescape(typed) == read
        assert escape(typed) == typed  # written as it is: it runs nothing


@given(texts)
def test_an_escaped_cell_never_starts_a_formula(value: str) -> None:
    assert not is_formula_like(escape(value))
    assert is_escaped(escape(value)) == is_formula_like(value)


def test_an_analysts_own_apostrophe_stays() -> None:
    for value in ("'tis", "'", "''=x", "O'Brien"):
        assert unescape(value) == value
        assert escape(value) == value


def test_every_trigger_is_escaped_headers_too() -> None:
    for trigger in FORMULA_TRIGGERS:
        assert escape(trigger + "x") == "'" + trigger + "x"
        assert escape_header(trigger + "cmd()") == "'" + trigger + "cmd()"
    assert escape_header(7) == "7"
