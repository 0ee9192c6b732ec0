"""The benchmark code paths run end to end on tiny sizes, so `make bench` cannot rot.

No timing is asserted: only that every scenario produced its figures and that bulk-assign
finished every row.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import quota_share
from benchmarks.__main__ import DEFAULT, FULL, QUICK, run


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
    assert rerun == f"0 ({QUICK.steward_rows})"
    markdown = table.markdown()
    assert markdown.count("\n") == len(table.rows) + 1


def test_default_and_full_sets_print_the_same_rows() -> None:
    """`make bench` and `make bench-full` differ in sizes and repeats, never in table rows: every
    sharing case runs at least once in both, and the full set keeps three repeats."""
    assert (DEFAULT.name, FULL.name) == ("default", "full")
    for case in quota_share.SCENARIOS:
        assert case.repeats.default >= 1 and case.repeats.full >= 3, case.name
    assert len({case.name for case in quota_share.SCENARIOS}) == len(quota_share.SCENARIOS)
    assert any(case.repeats.quick for case in quota_share.SCENARIOS)
