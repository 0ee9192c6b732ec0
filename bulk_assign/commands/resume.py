"""`bulk-assign resume`: send only the rows of a run that have no final outcome, with the run's
own settings (run.json), after the same plan and confirmation as `run`."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TextIO

from bulk_assign.commands.run import (
    client_for,
    execute,
    may_ask,
    observe_share,
    show_plan_and_confirm,
    with_preview,
)
from bulk_assign.run.plan import plan_resume
from bulk_assign.store.runfolder import (
    read_record,
)
from bulk_assign.store.runlock import hold_run_folder
from bulk_assign.timestamps import utc_now

Clock = Callable[[], datetime]


def resume_command(
    run_dir: Path,
    *,
    profile: str | None = None,
    endpoint_url: str | None = None,
    yes: bool = False,
    quiet: bool = False,
    wait: bool | None = None,
    now: Clock = utc_now,
    stdout: TextIO | None = None,
    stdin: TextIO | None = None,
) -> int:
    """`bulk-assign resume`: send only the rows of a run that have no final outcome."""
    stdout, stdin = stdout or sys.stdout, stdin or sys.stdin
    started = now()
    read_record(run_dir)  # a run folder at all? (before a lock file is made in it)
    with hold_run_folder(run_dir, command="resume") as held:
        if held.warning:
            print(held.warning, file=stdout)
        return _resume(run_dir, profile=profile, endpoint_url=endpoint_url, yes=yes,
                       quiet=quiet, wait=wait, started=started, now=now, stdout=stdout,
                       stdin=stdin)


def _resume(run_dir: Path, *, profile: str | None, endpoint_url: str | None, yes: bool,
            quiet: bool, wait: bool | None, started: datetime, now: Clock, stdout: TextIO,
            stdin: TextIO) -> int:
    plan, record = plan_resume(run_dir, profile=profile, endpoint_url=endpoint_url)
    plan = with_preview(plan)
    if wait is not None:
        plan = dataclasses.replace(plan, settings=plan.settings.replace(wait=wait))
    print(f"Run folder: {run_dir}", file=stdout)
    print(f"Resuming: {len(plan.earlier)} row(s) already final, {plan.count} to send "
          f"({len(plan.sent_before)} of them re-read first: a write may have landed).",
          file=stdout)
    share = observe_share(plan, may_call=may_ask(plan.settings, yes, stdin))
    show_plan_and_confirm(plan, yes=yes, stdin=stdin, stdout=stdout, share=share,
                          now=started)
    return execute(plan, run_dir, client=client_for(plan.settings), record=record,
                   started=started, now=now, quiet=quiet, stdout=stdout, share=share)
