"""The command line: parse arguments, call the core, map the outcome to an exit code."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import logging
import operator
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final, TypeVar

from bulk_assign.cli_parser import build_parser
from bulk_assign.commands import export as export_cmd
from bulk_assign.commands import preview as preview_cmd
from bulk_assign.commands import resume as resume_cmd
from bulk_assign.commands import run as run_cmd
from bulk_assign.commands import status as status_cmd
from bulk_assign.commands import transfer as transfer_cmd
from bulk_assign.commands import validate as validate_cmd
from bulk_assign.commands import verify as verify_cmd
from bulk_assign.console import interrupt_on_signals
from bulk_assign.emulator import cli as emulator_cli
from bulk_assign.errors import EXIT_INTERRUPTED, EXIT_USAGE, BulkAssignError, UsageError
from bulk_assign.results import Contact
from bulk_assign.settings import RunSettings
from bulk_assign.sheet import template

T = TypeVar("T")


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
        return _call(validate_cmd.validate_command, args)
    if args.command == "template":
        path = _call(template.write_template, args)
        print(f"Wrote {path}: fill one row per opportunity, then "
              f"`bulk-assign validate {path}`.")
        return 0
    if args.command == "run":
        return _call(run_cmd.run_command, args, settings=settings_from(RunSettings, args))
    if args.command == "resume":
        return _call(resume_cmd.resume_command, args)
    if args.command == "status":
        return _call(status_cmd.status_command, args, stdout=sys.stdout)
    if args.command == "preview":
        return _call(preview_cmd.preview_command, args, settings=settings_from(RunSettings, args))
    if args.command in ("export", "transfer", "verify"):
        return _dispatch_reads(args)
    if args.command == "emulator":
        return emulator_cli.run(args)
    return EXIT_USAGE  # pragma: no cover - argparse rejects unknown commands


def _dispatch_reads(args: argparse.Namespace) -> int:
    if args.command == "verify":
        return _call(verify_cmd.verify_command, args)
    filters = export_cmd.filters_from(
        owners=getattr(args, "owner", []), stages=args.stage, customers=args.customer,
        modified_since=args.modified_since, ids=args.ids, hidden_rows=args.hidden_rows)
    export = settings_from(export_cmd.ExportSettings, args, filters=filters)
    if args.command == "export":
        return _call(export_cmd.export_command, args, settings=export)
    return _call(transfer_cmd.transfer_command, args, export=export,
                 run=settings_from(RunSettings, args, input_path=Path()),
                 to=settings_from(Contact, args, email=args.to_email,
                                  business_title=args.title))
