"""The AWS CLI (its own botocore) talks to the emulator with --endpoint-url.

The dev install brings the CLI (the `awscli` package in the dev extra), so this test runs
everywhere the suite does: a missing CLI is a broken set-up, not a reason to skip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bulk_assign.emulator import Emulator


def aws_executable() -> str:
    """The `aws` of this environment (beside its python) first, else the one on PATH."""
    found = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
    if found is None:
        pytest.fail("the AWS CLI is missing: `make install` (or pip install -e '.[dev]') "
                    "installs it with the dev tools")
    return found


def aws(emu: Emulator, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_PAGER="",
    )
    command = [
        aws_executable(),
        "partnercentral-selling",
        *args,
        "--endpoint-url",
        emu.url,
        "--region",
        "us-east-1",
        "--output",
        "json",
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def test_aws_cli_assign_then_get(emu: Emulator, tmp_path: Path) -> None:
    assign = aws(
        emu,
        tmp_path,
        "assign-opportunity",
        "--catalog",
        "Sandbox",
        "--identifier",
        "O5100001",
        "--assignee",
        "Email=wei.zhang@anycompany.example,FirstName=Wei,LastName=Zhang,"
        "BusinessTitle=PartnerAccountManager",
    )
    assert "invalid choice" not in assign.stderr.lower(), (
        f"{aws_executable()} is too old to know partnercentral-selling: `make install` "
        f"brings the one the dev extra pins\n{assign.stderr}")
    assert assign.returncode == 0, assign.stderr
    got = aws(emu, tmp_path, "get-opportunity", "--catalog", "Sandbox", "--identifier", "O5100001")
    assert got.returncode == 0, got.stderr
    team = json.loads(got.stdout)["OpportunityTeam"]
    assert team[0]["Email"] == "wei.zhang@anycompany.example"

    missing = aws(emu, tmp_path, "get-opportunity", "--catalog", "Sandbox", "--identifier", "O1")
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr
