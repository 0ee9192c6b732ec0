"""The AWS CLI (its own botocore) talks to the emulator with --endpoint-url."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bulk_assign.emulator import Emulator


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
        "aws",
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
    if shutil.which("aws") is None:
        pytest.skip("the AWS CLI is not installed")
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
    if "Invalid choice" in assign.stderr or "invalid choice" in assign.stderr:
        pytest.skip("the installed AWS CLI's botocore does not know partnercentral-selling")
    assert assign.returncode == 0, assign.stderr
    got = aws(emu, tmp_path, "get-opportunity", "--catalog", "Sandbox", "--identifier", "O5100001")
    assert got.returncode == 0, got.stderr
    team = json.loads(got.stdout)["OpportunityTeam"]
    assert team[0]["Email"] == "wei.zhang@anycompany.example"

    missing = aws(emu, tmp_path, "get-opportunity", "--catalog", "Sandbox", "--identifier", "O1")
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr
