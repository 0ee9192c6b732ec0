"""The paced write a thread is making, where botocore's pacing hooks find it.

botocore runs the `before-sign` and `before-send` hooks on the thread that called the client
(api/client.py `paced` says where in botocore), so a thread-local is how a hook finds its call:
the journal line and budget place to take the moment the write is sure to leave, the row's
previous departure (which may hold a grant to go again at once), and the departure the bucket
hands out for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bulk_assign.quota.bucket import Departure


@dataclass
class Flight:
    """One paced write as its thread makes it: what must happen the moment it is sure to leave,
    the row's previous departure (which may hold a grant to go again at once), and the
    departure the pacing hook records for it."""

    action: Callable[[], None] | None
    after: Departure | None = None
    departure: Departure | None = None


class Outgoing:
    """Per thread, the paced write this thread is making (a write's journal line and its place
    in the budget, and its departure: assigner.py). The caller opens a `Flight` around the
    call; the pacing hooks, which botocore runs on that same thread (see `paced`), find it
    here: `after` for the reservation, `leaving` once, just before the call's last wait for
    its slot, and `departed` with the departure the bucket handed out."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextmanager
    def on_leaving(self, action: Callable[[], None], *,
                   after: Departure | None = None) -> Iterator[Flight]:
        flight = Flight(action, after)
        self._local.flight = flight
        try:
            yield flight
        finally:
            self._local.flight = None

    def _flight(self) -> Flight | None:
        flight: Flight | None = getattr(self._local, "flight", None)
        return flight

    def after(self) -> Departure | None:
        """The previous departure of the write this thread is making, if any."""
        flight = self._flight()
        return None if flight is None else flight.after

    def leaving(self) -> None:
        flight = self._flight()
        if flight is not None and flight.action is not None:
            action, flight.action = flight.action, None  # once per call
            action()

    def departed(self, departure: Departure) -> None:
        flight = self._flight()
        if flight is not None:
            flight.departure = departure
