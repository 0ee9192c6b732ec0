"""The owner of an opportunity, from its team as GetOpportunity returns it."""

from __future__ import annotations

from typing import Any

import pytest

from bulk_assign.check.owners import current_owner

PAM = {"Email": "bo@example.com", "FirstName": "Bo", "LastName": "Ng",
       "BusinessTitle": "PartnerAccountManager", "Phone": "+15550100101"}
ARCHITECT = {"Email": "ines@example.com", "FirstName": "Inês", "LastName": "Costa",
             "BusinessTitle": "SolutionsArchitect"}


@pytest.mark.parametrize(
    "team",
    [[], [ARCHITECT], [ARCHITECT, {**ARCHITECT, "BusinessTitle": "PartnerDevelopmentManager"}],
     [{**PAM, "BusinessTitle": "partneraccountmanager"}], [{**PAM, "BusinessTitle": ""}]],
)
def test_no_partner_account_manager_means_no_owner(team: list[dict[str, Any]]) -> None:
    assert current_owner(team) is None


def test_the_partner_account_manager_is_the_owner_wherever_it_stands() -> None:
    owner = current_owner([ARCHITECT, PAM])
    assert owner is not None
    assert (owner.email, owner.first_name, owner.last_name, owner.business_title,
            owner.phone) == ("bo@example.com", "Bo", "Ng", "PartnerAccountManager", "+15550100101")
