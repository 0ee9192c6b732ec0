"""How fast the offline stages are on a big sheet, against a bare pandas read of the same file.

    python benchmarks/offline.py 1000000

Each measurement runs in its own subprocess, so the peak RSS reported is that stage's alone:
(a) bare `pandas.read_csv(dtype=str, keep_default_na=False)`, (b) `read_table` + `validate`,
(c) the whole `validate_command`, writing results.csv, failed.csv and summary.json.
Targets for 1,000,000 rows: (b) <= 3x (a), <= 15 s, <= 1 GB peak.
"""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HEADER = (
    "Opportunity Id", "Assignee Email", "First Name", "Last Name", "Title", "Phone Number",
    "Territory", "Region", "Notes",
)
_FIRST = ("Jorge", "Akua", "Wei", "Priya", "Liam", "Sofia", "Kenji", "Nadia", "Tomás", "Chloé")
_LAST = ("Silva", "Mensah", "Zhang", "Patel", "O'Brien", "Rossi", "Tanaka", "Haddad", "Núñez")
_TERRITORIES = ("NA-West", "NA-East", "DACH", "Nordics", "ANZ", "Japan", "LATAM-South")
_REGIONS = ("AMER", "EMEA", "APJ")

# Runs in a fresh interpreter: time the stage, then report its peak RSS (ru_maxrss, KiB).
_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
stage, path, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
import pandas as pd
if stage != "bare_read":
    from bulk_assign.sheet.reader import read_table
    from bulk_assign.check.validator import validate
    from bulk_assign.commands.validate import validate_command
    from bulk_assign.check.rules import field_rules
    field_rules()  # botocore's model load is start-up cost, not per-row cost
rows = 0
t0 = time.perf_counter()
if stage == "bare_read":
    rows = len(pd.read_csv(path, dtype=str, keep_default_na=False))
elif stage == "read_validate":
    rows = len(validate(read_table(path), catalog="Sandbox").status)
else:
    import io
    validate_command(input_path=path, catalog="Sandbox", out=out, stdout=io.StringIO())
    rows = json.loads((out / "summary.json").read_text())["rows"]
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": round(seconds, 3), "peak_rss_mb": round(peak, 1), "rows": rows}))
"""


def write_sheet(path: Path, rows: int, *, seed: int = 7) -> None:
    """A realistic realignment CSV: mostly valid rows, ~2% with the usual mistakes."""
    rnd = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(rows):
            first, last = rnd.choice(_FIRST), rnd.choice(_LAST)
            slug = first.lower().replace("á", "a").replace("é", "e")
            email = f"{slug}.{i % 5000}@anycompany.example"
            ident = f"O{5_000_000_000 + i}"
            phone = rnd.choice(("", "+15550100199", "+1 (555) 010-0199", "+44 20 7946 0000"))
            title = rnd.choice(("", "", "PartnerAccountManager"))
            notes = ""
            roll = rnd.random()
            if roll < 0.005:
                email = email.replace("@", " at ")
            elif roll < 0.01:
                phone = "4.41E+11"
            elif roll < 0.013:
                ident = ""
            elif roll < 0.016:
                ident = "o" + ident[1:]
            elif roll < 0.018:
                notes = "=HYPERLINK(\"http://x\")"
            elif roll < 0.02:
                email = f"  {email.upper()} "
            writer.writerow(
                (ident, email, first, last, title, phone, rnd.choice(_TERRITORIES),
                 rnd.choice(_REGIONS), notes)
            )


def _run_stage(stage: str, path: Path, out: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, stage, str(path), str(out)],
        capture_output=True, text=True, check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{stage} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def measure(rows: int, workdir: Path) -> dict[str, Any]:
    """Generate a sheet of `rows` rows in `workdir` and time each offline stage on it."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"bench-{rows}.csv"
    write_sheet(path, rows)
    report: dict[str, Any] = {"rows": rows, "file_mb": round(path.stat().st_size / 2**20, 1)}
    for stage in ("bare_read", "read_validate", "validate_command"):
        report[stage] = _run_stage(stage, path, workdir / f"out-{stage}")
    report["ratio_read_validate_to_bare"] = round(
        report["read_validate"]["seconds"] / report["bare_read"]["seconds"], 2
    )
    return report


def main(argv: list[str]) -> int:
    rows = int(argv[1]) if len(argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory(prefix="bulk-assign-bench-") as tmp:
        print(json.dumps(measure(rows, Path(tmp)), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
