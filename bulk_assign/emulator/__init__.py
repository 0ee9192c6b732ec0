"""A local Partner Central Selling API (AWS JSON 1.0 over HTTP) for demos, tests and benchmarks.

>>> from bulk_assign.emulator import Emulator, EmulatorConfig, generate_seed
>>> with Emulator(EmulatorConfig(), seed=generate_seed(10)) as emu:
...     emu.url.startswith("http://127.0.0.1:")
True
"""

from bulk_assign.emulator.config import EmulatorConfig
from bulk_assign.emulator.seed import DEFAULT_SEED_PATH, generate_seed, load_seed, synthetic_users
from bulk_assign.emulator.server import Emulator

__all__ = [
    "DEFAULT_SEED_PATH",
    "Emulator",
    "EmulatorConfig",
    "generate_seed",
    "load_seed",
    "synthetic_users",
]
