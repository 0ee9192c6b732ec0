"""The command line's grammar: every command, its options, their help and defaults (each
default from its one home, `settings.default`).
Over 400 lines on purpose: one declarative table, mostly help text, read like `--help`; the
option groups commands share are written once here, and tests/test_cli_options.py walks it."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import TypeAlias

from bulk_assign import __version__
from bulk_assign import cli_values as values
from bulk_assign.check.rules import OWNER_TITLE
from bulk_assign.emulator import cli as emulator_cli
from bulk_assign.settings import OUTPUT_FORMATS, default

_EPILOG_MAIN = """\
commands in the order you use them:
  template   write an empty input file with the right headers
  validate   check a sheet offline and write results.csv / failed.csv
  preview    read every row's owner today: the sign-off sheet (MOVE / ALREADY / CHANGED ...)
  run        reassign every valid row in Partner Central (paced, resumable)
  resume     finish a run that was interrupted, aborted or partly failed
  export     who owns what today, as a sheet `run` takes as it stands
  transfer   everything of one owner to another, as a run
  verify     re-read what a run changed: MATCH / DRIFTED / NOT_FOUND / UNREADABLE / NOT_SENT
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


def _add_input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", type=Path, metavar="INPUT", help="the .csv, .txt, .tsv, "
                        ".xlsx or .xlsm realignment sheet")
    parser.add_argument("--sheet", metavar="S", help="Excel sheet name, or its position from 1 "
                        "(default: the first visible sheet)")
    parser.add_argument("--out", type=values.file, metavar="DIR", help="folder for the run's files "
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
    validate.add_argument("--catalog", type=values.catalog, metavar="{AWS,Sandbox}",
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
    preview.add_argument("--catalog", type=values.catalog, required=True, metavar="{AWS,Sandbox}")
    preview.add_argument("--sheet", metavar="S", help="Excel sheet name, or its position from 1")
    preview.add_argument("--out", type=values.file, metavar="DIR",
                         help="the preview folder (default: "
                         "runs/<input name>-preview/, where the same command continues)")
    preview.add_argument("--allow-other-titles", action="store_true",
                         help="as for run")
    preview.add_argument("--hidden-rows", choices=("send", "skip"), help="as for run")
    preview.add_argument("--read-tps", type=values.positive_float, default=default("read_tps"),
                         metavar="R", help="GetOpportunity calls per second (default "
                         "%(default)s)")
    preview.add_argument("--max-tps", type=values.positive_float, default=default("max_tps"),
                         metavar="Q", help="the run's write pace, for the duration shown "
                         "(default %(default)s)")
    preview.add_argument("--daily-budget", type=values.positive_int,
                         default=default("daily_budget"),
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
    run.add_argument("--catalog", type=values.catalog, required=True, metavar="{AWS,Sandbox}",
                     help="AWS is production and asks for confirmation; Sandbox is for trials")
    run.add_argument("--dry-run", action="store_true",
                     help="validate and plan, write nothing: rows get DRY_RUN (one read checks "
                     "that the service can be reached and holds the first opportunities)")
    _add_pacing_options(run)
    run.add_argument("--profile", metavar="P", help="AWS profile (default: the standard chain)")
    run.add_argument("--region", type=values.region, default=default("region"),
                     help="AWS region of the API (default %(default)s)")
    run.add_argument("--endpoint-url", type=values.url, metavar="URL",
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
    run.add_argument("--max-tps", type=values.positive_float, default=default("max_tps"),
                     metavar="Q",
                     help="AssignOpportunity calls per second (default %(default)s: the "
                     "account's quota is 1/s, shared with CRM integrations)")
    run.add_argument("--read-tps", type=values.positive_float, default=default("read_tps"),
                     metavar="R",
                     help="GetOpportunity calls per second for the pre-read (default "
                     "%(default)s)")
    run.add_argument("--workers", type=values.positive_int, metavar="N",
                     help="concurrent calls (default: enough to keep the pace)")
    run.add_argument("--max-attempts", type=values.positive_int, default=default("max_attempts"),
                     metavar="N", help="attempts per row for throttling, 5xx and network errors "
                     "(default %(default)s)")
    run.add_argument("--timeout", type=values.seconds, default=default("read_timeout"),
                     metavar="SECONDS", help="read timeout per call (default %(default)s)")
    _add_sharing_options(run)
    run.add_argument("--quota-wait", type=values.positive_float,
                     default=default("quota_wait_seconds") / 60, metavar="MINUTES",
                     help="stop (QuotaExhausted) after this long throttled without one "
                     "success (default %(default)g)")


def _add_sharing_options(run: argparse.ArgumentParser) -> None:
    run.add_argument("--share", type=values.share, metavar="F",
                     help="take this share of the account's write quota (0-1] whatever its "
                     "other writers (CRM integrations) do (default: leave them what the "
                     "look-back saw them use, and less when throttles show them)")
    run.add_argument("--lookback", type=values.minutes, default=default("lookback_seconds") / 60,
                     metavar="MINUTES", help="how far back to look for the account's other "
                     "writes before the run (default %(default)g); their rate is measured from "
                     "their recent writes, and again during the run (0: do not look)")
    run.add_argument("--account-tps", type=values.positive_float, default=default("account_tps"),
                     metavar="Q", help="the account's write quota per second (default "
                     "%(default)s, the documented one)")
    run.add_argument("--daily-budget", type=values.positive_int, default=default("daily_budget"),
                     metavar="N", help="the most writes this run and its resumes send in any "
                     "rolling 24 h (default %(default)s of the account's 10,000)")
    run.add_argument("--window", type=values.window, metavar="HH:MM-HH:MM",
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
    resume.add_argument("--endpoint-url", type=values.url, metavar="URL",
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
    parser.add_argument("--region", type=values.region, default=default("region"),
                        help="AWS region of the API (default %(default)s)")
    parser.add_argument("--endpoint-url", type=values.url, metavar="URL",
                        help="API endpoint (default: AWS, or "
                        "$AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING)")


def _add_export_filters(parser: argparse.ArgumentParser, *, owner: bool) -> None:
    if owner:
        parser.add_argument("--owner", action="append", default=[], type=values.email,
                            metavar="EMAIL",
                            help="only opportunities this person owns now (repeatable; "
                            "matched after the read)")
    parser.add_argument("--stage", action="append", default=[], type=values.text, metavar="S",
                        help="only this LifeCycleStage, e.g. Prospect, Qualified, 'Closed "
                        "Lost' (repeatable)")
    parser.add_argument("--customer", action="append", default=[], type=values.text,
                        metavar="NAME",
                        help="only this customer company name, exact, any case (repeatable)")
    parser.add_argument("--modified-since", type=values.text, metavar="DATE",
                        help="only opportunities modified on or after DATE (2026-07-01, UTC)")
    parser.add_argument("--ids", type=values.file, metavar="FILE",
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
        "exit codes: 0 complete, 1 some opportunities unreadable or an --ids one not found, "
        "2 usage, 3 aborted "
        "(credentials, read quota), 130 interrupted (not complete in every case but 0)",
    )
    export.add_argument("--catalog", type=values.catalog, required=True, metavar="{AWS,Sandbox}")
    export.add_argument("--out", type=values.file, required=True, metavar="FILE",
                        help="the .csv or .xlsx file to write (when complete)")
    _add_export_filters(export, owner=True)
    _add_connection_options(export)
    export.add_argument("--force", action="store_true",
                        help="replace --out when it exists (by default an existing file, "
                        "perhaps edited since, is never overwritten)")
    export.add_argument("--quota-wait", type=values.positive_float,
                        default=default("quota_wait_seconds") / 60, metavar="MINUTES",
                        help="stop (QuotaExhausted) after this long with reads throttled "
                        "without one going through (default %(default)g)")
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
    transfer.add_argument("--catalog", type=values.catalog, required=True, metavar="{AWS,Sandbox}")
    transfer.add_argument("--from", dest="from_email", type=values.email, required=True,
                          metavar="EMAIL", help="the current owner")
    transfer.add_argument("--to", dest="to_email", type=values.email, required=True,
                          metavar="EMAIL",
                          help="the new owner")
    transfer.add_argument("--first-name", type=values.name, required=True, metavar="F")
    transfer.add_argument("--last-name", type=values.name, required=True, metavar="L")
    transfer.add_argument("--title", type=values.text, default=OWNER_TITLE, metavar="T",
                          help="the BusinessTitle sent (default %(default)s, the API's value "
                          "for the owner; any other title would not change the owner, so those "
                          "rows come out INVALID)")
    transfer.add_argument("--phone", type=values.phone, default="", metavar="P",
                          help="the new owner's phone")
    transfer.add_argument("--out", type=values.file, metavar="DIR", help="the run folder (default: "
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
        "--all the UNCHANGED ones too) and write verify.csv into the run folder: row, "
        "Identifier, intended assignee, owner now, verdict MATCH / DRIFTED / NOT_FOUND / "
        "UNREADABLE / NOT_SENT (a row the run never sent: not read), the run's status and the "
        "error class; verify.xlsx too where the run writes results.xlsx. Needs only the run "
        "folder, not the input sheet. Only a complete verify replaces verify.csv; interrupted, "
        "the same command continues."),
        epilog="example:\n  bulk-assign verify runs/realignment-20261128T101500\n\n"
        "exit codes: 0 every row the run meant to change MATCHes, 1 otherwise, 2 usage or "
        "nothing to verify (a dry run), 3 aborted (service out of reach, wrong endpoint, "
        "credentials, read quota), 130 interrupted",
    )
    verify.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="the run folder")
    verify.add_argument("--all", action="store_true", dest="all_rows",
                        help="every valid row of the input, not only those the run changed")
    verify.add_argument("--profile", metavar="P", help="AWS profile (default: the run's)")
    verify.add_argument("--endpoint-url", type=values.url, metavar="URL",
                        help="API endpoint (default: the run's)")
    verify.add_argument("--quota-wait", type=values.positive_float, metavar="MINUTES",
                        help="stop (QuotaExhausted) after this long with reads throttled "
                        "without one going through (default: the run's)")
    verify.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_emulator(commands: _Commands) -> None:
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
