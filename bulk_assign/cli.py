"""The command line: parse arguments, call the core, map the outcome to an exit code."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import logging
import math
import operator
import sys
import textwrap
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TypeAlias, TypeVar

from bulk_assign import __version__, app, fields, template
from bulk_assign.budget import Window
from bulk_assign.console import interrupt_on_signals
from bulk_assign.errors import EXIT_INTERRUPTED, EXIT_USAGE, BulkAssignError, UsageError
from bulk_assign.results import Contact
from bulk_assign.rules import CATALOGS, OWNER_TITLE, canonical_catalog, field_rules
from bulk_assign.settings import OUTPUT_FORMATS, RunSettings, default

T = TypeVar("T")

_EPILOG_MAIN = """\
commands in the order you use them:
  template   write an empty input file with the right headers
  validate   check a sheet offline and write results.csv / failed.csv
  preview    read every row's owner today: the sign-off sheet (MOVE / ALREADY / CHANGED ...)
  run        reassign every valid row in Partner Central (paced, resumable)
  resume     finish a run that was interrupted, aborted or partly failed
  export     who owns what today, as a sheet `run` takes as it stands
  transfer   everything of one owner to another, as a run
  verify     re-read what a run changed: MATCH / DRIFTED / NOT_FOUND / UNREADABLE
  status     where a running or stopped run stands (reads only)
  emulator   serve a local Partner Central for trials and tests

example:
  bulk-assign validate realignment.xlsx --catalog Sandbox
  bulk-assign run realignment.xlsx --catalog Sandbox --profile partner-sandbox
"""


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the examples' line breaks; descriptions are wrapped by `_wrap`."""


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=88)


def _catalog(value: str) -> str:
    catalog = canonical_catalog(value)
    if catalog is not None:
        return catalog
    raise argparse.ArgumentTypeError(f"must be {' or '.join(CATALOGS)}, not {value!r}")


def _number(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {value}")
    return number


def _positive_float(value: str) -> float:
    number = _number(value)
    if not number > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, not {value}")
    return number


def _share(value: str) -> float:
    number = _number(value)
    if not 0 < number <= 1:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 1 (the whole quota), "
                                         f"not {value}")
    return number


def _minutes(value: str) -> float:
    """A look-back: what the account's other writers did in the quota's own 24 h at most."""
    number = _number(value)
    if not 0 <= number <= 24 * 60:
        raise argparse.ArgumentTypeError(f"must be 0 to 1440 minutes (24 h), not {value}")
    return number


def _seconds(value: str) -> float:
    number = _positive_float(value)
    if number > 3600:
        raise argparse.ArgumentTypeError(f"must be at most 3600 seconds, not {value}")
    return number


def _region(value: str) -> str:
    from botocore.exceptions import InvalidRegionError
    from botocore.utils import validate_region_name

    try:
        validate_region_name(_text(value))
    except InvalidRegionError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a region name, e.g. us-east-1"
                                         ) from None
    return value


def _url(value: str) -> str:
    parts = urllib.parse.urlsplit(_text(value).strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http:// or https:// URL")
    return value.strip()


def _window(value: str) -> str:
    try:
        Window.parse(value)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(
            exc.message.removeprefix(f"--window {value!r}: ")) from None
    return value


def _text(value: str) -> str:
    """A value that must say something: an empty shell variable is a mistake, not "any"."""
    if not value.strip():
        raise argparse.ArgumentTypeError("is empty; give a value")
    return value


def _file(value: str) -> Path:
    return Path(_text(value))


def _email(value: str) -> str:
    """An email address as AssignOpportunity's model has it (botocore's own pattern)."""
    rule = field_rules().get(fields.EMAIL)
    if not value.strip():
        raise argparse.ArgumentTypeError("is empty; give an email address")
    if rule is not None and not rule.pattern.fullmatch(value.strip().lower()):
        raise argparse.ArgumentTypeError(f"{value!r} is not an email address")
    return value.strip()


def _name(value: str) -> str:
    """A first or last name: not blank, and no longer than the model allows."""
    rule = field_rules().get(fields.FIRST_NAME)
    if rule is not None and not rule.pattern.fullmatch(_text(value).strip()):
        raise argparse.ArgumentTypeError(f"is longer than {rule.max_length} characters")
    return value


def _phone(value: str) -> str:
    """Blank (no phone), or one the API takes once normalised, as a sheet's Phone cell."""
    from bulk_assign.hints import phone_problem  # pandas: only when a phone is given

    problem = phone_problem(value) if value.strip() else None
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{value!r}: {problem}")
    return value


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return number


def _add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, metavar="INPUT", help="the .csv, .txt, .tsv, "
                        ".xlsx or .xlsm realignment sheet")
    parser.add_argument("--sheet", metavar="S", help="Excel sheet name, or its position from 1 "
                        "(default: the first sheet)")
    parser.add_argument("--out", type=_file, metavar="DIR", help="folder for the run's files "
                        "(default: runs/<input name>-<UTC time>/)")
    parser.add_argument("--allow-other-titles", action="store_true",
                        help="send a BusinessTitle column's other titles as they are (that "
                        "assignee joins the team, the owner does not change). Without it every "
                        f"row is sent as {OWNER_TITLE}, the owner, and other BusinessTitle values "
                        "are INVALID. Title and Job Title columns are job titles: echoed, not "
                        "sent")
    parser.add_argument("--format", choices=OUTPUT_FORMATS, dest="output_format",
                        help="xlsx: also write results.xlsx (Results, Failed and Summary "
                        "sheets); csv: CSV files only (default: xlsx too when INPUT is .xlsx "
                        "or .xlsm)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bulk-assign",
        description=_wrap("Reassign AWS Partner Central opportunities in bulk from a spreadsheet."),
        epilog=_EPILOG_MAIN,
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"bulk-assign {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show debug logging and tracebacks")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    _add_validate(commands)
    _add_preview(commands)
    _add_run(commands)
    _add_resume(commands)
    _add_status(commands)
    _add_template(commands)
    _add_export(commands)
    _add_transfer(commands)
    _add_verify(commands)
    _add_emulator(commands)
    return parser


#: What `add_subparsers` returns.
_Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _add_validate(commands: _Commands) -> None:
    validate = commands.add_parser(
        "validate", formatter_class=_Formatter,
        help="check a sheet offline, no network",
        description=_wrap("Read the sheet, normalise and check every row, and write results.csv, "
        "failed.csv and summary.json. Nothing is sent."),
        epilog="example:\n  bulk-assign validate samples/realignment.csv --catalog Sandbox\n\n"
        "exit codes: 0 all rows VALID or DUPLICATE, 1 some row INVALID, 2 unusable input",
    )
    _add_input_options(validate)
    validate.add_argument("--catalog", type=_catalog, metavar="{AWS,Sandbox}",
                          help="the catalog rows must belong to (rows may also carry a Catalog "
                          "column)")


def _add_preview(commands: _Commands) -> None:
    preview = commands.add_parser(
        "preview", formatter_class=_Formatter,
        help="who owns each row's opportunity today, for sign-off (reads only)",
        description=_wrap("Validate the sheet as run does, read every valid row's current owner "
        "(GetOpportunity at the read pace, no write) and write preview.xlsx and preview.csv: "
        "each row's current and new owner and a verdict MOVE / ALREADY / CHANGED / NOT_FOUND / "
        "UNREADABLE / INVALID, a By person sheet (lost, gained, net) and a Summary (writes, "
        "duration, share of the day's budget). Stopped, the same command continues. Run the "
        "signed-off sheet with `bulk-assign run INPUT --catalog C --from-preview DIR`."),
        epilog="example:\n  bulk-assign preview realignment.xlsx --catalog Sandbox\n\n"
        "exit codes: 0 every row MOVE/ALREADY, 1 some row CHANGED/NOT_FOUND/UNREADABLE/INVALID, "
        "2 usage or unreadable input, 3 aborted (credentials, read quota), 130 interrupted",
    )
    preview.add_argument("input", type=Path, metavar="INPUT", help="the realignment sheet")
    preview.add_argument("--catalog", type=_catalog, required=True, metavar="{AWS,Sandbox}")
    preview.add_argument("--sheet", metavar="S", help="Excel sheet name, or its position from 1")
    preview.add_argument("--out", type=_file, metavar="DIR", help="the preview folder (default: "
                         "runs/<input name>-preview/, where the same command continues)")
    preview.add_argument("--allow-other-titles", action="store_true",
                         help="as for run")
    preview.add_argument("--hidden-rows", choices=("send", "skip"), help="as for run")
    preview.add_argument("--read-tps", type=_positive_float, default=default("read_tps"),
                         metavar="R", help="GetOpportunity calls per second (default "
                         "%(default)s)")
    preview.add_argument("--max-tps", type=_positive_float, default=default("max_tps"),
                         metavar="Q", help="the run's write pace, for the duration shown "
                         "(default %(default)s)")
    preview.add_argument("--daily-budget", type=_positive_int, default=default("daily_budget"),
                         metavar="N", help="the run's daily budget, for the share shown "
                         "(default %(default)s)")
    _add_connection_options(preview)
    preview.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_run(commands: _Commands) -> None:
    run = commands.add_parser(
        "run", formatter_class=_Formatter,
        help="reassign every valid row in Partner Central",
        description=_wrap(
        "Validate the sheet, then call AssignOpportunity for each valid row at the "
        "allowed pace (writes: 1/s per partner account), reading each opportunity first so no "
        "write is wasted. Writes results.csv, failed.csv, rollback.csv, summary.json, "
        "journal.jsonl and run.log into the run folder; an interrupted run continues with "
        "`bulk-assign resume RUN_DIR`."),
        epilog="examples:\n"
        "  bulk-assign run realignment.xlsx --catalog Sandbox --profile partner-sandbox\n"
        "  bulk-assign run realignment.csv --catalog Sandbox --dry-run\n"
        "  bulk-assign run realignment.csv --catalog Sandbox --endpoint-url http://127.0.0.1:8765\n\n"
        "exit codes: 0 every row SUCCEEDED/UNCHANGED/DUPLICATE, 1 some row INVALID/FAILED/"
        "SKIPPED, 2 usage or unreadable input (nothing sent), 3 aborted (credentials, access, "
        "quota), 130 interrupted",
    )
    _add_input_options(run)
    run.add_argument("--catalog", type=_catalog, required=True, metavar="{AWS,Sandbox}",
                     help="AWS is production and asks for confirmation; Sandbox is for trials")
    run.add_argument("--dry-run", action="store_true",
                     help="validate and plan, write nothing: rows get DRY_RUN (one read checks "
                     "that the service can be reached and holds the first opportunities)")
    _add_pacing_options(run)
    run.add_argument("--profile", metavar="P", help="AWS profile (default: the standard chain)")
    run.add_argument("--region", type=_region, default=default("region"),
                     help="AWS region of the API (default %(default)s)")
    run.add_argument("--endpoint-url", type=_url, metavar="URL",
                     help="API endpoint (default: AWS, or "
                     "$AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING)")
    run.add_argument("--no-snapshot", action="store_true",
                     help="skip the pre-read: no UNCHANGED detection and no rollback.csv")
    run.add_argument("--yes", action="store_true",
                     help="do not ask for confirmation with --catalog AWS")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.add_argument("--hidden-rows", choices=("send", "skip"),
                     help="Excel rows hidden by a filter or by hand: skip them (SKIPPED / "
                     "HiddenRow) or send them too (default: refuse the sheet, nothing sent)")
    _add_owner_check_option(run)
    run.add_argument("--from-preview", metavar="DIR",
                     help="a folder `bulk-assign preview INPUT` wrote: the owners it read are "
                     "the rows' expected owners, so whatever changed since the sign-off is "
                     "SKIPPED / OwnerChanged (INPUT must be the file previewed)")


def _add_owner_check_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--overwrite-changed", action="store_true",
                        help="write rows whose opportunity someone else owns now (neither the "
                        "row's expected owner, e.g. Current Email, nor its assignee); without "
                        "it they are SKIPPED / OwnerChanged and cost no write")


def _add_pacing_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--max-tps", type=_positive_float, default=default("max_tps"), metavar="Q",
                     help="AssignOpportunity calls per second (default %(default)s: the "
                     "account's quota is 1/s, shared with CRM integrations)")
    run.add_argument("--read-tps", type=_positive_float, default=default("read_tps"),
                     metavar="R",
                     help="GetOpportunity calls per second for the pre-read (default "
                     "%(default)s)")
    run.add_argument("--workers", type=_positive_int, metavar="N",
                     help="concurrent calls (default: enough to keep the pace)")
    run.add_argument("--max-attempts", type=_positive_int, default=default("max_attempts"),
                     metavar="N", help="attempts per row for throttling, 5xx and network errors "
                     "(default %(default)s)")
    run.add_argument("--timeout", type=_seconds, default=default("read_timeout"),
                     metavar="SECONDS", help="read timeout per call (default %(default)s)")
    _add_sharing_options(run)
    run.add_argument("--quota-wait", type=_positive_float,
                     default=default("quota_wait_seconds") / 60, metavar="MINUTES",
                     help="stop (QuotaExhausted) after this long throttled without one "
                     "success (default %(default)g)")


def _add_sharing_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--share", type=_share, metavar="F",
                     help="take this share of the account's write quota (0-1] whatever its "
                     "other writers (CRM integrations) do (default: leave them what the "
                     "look-back saw them use, and less when throttles show them)")
    run.add_argument("--lookback", type=_minutes, default=default("lookback_seconds") / 60,
                     metavar="MINUTES", help="how far back to look for the account's other "
                     "writes before the run (default %(default)g; 0: do not look)")
    run.add_argument("--account-tps", type=_positive_float, default=default("account_tps"),
                     metavar="Q", help="the account's write quota per second (default "
                     "%(default)s, the documented one)")
    run.add_argument("--daily-budget", type=_positive_int, default=default("daily_budget"),
                     metavar="N", help="the most writes this run and its resumes send in any "
                     "rolling 24 h (default %(default)s of the account's 10,000)")
    run.add_argument("--window", type=_window, metavar="HH:MM-HH:MM",
                     help="write only inside these local hours (may cross midnight, e.g. "
                     "22:00-06:00); outside them the run waits")
    run.add_argument("--wait", action="store_true",
                     help="when the budget or the account's daily quota holds writes back, or "
                     "the service is out of reach (an outage: tried again with growing pauses, "
                     "up to 5 min apart), wait and continue instead of stopping (exit 3); "
                     "expired credentials still stop the run")


def _add_status(commands: _Commands) -> None:
    status = commands.add_parser(
        "status", formatter_class=_Formatter,
        help="where a running or stopped run stands (reads only)",
        description=_wrap("Rows done by status, rows left, the current pace, what writes wait "
        "for and until when, and the ETA. Reads the run folder without locking or writing it, "
        "so it is safe beside a running run."),
        epilog="example:\n  bulk-assign status runs/realignment-20261128T101500",
    )
    status.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run folder")


def _add_resume(commands: _Commands) -> None:
    resume = commands.add_parser(
        "resume", formatter_class=_Formatter,
        help="finish an interrupted, aborted or partly failed run",
        description=_wrap("Send the rows of RUN_DIR that have no final outcome yet (never a row "
        "already SUCCEEDED or UNCHANGED), with the run's own settings, and rewrite its files. "
        "Refuses if the input file changed since the run started."),
        epilog="example:\n  bulk-assign resume runs/realignment-20261128T101500\n\n"
        "exit codes: as for run",
    )
    resume.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run folder")
    resume.add_argument("--profile", metavar="P", help="AWS profile (default: the run's)")
    resume.add_argument("--endpoint-url", type=_url, metavar="URL",
                        help="API endpoint (default: the run's)")
    resume.add_argument("--yes", action="store_true",
                        help="do not ask for confirmation with --catalog AWS")
    resume.add_argument("--quiet", action="store_true", help="no progress bar")
    resume.add_argument("--wait", action="store_true", default=None,
                        help="wait for the budget, the daily quota or an outage instead of "
                        "stopping (this time)")


def _add_template(commands: _Commands) -> None:
    tmpl = commands.add_parser(
        "template", formatter_class=_Formatter,
        help="write an empty input file with the right headers",
        description=_wrap("Write an empty realignment sheet with the canonical headers."),
        epilog="examples:\n  bulk-assign template realignment.csv\n"
        "  bulk-assign template --xlsx realignment.xlsx",
    )
    tmpl.add_argument("out", type=Path, metavar="OUT", help="file to create (never overwritten)")
    tmpl.add_argument("--xlsx", action="store_true",
                      help="write an Excel workbook (Phone column formatted as text)")


def _add_connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", metavar="P", help="AWS profile (default: the standard "
                        "chain)")
    parser.add_argument("--region", type=_region, default=default("region"),
                        help="AWS region of the API (default %(default)s)")
    parser.add_argument("--endpoint-url", type=_url, metavar="URL",
                        help="API endpoint (default: AWS, or "
                        "$AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING)")


def _add_export_filters(parser: argparse.ArgumentParser, *, owner: bool) -> None:
    if owner:
        parser.add_argument("--owner", action="append", default=[], type=_email,
                            metavar="EMAIL",
                            help="only opportunities this person owns now (repeatable; "
                            "matched after the read)")
    parser.add_argument("--stage", action="append", default=[], type=_text, metavar="S",
                        help="only this LifeCycleStage, e.g. Prospect, Qualified, 'Closed "
                        "Lost' (repeatable)")
    parser.add_argument("--customer", action="append", default=[], type=_text,
                        metavar="NAME",
                        help="only this customer company name, exact, any case (repeatable)")
    parser.add_argument("--modified-since", type=_text, metavar="DATE",
                        help="only opportunities modified on or after DATE (2026-07-01, UTC)")
    parser.add_argument("--ids", type=_file, metavar="FILE",
                        help="only the opportunities of this sheet's Identifier column")
    parser.add_argument("--hidden-rows", choices=("send", "skip"),
                        help="rows of the --ids sheet hidden in Excel (filtered out or by "
                        "hand): skip their ids or use them too (default: refuse the sheet, "
                        "nothing read)")


def _add_export(commands: _Commands) -> None:
    export = commands.add_parser(
        "export", formatter_class=_Formatter,
        help="who owns what today, as a run-ready sheet",
        description=_wrap("List the catalog's opportunities (ListOpportunities, filtered "
        "server-side), read each one's owner (GetOpportunity at 10 reads/s) and write one row "
        "per opportunity: its facts, the owner as 'Current ...' columns, and the input columns "
        "filled with the same owner. Overwrite the rows that move and run the file as it "
        "stands: the rest come out UNCHANGED and cost no write. Interrupted, the same command "
        "continues without reading again what it read."),
        epilog="examples:\n"
        "  bulk-assign export --catalog Sandbox --out owners.xlsx\n"
        "  bulk-assign export --catalog AWS --out q3.csv --owner ana@example.com "
        "--stage Qualified\n\n"
        "exit codes: 0 complete, 1 some opportunities unreadable, 2 usage, 3 aborted "
        "(credentials, read quota), 130 interrupted (not complete in every case but 0)",
    )
    export.add_argument("--catalog", type=_catalog, required=True, metavar="{AWS,Sandbox}")
    export.add_argument("--out", type=_file, required=True, metavar="FILE",
                        help="the .csv or .xlsx file to write (when complete)")
    _add_export_filters(export, owner=True)
    _add_connection_options(export)
    export.add_argument("--force", action="store_true",
                        help="replace --out when it exists (by default an existing file, "
                        "perhaps edited since, is never overwritten)")
    export.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_transfer(commands: _Commands) -> None:
    transfer = commands.add_parser(
        "transfer", formatter_class=_Formatter,
        help="move everything of one owner to another, as a run",
        description=_wrap("Export the opportunities --from owns now (and match the filters) "
        "into a new run folder as input.csv, with the --to person as assignee, show the plan, "
        "ask for confirmation as run does (always for --catalog AWS), then run it: pacing, "
        "journal, resume, rollback.csv and results as for any run."),
        epilog="example:\n  bulk-assign transfer --catalog Sandbox --from ana@example.com "
        "--to bo@example.com --first-name Bo --last-name Berg\n\nexit codes: as for run",
    )
    transfer.add_argument("--catalog", type=_catalog, required=True, metavar="{AWS,Sandbox}")
    transfer.add_argument("--from", dest="from_email", type=_email, required=True,
                          metavar="EMAIL", help="the current owner")
    transfer.add_argument("--to", dest="to_email", type=_email, required=True, metavar="EMAIL",
                          help="the new owner")
    transfer.add_argument("--first-name", type=_name, required=True, metavar="F")
    transfer.add_argument("--last-name", type=_name, required=True, metavar="L")
    transfer.add_argument("--title", type=_text, default=OWNER_TITLE, metavar="T",
                          help="the BusinessTitle sent (default %(default)s, the API's value "
                          "for the owner; any other title would not change the owner, so those "
                          "rows come out INVALID)")
    transfer.add_argument("--phone", type=_phone, default="", metavar="P",
                          help="the new owner's phone")
    transfer.add_argument("--out", type=_file, metavar="DIR", help="the run folder (default: "
                          "runs/transfer-<UTC time>/); give it again to continue an export")
    transfer.add_argument("--dry-run", action="store_true",
                          help="export and plan, write nothing: rows get DRY_RUN")
    transfer.add_argument("--format", choices=OUTPUT_FORMATS, dest="output_format",
                          help="xlsx: also write results.xlsx; csv: CSV files only (default)")
    _add_export_filters(transfer, owner=False)
    _add_pacing_options(transfer)
    _add_owner_check_option(transfer)
    _add_connection_options(transfer)
    transfer.add_argument("--yes", action="store_true",
                          help="do not ask for confirmation with --catalog AWS")
    transfer.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_verify(commands: _Commands) -> None:
    verify = commands.add_parser(
        "verify", formatter_class=_Formatter,
        help="re-read what a run changed and report any drift",
        description=_wrap("Re-read every opportunity the run changed (SUCCEEDED rows; with "
        "--all every valid row of its input) and write verify.csv into the run folder: row, "
        "Identifier, intended assignee, owner now, verdict MATCH / DRIFTED / NOT_FOUND / "
        "UNREADABLE and the error class; verify.xlsx too where the run writes results.xlsx."),
        epilog="example:\n  bulk-assign verify runs/realignment-20261128T101500\n\n"
        "exit codes: 0 every row MATCH, 1 otherwise, 2 usage, 3 aborted, 130 interrupted",
    )
    verify.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run folder")
    verify.add_argument("--all", action="store_true", dest="all_rows",
                        help="every valid row of the input, not only those the run changed")
    verify.add_argument("--profile", metavar="P", help="AWS profile (default: the run's)")
    verify.add_argument("--endpoint-url", type=_url, metavar="URL",
                        help="API endpoint (default: the run's)")


def _add_emulator(commands: _Commands) -> None:
    from bulk_assign.emulator import cli as emulator_cli

    emulator = commands.add_parser(
        "emulator", formatter_class=_Formatter,
        help="serve a local Partner Central Selling API",
        description=_wrap("A local Partner Central Selling API on 127.0.0.1 over real HTTP, with "
        "quotas, latency and faults. boto3 and the AWS CLI talk to it with --endpoint-url; "
        "credentials: access key 'test', secret 'test'."),
        epilog="example:\n  bulk-assign emulator --port 8765 &\n"
        "  AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test bulk-assign run "
        "samples/realignment.csv --catalog Sandbox --endpoint-url http://127.0.0.1:8765",
    )
    emulator_cli.add_arguments(emulator)


def main(argv: Sequence[str] | None = None, *,
         pending: Callable[[], str | None] = lambda: None) -> int:
    """The command line. `pending`: a stop signal that came before it could be acted on (the
    imports, see __main__), which interrupts as soon as the handlers are in place."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # botocore's debug lines carry request and response bodies: assignees' and owners' emails,
    # names and phones. No log may hold those, so -v stops at botocore's INFO level.
    quiet_level = logging.INFO if args.verbose else logging.ERROR
    for name in ("botocore", "boto3", "urllib3"):
        logging.getLogger(name).setLevel(quiet_level)
    try:
        with interrupt_on_signals(pending=pending):
            return _dispatch(args)
    except BulkAssignError as exc:
        if args.verbose:
            logging.exception("details")
        print(f"bulk-assign: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("bulk-assign: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


#: Settings fields and command parameters whose option has another name or another unit:
#: field -> (the option's dest, how its value becomes the field's). Every other option reaches
#: the field or parameter of its own name, and a test walks the parser to prove it.
_FROM_OPTION: Final[dict[str, tuple[str, Callable[[Any], Any]]]] = {
    "input_path": ("input", Path),
    "out_dir": ("out", Path),
    "read_timeout": ("timeout", float),
    "quota_wait_seconds": ("quota_wait", lambda minutes: minutes * 60),
    "lookback_seconds": ("lookback", lambda minutes: minutes * 60),
    "pre_read": ("no_snapshot", operator.not_),
}


def _by_name(args: argparse.Namespace, names: dict[str, bool]) -> dict[str, Any]:
    """The parsed options for `names` (name -> has a default of its own), by name through
    `_FROM_OPTION`. An option left out (None) is left to a default the target has."""
    values = {}
    for name, has_default in names.items():
        dest, convert = _FROM_OPTION.get(name, (name, lambda value: value))
        if not hasattr(args, dest):
            continue
        value = getattr(args, dest)
        if value is None and has_default:
            continue
        values[name] = value if value is None else convert(value)
    return values


def settings_from(kind: Callable[..., T], args: argparse.Namespace, **given: Any) -> T:
    """`kind` (RunSettings, ExportSettings, Contact: a dataclass) from the parsed options, field
    by field by name; `given` fields come from elsewhere. A value its own checks refuse is a
    usage error (exit 2), never a traceback.

    >>> args = build_parser().parse_args(["run", "in.csv", "--catalog", "Sandbox",
    ...                                   "--lookback", "5"])
    >>> settings_from(RunSettings, args).lookback_seconds
    300.0
    """
    names = {f.name: f.default is not dataclasses.MISSING
             or f.default_factory is not dataclasses.MISSING
             for f in dataclasses.fields(kind) if f.init and f.name not in given}  # type: ignore[arg-type]
    try:
        return kind(**_by_name(args, names), **given)
    except ValueError as exc:
        raise UsageError(f"{_option_named(str(exc))}; nothing was sent.") from None


def _option_named(problem: str) -> str:
    """`share must be ...` -> `--share must be ...`: the user typed options, not fields."""
    field, _, rest = problem.partition(" ")
    dest = _FROM_OPTION.get(field, (field, None))[0]
    return f"--{dest.replace('_', '-')} {rest}"


def _call(command: Callable[..., T], args: argparse.Namespace, **given: Any) -> T:
    """`command` with every parsed option whose name is one of its parameters, by name."""
    names = {name: param.default is not inspect.Parameter.empty
             for name, param in inspect.signature(command).parameters.items()
             if name not in given}
    return command(**_by_name(args, names), **given)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "validate":
        return _call(app.validate_command, args)
    if args.command == "template":
        path = _call(template.write_template, args)
        print(f"Wrote {path}: fill one row per opportunity, then "
              f"`bulk-assign validate {path}`.")
        return 0
    if args.command == "run":
        return _call(app.run_command, args, settings=settings_from(RunSettings, args))
    if args.command == "resume":
        return _call(app.resume_command, args)
    if args.command == "status":
        from bulk_assign.status import status_command

        return _call(status_command, args, stdout=sys.stdout)
    if args.command == "preview":
        from bulk_assign.preview_app import preview_command

        return _call(preview_command, args, settings=settings_from(RunSettings, args))
    if args.command in ("export", "transfer", "verify"):
        return _dispatch_reads(args)
    if args.command == "emulator":
        from bulk_assign.emulator import cli as emulator_cli

        return emulator_cli.run(args)
    return EXIT_USAGE  # pragma: no cover - argparse rejects unknown commands


def _dispatch_reads(args: argparse.Namespace) -> int:
    from bulk_assign import export_app, transfer, verify

    if args.command == "verify":
        return _call(verify.verify_command, args)
    filters = export_app.filters_from(
        owners=getattr(args, "owner", []), stages=args.stage, customers=args.customer,
        modified_since=args.modified_since, ids=args.ids, hidden_rows=args.hidden_rows)
    export = settings_from(export_app.ExportSettings, args, filters=filters)
    if args.command == "export":
        return _call(export_app.export_command, args, settings=export)
    return _call(transfer.transfer_command, args, export=export,
                 run=settings_from(RunSettings, args, input_path=Path()),
                 to=settings_from(Contact, args, email=args.to_email,
                                  business_title=args.title))
