"""How long results.xlsx takes to write for a big sheet, and at what memory.

    python -m benchmarks.workbook 100000 [--trace]

The sheet is `offline.write_sheet`'s (mostly valid rows, ~2% with the usual mistakes). Each
measurement runs in a fresh subprocess: the sheet is read and validated first (not timed), then
`report.write_xlsx` writes results.xlsx with its Results, Failed and Summary sheets. Reported:
the seconds of that write (wall and CPU: on a shared machine the CPU seconds are the steadier
figure) and the process's peak RSS, reading and validating included. With `--trace`, also the
peak of Python allocations during the write alone (tracemalloc, in a second subprocess: tracing
slows the write ten times). Target for 100,000 rows: <= 15 s and <= 500 MB.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import offline

# Runs in a fresh interpreter, so the peak RSS is this measurement's alone.
_CHILD = r"""
import json, resource, sys, time, tracemalloc
from pathlib import Path
from bulk_assign.sheet.reader import read_table
from bulk_assign.report.files import failed_frame, results_frame, write_xlsx
from bulk_assign.check.validator import validate
path, out, trace = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "trace"
validation = validate(read_table(path), catalog="Sandbox")
results = results_frame(validation, {})
failed = failed_frame(results, validation)
summary = {"command": "validate", "input": str(path), "rows": len(results),
           "by_status": results["status"].value_counts().to_dict(), "by_error_class": {}}
if trace:
    tracemalloc.start()
t0, c0 = time.perf_counter(), time.process_time()
write_xlsx(out, results=results, failed=failed, summary=summary)
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
                  "peak_rss_mb": round(peak, 1), "traced_peak_mb": traced and round(traced, 1),
                  "rows": len(results),
                  "failed_rows": len(failed), "file_mb": round(out.stat().st_size / 2**20, 1)}))
"""


def _child(path: Path, out: Path, *, trace: bool) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), str(out), "trace" if trace else "plain"],
        capture_output=True, text=True, check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"results.xlsx benchmark failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def measure(rows: int, workdir: Path, *, trace: bool = False) -> dict[str, Any]:
    """Time and memory to write results.xlsx for a generated sheet of `rows` rows."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"bench-{rows}.csv"
    if not path.exists():
        offline.write_sheet(path, rows)
    report = _child(path, workdir / "results.xlsx", trace=False)
    if trace:
        traced = _child(path, workdir / "traced.xlsx", trace=True)
        report["traced_peak_mb"] = traced["traced_peak_mb"]
    return report


def main(argv: list[str]) -> int:
    numbers = [a for a in argv[1:] if a.isdigit()]
    rows = int(numbers[0]) if numbers else 100_000
    with tempfile.TemporaryDirectory(prefix="bulk-assign-bench-") as tmp:
        print(json.dumps(measure(rows, Path(tmp), trace="--trace" in argv), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
