"""The benchmark code paths run end to end on tiny sizes, so `make bench` cannot rot.

No timing is asserted: only that every scenario produced its figures and that bulk-assign
finished every row.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.__main__ import QUICK, run


def test_every_benchmark_scenario_runs_on_tiny_sizes(tmp_path: Path) -> None:
    table = run(QUICK, tmp_path)
    by_key = {(r[0], r[1], r[2]): r[3] for r in table.rows}
    scenarios = {r[0] for r in table.rows}
    assert scenarios == {"1 pacing", "2 shared", "3 offline", "4 overhead", "5 steward",
                         "6 share", "7 export", "8 preview"}
    assert by_key[("1 pacing", "bulk-assign", "rows failed")] == "0"
    assert by_key[("2 shared", "bulk-assign", "rows failed")] == "0"
    assert float(by_key[("1 pacing", "bulk-assign", "wall / ((N-1)/Q)")]) > 0
    # A rerun of a finished file spends no write: every row is UNCHANGED.
    rerun = by_key[("5 steward", "rerun of the finished file", "writes (rows UNCHANGED)")]
    assert rerun == f"0 ({QUICK.rows // 2})"
    markdown = table.markdown()
    assert markdown.count("\n") == len(table.rows) + 1
