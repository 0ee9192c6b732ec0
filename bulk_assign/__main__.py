"""`python -m bulk_assign` and the `bulk-assign` script.

SIGTERM and SIGHUP interrupt (exit 130, a word, nothing half-written) from the first line of
the tool's own code: importing it (pandas, botocore) takes about half a second, and a signal
in that time would otherwise kill the process silently (exit 143 or 129).
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

from bulk_assign.errors import EXIT_INTERRUPTED


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def entry() -> int:
    """Install the early signal handlers, then import and run the command line."""
    try:
        # Inside the try: a signal landing between the two installs is an interruption too.
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, _interrupt)
        from bulk_assign.cli import main

        return main()
    except KeyboardInterrupt:  # during the imports, before `main` handles it itself
        print("bulk-assign: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    raise SystemExit(entry())
