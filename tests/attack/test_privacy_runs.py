"""After a run with every kind of outcome, no personal data of the input reaches run.log, the
terminal, the journal's messages or summary.json; every risky cell of the CSVs is escaped; and
the secret access key is nowhere, with or without `-v`."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.support.calls import owners
from tests.support.emulators import running_emulator
from tests.support.env import tool_env
from tests.support.journals import journal_state
from tests.support.outputs import read_results
from tests.support.runs import tool_process

KEY, SECRET = "AKIDTEST", "s3cr3t-DO-NOT-LEAK"
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
FORMULA_HEADER = '=HYPERLINK("http://evil.invalid","open")'
HEADER = ["Identifier", "Email", "FirstName", "LastName", "Phone", "Territory", FORMULA_HEADER,
          "Notes"]
# One row per outcome; names are made up and distinctive, so a match can only be a leak.
ROWS = [
    # SUCCEEDED (previous owner goes to rollback.csv)
    ["O2000001", "Zyxwa.Qorvath@Example.com", "=Zyxwabel", "+Qorvathine", "+1 (555) 010-0199",
     "=1+1", "=cmd|' /C calc'!A0", "-10%"],
    # UNCHANGED: the assignee already owns it
    ["O2000002", "brimble.fenwarrick@example.com", "Brimbleton", "Fenwarrick",
     "+44 20 7946 0958", "+SUM(1,2)", "@SUM(A1)", "\tTabbed"],
    # FAILED ResourceNotFoundException
    ["O2999999", "mirtalune.oskovitch@example.com", "Mirtalune", "-Oskovitch", "",
     "-2+3", "x", "\rCarriage"],
    # FAILED ValidationException: not a registered user
    ["O2000003", "plovdrix.tanquerel@example.com", "Plovdrix", "@Tanquerel", "+33 1 42 68 53 00",
     "@HERE", "y", "\nLinefeed"],
    # INVALID: bad email and phone
    ["O2000004", "grendavik.hollowmere.example.com", "Grendavik", "Hollowmere", "+1 555 01",
     "T5", "z", ""],
    # DUPLICATE of the first row
    ["O2000001", "Zyxwa.Qorvath@Example.com", "=Zyxwabel", "+Qorvathine", "+1 (555) 010-0199",
     "=1+1", "=cmd|' /C calc'!A0", "-10%"],
    # SUCCEEDED, then the credentials expire: the rest SKIPPED / Aborted
    ["O2000005", "quendrith.malvoy@example.com", "Quendrith", "Malvoy", "0044 161 496 0000",
     "T7", "", ""],
    ["O2000006", "sarnoweth.ilquist@example.com", "Sarnoweth", "Ilquist", "", "T8", "", ""],
    ["O2000007", "tervallan.okonkwe@example.com", "Tervallan", "Okonkwe", "", "T9", "", ""],
    ["O2000008", "ulbrecht.vaskarov@example.com", "Ulbrecht", "Vaskarov", "", "=T10", "", ""],
]
EXPECTED = {
    2: ("SUCCEEDED", ""), 3: ("UNCHANGED", ""), 4: ("FAILED", "ResourceNotFoundException"),
    5: ("FAILED", "ValidationException"), 6: ("INVALID", "INVALID_EMAIL"), 7: ("DUPLICATE", ""),
    8: ("SUCCEEDED", ""), 9: ("SKIPPED", "Aborted"), 10: ("SKIPPED", "Aborted"),
    11: ("SKIPPED", "Aborted"),
}
#: Calls before the credentials expire, one worker in row order: the look-back's one
#: ListOpportunities page, then row 2 read+write, row 3 read, row 4 read, row 5 read+write,
#: row 8 read+write.
CALLS_BEFORE_EXPIRY = 9
# Previous owners (in rollback.csv by right, nowhere in logs).
OWNERS = {
    "O2000001": {"Email": "drashkel.vantorrow@example.com", "FirstName": "@Drashkel",
                 "LastName": "-Vantorrow", "Phone": "+15550107777"},
    "O2000002": {"Email": "brimble.fenwarrick@example.com", "FirstName": "Brimbleton",
                 "LastName": "Fenwarrick", "Phone": "+442079460958"},
    "O2000003": {"Email": "yorvane.pelchik@example.com", "FirstName": "Yorvane",
                 "LastName": "=Pelchik", "Phone": "+15550108888"},
}


def _seed() -> dict[str, Any]:
    opportunities = {}
    for i in range(1, 9):
        opp = f"O200000{i}"
        owner = OWNERS.get(opp, {"Email": f"filler{i}.owner@example.com", "FirstName": "Wexford",
                                 "LastName": f"Filler{i}"})
        opportunities[opp] = {"team": [{**owner, "BusinessTitle": "PartnerAccountManager"}]}
    users = [row[1].lower() for row in ROWS if row[0] != "O2000003"]
    users += [o["Email"] for o in OWNERS.values()]
    return {"catalogs": {"Sandbox": {"users": users, "opportunities": opportunities}}}


def _personal_values() -> set[str]:
    """Every email, name and phone of the input and of the previous owners, in every form."""
    people = [{"Email": r[1], "FirstName": r[2], "LastName": r[3], "Phone": r[4]} for r in ROWS]
    people += list(OWNERS.values())
    values: set[str] = set()
    for person in people:
        email = person["Email"]
        values |= {email, email.lower(), email.split("@")[0].lower()}
        for name in (person["FirstName"], person["LastName"]):
            values |= {name, name.lstrip("".join(TRIGGERS))}
        phone = person.get("Phone", "")
        if phone:
            compact = re.sub(r"[\s().\-]", "", phone)
            values |= {phone, compact, compact.lstrip("+"), re.sub(r"^00", "+", compact)}
    return {v for v in values if len(v) >= 4}


def _leaks(text: str, values: set[str]) -> list[str]:
    folded = text.casefold()
    return sorted(v for v in values if v.casefold() in folded)


def _write_input(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([HEADER, *ROWS])
    return path


def _cells(path: Path) -> list[str]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [cell for line in csv.reader(fh) for cell in line]


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_every_outcome_keeps_personal_data_and_the_secret_out_and_escapes_formulas(
    verbose: bool, tmp_path: Path
) -> None:
    source = _write_input(tmp_path / "realign.csv")
    folder = tmp_path / "run"
    log = tmp_path / "terminal.log"
    with running_emulator(_seed(), credentials={KEY: SECRET}, write_rate=None, read_rate=None,
                  reject_credentials_after=CALLS_BEFORE_EXPIRY) as emu:
        args = [*(["-v"] if verbose else []), "run", str(source), "--catalog", "Sandbox",
                "--out", str(folder), "--endpoint-url", emu.url, "--max-tps", "20",
                "--workers", "1", "--quiet"]
        proc = tool_process(args, tool_env(tmp_path, key=KEY, secret=SECRET), log)
        code = proc.wait(timeout=60)
        state = emu.state()
    terminal = log.read_text(encoding="utf-8", errors="replace")

    rows = read_results(folder)
    got = {int(r["row"]): (r["status"], r["error_class"]) for r in rows}
    assert got == EXPECTED, terminal[-3000:]
    assert code == 3
    assert owners(state)["O2000001"] == "zyxwa.qorvath@example.com"

    # The secret access key: nowhere on disk in the run folder, nowhere on the terminal.
    assert SECRET not in terminal
    for path in folder.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path.name

    # Every cell (headers too) that a spreadsheet would run is defused with a leading quote.
    files = {name: folder / name for name in ("results.csv", "failed.csv", "rollback.csv")}
    for name, path in files.items():
        assert path.exists(), name
        risky = [c for c in _cells(path) if c.startswith(TRIGGERS)]
        assert risky == [], (name, risky)
    results = Counter(_cells(files["results.csv"]))
    for payload in ("=1+1", "+SUM(1,2)", "-2+3", "@HERE", "=T10", "=cmd|' /C calc'!A0",
                    "@SUM(A1)", "-10%", "=Zyxwabel", "+Qorvathine", "-Oskovitch", "@Tanquerel",
                    "\tTabbed", "\rCarriage", "\nLinefeed", FORMULA_HEADER):
        assert results["'" + payload] >= 1, payload
    assert all(not c.startswith(TRIGGERS) for c in results)
    failed = set(_cells(files["failed.csv"]))
    assert {"'" + FORMULA_HEADER, "'-Oskovitch", "'@Tanquerel", "'=T10"} <= failed
    rollback = set(_cells(files["rollback.csv"]))
    assert {"'@Drashkel", "'-Vantorrow", "'+15550107777"} <= rollback
    summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    assert summary["by_status"]["SKIPPED"] == 3

    # No email, name or phone in run.log, the terminal, the journal's messages, summary.json.
    personal = _personal_values()
    journal_messages = "\n".join(
        outcome.error_message for outcome in journal_state(folder).outcomes.values())
    places = {
        "run.log": (folder / "run.log").read_text(encoding="utf-8"),
        "journal.jsonl error messages": journal_messages,
        "summary.json": (folder / "summary.json").read_text(encoding="utf-8"),
        "terminal": terminal,
    }
    leaked = {where: _leaks(text, personal) for where, text in places.items()}
    # With -v too: debug output is a log, and it ends up pasted into support tickets.
    assert leaked == {where: [] for where in places}, leaked
