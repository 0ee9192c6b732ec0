"""Latency and injected faults drawn from one seeded generator, so a run repeats."""

from __future__ import annotations

import random
import threading
from typing import Literal

from bulk_assign.emulator.config import EmulatorConfig

Fault = Literal["error", "reset", "slow"]


class Chaos:
    """Draws (latency seconds, fault or None) per call; thread-safe.

    Every call consumes exactly two numbers whatever the settings, so the fault sequence
    for a given ``random_seed`` does not shift when latency is switched on or off.

    >>> chaos = Chaos(EmulatorConfig(error_rate=1.0))
    >>> chaos.draw(EmulatorConfig(error_rate=1.0))
    (0.0, 'error')
    """

    def __init__(self, config: EmulatorConfig) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(config.random_seed)

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def draw(self, config: EmulatorConfig) -> tuple[float, Fault | None]:
        with self._lock:
            u_latency = self._rng.random()
            u_fault = self._rng.random()
        latency_ms = config.latency_ms + (2.0 * u_latency - 1.0) * config.jitter_ms
        fault: Fault | None = None
        if u_fault < config.error_rate:
            fault = "error"
        elif u_fault < config.error_rate + config.reset_rate:
            fault = "reset"
        elif u_fault < config.error_rate + config.reset_rate + config.slow_rate:
            fault = "slow"
        return max(0.0, latency_ms) / 1000.0, fault
