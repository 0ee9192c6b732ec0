"""Every option of every command reaches what the command's function receives (issue 23).

The test walks `build_parser()`: for each option of each command it runs `main` twice with the
command's function replaced by a recorder, once with the required arguments only and once with
that option set to a value other than its default, and requires the difference to show in the
settings (or keyword argument) of the option's name. An option added without a way to its
function fails here.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
from pathlib import Path
from typing import Any

import pytest

from bulk_assign import cli
from bulk_assign.commands import export as export_app
from bulk_assign.commands import preview as preview_app
from bulk_assign.commands import resume, status, transfer, validate, verify
from bulk_assign.commands import run as run_cmd
from bulk_assign.errors import UsageError
from bulk_assign.settings import RunSettings
from bulk_assign.sheet import template
from tests.support.workbooks import workbook

#: The command -> (module, function) that `main` calls with the parsed options.
FUNCTIONS: dict[str, tuple[Any, str]] = {
    "validate": (validate, "validate_command"),
    "run": (run_cmd, "run_command"),
    "resume": (resume, "resume_command"),
    "status": (status, "status_command"),
    "template": (template, "write_template"),
    "export": (export_app, "export_command"),
    "transfer": (transfer, "transfer_command"),
    "verify": (verify, "verify_command"),
    "preview": (preview_app, "preview_command"),
}
#: Commands not walked, and why.
NOT_WALKED = {"emulator": "a program of its own: its namespace goes to emulator.cli as it is"}
#: The required arguments of each command.
REQUIRED = {
    "validate": ["in.csv"],
    "run": ["in.csv", "--catalog", "Sandbox"],
    "resume": ["runs/x"],
    "status": ["runs/x"],
    "template": ["t.csv"],
    "export": ["--catalog", "Sandbox", "--out", "o.csv"],
    "transfer": ["--catalog", "Sandbox", "--from", "ana@example.com", "--to",
                 "bo@example.com", "--first-name", "Bo", "--last-name", "Berg"],
    "verify": ["runs/x"],
    "preview": ["in.csv", "--catalog", "Sandbox"],
}
#: A value for options that the generic "7" does not fit.
SAMPLES = {
    "--catalog": "AWS", "--window": "22:00-06:00", "--stage": "Qualified",
    "--modified-since": "2026-07-01", "--owner": "Cy@Example.com", "--from": "cy@example.com",
    "--to": "dee@example.com", "--region": "eu-west-1", "--endpoint-url": "http://127.0.0.1:9",
    "--share": "0.5", "--out": "other.csv", "--sheet": "Data", "--phone": "+15550100199",
}
#: Where an option shows when the settings field has another name than the option's dest
#: (besides cli's own table of renamed options).
FIELD_OF = {"stage": "stages", "customer": "customers", "owner": "owners",
            "to_email": "email", "title": "business_title", "hidden_rows": "ids"}


def _commands() -> dict[str, argparse.ArgumentParser]:
    for action in cli.build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no subcommands")


def _flat(value: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    """Every leaf of the recorded call: settings objects field by field."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        leaves: dict[tuple[str, ...], Any] = {}
        for f in dataclasses.fields(value):
            leaves.update(_flat(getattr(value, f.name), (*path, f.name)))
        return leaves
    return {path: value}


def _recorded(monkeypatch: pytest.MonkeyPatch, command: str, argv: list[str]
              ) -> dict[tuple[str, ...], Any]:
    calls: list[dict[str, Any]] = []
    module, name = FUNCTIONS[command]

    @functools.wraps(getattr(module, name))  # the signature `main` reads the names from
    def record(*args: Any, **kwargs: Any) -> Any:
        assert not args, "options go by name"
        calls.append(kwargs)
        return Path("t.csv") if command == "template" else 0

    monkeypatch.setattr(module, name, record)
    assert cli.main([command, *argv]) == 0
    assert len(calls) == 1
    leaves: dict[tuple[str, ...], Any] = {}
    for key, value in calls[0].items():
        leaves.update(_flat(value, (key,)))
    return leaves


def _fields(dest: str) -> set[str]:
    """The names an option's value may show under: its own, or its field's."""
    renamed = {option: field for field, (option, _) in cli._FROM_OPTION.items()}
    return {dest, FIELD_OF.get(dest, dest), renamed.get(dest, dest)}


def _ids_sheets(tmp_path: Path) -> tuple[Path, Path]:
    ids = tmp_path / "ids.csv"
    ids.write_text("Identifier\nO1001\nO1002\n", encoding="utf-8")
    hidden = workbook(tmp_path / "ids.xlsx", [["Identifier"], ["O2001"], ["O2002"]],
                      hidden_rows=[3])
    return ids, hidden


def _variants(command: str, action: argparse.Action, tmp_path: Path
              ) -> tuple[list[str], list[str]]:
    """(the baseline's arguments, the same with `action` set otherwise)."""
    base = list(REQUIRED[command])
    ids, hidden = _ids_sheets(tmp_path)
    if not action.option_strings:  # the one positional argument
        return base, [base[0] + ".other", *base[1:]]
    option = action.option_strings[-1]
    if option == "--hidden-rows" and "--ids" in command_options(command):
        # it acts on the --ids sheet's hidden rows
        return ([*base, "--ids", str(hidden), option, "send"],
                [*base, "--ids", str(hidden), option, "skip"])
    if action.nargs == 0:
        return base, [*base, option]
    if action.choices:
        value = next(c for c in action.choices if c != action.default)
    elif option == "--ids":
        value = str(ids)
    else:
        value = SAMPLES.get(option, "7")
    if option in base:
        changed = list(base)
        changed[changed.index(option) + 1] = value
        return base, changed
    return base, [*base, option, value]


def command_options(command: str) -> set[str]:
    return {o for a in _commands()[command]._actions for o in a.option_strings}


def _walk() -> list[tuple[str, str]]:
    cases = []
    for command, parser in _commands().items():
        if command in NOT_WALKED:
            continue
        for action in parser._actions:
            if not isinstance(action, argparse._HelpAction):
                cases.append((command, action.dest))
    return cases


def test_every_command_is_walked_or_said_why_not() -> None:
    assert set(_commands()) == set(FUNCTIONS) | set(NOT_WALKED)


@pytest.mark.parametrize(("command", "dest"), _walk(), ids=lambda v: v)
def test_every_option_reaches_the_function_of_its_command(
    command: str, dest: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    action = next(a for a in _commands()[command]._actions if a.dest == dest)
    base, changed = _variants(command, action, tmp_path)
    before = _recorded(monkeypatch, command, base)
    after = _recorded(monkeypatch, command, changed)
    moved = {path for path in before.keys() | after.keys()
             if before.get(path) != after.get(path)}
    assert moved, f"{command} {action.option_strings or dest}: reaches nothing"
    names = _fields(dest)
    assert any(path[-1] in names for path in moved), (names, moved)


def test_transfer_takes_run_s_pacing_and_quota_options_into_both_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    got = _recorded(monkeypatch, "transfer", [
        *REQUIRED["transfer"], "--share", "0.25", "--lookback", "30", "--account-tps", "2",
        "--daily-budget", "4", "--window", "22:00-06:00", "--wait", "--read-tps", "3",
        "--timeout", "9", "--max-attempts", "2", "--quota-wait", "1", "--dry-run"])
    assert {name: got[("run", name)] for name in (
        "share", "lookback_seconds", "account_tps", "daily_budget", "window", "wait",
        "read_tps", "read_timeout", "max_attempts", "quota_wait_seconds", "dry_run")} == {
        "share": 0.25, "lookback_seconds": 1800.0, "account_tps": 2.0, "daily_budget": 4,
        "window": "22:00-06:00", "wait": True, "read_tps": 3.0, "read_timeout": 9.0,
        "max_attempts": 2, "quota_wait_seconds": 60.0, "dry_run": True}
    assert (got[("export", "read_tps")], got[("export", "read_timeout")],
            got[("export", "max_attempts")]) == (3.0, 9.0, 2)


def _takes(option: str) -> list[str]:
    return [c for c, parser in _commands().items() if c in FUNCTIONS
            and any(option in a.option_strings for a in parser._actions)]


BAD_VALUES = [
    ("--share", "1.5"), ("--share", "0"), ("--share", "nan"), ("--lookback", "-1"),
    ("--lookback", "1e300"), ("--window", "25:00-01:00"), ("--window", "9-5"),
    ("--daily-budget", "0"), ("--max-tps", "inf"), ("--read-tps", "0"), ("--workers", "0"),
    ("--max-attempts", "two"), ("--timeout", "1e300"), ("--quota-wait", "-1"),
    ("--account-tps", "0"), ("--region", "us east"), ("--region", ""),
    ("--endpoint-url", "notaurl"), ("--endpoint-url", ""), ("--customer", ""),
    ("--owner", ""), ("--owner", "ana"), ("--stage", " "), ("--modified-since", ""),
    ("--ids", ""), ("--from", "ana"), ("--to", ""), ("--first-name", " "),
    ("--last-name", ""), ("--title", ""), ("--out", ""), ("--hidden-rows", "maybe"),
    ("--phone", "5550100199"), ("--phone", "+44 (0)20 7946 0000"),
    ("--last-name", "x" * 81),
]


@pytest.mark.parametrize(("option", "value"), BAD_VALUES, ids=lambda v: v)
def test_a_bad_value_is_exit_2_with_one_sentence_on_every_command_that_takes_it(
    option: str, value: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    commands = _takes(option)
    assert commands, option
    for command in commands:
        module, name = FUNCTIONS[command]
        monkeypatch.setattr(module, name, lambda *a, **k: pytest.fail("called"))
        argv = [command, *REQUIRED[command]]
        if option in argv:
            argv[argv.index(option) + 1] = value
        else:
            argv += [option, value]
        with pytest.raises(SystemExit) as exit_:
            cli.main(argv)
        assert exit_.value.code == 2, (command, option, value)
        err = capsys.readouterr().err
        message = err.strip().splitlines()[-1]
        assert message.startswith(f"bulk-assign {command}: error: argument {option}")
        assert "Traceback" not in err


def test_a_value_the_settings_refuse_is_a_usage_error_naming_the_option() -> None:
    args = argparse.Namespace(input=Path("in.csv"), catalog="Sandbox", share=1.5)
    with pytest.raises(UsageError) as refused:
        cli.settings_from(RunSettings, args)
    assert refused.value.message == (
        "--share must be above 0 and at most 1, not 1.5; nothing was sent.")
