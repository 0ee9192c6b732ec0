"""`make bench`: bulk-assign's speed as ratios measured side by side in one run.

    python -m benchmarks            # `make bench`: about 18 min on 2 cores, results/default.md
    python -m benchmarks --full     # `make bench-full`: about 50 min, results/latest.md
    python -m benchmarks --quick    # tiny sizes: proves the code paths work, numbers mean little

The default and the full set print the same table (same scenarios, contenders and metrics); the
default runs fewer repeats and smaller sizes where the recorded spread shows the ratio holds
(see DEFAULT). A contender whose name carries its size shows the size it ran at.

Every contender runs against the same emulator process (its own core), reset in between; the
emulator's call log is the referee for throttles and accepted writes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from benchmarks import offline, peers, quota_share, workbook
from benchmarks.support import (
    CREDENTIALS,
    START_ID,
    emulator_process,
    post,
    state,
    write_input,
)

RESULTS = Path(__file__).resolve().parent / "results" / "latest.md"
SHARING = RESULTS.with_name("sharing.md")


@dataclass(frozen=True)
class Sizes:
    #: "full", "default" or "quick": also picks the sharing set's repeats (quota_share.Repeats).
    name: str = "full"
    rows: int = 200
    rate: float = 10.0
    shared_rows: int = 100
    #: The peers that retry with long SDK backoffs take seconds per row: a sample is enough
    #: for their ratio.
    peer_rows: int = 60
    cli_rows: int = 20
    overhead_rows: int = 2000
    offline_rows: tuple[int, ...] = (100_000, 1_000_000)
    workbook_rows: int = 100_000
    threads: int = 8
    export_opps: int = 5000
    export_rate: float = 10.0
    steward_rows: int = 100
    share_rows: int = quota_share.ROWS
    share_lead: float = quota_share.LEAD_SECONDS
    #: `--case`: only the sharing cases whose name holds one of these (empty: all).
    share_cases: tuple[str, ...] = ()


#: `make bench-full`: the sizes every figure in the README was measured at.
FULL = Sizes()
#: `make bench`: about 15 minutes instead of 43 (18 and 50 since issue 27 added two sharing
#: cases of 400 rows, one with a CRM writing a minute before the run). Each cut, from the
#: figures recorded in results/latest.md and sharing.md (2026-11-29); what is not named here
#: runs as in FULL.
#: - sharing: each case once instead of three times (quota_share.SCENARIOS says why per case);
#:   rows and the CRM's 45 s lead unchanged: the hold after a throttle lasts 120 s, so a shorter
#:   run would be in another regime.
#: - export: 500 opportunities instead of 5,000. Its surplus over N/R is per read (the bucket's
#:   1% margin, one list page per 100 opportunities: 1.010 reads per opportunity at both
#:   sizes), plus well under a second once; 1.027 at 5,000 predicts about 1.03 at 500.
#: - shared (2): 50 rows instead of 100, for both contenders alike. The burst-1 competition's
#:   ratio spreads 2.54-3.36 over three repeats in the sharing set; the AIMD settles within
#:   about 20 writes, a bias far inside that spread.
#: - steward: 40 rows instead of 100: its figures are counts of writes, not times.
#: Not cut: pacing (1.024 against <= 1.03; its fixed ~0.1-0.2 s start would add 0.01 at 100
#: rows), offline (3.16 at 100,000 rows vs 3.36 at 1,000,000: the ratio moves with size; the
#: targets are for 1,000,000) and overhead (seconds).
DEFAULT = replace(FULL, name="default", shared_rows=50, export_opps=500, steward_rows=40)
QUICK = Sizes(name="quick", rows=12, rate=20.0, shared_rows=8, peer_rows=6, cli_rows=2,
              overhead_rows=60, offline_rows=(2_000,), workbook_rows=2_000, threads=4,
              export_opps=150, export_rate=100.0, steward_rows=6, share_rows=20,
              share_lead=1.0)
#: How each set is run, for the results' header.
COMMANDS = {"full": "make bench-full", "default": "make bench",
            "quick": "python -m benchmarks --quick"}


@dataclass
class Table:
    rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)

    def add(self, scenario: str, contender: str, metric: str, value: str, target: str = "") -> None:
        self.rows.append((scenario, contender, metric, value, target))
        print(f"  {scenario:<12} {contender:<34} {metric:<28} {value:>10}  {target}", flush=True)

    def markdown(self) -> str:
        lines = ["| scenario | contender | metric | value | target |", "|---|---|---|---|---|"]
        lines += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(lines)


def _tool(url: str, path: Path, out: Path, *, rate: float, read_rate: float,
          pre_read: bool = True, workers: int | None = None) -> dict[str, Any]:
    """bulk-assign run, in this process (the emulator is in its own)."""
    from bulk_assign.commands.run import run_command
    from bulk_assign.settings import RunSettings

    run_command(
        RunSettings(input_path=path, catalog="Sandbox", out_dir=out, endpoint_url=url,
                    max_tps=rate, read_tps=read_rate, pre_read=pre_read, workers=workers),
        quiet=True, stdout=io.StringIO(),
    )
    summary: dict[str, Any] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return summary


def _writes(url: str, access_key: str = "test") -> tuple[int, int]:
    calls = [c for c in state(url)["calls"]
             if c["operation"] == "AssignOpportunity" and c.get("access_key") == access_key]
    throttled = sum(c["outcome"] == "ThrottlingException" for c in calls)
    return len(calls), throttled


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def pacing(table: Table, sizes: Sizes, work: Path) -> None:
    """1. Against the physical limit: N rows at Q writes/s, latency 30-70 ms."""
    q, n = sizes.rate, sizes.rows
    ideal = (n - 1) / q
    path = write_input(work / "pacing.csv", n)
    jobs = peers.read_jobs(path)
    options = ("--generate", str(n + 100), "--write-rate", str(q), "--read-rate", str(10 * q),
               "--latency-ms", "50", "--jitter-ms", "20")
    with emulator_process(*options) as url:
        summary = _tool(url, path, work / "pacing-out", rate=q, read_rate=10 * q)
        calls, throttled = _writes(url)
        failed = summary["by_status"].get("FAILED", 0)
        table.add("1 pacing", "bulk-assign", "wall / ((N-1)/Q)",
                  f"{summary['wall_seconds'] / ideal:.3f}", "<= 1.03")
        table.add("1 pacing", "bulk-assign", "throttled share", _pct(throttled, calls), "<= 1%")
        table.add("1 pacing", "bulk-assign", "rows failed", str(failed), "0")
        sample = jobs[: sizes.peer_rows]
        contenders: list[tuple[str, list[dict[str, Any]], Callable[[], peers.PeerResult]]] = [
            ("(a) loop + sleep(1/Q)", jobs, lambda: peers.sequential_sleep(url, jobs, q)),
            (f"(b) loop, SDK default retries, {len(sample)} rows", sample,
             lambda: peers.plain_loop(url, sample)),
            (f"(c) {sizes.threads} threads, adaptive mode, {len(sample)} rows", sample,
             lambda: peers.adaptive_threads(url, sample, sizes.threads)),
        ]
        for name, chosen, contender in contenders:
            post(url, "/_emulator/reset")
            result = contender()
            calls, throttled = _writes(url)
            table.add("1 pacing", name, "wall / ((N-1)/Q)",
                      f"{result.wall_seconds / ((len(chosen) - 1) / q):.3f}")
            table.add("1 pacing", name, "throttled share", _pct(throttled, calls))
            table.add("1 pacing", name, "rows failed", str(result.failed))
        if peers.cli_available():
            post(url, "/_emulator/reset")
            few = jobs[: sizes.cli_rows]
            result = peers.cli_loop(url, few)
            calls, throttled = _writes(url)
            table.add("1 pacing", f"(d) AWS CLI loop, {len(few)} rows", "wall / ((N-1)/Q)",
                      f"{result.wall_seconds / ((len(few) - 1) / q):.3f}")
            table.add("1 pacing", f"(d) AWS CLI loop, {len(few)} rows", "throttled share",
                      _pct(throttled, calls))
        else:
            table.add("1 pacing", "(d) AWS CLI loop", "skipped", "no aws CLI with this service")


def sharing(table: Table, sizes: Sizes, work: Path) -> None:
    """2. A second writer takes about half the quota for the whole run."""
    q, n = sizes.rate, sizes.shared_rows
    remaining = q / 2
    ideal = (n - 1) / remaining
    path = write_input(work / "shared.csv", n)
    other_jobs = peers.read_jobs(write_input(work / "other.csv", 50, start=START_ID + n))
    options = ("--generate", str(n + 100), "--write-rate", str(q), "--read-rate", str(10 * q),
               "--latency-ms", "50", "--jitter-ms", "20")
    with emulator_process(*options) as url:
        post(url, "/_emulator/config", {"credentials": {"test": "test", "other": "test"}})
        contenders: list[tuple[str, Any]] = [
            ("bulk-assign", lambda: _tool(url, path, work / "shared-out", rate=q,
                                          read_rate=10 * q)),
            (f"(c) {sizes.threads} threads, adaptive mode",
             lambda: peers.adaptive_threads(url, peers.read_jobs(path), sizes.threads)),
        ]
        for name, contender in contenders:
            post(url, "/_emulator/reset")
            with peers.SecondWriter(url, other_jobs, rate=remaining) as other:
                t0 = time.perf_counter()
                result = contender()
                wall = time.perf_counter() - t0
                other_rate = other.accepted / wall
            calls, throttled = _writes(url)
            if isinstance(result, dict):
                wall = result["wall_seconds"]
                failed = result["by_status"].get("FAILED", 0)
            else:
                failed = result.failed
            table.add("2 shared", name, "wall / ((N-1)/(Q/2))", f"{wall / ideal:.3f}", "~1")
            table.add("2 shared", name, "throttled share", _pct(throttled, calls))
            table.add("2 shared", name, "rows failed", str(failed), "0" if name == "bulk-assign"
                      else "")
            table.add("2 shared", f"the other writer, beside {name}", "its writes/s",
                      f"{other_rate:.2f}", f"~{remaining:g}")


def scale(table: Table, sizes: Sizes, work: Path) -> None:
    """3. The offline half on big generated files, against a bare pandas read."""
    for rows in sizes.offline_rows:
        report = offline.measure(rows, work / f"offline-{rows}")
        read, bare = report["read_validate"], report["bare_read"]
        label = f"{rows:,} rows"
        table.add("3 offline", label, "load+validate s", f"{read['seconds']:.2f}",
                  "<= 15 s" if rows >= 1_000_000 else "")
        table.add("3 offline", label, "ratio to bare read_csv",
                  f"{report['ratio_read_validate_to_bare']:.2f}", "<= 3")
        table.add("3 offline", label, "peak RSS MB (bare read)",
                  f"{read['peak_rss_mb']:.0f} ({bare['peak_rss_mb']:.0f})", "<= 1024")
        table.add("3 offline", label, "validate command s (with files)",
                  f"{report['validate_command']['seconds']:.2f}")
    rows = sizes.workbook_rows
    book = workbook.measure(rows, work / f"workbook-{rows}")
    label = f"{rows:,} rows"
    table.add("3 offline", label, "results.xlsx write s (CPU s)",
              f"{book['seconds']:.2f} ({book['cpu_seconds']:.2f})", "<= 15 s")
    table.add("3 offline", label, "results.xlsx peak RSS MB", f"{book['peak_rss_mb']:.0f}",
              "<= 500")


def overhead(table: Table, sizes: Sizes, work: Path) -> None:
    """4. Quotas off, no latency: rows/s against a plain threaded boto3 loop, same threads."""
    n, threads = sizes.overhead_rows, sizes.threads
    path = write_input(work / "overhead.csv", n)
    jobs = peers.read_jobs(path)
    with emulator_process("--generate", str(n + 10), "--no-quotas", "--quiet") as url:
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        summary = _tool(url, path, work / "overhead-out", rate=100_000.0, read_rate=100_000.0,
                        pre_read=False, workers=threads)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        ours = n / summary["wall_seconds"]
        cpu_ms = 1000 * ((cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)) / n
        post(url, "/_emulator/reset")
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        result = peers.threaded_loop(url, jobs, threads)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        theirs = n / result.wall_seconds
        peer_cpu = 1000 * ((cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)) / n
    table.add("4 overhead", f"bulk-assign, {threads} workers", "rows/s", f"{ours:.0f}")
    table.add("4 overhead", f"plain loop, {threads} threads", "rows/s", f"{theirs:.0f}")
    table.add("4 overhead", "bulk-assign / plain loop", "ratio", f"{ours / theirs:.2f}", ">= 0.8")
    table.add("4 overhead", "bulk-assign (plain loop)", "CPU ms per row",
              f"{cpu_ms:.2f} ({peer_cpu:.2f})")


def stewardship(table: Table, sizes: Sizes, work: Path) -> None:
    """5. Writes per changed opportunity: a rerun of a finished file, a file with repeats."""
    q, n = sizes.rate, sizes.steward_rows
    path = write_input(work / "steward.csv", n)
    dup_path = write_input(work / "steward-dups.csv", n, duplicates_every=3)
    options = ("--generate", str(n + 10), "--write-rate", str(q), "--read-rate", str(10 * q))
    with emulator_process(*options) as url:
        first = _tool(url, path, work / "steward-1", rate=q, read_rate=10 * q)
        rerun = _tool(url, path, work / "steward-2", rate=q, read_rate=10 * q)
        table.add("5 steward", "first run", "writes per changed opp",
                  f"{first['calls']['writes_per_changed']:.2f}", "1.00")
        table.add("5 steward", "rerun of the finished file", "writes (rows UNCHANGED)",
                  f"{rerun['calls']['write']} ({rerun['by_status'].get('UNCHANGED', 0)})", "0")
        post(url, "/_emulator/reset")
        dups = _tool(url, dup_path, work / "steward-3", rate=q, read_rate=10 * q)
        table.add("5 steward", "file with duplicates", "writes per changed opp",
                  f"{dups['calls']['writes_per_changed']:.2f} "
                  f"({dups['by_status'].get('DUPLICATE', 0)} dup)", "1.00")


def export(table: Table, sizes: Sizes, work: Path) -> None:
    """7. Export: N opportunities at R reads/s, latency 30-70 ms; list pages count as reads."""
    from bulk_assign.commands.export import ExportSettings, export_command

    n, rate = sizes.export_opps, sizes.export_rate
    options = ("--generate", str(n), "--read-rate", str(rate), "--latency-ms", "50",
               "--jitter-ms", "20", "--quiet")
    with emulator_process(*options) as url:
        t0 = time.perf_counter()
        code = export_command(ExportSettings(catalog="Sandbox", endpoint_url=url,
                                             read_tps=rate),
                              out=work / "export.csv", quiet=True, stdout=io.StringIO())
        wall = time.perf_counter() - t0
        seen = state(url)["calls"]
    reads = [c for c in seen if c["operation"] in ("GetOpportunity", "ListOpportunities")]
    throttled = sum(c["outcome"] == "ThrottlingException" for c in reads)
    table.add("7 export", f"bulk-assign, {n:,} opps", "wall / (N/R)",
              f"{wall / (n / rate):.3f}", "<= 1.05")
    table.add("7 export", f"bulk-assign, {n:,} opps", "reads per exported opp",
              f"{len(reads) / n:.3f}", "<= 1.02")
    table.add("7 export", f"bulk-assign, {n:,} opps", "throttled reads (exit code)",
              f"{throttled} ({code})", "0 (0)")


def preview(table: Table, sizes: Sizes, work: Path) -> None:
    """8. Preview: N rows, one read each at R reads/s, latency 30-70 ms; no write."""
    from bulk_assign.commands.preview import preview_command
    from bulk_assign.settings import RunSettings

    n, rate = sizes.export_opps, sizes.export_rate
    sheet = write_input(work / "preview-input.csv", n, in_place_every=2)
    options = ("--generate", str(n), "--read-rate", str(rate), "--latency-ms", "50",
               "--jitter-ms", "20", "--quiet")
    with emulator_process(*options) as url:
        t0 = time.perf_counter()
        code = preview_command(RunSettings(input_path=sheet, catalog="Sandbox",
                                           out_dir=work / "preview", endpoint_url=url,
                                           read_tps=rate), quiet=True, stdout=io.StringIO())
        wall = time.perf_counter() - t0
        seen = state(url)["calls"]
    reads = [c for c in seen if c["operation"] == "GetOpportunity"]
    writes = sum(c["operation"] == "AssignOpportunity" for c in seen)
    throttled = sum(c["outcome"] == "ThrottlingException" for c in reads)
    name = f"bulk-assign, {n:,} rows"
    table.add("8 preview", name, "wall / (N/R)", f"{wall / (n / rate):.3f}", "<= 1.05")
    table.add("8 preview", name, "reads per row (writes)", f"{len(reads) / n:.3f} ({writes})",
              "1.000 (0)")
    table.add("8 preview", name, "throttled reads (exit code)", f"{throttled} ({code})",
              "0 (0)")


def share_quota(table: Table, sizes: Sizes, work: Path) -> None:
    """6. Sharing the quota with a CRM that retries like the SDK (results/sharing.md)."""
    quota_share.run(table, work, rows=sizes.share_rows, lead=sizes.share_lead,
                    profile=sizes.name, only=sizes.share_cases)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


#: The scenarios in the table's order, by their `--only` names.
SCENARIOS: dict[str, Callable[[Table, Sizes, Path], None]] = {
    "pacing": pacing, "shared": sharing, "scale": scale, "overhead": overhead,
    "stewardship": stewardship, "sharing": share_quota, "export": export,
    "preview": preview,
}


def run(sizes: Sizes, work: Path, *, only: set[str] | None = None) -> Table:
    os.environ.update(CREDENTIALS)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    table = Table()
    for name, scenario in SCENARIOS.items():
        if only and name not in only:
            continue
        print(f"{name}...", flush=True)
        scenario(table, sizes, work)
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sizes_group = parser.add_mutually_exclusive_group()
    sizes_group.add_argument("--full", action="store_true",
                             help="the full set (`make bench-full`, about 50 min)")
    sizes_group.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--only", action="append", choices=list(SCENARIOS))
    parser.add_argument("--case", action="append", default=[], metavar="TEXT",
                        help="only the sharing cases whose name holds TEXT (results/cases.md)")
    parser.add_argument("--no-save", action="store_true", help="do not write results/*.md")
    args = parser.parse_args(argv)
    sizes = FULL if args.full else QUICK if args.quick else DEFAULT
    sizes = replace(sizes, share_cases=tuple(args.case))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bulk-assign-bench-") as tmp:
        table = run(sizes, Path(tmp), only=set(args.only) if args.only else None)
    minutes = (time.perf_counter() - started) / 60
    text = (f"# bulk-assign benchmarks\n\nMachine: {machine()}.\n"
            f"Run: `{COMMANDS[sizes.name]}` ({minutes:.1f} min), {time.strftime('%Y-%m-%d')}."
            f"\n\n{table.markdown()}\n")
    print("\n" + text)
    target = RESULTS.with_name("cases.md") if args.case else results_file(sizes, args.only)
    if target is not None and not args.no_save:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"written to {target}")
    return 0


def results_file(sizes: Sizes, only: list[str] | None) -> Path | None:
    """latest.md for the full set, default.md for the default one, none for --quick. Only the
    sharing set goes to its own file, so a partial run keeps the whole table."""
    if sizes.name == "quick":
        return None
    sharing_only = only == ["sharing"]
    if sizes.name == "full":
        return SHARING if sharing_only else RESULTS
    return RESULTS.with_name("default-sharing.md" if sharing_only else "default.md")


if __name__ == "__main__":
    raise SystemExit(main())
