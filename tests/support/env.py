"""The AWS environment of a test: the emulator's keys, never the machine's own AWS set-up."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: The repository (the folder holding bulk_assign/), the working folder of subprocesses.
ROOT = Path(__file__).resolve().parents[2]
KEY, SECRET = "test", "test"


def isolated_aws_env(
    base: dict[str, str], scratch: Path, *, secret: str = SECRET
) -> dict[str, str]:
    """`base` without any AWS_* variable, plus the emulator's keys and unreadable config files."""
    env = {k: v for k, v in base.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_CONFIG_FILE": str(scratch / "no-such-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "no-such-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    })
    return env


def tool_env(scratch: Path, *, key: str = KEY, secret: str = SECRET) -> dict[str, str]:
    """The environment of a `python -m bulk_assign` subprocess: only the given keys, and this
    checkout importable whatever the subprocess's working folder."""
    env = isolated_aws_env(dict(os.environ), scratch, secret=secret)
    env["AWS_ACCESS_KEY_ID"] = key
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


def isolate_aws_env(monkeypatch: pytest.MonkeyPatch, scratch: Path) -> None:
    """In-process runs see only the emulator's keys, never the machine's AWS set-up."""
    for name in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(name)
    for name, value in isolated_aws_env({}, scratch).items():
        monkeypatch.setenv(name, value)
