"""Helpers for the emulator's functional tests: clients and raw (signed or not) requests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

CONTENT_TYPE = "application/x-amz-json-1.0"
TARGET = "AWSPartnerCentralSelling."
NO_RETRY = {"total_max_attempts": 1}

ASSIGNEE = {
    "Email": "jorge.silva@anycompany.example",
    "FirstName": "Jorge",
    "LastName": "Silva",
    "BusinessTitle": "PartnerAccountManager",
}


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
