"""`--allow-other-titles` on the command line: validate and run take it, --help says what
it does."""

from __future__ import annotations

from pathlib import Path

import pytest

from bulk_assign.cli import build_parser, main
from tests.support.inputs import HEADER, row, write_csv
from tests.support.outputs import read_results_frame


def _sheet(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "in.csv", [[*HEADER, "Business Title"], [*row(), ""],
                                           [*row(Identifier="O2"), "SolutionsArchitect"]])


def test_validate_refuses_other_titles_unless_asked(tmp_path: Path) -> None:
    source = _sheet(tmp_path)
    assert main(["validate", str(source), "--out", str(tmp_path / "a")]) == 1
    results = read_results_frame(tmp_path / "a" / "results.csv")
    assert list(results["status"]) == ["VALID", "INVALID"]
    assert results.loc[3, "error_class"] == "NOT_OWNER_TITLE"
    assert main(["validate", str(source), "--allow-other-titles",
                 "--out", str(tmp_path / "b")]) == 0


@pytest.mark.parametrize("command", ["validate", "run"])
def test_help_says_what_the_option_does(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--allow-other-titles" in text
    assert "every row is sent as PartnerAccountManager, the owner" in text
    assert "Title and Job Title columns are job titles" in text
    assert "--default-title" not in text


def test_run_takes_the_option(tmp_path: Path) -> None:
    args = build_parser().parse_args(["run", "in.csv", "--catalog", "sandbox",
                                      "--allow-other-titles"])
    assert args.allow_other_titles is True and args.catalog == "Sandbox"
