"""Starting the emulator, and talking to it: boto3 clients, raw (signed or not) requests, its
control endpoints. Every emulator listens on a port the OS picks (port 0): tests run in
parallel (pytest-xdist) without ever sharing one."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from bulk_assign.emulator import Emulator, EmulatorConfig, generate_seed

CONTENT_TYPE = "application/x-amz-json-1.0"
TARGET = "AWSPartnerCentralSelling."
NO_RETRY = {"total_max_attempts": 1}

ASSIGNEE = {
    "Email": "jorge.silva@anycompany.example",
    "FirstName": "Jorge",
    "LastName": "Silva",
    "BusinessTitle": "PartnerAccountManager",
}


def fast(**overrides: Any) -> dict[str, Any]:
    """No per-second quota (daily caps still apply): a test that is not about pacing is
    neither slowed nor made flaky by a throttle that scheduling jitter caused."""
    config: dict[str, Any] = {"write_rate": None, "read_rate": None}
    config.update(overrides)
    return config


def generated(n: int, **kwargs: Any) -> dict[str, Any]:
    """The emulator's generated seed of `n` opportunities (O1000000...), see `write_input`."""
    return generate_seed(n, **kwargs)


@contextmanager
def running_emulator(seed: Any, **config: Any) -> Iterator[Emulator]:
    """An in-process emulator on a free port, stopped after the block (the `emulator` fixture
    does the same for a whole test)."""
    with Emulator(EmulatorConfig(**config), seed=seed) as emu:
        yield emu


@contextmanager
def emulator_process(*options: str) -> Iterator[str]:
    """`python -m bulk_assign.emulator --port 0 OPTIONS` in its own process (its own core, as
    AWS would be); yields its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bulk_assign.emulator", "--port", "0", *options],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if "http://" not in first:
            detail = proc.stderr.read() if proc.stderr else ""
            raise RuntimeError(f"emulator did not start: {first}{detail}")
        yield first.strip().split()[-1]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@contextmanager
def refused_url() -> Iterator[str]:
    """A URL on 127.0.0.1 where nothing listens, for the block: its port is held (bound, never
    listening, without SO_REUSEADDR), so connections are refused and no server of a test running
    in parallel can take the port meanwhile (a port merely free a moment ago could be)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


def state(url: str) -> dict[str, Any]:
    """The emulator's state (owners, call log, faults) over HTTP: for one in another process."""
    data: dict[str, Any] = get_json(f"{url}/_emulator/state")
    return data


def make_client(
    url: str, *, key: str = "test", secret: str = "test", **config: Any
) -> Any:
    """An unmodified boto3 client for the emulator, retries off unless given."""
    config.setdefault("retries", NO_RETRY)
    return boto3.client(
        "partnercentral-selling",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(**config),
    )


def raw_post(
    url: str,
    body: bytes,
    *,
    operation: str = "GetOpportunity",
    content_type: str = CONTENT_TYPE,
    sign: bool = True,
    path: str = "/",
) -> tuple[int, dict[str, str], dict[str, Any]]:
    """POST with urllib (optionally SigV4-signed); returns (status, headers, JSON body)."""
    headers = {"Content-Type": content_type, "X-Amz-Target": TARGET + operation}
    request = AWSRequest(method="POST", url=url + path, data=body, headers=headers)
    if sign:
        SigV4Auth(Credentials("test", "test"), "partnercentral-selling", "us-east-1").add_auth(
            request
        )
    prepared = urllib.request.Request(
        url + path, data=body, headers=dict(request.headers.items()), method="POST"
    )
    try:
        with urllib.request.urlopen(prepared, timeout=10) as answer:
            return answer.status, dict(answer.headers.items()), json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), json.loads(error.read())


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def post_json(url: str, document: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=json.dumps(document).encode(), method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())
