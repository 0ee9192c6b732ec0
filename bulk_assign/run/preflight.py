"""Before the first row: can the service be reached, and is it the one the plan was made for?

The first row's read says whether the endpoint can be reached at all: when it cannot (after a
few quick attempts), the run stops before any row is touched.

The first few rows' opportunities are read (read bucket, the same pre-read every row gets).
When none of them exists there, the run is talking to the wrong endpoint, region or catalog
(a resume in a shell without the run's endpoint variable, say): it stops before any row is
marked final, instead of turning every row into a final ResourceNotFoundException.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from bulk_assign.api.retry import error_code
from bulk_assign.results import NOT_FOUND, Job
from bulk_assign.run.outage import is_outage_failure
from bulk_assign.stops import RunStopping, Stop, StopReason

#: How many rows the probe reads at most, and how many attempts each read gets.
PROBE_ROWS: Final = 3
PROBE_ATTEMPTS: Final = 3


def probe(read: Callable[[Job], object], jobs: Sequence[Job], *, endpoint: str,
          catalog: str, unreachable: Callable[[BaseException], Stop | None]) -> Stop | None:
    """Read `jobs` until one opportunity is found; a Stop when none of them exists, or
    `unreachable(exc)` when the service cannot be reached at all.

    Any other failure is left to the rows themselves (the guard already stops the run for
    rejected credentials).
    """
    for job in jobs:
        try:
            read(job)
        except RunStopping:
            raise
        except Exception as exc:
            if error_code(exc) == NOT_FOUND:
                continue
            if is_outage_failure(exc):
                return unreachable(exc)
        return None
    if not jobs:
        return None
    return Stop(
        StopReason.ABORTED,
        f"none of the first {len(jobs)} opportunities was found at {endpoint} (catalog "
        f"{catalog}): this looks like the wrong endpoint, region or catalog",
        "Check --endpoint-url, --region and --catalog (resume takes --endpoint-url and "
        "--profile), or the identifiers; no row was marked final and nothing was changed",
    )
