"""The Partner Central Selling client: one boto3 client shared by every worker.

Sessions are not thread-safe, clients are: the session is made once, here. botocore's retries
are off (tenacity owns them, so `attempts` is the real count), timeouts are explicit, and the
connection pool is as large as the worker pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import boto3
import botocore.exceptions as bce
from botocore.config import Config

from bulk_assign import __version__
from bulk_assign.check.rules import SERVICE
from bulk_assign.errors import UsageError
from bulk_assign.settings import RunSettings

if TYPE_CHECKING:
    from mypy_boto3_partnercentral_selling import PartnerCentralSellingAPIClient


def make_client(settings: RunSettings, *, pool_size: int) -> PartnerCentralSellingAPIClient:
    """Build the shared client from the standard credential chain.

    `--endpoint-url` wins; without it botocore honours AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING.
    """
    try:
        session = boto3.session.Session(profile_name=settings.profile, region_name=settings.region)
    except bce.ProfileNotFound as exc:
        raise UsageError(
            f"AWS profile {settings.profile!r} not found; list yours with "
            "`aws configure list-profiles`, or omit --profile to use the default chain."
        ) from exc
    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=max(10, pool_size),
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        tcp_keepalive=True,
        user_agent_extra=f"bulk-assign/{__version__}",
    )
    return session.client(
        SERVICE, endpoint_url=settings.endpoint_url, config=config
    )


#: Where botocore takes an endpoint from when no --endpoint-url is given, in its order.
ENDPOINT_VARIABLES: Final = ("AWS_ENDPOINT_URL_PARTNERCENTRAL_SELLING", "AWS_ENDPOINT_URL")


def pinned_connection(settings: RunSettings,
                      environ: Mapping[str, str]) -> tuple[RunSettings, dict[str, str]]:
    """The endpoint and profile this run talks to, made explicit (and where each came from),
    so that run.json records them and a resume goes to the same place whatever its shell has.
    """
    endpoint, profile = settings.endpoint_url, settings.profile
    sources = {"endpoint_url": "--endpoint-url", "profile": "--profile"}
    if endpoint is None:
        found = next((name for name in ENDPOINT_VARIABLES if environ.get(name)), None)
        endpoint = environ[found] if found else None
        sources["endpoint_url"] = found or f"the AWS endpoint of {settings.region}"
    if profile is None:
        profile = environ.get("AWS_PROFILE") or None
        sources["profile"] = "AWS_PROFILE" if profile else "the default credential chain"
    return settings.replace(endpoint_url=endpoint, profile=profile), sources


def request_id(answer: Mapping[str, Any] | BaseException) -> str:
    """The service's request id, from a response or from the error a call raised."""
    response = getattr(answer, "response", None) if isinstance(answer, BaseException) else answer
    if not isinstance(response, Mapping):
        return ""
    return str(response.get("ResponseMetadata", {}).get("RequestId", ""))


@dataclass(frozen=True)
class Turn:
    """How a paced operation's calls take their slot; either step raises to cancel the call
    before anything is sent."""

    #: In botocore's before-sign event: the long waits (window, budget, the queue for a slot)
    #: belong before the request is signed, as a signature is only good for a few minutes.
    reserve: Callable[[], None]
    #: In before-send, after signing: the last, exact wait for the slot, so that signing's jitter
    #: falls before the pace and not between the pace and the wire, where it would make calls
    #: arrive closer together than they left (and be throttled).
    depart: Callable[[], None]


@contextmanager
def paced(client: PartnerCentralSellingAPIClient, turns: Mapping[str, Turn]) -> Iterator[None]:
    """Pace each operation named in `turns` (e.g. "AssignOpportunity") for as long as the
    block runs.

    The hooks' contract with botocore: `reserve` is registered for `before-sign` and `depart`
    for `before-send`, and botocore emits both synchronously on the thread that called the
    client method: botocore/endpoint.py's `Endpoint._send_request` calls `create_request`,
    whose `request-created` event runs `RequestSigner.handler` -> `sign`, which emits
    `before-sign` (signers.py); then `_get_response` -> `_do_get_response` emits
    `before-send` just before `_send`; hooks.py's `HierarchicalEmitter.emit` calls each
    handler in turn, in the emitting thread. The shared client has no thread of its own.
    So per-thread state is how a hook finds the call it belongs to: the bucket keeps the
    departure `reserve` handed out for `depart` on the same thread (bucket.TokenBucket), and
    `quota.flight.Outgoing` keeps the thread's write in flight.
    A hook that raises cancels the call before anything is sent.
    """
    events = client.meta.events
    hooks = [(f"{stage}.{SERVICE}.{operation}", step)
             for operation, turn in turns.items()
             for stage, step in (("before-sign", turn.reserve), ("before-send", turn.depart))]
    for event, hook in hooks:
        events.register(event, _ignore_kwargs(hook), unique_id=f"bulk-assign-pace-{event}")
    try:
        yield
    finally:
        for event, _ in hooks:
            events.unregister(event, unique_id=f"bulk-assign-pace-{event}")


def _ignore_kwargs(hook: Callable[[], None]) -> Callable[..., None]:
    def handler(**_: Any) -> None:
        hook()

    return handler
