"""`bulk-assign transfer`: everything of one owner to another, as a run.

The departing owner's opportunities (and only those matching the filters) are exported into a
new run folder as `input.csv` with the successor in the input columns: the exact sheet that is
run, so `resume`, `verify` and an audit work on it. Then it is run like any sheet
(`commands.run.run_command`): plan, confirmation for production, pacing and sharing, journal,
rollback.csv, results. The folder is held (`runlock`) from before the export writes into it
until the run ends, so a second transfer (or run, resume, verify) with the same folder is
refused at once instead of exporting over the first one's sheet.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TextIO

from bulk_assign.commands import run as run_cmd  # the module: tests replace its run_command
from bulk_assign.commands.export import ExportSettings, describe, run_export
from bulk_assign.errors import EXIT_OK
from bulk_assign.results import Contact
from bulk_assign.settings import RunSettings
from bulk_assign.store.runlock import hold_run_folder, lend_run_folder, prepare_run_dir
from bulk_assign.timestamps import utc_now

INPUT_NAME = "input.csv"


def transfer_command(export: ExportSettings, run: RunSettings, *, from_email: str,
                     to: Contact, yes: bool = False, quiet: bool = False,
                     now: datetime | None = None, stdout: TextIO | None = None,
                     stdin: TextIO | None = None) -> int:
    """Export `from_email`'s opportunities with `to` as the assignee, then run that sheet.

    `run` gives the run's pacing and options; its input_path and out_dir are set here.
    """
    stdout, stdin = stdout or sys.stdout, stdin or sys.stdin
    folder = prepare_run_dir(run.out_dir, Path("transfer"), now or utc_now())
    print(f"Run folder: {folder}", file=stdout)
    with hold_run_folder(folder, command="transfer", new_run=True) as held:
        if held.warning:
            print(held.warning, file=stdout)
        # The run inside takes the folder from us (and does not repeat the warning).
        with lend_run_folder(replace(held, warning=None), to="run"):
            return _transfer(export, run, folder, from_email=from_email, to=to, yes=yes,
                             quiet=quiet, stdout=stdout, stdin=stdin)


def _transfer(export: ExportSettings, run: RunSettings, folder: Path, *, from_email: str,
              to: Contact, yes: bool, quiet: bool, stdout: TextIO, stdin: TextIO) -> int:
    """Export into `folder` (held), then run the sheet there."""
    sheet = folder / INPUT_NAME
    export = replace(export, filters=replace(export.filters,
                                             owners=(from_email.strip().casefold(),)))
    again = f"run the same transfer again with --out {folder}"
    # The folder is held and holds no run: a sheet in it is this transfer's own, unfinished.
    result = run_export(export, out=sheet, quiet=quiet, stdout=stdout, force=True,
                        assignee=to, again=again)
    if result.rows is None:
        return result.code
    rows = result.rows
    print(f"Transfer: {len(rows)} opportunit{'y' if len(rows) == 1 else 'ies'} of "
          f"{from_email} to {to.email}.", file=stdout)
    if not rows:
        print("Nothing to transfer: no opportunity of that owner matches.", file=stdout)
        return EXIT_OK
    print("  Customers: " + ", ".join(describe(rows)), file=stdout)
    settings = run.replace(input_path=sheet, out_dir=folder, catalog=export.catalog)
    return run_cmd.run_command(settings, yes=yes, quiet=quiet, stdout=stdout, stdin=stdin)
