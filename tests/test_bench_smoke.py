"""The benchmark code paths run end to end on tiny sizes, so `make bench` cannot rot.

No timing is asserted: only that every scenario produced its figures and that bulk-assign
finished every row. The benchmark runs as `make bench` starts it (`python -m benchmarks
--quick`), in its own process: the tests never import the benchmarks.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.env import ROOT, tool_env

#: `--quick`'s rows (benchmarks/__main__.py QUICK.rows): scenario 5 runs half of them twice.
QUICK_ROWS = 12


def _table(stdout: str) -> list[tuple[str, ...]]:
    """The markdown table `python -m benchmarks` prints last, without its two header lines."""
    lines = [line for line in stdout.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| scenario |"), stdout[-2000:]
    return [tuple(cell.strip() for cell in line.strip("|").split(" | ")) for line in lines[1:]]


def test_every_benchmark_scenario_runs_on_tiny_sizes(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--no-save"], cwd=ROOT,
        env=tool_env(tmp_path), capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    rows = _table(done.stdout)
    by_key = {(r[0], r[1], r[2]): r[3] for r in rows}
    scenarios = {r[0] for r in rows}
    assert scenarios == {"1 pacing", "2 shared", "3 offline", "4 overhead", "5 steward",
                         "6 share", "7 export"}
    assert by_key[("1 pacing", "bulk-assign", "rows failed")] == "0"
    assert by_key[("2 shared", "bulk-assign", "rows failed")] == "0"
    assert float(by_key[("1 pacing", "bulk-assign", "wall / ((N-1)/Q)")]) > 0
    # A rerun of a finished file spends no write: every row is UNCHANGED.
    rerun = by_key[("5 steward", "rerun of the finished file", "writes (rows UNCHANGED)")]
    assert rerun == f"0 ({QUICK_ROWS // 2})"
    # The markdown table: a header, its rule, then one line per figure.
    table = done.stdout[done.stdout.index("| scenario |"):].split("\n\n")[0].strip()
    assert table.count("\n") == len(rows) + 1
