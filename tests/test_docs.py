"""Every command documents itself: --help works and shows an example (sqlite-utils style)."""

from __future__ import annotations

import argparse

import pytest

from bulk_assign.cli import build_parser, main


def _commands() -> list[str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return sorted(action.choices)
    raise AssertionError("no subcommands")


def test_the_commands_the_spec_names_exist() -> None:
    assert set(_commands()) >= {"validate", "run", "resume", "template", "emulator", "export",
                                "transfer", "verify"}


@pytest.mark.parametrize("command", [[], *[[c] for c in _commands()]], ids=lambda c: c[0] if c
                         else "main")
def test_help_has_an_example(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*command, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "example" in text.lower()
    assert f"usage: bulk-assign {' '.join(command)}".rstrip() in text
    assert "bulk-assign " in text.split("example", 1)[1]  # the example is a real command line
