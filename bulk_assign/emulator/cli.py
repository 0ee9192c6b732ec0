"""`bulk-assign emulator`: argparse options and the foreground runner."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Mapping
from types import FrameType
from typing import Any

from bulk_assign.emulator.config import (
    DEFAULT_ACCESS_KEY,
    DEFAULT_PORT,
    DEFAULT_SECRET_KEY,
    EmulatorConfig,
)
from bulk_assign.emulator.seed import DEFAULT_SEED_PATH, generate_seed, load_seed
from bulk_assign.emulator.server import Emulator


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the emulator's options to ``parser``."""
    _add_serving(parser)
    _add_quotas(parser)
    _add_faults(parser)
    _add_credentials(parser)


def _add_serving(parser: argparse.ArgumentParser) -> None:
    serve = parser.add_argument_group("serving")
    serve.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"TCP port on 127.0.0.1 (default {DEFAULT_PORT}; 0 picks a free port)",
    )
    data = serve.add_mutually_exclusive_group()
    data.add_argument(
        "--seed",
        metavar="FILE",
        help=f"seed JSON file (default: the demo seed {DEFAULT_SEED_PATH.name} in samples/)",
    )
    data.add_argument(
        "--generate",
        type=int,
        metavar="N",
        help=(
            "serve N synthetic Sandbox opportunities O1000000.. (opportunity i owned by "
            "user{i%%50}@example.com; stages, customers and dates varied)"
        ),
    )
    serve.add_argument("--quiet", action="store_true", help="print only the listening line")


def _add_quotas(parser: argparse.ArgumentParser) -> None:
    quotas = parser.add_argument_group("quotas (token buckets, calls per second)")
    quotas.add_argument("--write-rate", type=float, default=1.0, help="AssignOpportunity rate (1)")
    quotas.add_argument(
        "--write-burst",
        type=int,
        default=1,
        help="write bucket size (1; the rate's value gives a burst of 1 s of quota)",
    )
    quotas.add_argument("--read-rate", type=float, default=10.0, help="Get/List rate (10)")
    quotas.add_argument("--read-burst", type=int, default=10, help="read bucket size (10)")
    quotas.add_argument(
        "--write-daily-cap", type=int, help="max accepted writes per rolling 24 h (no cap)"
    )
    quotas.add_argument(
        "--read-daily-cap", type=int, help="max accepted reads per rolling 24 h (no cap)"
    )
    quotas.add_argument("--no-quotas", action="store_true", help="never throttle")


def _add_faults(parser: argparse.ArgumentParser) -> None:
    faults = parser.add_argument_group("latency and faults (seeded, repeatable)")
    faults.add_argument("--latency-ms", type=float, default=0.0, help="mean added latency (0)")
    faults.add_argument(
        "--jitter-ms", type=float, default=0.0, help="latency spread: uniform mean +/- jitter (0)"
    )
    faults.add_argument(
        "--error-rate", type=float, default=0.0, help="fraction answered 500, not applied (0)"
    )
    faults.add_argument(
        "--reset-rate",
        type=float,
        default=0.0,
        help="fraction applied, then the connection is dropped unanswered (0)",
    )
    faults.add_argument(
        "--slow-rate", type=float, default=0.0, help="fraction answered --slow-seconds late (0)"
    )
    faults.add_argument("--slow-seconds", type=float, default=0.0, help="extra delay (0)")
    faults.add_argument("--random-seed", type=int, default=0, help="fault/latency seed (0)")


def _add_credentials(parser: argparse.ArgumentParser) -> None:
    auth = parser.add_argument_group("credentials (SigV4 is checked)")
    auth.add_argument(
        "--access-key", default=DEFAULT_ACCESS_KEY, help=f"accepted key id ({DEFAULT_ACCESS_KEY})"
    )
    auth.add_argument(
        "--secret-key", default=DEFAULT_SECRET_KEY, help=f"its secret ({DEFAULT_SECRET_KEY})"
    )
    auth.add_argument(
        "--reject-credentials-after",
        type=int,
        metavar="N",
        help="after N accepted calls answer 403 ExpiredTokenException (simulates expiry)",
    )


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """The EmulatorConfig the options describe (ValueError if they are inconsistent)."""
    return EmulatorConfig(
        port=args.port,
        credentials={args.access_key: args.secret_key},
        quotas=not args.no_quotas,
        write_rate=args.write_rate,
        write_burst=args.write_burst,
        read_rate=args.read_rate,
        read_burst=args.read_burst,
        write_daily_cap=args.write_daily_cap,
        read_daily_cap=args.read_daily_cap,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        error_rate=args.error_rate,
        reset_rate=args.reset_rate,
        slow_rate=args.slow_rate,
        slow_seconds=args.slow_seconds,
        random_seed=args.random_seed,
        reject_credentials_after=args.reject_credentials_after,
    )


def run(args: argparse.Namespace) -> int:
    """Serve in the foreground until Ctrl-C or SIGTERM; 0 on a clean stop, 2 on bad options."""
    try:
        config = config_from_args(args)
        seed = generate_seed(args.generate) if args.generate is not None else load_seed(args.seed)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # The quota is judged on arrival times; the default 5 ms GIL switch interval would let a
    # busy handler thread delay another request's arrival by milliseconds, which AWS's front
    # door does not do.
    sys.setswitchinterval(0.0005)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    # Ctrl-C and SIGTERM only set the event: a KeyboardInterrupt could land between any two
    # bytecodes of the main thread (inside a lock's `with`, say) and leave the stop half done.
    previous = {signum: signal.signal(signum, on_signal)
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        emulator = Emulator(config, seed=seed).start()
    except OSError as exc:
        _restore(previous)
        print(f"error: cannot listen on 127.0.0.1:{config.port}: {exc.strerror}", file=sys.stderr)
        return 2
    try:
        print(f"Partner Central emulator listening on {emulator.url}", flush=True)
        if not args.quiet:
            print(_describe(config), flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
        _restore(previous)
    return 0


def _restore(previous: Mapping[signal.Signals, Any]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _describe(config: EmulatorConfig) -> str:
    if not config.quotas:
        quota = "quotas off"
    else:
        quota = (
            f"quotas write {config.write_rate}/s burst {config.write_burst}, "
            f"read {config.read_rate}/s burst {config.read_burst}"
        )
    keys = ", ".join(sorted(config.credentials))
    return (
        f"{quota}; SigV4 access key {keys} (region any); "
        "state at /_emulator/state; Ctrl-C to stop"
    )


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point: ``python -m bulk_assign.emulator``."""
    parser = argparse.ArgumentParser(
        prog="python -m bulk_assign.emulator",
        description="Local Partner Central Selling API (AWS JSON 1.0) for demos and tests.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))
