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
             stopping: Callable[[], bool],
             failed: Callable[[T, Exception], None] | None = None) -> list[T]:
    """Run `work(job)` on `workers` threads; return the jobs never started because the run
    stopped. A failing job is the caller's outcome, not the pool's: `work` turns what it
    expects into one, and an exception it did not expect goes to `failed(job, exc)` (s3transfer's
    Task.__call__), so the worker goes on with the next job. Without `failed` the exception
    ends the worker (threading's excepthook prints it), as before."""
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
            try:
                work(job)  # type: ignore[arg-type]
            except Exception as exc:  # a bug met on one row must not end the others
                if failed is None:
                    raise
                failed(job, exc)  # type: ignore[arg-type]

    threads = [threading.Thread(target=worker, name=f"assign-{i}", daemon=True)
               for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.2)  # short waits: the main thread handles Ctrl-C between them
    with pull:
        return list(iterator)
