"""The worker pool: workers pull the next job themselves until there is none or the run stops.

Nothing is queued (s3transfer bounds its queue with a semaphore; pulling does it for free): a
100,000-row file holds no more rows in flight than there are workers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

T = TypeVar("T")


def run_pool(jobs: Iterable[T], work: Callable[[T], None], *, workers: int,
             stopping: Callable[[], bool]) -> list[T]:
    """Run `work(job)` on `workers` threads; return the jobs never started because the run
    stopped. `work` must not raise: a failing job is the caller's outcome, not the pool's."""
    iterator = iter(jobs)
    pull = threading.Lock()

    def next_job() -> tuple[bool, T | None]:
        with pull:
            if stopping():
                return False, None
            for job in iterator:
                return True, job
            return False, None

    def worker() -> None:
        while True:
            found, job = next_job()
            if not found:
                return
            work(job)  # type: ignore[arg-type]

    threads = [threading.Thread(target=worker, name=f"assign-{i}", daemon=True)
               for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.2)  # short waits: the main thread handles Ctrl-C between them
    with pull:
        return list(iterator)
