"""Arbitrary sheets through reader + validator + report, as files on disk.

Whatever the cells hold (formula triggers, quotes, delimiters, line breaks, any unicode, very
long text), whatever the extra headers, encoding and delimiter: only InputError escapes, every
data row gets exactly one results line with its Excel row number, statuses come from the spec,
no output cell can run as a formula, and failed.csv fed back reads the same rows.
"""

from __future__ import annotations

import csv
import io
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import assume, example, given
from hypothesis import strategies as st

from bulk_assign.check.problems import CODES
from bulk_assign.check.validator import validate
from bulk_assign.commands.validate import validate_command
from bulk_assign.errors import InputError
from bulk_assign.report.files import RESULT_COLUMNS
from bulk_assign.sheet import fields
from bulk_assign.sheet.reader import read_table

TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
VALIDATE_STATUSES = {"VALID", "INVALID", "DUPLICATE"}

# --- strategies ---------------------------------------------------------------------------

_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
_ANY_TEXT = st.text(_CHARS, max_size=24)
_NASTY = st.sampled_from([
    "", " ", "\u00a0", "\u200b", "=1+1", "=HYPERLINK(\"http://x\",\"y\")", "+15550100199",
    "-2+3", "@SUM(A1)", "\tx", "\rx", "\nx", "\r\n", '"', '""', '"quoted"', ",", ";", "\t",
    "a,b;c\td", "a\r\nb", "a\rb", "line\nbreak", "NA", "null", "None", "#N/A", "#REF!",
    "4.41E+11", "'=x", "'+1555", "' x", "\u2028", "\x85", "\x1c", "\ufeff", "Zoë", "Núñez",
    "日本語", "\U0001f600", "\\", "0044 20 7946 0958", "+1 (555) 010-0199",
])
_LONG = st.builds(lambda c, n: c * n, st.sampled_from(["x", "é", "=", "\n", "日", ","]),
                  st.integers(min_value=60, max_value=3_000))
_TRIGGERED = st.builds(lambda t, s: t + s, st.sampled_from(TRIGGERS), _ANY_TEXT)
_CELL = st.one_of(_ANY_TEXT, _NASTY, _TRIGGERED, _LONG)

_PLAUSIBLE = {
    fields.IDENTIFIER: st.sampled_from(["O1", "O2", "o3", " O4 ", "O5100001", "O12x", "5"]),
    fields.EMAIL: st.sampled_from(["ana@example.com", "ANA@example.com", "bo@example.org",
                                   "bad", "a b@x.co"]),
    fields.FIRST_NAME: st.sampled_from(["Ana", "Bo", "Zoë"]),
    fields.LAST_NAME: st.sampled_from(["Silva", "Ng", "O'Brien"]),
    fields.PHONE: st.sampled_from(["", "+15550100199", "+1 (555) 010-0199", "4.41E+11",
                                   "5550100199"]),
    fields.BUSINESS_TITLE: st.sampled_from(["", "PartnerAccountManager", "Seller"]),
    fields.CATALOG: st.sampled_from(["", "Sandbox", "sandbox", "AWS", "Prod"]),
}
_EXTRA_HEADERS = st.one_of(
    st.sampled_from(["Territory", "Region", "Notes", "status", "row", "error_class",
                     "error_message", "Status", "=cmd()", "+x", "@x", "-x", " Padded ", "",
                     "Opportunity\nNotes", "Wrapped\r\nheader", "a;b", "a,b", "a\tb", "'=x",
                     "Notes"]),
    _ANY_TEXT,
)


def _alias_spelling(field: str) -> st.SearchStrategy[str]:
    aliases = [a for a, f in ((a, fields.ALIAS_TO_FIELD.get(fields.fold(a))) for a in
               _all_aliases()) if f == field]

    def dress(alias: str, style: int) -> str:
        return [alias, alias.upper(), alias.lower(), alias.replace(" ", "_"),
                f" {alias} ", alias.replace(" ", "-"), alias.replace(" ", "\n")][style]

    return st.builds(dress, st.sampled_from(aliases), st.integers(0, 6))


def _all_aliases() -> list[str]:
    from bulk_assign.sheet.fields import _ALIASES

    return [a for aliases in _ALIASES.values() for a in aliases]


@dataclass
class Sheet:
    header: list[str]
    rows: list[list[str]]
    encoding: str
    delimiter: str

    def data(self) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=self.delimiter, lineterminator="\r\n").writerows(
            [self.header, *self.rows])
        return buffer.getvalue().encode(self.encoding)


@st.composite
def sheets(draw: st.DrawFn) -> Sheet:
    optional = draw(st.lists(st.sampled_from(
        [fields.PHONE, fields.BUSINESS_TITLE, fields.CATALOG]), unique=True))
    known = [*fields.REQUIRED, *optional]
    extras = draw(st.lists(_EXTRA_HEADERS, max_size=3))
    extras = [h for h in extras if fields.field_for(h) is None]
    columns: list[tuple[str | None, str]] = [(f, draw(_alias_spelling(f))) for f in known]
    columns += [(None, h) for h in extras]
    columns = draw(st.permutations(columns))
    n_rows = draw(st.integers(min_value=1, max_value=7))
    rows = []
    for _ in range(n_rows):
        kind = draw(st.sampled_from(["plausible", "plausible", "wild", "blank"]))
        cells = []
        for field, _header in columns:
            if kind == "blank":
                cells.append(draw(st.sampled_from(["", " ", "\u00a0", "\t"])))
            elif kind == "plausible" and field is not None and draw(st.integers(0, 5)):
                cells.append(draw(_PLAUSIBLE[field]))
            else:
                cells.append(draw(_CELL))
        rows.append(cells)
    delimiter = draw(st.sampled_from([",", ";", "\t"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    sheet = Sheet([h for _, h in columns], rows, encoding, delimiter)
    if encoding == "cp1252":
        try:
            sheet.data()
        except UnicodeEncodeError:
            sheet.encoding = "utf-8-sig"
    return sheet


# --- helpers ------------------------------------------------------------------------------


def _csv_cells(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def _is_blank(cells: list[str]) -> bool:
    return all(not c.strip() for c in cells)


def _expected_rows(sheet: Sheet) -> list[int]:
    return [i + 2 for i, cells in enumerate(sheet.rows) if not _is_blank(cells)]


def _escaped(value: str) -> str:
    return "'" + value if value.startswith(TRIGGERS) else value


def _assert_no_formula(cells: list[list[str]], name: str) -> None:
    for r, line in enumerate(cells):
        for c, cell in enumerate(line):
            assert not cell.startswith(TRIGGERS), f"{name} line {r + 1} cell {c + 1}: {cell!r}"


def _text_is_exact(sheet: Sheet) -> bool:
    """False when the bytes mean something else in the encoding the spec says to try first
    (cp1252 bytes that also are valid UTF-8): then the text cannot be compared."""
    if sheet.encoding != "cp1252":
        return True
    data = sheet.data()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return data.isascii()


# --- properties ---------------------------------------------------------------------------


@given(sheet=sheets())
@example(sheet=Sheet(["Opportunity\nId", "Email", "First Name", "Last Name"],
                     [["O1", "ana@example.com", "Ana", "Silva"]], "utf-8", ","))
@example(sheet=Sheet(["Notes\nmore", "Identifier", "Email", "FirstName", "LastName"],
                     [["x", "O1", "ana@example.com", "Ana", "Silva"]], "utf-8", ","))
@example(sheet=Sheet(["status", "row", "Identifier", "Email", "FirstName", "LastName"],
                     [["open", "7", "O1", "ana@example.com", "Ana", "Silva"]], "utf-8", ","))
@example(sheet=Sheet(["=cmd()", "Identifier", "Email", "FirstName", "LastName"],
                     [["x", "O1", "ana@example.com", "Ana", "Silva"]], "utf-8", ","))
def test_validate_any_sheet(tmp_path: Path, sheet: Sheet) -> None:
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    src = work / "in.csv"
    src.write_bytes(sheet.data())
    out = work / "out"
    expected_rows = _expected_rows(sheet)
    stdout = io.StringIO()
    try:
        code = validate_command(input_path=src, catalog="Sandbox", out=out, stdout=stdout)
    except InputError as exc:
        # A well-formed file with the required headers and a data row must be read.
        assert not expected_rows, f"refused a good file: {exc.message}"
        assert str(src) in exc.message and "no data rows" in exc.message
        return
    assert expected_rows, "a file without data rows was accepted"

    results = _csv_cells(out / "results.csv")
    header, lines = results[0], results[1:]
    assert tuple(header[:7]) == RESULT_COLUMNS
    _assert_no_formula(results, "results.csv")
    assert [int(line[0]) for line in lines] == expected_rows
    assert all(len(line) == len(header) for line in lines)
    statuses = [line[1] for line in lines]
    assert set(statuses) <= VALIDATE_STATUSES
    assert code == (1 if "INVALID" in statuses else 0)
    for line in lines:
        if line[1] == "INVALID":
            assert line[2] in CODES and line[3]
        else:
            assert line[2] == ""

    # Every input column comes back with its value (kept: named, or unnamed with data).
    body = [sheet.rows[r - 2] for r in expected_rows]
    kept = [i for i, h in enumerate(sheet.header)
            if h.strip() or any(row[i].strip() for row in sheet.rows)]
    echo = [line[7:] for line in lines]
    assert len(header) - 7 == len(kept), (header, sheet.header)
    if _text_is_exact(sheet):
        for got, row in zip(echo, body, strict=True):
            assert got == [_escaped(row[i]) for i in kept]

    failed_path = out / "failed.csv"
    invalid = [line for line in lines if line[1] == "INVALID"]
    assert failed_path.exists() == bool(invalid)
    if invalid:
        failed = _csv_cells(failed_path)
        _assert_no_formula(failed, "failed.csv")
        assert len(failed) - 1 == len(invalid)
        # Fed back as it is: the same rows, with the same problems.
        again = validate(read_table(failed_path), catalog="Sandbox")
        assert len(again.status) == len(invalid)
        assert list(again.error_class) == [line[2] for line in invalid]


@given(
    cells=st.lists(st.lists(_CELL, min_size=1, max_size=6), min_size=0, max_size=6),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]),
    delimiter=st.sampled_from([",", ";", "\t"]),
)
def test_any_text_file_reads_or_raises_input_error(
    tmp_path: Path, cells: list[list[str]], encoding: str, delimiter: str
) -> None:
    """No header promised at all: the reader either reads it or says why, naming the file."""
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(cells)
    src = Path(tempfile.mkdtemp(dir=tmp_path)) / "any.csv"
    src.write_bytes(buffer.getvalue().encode(encoding))
    try:
        table = read_table(src)
    except InputError as exc:
        assert str(src) in exc.message
        return
    validation = validate(table, catalog="Sandbox")
    assert set(validation.status) <= VALIDATE_STATUSES
    assert len(validation.status) == len(table.frame)


@given(raw=st.binary(max_size=400), ext=st.sampled_from(["csv", "xlsx", "txt"]))
def test_arbitrary_bytes_never_crash_the_reader(tmp_path: Path, raw: bytes, ext: str) -> None:
    src = Path(tempfile.mkdtemp(dir=tmp_path)) / f"blob.{ext}"
    prefix = b"Identifier,Email,FirstName,LastName\r\n"
    for data in (raw, prefix + raw, b"PK\x03\x04" + raw):
        src.write_bytes(data)
        try:
            read_table(src)
        except InputError as exc:
            assert str(src) in exc.message


@given(sheet=sheets())
def test_read_is_stable_across_encodings(tmp_path: Path, sheet: Sheet) -> None:
    """The same sheet saved as UTF-8, UTF-8 with BOM or UTF-16 reads as the same table."""
    assume(_expected_rows(sheet))
    frames = []
    for encoding in ("utf-8", "utf-8-sig", "utf-16"):
        sheet.encoding = encoding
        src = Path(tempfile.mkdtemp(dir=tmp_path)) / "in.csv"
        src.write_bytes(sheet.data())
        table = read_table(src)
        assert table.delimiter == sheet.delimiter
        frames.append(table.frame)
    assert frames[0].equals(frames[1]) and frames[0].equals(frames[2])
