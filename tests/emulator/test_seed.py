"""Seed documents: the new fields are checked, and dates reach the API as given."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bulk_assign.emulator import Emulator
from bulk_assign.emulator.seed import check_seed
from tests.support.emulators import make_client


def seed_with(**fields: Any) -> dict[str, Any]:
    opportunity = {"team": [], **fields}
    return {"catalogs": {"Sandbox": {"users": [], "opportunities": {"O1": opportunity}}}}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"stage": "Won"}, "stage must be one of Prospect"),
        ({"review_status": "Fine"}, "review_status must be one of"),
        ({"created": "last week"}, "created must be an ISO 8601"),
        ({"modified": [2025]}, "modified must be an ISO 8601"),
        ({"target_close_date": "2025-02-30T00:00"}, "target_close_date must be a date"),
        ({"team": [{"Email": "a@b.example", "Title": "x"}]}, "unknown team member keys"),
    ],
)
def test_bad_seed_fields_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_seed(seed_with(**fields))


def test_seed_dates_are_served(emulator: Callable[..., Emulator]) -> None:
    seed = seed_with(
        created="2024-03-01T08:00:00Z",
        modified="2024-05-02T09:30:00.5+02:00",
        target_close_date="2024-09-30",
        stage="Launched",
    )
    emu = emulator(seed=seed, quotas=False)
    answer = make_client(emu.url).get_opportunity(Catalog="Sandbox", Identifier="O1")
    assert answer["CreatedDate"].isoformat() == "2024-03-01T08:00:00+00:00"
    assert answer["LastModifiedDate"].isoformat() == "2024-05-02T07:30:00.500000+00:00"
    assert answer["LifeCycle"] == {
        "Stage": "Launched", "TargetCloseDate": "2024-09-30", "ReviewStatus": "Approved"
    }
    assert emu.state()["owners"]["Sandbox"]["O1"] is None
