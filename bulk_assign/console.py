"""What the user sees and does while a run goes on: progress bar, run.log, Ctrl-C."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from tqdm import tqdm

from bulk_assign.errors import EXIT_INTERRUPTED
from bulk_assign.results import RowOutcome, Tally
from bulk_assign.run.guard import RunGuard
from bulk_assign.stops import Stop
from bulk_assign.store.runfolder import RUN_LOG, touch_private

#: Signals that stop a run cleanly: Ctrl-C, `kill`, and a closed terminal or SSH session.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@contextmanager
def run_log(folder: Path) -> Iterator[None]:
    """Send the run's events to run.log (rows by number and Identifier only: no PII)."""
    logger = logging.getLogger("bulk_assign.run")
    touch_private(folder / RUN_LOG)  # FileHandler would create it with the umask's mode
    handler = logging.FileHandler(folder / RUN_LOG, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()


@contextmanager
def progress_bar(total: int, *, quiet: bool) -> Iterator[tqdm[Any]]:
    """rows, writes/s, ETA and ok/failed/throttled counts; silent when quiet or not a terminal."""
    bar: tqdm[Any] = tqdm(
        total=total, unit="row", desc="assign", dynamic_ncols=True,
        disable=quiet or not sys.stderr.isatty(), file=sys.stderr,
    )
    try:
        yield bar
    finally:
        bar.close()


class ProgressListener:
    """Renders a run's progress on the bar: ok/failed/throttled counts and writes/s."""

    def __init__(self, bar: tqdm[Any]) -> None:
        self._bar = bar
        self._show_counts = not bar.disable

    def row_finished(self, outcome: RowOutcome, tally: Tally) -> None:
        with contextlib.suppress(OSError):  # a closed terminal must not stop a worker
            self._render(tally)

    def _render(self, tally: Tally) -> None:
        if self._show_counts:
            rate = tally.calls.write / max(tally.elapsed, 1e-9)
            self._bar.set_postfix_str(
                f"ok={tally.ok} failed={tally.statuses['FAILED']} "
                f"throttled={tally.calls.throttled} writes/s={rate:.2f}", refresh=False)
        self._bar.update(1)

    def pace_changed(self, old: float, new: float) -> None:
        return None  # the writes/s figure on the bar shows it

    def waiting(self, cause: object | None, until: datetime | None) -> None:
        """Writes wait (window, budget, quota): the bar says for what and until when."""
        if cause is None or until is None:
            self._bar.set_description_str("assign", refresh=True)
        else:
            self._bar.set_description_str(
                f"waiting for the {cause} until {until.astimezone():%a %H:%M}", refresh=True)


def stop_advice(stop: Stop, folder: Path) -> str:
    """What the user reads when a run stopped: why, what to do, and the command to go on."""
    return (f"Stopped ({stop.reason}): {stop.sentence()}\n"
            f"Continue with: bulk-assign resume {folder}")


@contextmanager
def precise_scheduling(seconds: float = 0.0005) -> Iterator[None]:
    """Keep the moment a call leaves close to the moment its token was granted.

    The pacer releases one write per interval; with Python's default 5 ms switch interval a
    thread holding the GIL (parsing another answer) can delay the released call by that much,
    and two calls then reach the service closer together than they left, which a burst-1
    quota throttles.
    """
    previous = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    # A full collection walks every object the sheet, pandas and botocore's models created:
    # milliseconds that would fall between a token and its call. Set them aside for the run.
    # Only the young generations are collected before the freeze (about 1 ms): a full
    # collection would also free old cyclic garbage, at 80-150 ms a run, which a process
    # running many runs (the test suite) paid every time.
    gc.collect(1)
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        sys.setswitchinterval(previous)


@contextmanager
def stop_on_signals(guard: RunGuard, *, stdout: TextIO) -> Iterator[None]:
    """First Ctrl-C / SIGTERM / SIGHUP (a closed terminal or SSH session): stop dispatching,
    finish calls in flight, write everything. Second: leave at once (the journal already holds
    every finished row).

    The handler runs in the main thread, which may be inside any lock at that moment (the
    guard's, logging's, stdout's): it only records the stop (`RunGuard.interrupted` takes no
    lock) and queues the notice; a helper thread prints it and logs the stop."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    count = 0
    notices: queue.SimpleQueue[str | None] = queue.SimpleQueue()  # put() is reentrant

    def handle(signum: int, frame: FrameType | None) -> None:
        nonlocal count
        count += 1
        if count > 1:
            os._exit(EXIT_INTERRUPTED)
        name = signal.Signals(signum).name
        guard.interrupted(name)
        notices.put(name)

    def tell() -> None:
        while (name := notices.get()) is not None:
            with contextlib.suppress(OSError, ValueError):  # the terminal may be gone (SIGHUP)
                print(f"\n{name}: stopping after the calls in flight (again to quit at "
                      "once)...", file=stdout, flush=True)
            guard.announce()

    teller = threading.Thread(target=tell, name="signal-notices", daemon=True)
    teller.start()
    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
        notices.put(None)
        teller.join(timeout=1.0)


@contextmanager
def interrupt_on_signals(pending: Callable[[], str | None] = lambda: None) -> Iterator[None]:
    """Outside a run, Ctrl-C, SIGTERM and SIGHUP interrupt (exit 130 with a word, nothing
    half-written) instead of killing the process silently; a run installs its own handler.
    `pending`: a signal noted before (during the imports), which interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handle) for sig in STOP_SIGNALS}
    try:
        noted = pending()
        if noted is not None:
            raise KeyboardInterrupt(noted)
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
