"""The Partner Central Selling client: one boto3 client shared by every worker.

Sessions are not thread-safe, clients are: the session is made once, here. botocore's retries
are off (tenacity owns them, so `attempts` is the real count), timeouts are explicit, and the
connection pool is as large as the worker pool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
import botocore.exceptions as bce
from botocore.config import Config

from bulk_assign import __version__
from bulk_assign.errors import UsageError
from bulk_assign.results import Contact
from bulk_assign.rules import OWNER_TITLE
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
        "partnercentral-selling", endpoint_url=settings.endpoint_url, config=config
    )


def current_owner(team: list[dict[str, Any]]) -> Contact | None:
    """The opportunity's owner: the team member whose BusinessTitle is PartnerAccountManager.

    With no such member the opportunity has no owner (None), whoever else is on the team: a
    SolutionsArchitect alone is not an owner, and assigning the opportunity to them still
    takes a write.
    """
    for member in team:
        if member.get("BusinessTitle") == OWNER_TITLE:
            return Contact.from_api(member)
    return None


def request_id(response: dict[str, Any]) -> str:
    return str(response.get("ResponseMetadata", {}).get("RequestId", ""))
