"""`python -m bulk_assign` and the `bulk-assign` script.

Ctrl-C, SIGTERM and SIGHUP interrupt (exit 130, a word, nothing half-written) from the first
line of the tool's own code. Importing it (pandas, botocore, openpyxl) takes about half a
second, and in that time a signal is only noted, then acted on once `cli.main` is ready:
raised as a KeyboardInterrupt inside an import, it can be swallowed by a C extension's
initialisation (lxml's: the run then went on as if never stopped), and one raised through a
dataclass's generated methods makes CPython end a `python -m` process with SIGINT (exit -2)
however it was handled. Left alone, SIGTERM and SIGHUP would kill the process silently.
"""

from __future__ import annotations

import signal
from types import FrameType

#: The signals that stop the tool, and those noted during the imports.
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
_noted: list[str] = []


def _note(signum: int, frame: FrameType | None) -> None:
    _noted.append(signal.Signals(signum).name)


def _first_noted() -> str | None:
    return _noted[0] if _noted else None


def entry() -> int:
    """Note stop signals, import, then run the command line, which acts on any noted."""
    for sig in _STOP_SIGNALS:
        signal.signal(sig, _note)
    from bulk_assign.cli import main

    return main(pending=_first_noted)


if __name__ == "__main__":
    raise SystemExit(entry())
