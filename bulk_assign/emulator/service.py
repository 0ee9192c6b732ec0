"""One API call from bytes to reply: auth, quota, latency, faults, validation, operation."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bulk_assign.emulator import sigv4
from bulk_assign.emulator.config import EmulatorConfig
from bulk_assign.emulator.errors import ApiError, internal_error, throttled
from bulk_assign.emulator.faults import Chaos
from bulk_assign.emulator.quota import QuotaGate
from bulk_assign.emulator.store import Store
from bulk_assign.emulator.validation import validate_input

TARGET_PREFIX = "AWSPartnerCentralSelling."
CONTENT_TYPE = "application/x-amz-json-1.0"
WRITE_OPERATIONS = frozenset({"AssignOpportunity"})


@dataclass(frozen=True)
class Reply:
    """What to send back; ``reset`` means close the socket and send nothing."""

    status: int
    body: bytes
    request_id: str
    error_code: str | None = None
    reset: bool = False


class Service:
    """The emulated Partner Central Selling endpoint, independent of the HTTP server."""

    def __init__(
        self,
        config: EmulatorConfig,
        store: Store,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.store = store
        self._sleep = sleep
        self._quota = QuotaGate(config)
        self._chaos = Chaos(config)
        self._auth_lock = threading.Lock()
        self._accepted_auth = 0
        self._operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "AssignOpportunity": store.assign,
            "GetOpportunity": store.get,
            "ListOpportunities": store.list,
        }

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Change settings at run time; returns the new config."""
        if "clock" in changes:
            raise ValueError("clock cannot be changed at run time")
        self.config = self.config.replace(**changes)
        self._quota.reconfigure(self.config)
        if "random_seed" in changes:
            self._chaos.reseed(self.config.random_seed)
        if "reject_credentials_after" in changes:
            # The count starts again, so "expire after N more calls" works mid-run.
            with self._auth_lock:
                self._accepted_auth = 0
        return self.config

    def reset(self) -> None:
        """Seed state back, log cleared, buckets full, generator and auth count restarted."""
        self.store.reset()
        self._quota = QuotaGate(self.config)
        self._chaos.reseed(self.config.random_seed)
        with self._auth_lock:
            self._accepted_auth = 0

    def call(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        arrival: tuple[float, float] | None = None,
    ) -> Reply:
        """Answer one API request (POST /); ``headers`` keyed by lower-case names.

        ``arrival`` is (wall time, config clock) when the request's headers were read: the
        quota judges that moment, as AWS's front door does, not when a busy handler thread
        got round to the request.
        """
        request_id = str(uuid.uuid4())
        wall, arrived = arrival if arrival is not None else (time.time(), None)
        entry: dict[str, Any] = {
            "t": wall,
            "operation": None,
            "catalog": None,
            "identifier": None,
            "access_key": None,
            "outcome": "ok",
            "request_id": request_id,
            "applied": False,
        }
        delay = 0.0
        try:
            reply, delay = self._process(method, path, headers, body, entry, arrived)
        except ApiError as error:
            entry["outcome"] = error.code
            reply = Reply(error.status, error.payload(), request_id, error_code=error.code)
        # Logged before a slow answer's extra wait: the change is already visible to readers.
        self.store.record(entry, applied=entry["applied"])
        if delay:
            self._sleep(delay)
        return reply

    def _process(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str],
        body: bytes,
        entry: dict[str, Any],
        arrived: float | None = None,
    ) -> tuple[Reply, float]:
        """The checks in AWS order; returns the reply and any extra delay before sending it."""
        target = headers.get("x-amz-target") or ""
        operation = target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""
        known = operation in self._operations
        entry["operation"] = operation if known else None
        params, bad_json = _parse(body)
        if isinstance(params, dict):
            for key, field in (("Catalog", "catalog"), ("Identifier", "identifier")):
                if isinstance(params.get(key), str):
                    entry[field] = params[key]

        _check_content_type(headers.get("content-type"))
        entry["access_key"] = self._authenticate(method, path, headers, body)
        if not known:
            raise ApiError("UnknownOperationException", 400, "Unknown operation.")
        if bad_json or not isinstance(params, dict):
            raise ApiError("SerializationException", 400, "Request body is not a JSON object.")
        group = "write" if operation in WRITE_OPERATIONS else "read"
        # The quota decision is taken on arrival, before any latency; a ListOpportunities
        # page costs one read like a GetOpportunity.
        if not self._quota.admit(group, arrived):
            self.store.bump("throttled", group)
            raise throttled(group)
        return self._perform(operation, params, entry)

    def _perform(
        self, operation: str, params: dict[str, Any], entry: dict[str, Any]
    ) -> tuple[Reply, float]:
        """Latency, then the drawn fault (if any) around validating and applying the call."""
        config = self.config
        latency, fault = self._chaos.draw(config)
        if latency:
            self._sleep(latency)
        if fault is not None:
            self.store.bump("faults", fault)
        if fault == "error":
            raise internal_error()
        delay = config.slow_seconds if fault == "slow" else 0.0
        try:
            validate_input(operation, params)
            result = self._operations[operation](params)
        except ApiError as error:
            if fault != "reset":
                entry["outcome"] = error.code
                reply = Reply(error.status, error.payload(), entry["request_id"], error.code)
                return reply, delay
            result = {}
        else:
            entry["applied"] = operation in WRITE_OPERATIONS
        if fault == "reset":
            # Applied (when valid), then the connection dies unanswered: the ambiguous case.
            entry["outcome"] = "reset"
            return Reply(0, b"", entry["request_id"], reset=True), 0.0
        if fault == "slow":
            entry["outcome"] = "slow"
        payload = json.dumps(result, separators=(",", ":")).encode()
        return Reply(200, payload, entry["request_id"]), delay

    def _authenticate(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> str:
        config = self.config
        access_key = sigv4.verify(
            method=method, path=path, headers=headers, body=body, credentials=config.credentials
        )
        limit = config.reject_credentials_after
        with self._auth_lock:
            if limit is not None and self._accepted_auth >= limit:
                raise ApiError(
                    "ExpiredTokenException",
                    403,
                    "The security token included in the request is expired",
                )
            self._accepted_auth += 1
        return access_key


def _parse(body: bytes) -> tuple[Any, bool]:
    """(parsed JSON, whether it was malformed); an empty body counts as {}."""
    if not body.strip():
        return {}, False
    try:
        return json.loads(body), False
    except (ValueError, UnicodeDecodeError):
        return None, True


def _check_content_type(value: str | None) -> None:
    # AWS JSON services refuse other media types; we answer 415 like Smithy servers do.
    media = (value or "").split(";", 1)[0].strip().lower()
    if media != CONTENT_TYPE:
        raise ApiError(
            "UnsupportedMediaTypeException",
            415,
            f"Content-Type must be {CONTENT_TYPE}.",
        )
