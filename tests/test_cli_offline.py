"""The offline commands from the command line: validate, template, --version; exit codes."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from bulk_assign import __version__
from bulk_assign.cli import main
from tests.support.inputs import HEADER, SAMPLES, row, write_csv, write_xlsx
from tests.support.outputs import read_results_frame
from tests.support.runs import run_cli, run_validate


def _missing(d: Path) -> Path:
    return d / "nowhere.csv"


def _folder(d: Path) -> Path:
    (d / "sheets.csv").mkdir()
    return d / "sheets.csv"


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        (d / name).write_bytes(data)
        return d / name
    return make


def _truncated(d: Path) -> Path:
    whole = write_xlsx(d / "whole.xlsx", {"S": [HEADER, *[row() for _ in range(40)]]})
    data = whole.read_bytes()
    (d / "cut.xlsx").write_bytes(data[: len(data) // 2])
    return d / "cut.xlsx"


def _merged(d: Path) -> Path:
    return write_xlsx(d / "merged.xlsx", {"S": [[*HEADER, "Region", ""], [*row(), "EMEA", "x"]]},
                      merge="F1:G1")


UNUSABLE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing file": (_missing, "no such file"),
    "folder": (_folder, "is a folder"),
    "empty file": (_bytes("empty.csv", b""), "the file is empty"),
    "only BOM": (_bytes("bom.csv", b"\xef\xbb\xbf"), "no content"),
    "header only": (_bytes("head.csv", b"Identifier,Email,FirstName,LastName\r\n"),
                    "has a header but no data rows"),
    "missing column": (_bytes("cols.csv", b"Identifier,Email,FirstName\nO1,a@b.co,A\n"),
                       "missing required column(s) LastName"),
    "two columns one field": (
        _bytes("two.csv", b"Identifier,Email,Email Address,FirstName,LastName\nO1,a,b,c,d\n"),
        "columns 'Email' and 'Email Address' both mean Email"),
    "NUL bytes": (_bytes("nul.csv", b"Identifier,Email\x00,FirstName,LastName\n" * 20),
                  "binary data"),
    "binary garbage": (_bytes("garbage.xlsx", bytes(range(256)) * 16), "binary data"),
    "password-protected xlsx": (
        _bytes("locked.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1024),
        "password-protected"),
    "truncated xlsx": (_truncated, "damaged"),
    "merged header": (_merged, "merged cells (F1:G1)"),
}


def _validate_unusable(case: str, folder: Path, capsys: pytest.CaptureFixture[str]
                       ) -> tuple[Path, Path, int, str]:
    """One unusable input through the command line's `main` (what `python -m bulk_assign
    validate` runs; test_default_run_folder_under_runs starts a fresh interpreter): the file,
    the output folder, the exit code and what went to stderr."""
    path = UNUSABLE[case][0](folder)
    out = folder / "out"
    capsys.readouterr()
    code = main(["validate", str(path), "--out", str(out)])
    return path, out, code, capsys.readouterr().err


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_unusable_input_exit_2_one_line_naming_the_file(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, out, code, errors = _validate_unusable(case, tmp_path, capsys)
    assert code == 2, errors
    assert "Traceback" not in errors
    lines = errors.strip().splitlines()
    assert len(lines) == 1, errors
    assert lines[0].startswith("bulk-assign: error: ")
    assert str(path) in lines[0]
    assert UNUSABLE[case][1] in lines[0]
    assert not (out / "results.csv").exists()


def test_validate_exit_codes_0_and_1(tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", [HEADER, row(), row(), row(Identifier="O2")])
    assert main(["validate", str(good), "--out", str(tmp_path / "g")]) == 0
    bad = write_csv(tmp_path / "bad.csv", [HEADER, row(), row(Identifier="O2", Email="x")])
    assert main(["validate", str(bad), "--out", str(tmp_path / "b")]) == 1
    code, results, printed = run_validate(bad, tmp_path / "b2")
    assert code == 1 and list(results["status"]) == ["VALID", "INVALID"]
    assert "INVALID_EMAIL" in printed and str(tmp_path / "b2" / "failed.csv") in printed
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["by_status"] == {"VALID": 1, "INVALID": 1}


def test_validate_catalog_option_and_sample_bad_rows(tmp_path: Path) -> None:
    assert main(["validate", str(SAMPLES / "bad_rows.csv"), "--catalog", "sandbox",
                 "--out", str(tmp_path / "o")]) == 1
    results = read_results_frame(tmp_path / "o" / "results.csv")
    assert results.loc[11, "error_class"] == "CATALOG_MISMATCH"
    assert results.loc[10, "error_class"] == "INVALID_CATALOG"
    assert results.loc[15, "status"] == "DUPLICATE"


def test_validate_bad_catalog_option_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate", str(SAMPLES / "realignment.csv"), "--catalog", "Prod"])
    assert info.value.code == 2
    assert "must be AWS or Sandbox" in capsys.readouterr().err


def test_default_run_folder_under_runs(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "q3.csv", [HEADER, row()])
    proc = run_cli("validate", src, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    folders = list((tmp_path / "runs").iterdir())
    assert len(folders) == 1 and folders[0].name.startswith("q3-")
    assert (folders[0] / "results.csv").exists()
    assert f"Run folder: {Path('runs') / folders[0].name}" in proc.stdout
    assert "VALID" in proc.stdout and proc.stderr == ""


def test_cp1252_input_is_read_exactly_and_the_summary_says_so(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "w.csv", [HEADER, row(FirstName="Tomás", LastName="Núñez")],
                    encoding="cp1252")
    assert main(["validate", str(src), "--out", str(tmp_path / "o")]) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text(encoding="utf-8"))
    assert summary["encoding"] == "cp1252"
    results = read_results_frame(tmp_path / "o" / "results.csv")
    assert results.loc[2, "LastName"] == "Núñez"


def test_utf16_unicode_text_validates(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "u.txt", [HEADER, row(LastName="Núñez")], delimiter="\t",
                    encoding="utf-16")
    assert main(["validate", str(src), "--out", str(tmp_path / "o")]) == 0
    assert read_results_frame(tmp_path / "o" / "results.csv").loc[2, "LastName"] == "Núñez"


def test_disguised_files_still_work(tmp_path: Path) -> None:
    real = write_xlsx(tmp_path / "real.xlsx", {"S": [HEADER, row()]})
    shutil.copy(real, tmp_path / "download.csv")
    assert main(["validate", str(tmp_path / "download.csv"), "--out", str(tmp_path / "a")]) == 0
    write_csv(tmp_path / "export.xlsx", [HEADER, row()])
    assert main(["validate", str(tmp_path / "export.xlsx"), "--out", str(tmp_path / "b")]) == 0


def test_sheet_by_name_and_position(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = write_xlsx(tmp_path / "b.xlsx", {"Notes": [["hello"]], "Q3": [HEADER, row()],
                                            "Q4": [HEADER, row(Email="bad")]})
    assert main(["validate", str(book), "--sheet", "Q3", "--out", str(tmp_path / "a")]) == 0
    assert main(["validate", str(book), "--sheet", "3", "--out", str(tmp_path / "b")]) == 1
    assert main(["validate", str(book), "--sheet", "Q9", "--out", str(tmp_path / "c")]) == 2
    assert "has no sheet 'Q9'" in capsys.readouterr().err
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["sheet"] == "Q4"


def test_sample_workbook_validates_like_the_csv(tmp_path: Path) -> None:
    a = main(["validate", str(SAMPLES / "realignment.csv"), "--catalog", "Sandbox",
              "--out", str(tmp_path / "c")])
    b = main(["validate", str(SAMPLES / "realignment.xlsx"), "--catalog", "Sandbox",
              "--out", str(tmp_path / "x")])
    assert a == b == 1
    from_csv = read_results_frame(tmp_path / "c" / "results.csv")
    from_xlsx = read_results_frame(tmp_path / "x" / "results.csv")
    assert from_csv.equals(from_xlsx)


@pytest.mark.parametrize("xlsx", [False, True])
def test_template_round_trips_through_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], xlsx: bool
) -> None:
    out = tmp_path / ("t.xlsx" if xlsx else "t.csv")
    assert main(["template", str(out), *(["--xlsx"] if xlsx else [])]) == 0
    assert f"bulk-assign validate {out}" in capsys.readouterr().out
    assert main(["validate", str(out), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "has a header but no data rows" in err and str(out) in err
    assert main(["template", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_template_filled_in_is_valid(tmp_path: Path) -> None:
    import openpyxl

    out = tmp_path / "t.xlsx"
    main(["template", "--xlsx", str(out)])
    book = openpyxl.load_workbook(out)
    sheet = book.active
    headers = [c.value for c in sheet[1]]
    values = {"Identifier": "O77", "Email": "a@example.com", "FirstName": "A", "LastName": "B",
              "Phone": "+15550100199", "Catalog": "Sandbox"}
    for col, name in enumerate(headers, start=1):
        sheet.cell(row=2, column=col, value=values.get(name))
    assert sheet.cell(row=2, column=headers.index("Phone") + 1).number_format == "@"
    book.save(out)
    assert main(["validate", str(out), "--catalog", "Sandbox", "--out", str(tmp_path / "o")]) == 0


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"bulk-assign {__version__}"
