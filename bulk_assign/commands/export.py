"""The `export` command (and the export step of `transfer`): plan, progress, exit code.

The core is `run/exporter.py` (listing, reading, the partial file, the sheet) and
`run/export_rows.py` (filters, an opportunity's facts); this module talks to the user: the
plan line, the progress bar, what to do after a stop.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from bulk_assign.api.client import make_client
from bulk_assign.api.retry import error_code, error_message
from bulk_assign.check import hidden
from bulk_assign.check.rules import field_rules
from bulk_assign.console import stop_on_signals
from bulk_assign.errors import (
    EXIT_ABORTED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ROWS_FAILED,
    UsageError,
)
from bulk_assign.results import Contact
from bulk_assign.run.export_rows import ExportFilters, Found, parse_since, stage_named
from bulk_assign.run.exporter import (
    Collected,
    PartialFile,
    check_out,
    collect,
    export_frame,
    list_targets,
    partial_path,
    write_export,
)
from bulk_assign.run.reads import (
    DAILY_READ_QUOTA,
    DEFAULT_READ_WORKERS,
    PacedReader,
    make_guard,
    read_seconds,
)
from bulk_assign.settings import RunSettings, default
from bulk_assign.sheet import fields
from bulk_assign.sheet.reader import read_table
from bulk_assign.stops import RunStopping, StopReason


@dataclass(frozen=True)
class ExportSettings:
    """What an export needs: where to read, what to select, how fast."""

    catalog: str
    filters: ExportFilters = field(default_factory=ExportFilters)
    profile: str | None = None
    region: str = default("region")
    endpoint_url: str | None = None
    read_tps: float = default("read_tps")
    workers: int = DEFAULT_READ_WORKERS
    max_attempts: int = default("max_attempts")
    read_timeout: float = default("read_timeout")
    #: Reads throttled this long without one going through: the read quota is spent, stop.
    quota_wait_seconds: float = default("quota_wait_seconds")

    def client_settings(self, out: Path) -> RunSettings:
        """The client's settings, in the form `client.make_client` takes."""
        return RunSettings(input_path=out, catalog=self.catalog, profile=self.profile,
                           region=self.region, endpoint_url=self.endpoint_url,
                           read_tps=self.read_tps, max_attempts=self.max_attempts,
                           read_timeout=self.read_timeout)


@dataclass(frozen=True)
class ExportResult:
    """How an export ended: its exit code and, when complete, the opportunities exported."""

    code: int
    rows: list[Found] | None = None


def filters_from(*, owners: list[str], stages: list[str], customers: list[str],
                 modified_since: str | None, ids: Path | None,
                 hidden_rows: str | None = None) -> ExportFilters:
    """The command line's filters, checked: a bad stage, date or ids sheet is a usage error,
    and so is an empty value (an empty shell variable would otherwise select everything).
    `hidden_rows` is `--hidden-rows` for the --ids sheet, as `run` applies it."""
    for option, values in (("--owner", owners), ("--stage", stages),
                           ("--customer", customers),
                           ("--modified-since", [] if modified_since is None
                            else [modified_since])):
        if any(not value.strip() for value in values):
            raise UsageError(f"{option} is empty: give a value or leave {option} out; "
                             "nothing was read.")
    return ExportFilters(
        owners=tuple(dict.fromkeys(o.strip().casefold() for o in owners)),
        stages=tuple(dict.fromkeys(stage_named(s) for s in stages)),
        customers=tuple(dict.fromkeys(c.strip() for c in customers)),
        modified_since=None if modified_since is None else parse_since(modified_since),
        ids=() if ids is None else read_ids(ids, hidden_rows=hidden_rows),
    )


def read_ids(path: Path, *, hidden_rows: str | None = None) -> tuple[str, ...]:
    """The Identifier column of a sheet (any sheet the tool reads: a results.csv will do).

    Rows hidden in Excel follow `run`'s rule: refused unless `hidden_rows` is skip (their ids
    are left out) or send (used too)."""
    if not str(path).strip() or path == Path():
        raise UsageError("--ids is empty: name a sheet with an Identifier column; nothing was "
                         "read.")
    table = hidden.visible_ids(read_table(path, required=(fields.IDENTIFIER,)),
                               choice=hidden_rows)
    values = [v.strip() for v in table.column(fields.IDENTIFIER).astype(str)]
    values = [v[0].upper() + v[1:] if v[:1] == "o" else v for v in values if v]
    rule = field_rules().get(fields.IDENTIFIER)
    bad = [v for v in values if rule is not None and not rule.pattern.fullmatch(v)]
    if bad:
        raise UsageError(f"--ids {path}: {len(bad)} identifier(s) are not opportunity ids "
                         f"(e.g. {bad[0]!r}); an id looks like O1234567.")
    if not values:
        raise UsageError(f"--ids {path}: the Identifier column is empty.")
    return tuple(dict.fromkeys(values))


def export_command(settings: ExportSettings, *, out: Path, force: bool = False,
                   quiet: bool = False, stdout: TextIO | None = None) -> int:
    """`bulk-assign export`: the opportunities and their current owners, as run input.

    An existing `out` is replaced only with `force` (or when it is this export's own output,
    left with its reads unfinished)."""
    return run_export(settings, out=out, force=force, quiet=quiet,
                      stdout=stdout or sys.stdout).code


def run_export(settings: ExportSettings, *, out: Path, quiet: bool, stdout: TextIO,
               force: bool = False, assignee: Contact | None = None,
               again: str = "run the same command again") -> ExportResult:
    """List, read (continuing an interrupted export), and write `out` when all is read."""
    filters = settings.filters
    partial = PartialFile(partial_path(out), export=filters.key(settings.catalog))
    check_out(out, force=force, partial=partial)
    client = make_client(settings.client_settings(out), pool_size=settings.workers)
    guard = make_guard(where=f"{client.meta.endpoint_url} (region {settings.region})",
                       next_step=again)
    reader = PacedReader(client, guard, read_tps=settings.read_tps,
                         max_attempts=settings.max_attempts,
                         quota_wait_seconds=settings.quota_wait_seconds)
    reader.on_wait = lambda text: _say_wait(text, stdout)
    with stop_on_signals(guard, stdout=stdout):
        try:
            with reader.paced():
                targets, pages = list_targets(reader, catalog=settings.catalog, filters=filters)
        except RunStopping:
            return ExportResult(_stopped(reader, partial, stdout=stdout, again=again))
        except Exception as exc:
            print(f"ListOpportunities failed: {error_code(exc)}: {error_message(exc)}",
                  file=stdout)
            return ExportResult(EXIT_ROWS_FAILED)
        earlier = len(partial.load(settings.catalog))
        print(plan_text(listed=len(targets), pages=pages, earlier=earlier,
                        read_tps=settings.read_tps, owners=filters.owners), file=stdout)
        with tqdm(total=len(targets), unit="opp", desc="read", dynamic_ncols=True,
                  disable=quiet or not sys.stderr.isatty(), file=sys.stderr) as bar:
            if not bar.disable:
                reader.on_wait = lambda text: bar.set_description_str(text or "read")
            got = collect(reader, catalog=settings.catalog, targets=targets, partial=partial,
                          workers=settings.workers, on_read=lambda: _tick(bar))
    if guard.stop_info is not None:
        return ExportResult(_stopped(reader, partial, stdout=stdout, again=again))
    if got.failed:
        _report_failures(got, partial, stdout=stdout, again=again)
        return ExportResult(EXIT_ROWS_FAILED)
    rows = got.rows(targets, filters)
    write_export(export_frame(rows, assignee=assignee), out)
    partial.wrote(out)
    partial.remove()
    unknown = [t.identifier for t in targets if filters.ids and got.found.get(t.identifier)
               is None]
    gone = (f"; {got.missing} listed but gone when read" if got.missing and not filters.ids
            else "")
    print(f"Export complete: {len(rows)} opportunit{'y' if len(rows) == 1 else 'ies'} "
          f"of {len(targets)} read{gone}. Reads: {reader.calls.read} this time "
          f"({got.reused} reused from an interrupted export).\n  {out}", file=stdout)
    if unknown:
        print(f"Not found: {len(unknown)} of the --ids opportunities do not exist in catalog "
              f"{settings.catalog}: {', '.join(unknown)}", file=stdout)
        return ExportResult(EXIT_ROWS_FAILED, rows)
    return ExportResult(EXIT_OK, rows)


def _say_wait(text: str | None, stdout: TextIO) -> None:
    """Reads held back by the read quota, said on the terminal (the bar says it when shown)."""
    if text:
        print(text, file=stdout, flush=True)


def _tick(bar: tqdm[Any]) -> None:
    bar.update(1)


def plan_text(*, listed: int, pages: int, earlier: int, read_tps: float,
              owners: tuple[str, ...]) -> str:
    reads = max(listed - earlier, 0)
    minutes, seconds = divmod(round(read_seconds(reads, read_tps)), 60)
    lines = [f"Plan: {listed} opportunit{'y' if listed == 1 else 'ies'} listed ({pages} list "
             f"page(s)); {reads} to read with GetOpportunity at {read_tps:g}/s: about "
             f"{minutes}m {seconds:02d}s."]
    if earlier:
        lines.append(f"  {earlier} read by an interrupted export are reused unless changed "
                     "since.")
    if owners:
        lines.append("  --owner is matched after the read: every listed opportunity is read.")
    if reads > DAILY_READ_QUOTA:
        lines.append(f"  WARNING: {reads} reads exceed the {DAILY_READ_QUOTA:,} per rolling "
                     "24 h quota; the export stops when it is spent and continues later.")
    return "\n".join(lines)


def _stopped(reader: PacedReader, partial: PartialFile, *, stdout: TextIO, again: str) -> int:
    stop = reader.guard.stop_info
    reason = stop.reason if stop else StopReason.INTERRUPTED
    detail = stop.sentence() if stop else "interrupted."
    print(f"Export stopped ({reason}): {detail}", file=stdout)
    print(f"Not complete: nothing was written to the output. What was read is kept in "
          f"{partial.path}; {again} to continue without reading those again.", file=stdout)
    return EXIT_INTERRUPTED if reason is StopReason.INTERRUPTED else EXIT_ABORTED


def _report_failures(got: Collected, partial: PartialFile, *, stdout: TextIO,
                     again: str) -> None:
    counts: dict[str, int] = {}
    for code in got.failed.values():
        counts[code] = counts.get(code, 0) + 1
    detail = ", ".join(f"{n} {code}" for code, n in sorted(counts.items()))
    print(f"Not complete: {len(got.failed)} opportunities could not be read ({detail}). "
          f"The others are kept in {partial.path}; {again} to read only what is missing.",
          file=stdout)


def describe(rows: list[Found], *, limit: int = 8) -> list[str]:
    """Customers by count, for a plan: `AnyCompany (12)`."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.customer] = counts.get(row.customer, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = [f"{name or '(no customer)'} ({n})" for name, n in ranked[:limit]]
    if len(ranked) > limit:
        shown.append(f"... and {len(ranked) - limit} more")
    return shown


__all__ = ["ExportResult", "ExportSettings", "describe", "export_command", "filters_from",
           "run_export"]
