"""One frozen settings object for a run, validated once, passed down instead of loose kwargs."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Final

#: The catalogs the API accepts (the model only says `[a-zA-Z]+`).
CATALOGS: Final = ("AWS", "Sandbox")
DEFAULT_MAX_TPS: Final = 1.0
DEFAULT_MAX_ATTEMPTS: Final = 8
#: The documented AssignOpportunity quota: writes per rolling 24 h per partner account.
DAILY_WRITE_QUOTA: Final = 10_000
#: The most writes a run (with its resumes) sends in any rolling 24 h: leaves 2,000 to others.
DEFAULT_DAILY_BUDGET: Final = 8_000
#: A guess at one call's round trip to AWS, used only to size the default worker pool.
ASSUMED_CALL_SECONDS: Final = 0.5
#: `--format` values; None (the default) means "xlsx too when the input is an Excel file".
OUTPUT_FORMATS: Final = ("csv", "xlsx")


@dataclass(frozen=True)
class RunSettings:
    """Everything a run needs to know, recorded in run.json so that resume repeats it."""

    input_path: Path
    catalog: str
    sheet: str | None = None
    out_dir: Path | None = None
    #: A BusinessTitle column may send titles other than PartnerAccountManager.
    allow_other_titles: bool = False
    dry_run: bool = False
    max_tps: float = DEFAULT_MAX_TPS
    read_tps: float = 10.0
    workers: int | None = None
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    quota_wait_seconds: float = 600.0
    access_denied_limit: int = 3
    profile: str | None = None
    region: str = "us-east-1"
    endpoint_url: str | None = None
    #: No call answered for this long (and several failed): the service is out (an outage).
    outage_seconds: float = 15.0
    #: Read each opportunity before writing it (`--no-snapshot` turns it off).
    pre_read: bool = True
    #: "csv" or "xlsx"; None: results.xlsx too when the input is an Excel file.
    output_format: str | None = None
    #: Rows hidden in Excel: None refuses the run, "send" sends them too, "skip" leaves them out.
    hidden_rows: str | None = None
    #: Sharing the account's quota (sharing.py, budget.py): the account's write quota per
    #: second, how far back the look-back reads, the share taken (None: leave others theirs).
    account_tps: float = DEFAULT_MAX_TPS
    lookback_seconds: float = 3600.0
    share: float | None = None
    daily_budget: int = DEFAULT_DAILY_BUDGET
    #: Local "HH:MM-HH:MM" in which writes may leave (None: any time).
    window: str | None = None
    #: Wait (instead of stopping) while the budget, the daily quota or an outage holds writes.
    wait: bool = False
    #: Write rows whose owner changed since the sheet was made (owners.py) instead of
    #: leaving them SKIPPED / OwnerChanged.
    overwrite_changed: bool = False
    #: A preview folder (`bulk-assign preview`): the owners it read are the rows' expected owners.
    from_preview: str | None = None

    def __post_init__(self) -> None:
        if self.catalog not in CATALOGS:
            raise ValueError(f"catalog must be one of {CATALOGS}, not {self.catalog!r}")
        for name in ("max_tps", "read_tps", "connect_timeout", "read_timeout",
                     "quota_wait_seconds", "outage_seconds", "account_tps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be greater than 0, not {getattr(self, name)}")
        if self.share is not None and not 0 < self.share <= 1:
            raise ValueError(f"share must be above 0 and at most 1, not {self.share}")
        if self.lookback_seconds < 0:
            raise ValueError(f"lookback_seconds must be 0 or more, not {self.lookback_seconds}")
        for name in ("max_attempts", "access_denied_limit", "daily_budget"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be 1 or more, not {getattr(self, name)}")
        if self.output_format is not None and self.output_format not in OUTPUT_FORMATS:
            raise ValueError(f"output_format must be csv or xlsx, not {self.output_format!r}")
        if self.hidden_rows not in (None, "send", "skip"):
            raise ValueError(f"hidden_rows must be 'send' or 'skip', not {self.hidden_rows!r}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be 1 or more, not {self.workers}")

    @property
    def worker_count(self) -> int:
        """Enough concurrent calls to keep the write pace while reads and retries are waiting.

        At Q writes/s with calls taking L seconds, about Q*L writes are in flight; pre-reads and
        backoffs need as many again, plus a margin.
        """
        if self.workers is not None:
            return self.workers
        return max(4, min(64, math.ceil(2 * self.max_tps * ASSUMED_CALL_SECONDS) + 4))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["input_path"] = str(self.input_path)
        data["out_dir"] = str(self.out_dir) if self.out_dir else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSettings:
        data = dict(data)
        if "snapshot" in data:  # run.json written before 0.2
            data.setdefault("pre_read", data.pop("snapshot"))
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["input_path"] = Path(known["input_path"])
        if known.get("out_dir"):
            known["out_dir"] = Path(known["out_dir"])
        return cls(**known)

    def replace(self, **changes: Any) -> RunSettings:
        """A copy with `changes`, validated like a new object."""
        return replace(self, **changes)


def default(name: str) -> Any:
    """A RunSettings field's default: the one home of each option's default (`--help` shows it).

    >>> default("max_attempts")
    8
    """
    return RunSettings.__dataclass_fields__[name].default
