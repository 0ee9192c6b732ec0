"""The emulator's settings: one frozen object, validated once."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

DEFAULT_PORT = 8765
DEFAULT_ACCESS_KEY = "test"
DEFAULT_SECRET_KEY = "test"


def _default_credentials() -> Mapping[str, str]:
    return MappingProxyType({DEFAULT_ACCESS_KEY: DEFAULT_SECRET_KEY})


@dataclass(frozen=True)
class EmulatorConfig:
    """How the emulator behaves: port, credentials, quotas, latency and faults.

    Rates are calls per second, ``None`` disables that bucket; fault rates are fractions
    of the calls that passed authentication and quota.

    >>> EmulatorConfig(write_rate=20, write_burst=5).write_rate
    20
    """

    port: int = 0
    credentials: Mapping[str, str] = field(default_factory=_default_credentials)
    quotas: bool = True
    write_rate: float | None = 1.0
    write_burst: int = 1
    read_rate: float | None = 10.0
    read_burst: int = 10
    write_daily_cap: int | None = None
    read_daily_cap: int | None = None
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    reset_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    random_seed: int | None = 0
    reject_credentials_after: int | None = None
    # Injected so quota tests can drive time by hand; not part of equality.
    clock: Callable[[], float] = field(default=time.monotonic, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535, got {self.port}")
        if not self.credentials:
            raise ValueError("credentials must hold at least one access key")
        # A read-only copy, so a caller's dict cannot change a running emulator.
        object.__setattr__(self, "credentials", MappingProxyType(dict(self.credentials)))
        for name in ("write_rate", "read_rate"):
            rate = getattr(self, name)
            if rate is not None and rate <= 0:
                raise ValueError(f"{name} must be > 0 calls/s (or None to disable), got {rate}")
        for name in ("write_burst", "read_burst"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("write_daily_cap", "read_daily_cap", "reject_credentials_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be >= 0 (or None), got {value}")
        for name in ("latency_ms", "jitter_ms", "slow_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.jitter_ms > self.latency_ms:
            raise ValueError(
                f"jitter_ms ({self.jitter_ms}) must not exceed latency_ms ({self.latency_ms}):"
                " latency is drawn uniformly from mean-jitter to mean+jitter"
            )
        for name in ("error_rate", "reset_rate", "slow_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a fraction in [0, 1], got {getattr(self, name)}")
        total = self.error_rate + self.reset_rate + self.slow_rate
        if total > 1.0 + 1e-9:
            raise ValueError(f"error_rate + reset_rate + slow_rate must be <= 1, got {total:g}")

    def replace(self, **changes: Any) -> EmulatorConfig:
        """A copy with ``changes`` applied, validated again; unknown names raise ValueError."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"unknown emulator setting(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def public(self) -> dict[str, Any]:
        """The settings as JSON-ready data, secrets left out."""
        data = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("credentials", "clock")
        }
        data["access_keys"] = sorted(self.credentials)
        return data
