"""Every command documents itself (--help with an example, sqlite-utils style), and the README
and docs/ pages link to what exists."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

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


# The README is the quick start; the guide is docs/, one page per topic (sqlite-utils keeps
# README short the same way). These keep the links between them working.

_ROOT = Path(__file__).resolve().parent.parent
_PAGES = [_ROOT / "README.md", *sorted((_ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    headings = re.findall(r"^#+\s+(.+?)\s*$", text, flags=re.M)
    return {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", _PAGES, ids=lambda p: p.relative_to(_ROOT).as_posix())
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in _LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists() or (anchor and linked.suffix == ".md"
                                   and anchor not in _anchors(linked)):
            broken.append(target)
    assert not broken, f"{page.name}: broken links {broken}"


def test_readme_starts_with_the_two_commands() -> None:
    text = (_ROOT / "README.md").read_text(encoding="utf-8")
    first_block = text.split("```console\n", 1)[1].split("```", 1)[0]
    assert [line.split()[:2] for line in first_block.splitlines()] == [["make", "demo"],
                                                                      ["make", "test"]]
    assert text.index("```console") < text.index("\n## ")  # before any section
    assert len(text.splitlines()) <= 200, "the README is the quick start: the guide is docs/"
