"""Malformed and awkward files through `python -m bulk_assign validate FILE --catalog Sandbox`.

Each file is generated here. Each ends in one of two ways: exit 2 with ONE line on stderr that
names the file (no traceback, no hang), or its rows classified as the spec says. Cases that
tests/test_cli_offline.py already covers (empty, BOM only, header only, NUL bytes, garbage,
password-protected, truncated, merged header) are not repeated; these are their neighbours.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

ROOT = Path(__file__).resolve().parents[2]
HEADER = ["Identifier", "Email", "FirstName", "LastName", "Phone"]
GOOD = ["O1001", "ana@example.com", "Ana", "Silva", "+15550100199"]
TIMEOUT = 30


def _csv(rows: list[list[str]], *, delimiter: str = ",", end: str = "\r\n") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=end).writerows(rows)
    return buffer.getvalue()


def _book(rows: list[list[object]], *, merge: str | None = None) -> openpyxl.Workbook:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Q3"
    for values in rows:
        sheet.append(values)
    if merge:
        sheet.merge_cells(merge)
    return book


def _save(book: openpyxl.Workbook, path: Path) -> Path:
    book.save(path)
    return path


@dataclass(frozen=True)
class Case:
    make: Callable[[Path], Path]
    #: exit 2 and this phrase on the one stderr line...
    error: str | None = None
    #: ...or these statuses by row number.
    statuses: dict[int, str] | None = None
    classes: dict[int, str] | None = None
    seconds: float | None = None


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        (d / name).write_bytes(data)
        return d / name
    return make


def _text(name: str, text: str, encoding: str = "utf-8") -> Callable[[Path], Path]:
    return _bytes(name, text.encode(encoding))


def _xlsm_with_macros(d: Path) -> Path:
    plain = _save(_book([HEADER, GOOD, ["O1002", "bad", "Bo", "Ng", ""]]), d / "plain.xlsx")
    path = d / "macros.xlsm"
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "[Content_Types].xml":
                data = data.replace(
                    b"</Types>",
                    b'<Default Extension="bin" ContentType="application/'
                    b'vnd.ms-office.vbaProject"/></Types>')
            dst.writestr(item, data)
        dst.writestr("xl/vbaProject.bin", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(2048))
    return path


def _header_on_row_3(d: Path) -> Path:
    book = _book([["Q3 realignment: EMEA"], [], HEADER, GOOD, ["O1002", "", "Bo", "Ng", ""]],
                 merge="A1:E1")  # a merged title banner above the header is fine
    return _save(book, d / "titled.xlsx")


def _password_xlsm(d: Path) -> Path:
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4096 + os.urandom(4096)
    (d / "locked.xlsm").write_bytes(data)
    return d / "locked.xlsm"


def _merged_header_in_the_middle(d: Path) -> Path:
    return _save(_book([[*HEADER[:2], "", *HEADER[2:]], [*GOOD[:2], "", *GOOD[2:]]],
                       merge="B1:C1"), d / "merged.xlsx")


def _ten_mb_cell(name_column: bool) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        big = "y" * 10_000_000
        rows = [[*HEADER, "Notes"], [*GOOD, big if not name_column else "n"],
                ["O1002", "bo@example.com", big if name_column else "Bo", "Ng", "", "n"]]
        path = d / ("big-name.csv" if name_column else "big-notes.csv")
        path.write_text(_csv(rows), encoding="utf-8")
        return path
    return make


def _wide(d: Path) -> Path:
    header = [*HEADER, *(f"C{i}" for i in range(6, 100_001))]
    path = d / "wide.csv"
    path.write_text(",".join(header) + "\r\n" + ",".join(GOOD) + "," * (100_000 - 5) + "\r\n")
    return path


def _wide_trailing_commas(d: Path) -> Path:
    path = d / "commas.csv"
    path.write_text(",".join(HEADER) + "," * 99_995 + "\r\n" + ",".join(GOOD) + "," * 99_995
                    + "\r\n")
    return path


def _mixed_endings(d: Path) -> Path:
    text = (",".join(HEADER) + "\r\n" + ",".join(GOOD) + "\n"
            + "O1002,bo@example.com,Bo,Ng,\r" + "\r\n" + "O1003,x,Cy,Do,\n")
    (d / "mixed.csv").write_bytes(text.encode())
    return d / "mixed.csv"


def _csv_really_xlsm(d: Path) -> Path:
    src = _xlsm_with_macros(d)
    (d / "export.csv").write_bytes(src.read_bytes())
    return d / "export.csv"


def _xlsx_really_cp1252(d: Path) -> Path:
    return _text("sheet.xlsx", _csv([HEADER, [*GOOD[:2], "Tomás", "Núñez", ""]], delimiter=";"),
                 "cp1252")(d)


def _zip_not_workbook(d: Path) -> Path:
    path = d / "archive.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "not a workbook")
    return path


CASES: dict[str, Case] = {
    "whitespace only": Case(_text("blank.csv", "\r\n  \r\n\t\r\n"), error="no content"),
    "only delimiters": Case(_text("commas.csv", ",,,,\r\n;;;\r\n"), error="no content"),
    "UTF-16 BOM only": Case(_bytes("u16.txt", b"\xff\xfe"), error="no content"),
    "header and blank rows only": Case(
        _text("blanks.csv", _csv([HEADER, ["", "", "", "", ""], [" ", "", "", "", ""]])),
        error="no data rows (2 blank rows)"),
    "UTF-16 without BOM": Case(_text("nobom.txt", _csv([HEADER, GOOD], delimiter="\t"),
                                     "utf-16-le"), error="binary data"),
    "invalid UTF-8 after a BOM": Case(
        _bytes("broken.csv", b"\xef\xbb\xbf" + _csv([HEADER, GOOD]).encode() + b"\x81\x8d"),
        error="not valid UTF-8"),
    "password-protected xlsm": Case(_password_xlsm, error="password-protected"),
    "zip that is not a workbook": Case(_zip_not_workbook, error="not an Excel workbook"),
    "empty zip": Case(_bytes("empty.xlsx", b"PK\x05\x06" + b"\x00" * 18),
                      error="empty"),
    "merged header across a column": Case(_merged_header_in_the_middle,
                                          error="merged cells (B1:C1)"),
    "100,000 columns": Case(_wide, error="100,000 columns", seconds=10),
    "100,000 trailing commas": Case(_wide_trailing_commas, error="100,000 columns", seconds=10),
    "xlsm with a vbaProject": Case(_xlsm_with_macros, statuses={2: "VALID", 3: "INVALID"},
                                   classes={3: "INVALID_EMAIL"}),
    "header on row 3 under a merged title": Case(
        _header_on_row_3, statuses={4: "VALID", 5: "INVALID"}, classes={5: "MISSING_EMAIL"}),
    "10 MB cell in an extra column": Case(_ten_mb_cell(False), statuses={2: "VALID", 3: "VALID"},
                                          seconds=15),
    "10 MB first name": Case(_ten_mb_cell(True), statuses={2: "VALID", 3: "INVALID"},
                             classes={3: "FIELD_TOO_LONG"}, seconds=15),
    "mixed line endings": Case(_mixed_endings,
                               statuses={2: "VALID", 3: "VALID", 5: "INVALID"},
                               classes={5: "INVALID_EMAIL"}),
    "Excel Unicode text (UTF-16, tab)": Case(
        _text("unicode.txt", _csv([HEADER, [*GOOD[:3], "Núñez", ""], ["O1002", "", "Zoë", "X",
                                                                     "4.41E+11"]],
                                  delimiter="\t"), "utf-16"),
        statuses={2: "VALID", 3: "INVALID"}, classes={3: "MISSING_EMAIL"}),
    "a .csv that is really an xlsm": Case(_csv_really_xlsm, statuses={2: "VALID", 3: "INVALID"}),
    "an .xlsx that is really a cp1252 CSV": Case(_xlsx_really_cp1252, statuses={2: "VALID"}),
}


def _run_counting_cpu(args: list[str], *, cwd: Path, env: dict[str, str]
                      ) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run `args` to the end (killed after TIMEOUT s); returns it and the CPU seconds (user +
    system) it used. A case's bound is on that work, which tests running side by side on the
    same cores (pytest-xdist) do not stretch as they stretch wall
    time: a quadratic parse still fails it, a busy machine no longer does."""
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          cwd=cwd, env=env) as proc:
        hung = threading.Timer(TIMEOUT, proc.kill)
        hung.start()
        try:
            with ThreadPoolExecutor(max_workers=2) as readers:
                assert proc.stdout is not None and proc.stderr is not None
                stdout, stderr = readers.submit(proc.stdout.read), readers.submit(proc.stderr.read)
                _, status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(status)
                done = subprocess.CompletedProcess(args, proc.returncode, stdout.result(),
                                                   stderr.result())
        finally:
            hung.cancel()
    assert proc.returncode != -9 or not hung.finished.is_set(), f"hung for {TIMEOUT} s"
    return done, usage.ru_utime + usage.ru_stime


def _validate_case(name: str, folder: Path
                   ) -> tuple[Path, Path, subprocess.CompletedProcess[str], float]:
    """A file through the CLI in a fresh interpreter; returns the file, the output folder, the
    process and its CPU seconds. One process per test: pytest-xdist runs them side by side on
    every worker, and none twice."""
    path = CASES[name].make(folder)
    out = folder / "out"
    proc, seconds = _run_counting_cpu(
        [sys.executable, "-m", "bulk_assign", "validate", str(path), "--catalog", "Sandbox",
         "--out", str(out)], cwd=folder, env={**os.environ, "PYTHONPATH": str(ROOT),
                                              "NO_COLOR": "1"})
    return path, out, proc, seconds


def _results(out: Path) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)  # the 10 MB cell is echoed as it came
    with (out / "results.csv").open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("name", list(CASES))
def test_corpus_file(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    path, out, proc, seconds = _validate_case(name, tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    if case.seconds is not None:
        # CPU seconds, start-up included: the bound is generous, a hang or a quadratic parse
        # is not (see _run_counting_cpu).
        assert seconds < case.seconds, f"took {seconds:.1f} CPU s"
    if case.error is not None:
        assert proc.returncode == 2, (proc.returncode, proc.stderr[-500:])
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert lines[0].startswith("bulk-assign: error: ") and str(path) in lines[0]
        assert case.error in lines[0], lines[0]
        assert not (out / "results.csv").exists()
        return
    assert case.statuses is not None
    assert proc.stderr == ""
    results = _results(out)
    got = {int(r["row"]): r["status"] for r in results}
    assert got == case.statuses
    for row, code in (case.classes or {}).items():
        assert next(r for r in results if int(r["row"]) == row)["error_class"] == code
    invalid = any(s == "INVALID" for s in case.statuses.values())
    assert proc.returncode == (1 if invalid else 0)
    assert (out / "failed.csv").exists() == invalid
