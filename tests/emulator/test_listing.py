"""ListOpportunities and LastModifiedDate over HTTP with an unmodified boto3 client."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bulk_assign.emulator import Emulator, generate_seed, load_seed
from tests.support.emulators import ASSIGNEE, make_client, raw_post

N = 60
SEED = generate_seed(N)
OPPS: dict[str, Any] = SEED["catalogs"]["Sandbox"]["opportunities"]
STAGES = [
    "Prospect", "Qualified", "Technical Validation", "Business Validation", "Committed",
    "Launched", "Closed Lost",
]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def listed(client: Any, page_size: int = 7, **query: Any) -> list[dict[str, Any]]:
    """Every summary the paginator yields, in order."""
    pages = client.get_paginator("list_opportunities").paginate(
        Catalog="Sandbox", PaginationConfig={"PageSize": page_size}, **query
    )
    return [s for page in pages for s in page["OpportunitySummaries"]]


def ids(summaries: list[dict[str, Any]]) -> set[str]:
    return {s["Id"] for s in summaries}


@pytest.fixture
def gen(emulator: Callable[..., Emulator]) -> Emulator:
    return emulator(seed=SEED, quotas=False)


@pytest.fixture
def gclient(gen: Emulator) -> Any:
    return make_client(gen.url)


def test_an_applied_write_sets_last_modified_date(emu: Emulator, client: Any) -> None:
    before = client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")
    began = datetime.now(UTC)
    client.assign_opportunity(Catalog="Sandbox", Identifier="O5100001", Assignee=ASSIGNEE)
    after = client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")
    assert before["LastModifiedDate"] < began.replace(microsecond=0)
    assert abs((after["LastModifiedDate"] - began).total_seconds()) < 2
    assert after["CreatedDate"] == before["CreatedDate"]
    summary = next(
        s for s in client.list_opportunities(Catalog="Sandbox")["OpportunitySummaries"]
        if s["Id"] == "O5100001"
    )
    assert summary["LastModifiedDate"] == after["LastModifiedDate"]


def test_dates_travel_as_iso_utc_strings(emu: Emulator) -> None:
    body = json.dumps({"Catalog": "Sandbox", "Identifier": "O5100001"}).encode()
    status, _, document = raw_post(emu.url, body, operation="GetOpportunity")
    assert status == 200
    for name in ("LastModifiedDate", "CreatedDate"):
        assert document[name].endswith("Z")
        assert when(document[name]).tzinfo is not None
    assert document["LastModifiedDate"] >= document["CreatedDate"]


def test_a_failed_write_leaves_last_modified_date(emu: Emulator, client: Any) -> None:
    before = client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")["LastModifiedDate"]
    emu.configure(error_rate=1.0)
    with pytest.raises(ClientError, match="InternalServerException"):
        client.assign_opportunity(Catalog="Sandbox", Identifier="O5100001", Assignee=ASSIGNEE)
    emu.configure(error_rate=0.0)
    after = client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")["LastModifiedDate"]
    assert after == before


def test_default_order_is_newest_first_and_pages_cover_everything(gclient: Any) -> None:
    summaries = listed(gclient)
    assert sorted(ids(summaries)) == sorted(OPPS)
    assert len(summaries) == N
    modified = [s["LastModifiedDate"] for s in summaries]
    assert modified == sorted(modified, reverse=True)
    assert all("OpportunityTeam" not in s for s in summaries)  # summaries carry no team
    assert summaries[0]["Customer"]["Account"]["CompanyName"]
    assert summaries[0]["LifeCycle"]["Stage"] in STAGES


@pytest.mark.parametrize(
    ("sort_by", "value"),
    [
        ("LastModifiedDate", lambda s: s["LastModifiedDate"]),
        ("CreatedDate", lambda s: s["CreatedDate"]),
        ("Identifier", lambda s: s["Id"]),
        ("CustomerCompanyName", lambda s: s["Customer"]["Account"]["CompanyName"]),
        ("TargetCloseDate", lambda s: s["LifeCycle"]["TargetCloseDate"]),
    ],
)
@pytest.mark.parametrize("order", ["ASCENDING", "DESCENDING"])
def test_sort(gclient: Any, sort_by: str, value: Callable[[Any], Any], order: str) -> None:
    summaries = listed(gclient, Sort={"SortBy": sort_by, "SortOrder": order})
    assert len(summaries) == N and len(ids(summaries)) == N  # no overlap, no gap
    keys = [value(s) for s in summaries]
    assert keys == sorted(keys, reverse=order == "DESCENDING")


def test_identifier_stage_and_customer_filters(gclient: Any) -> None:
    wanted = ["O1000003", "O1000017", "O1000042", "O9999999"]
    assert ids(listed(gclient, Identifier=wanted)) == {"O1000003", "O1000017", "O1000042"}

    stages = ["Launched", "Closed Lost"]
    expected = {i for i, o in OPPS.items() if o["stage"] in stages}
    assert expected and len(expected) < N
    assert ids(listed(gclient, LifeCycleStage=stages)) == expected

    company = Counter(o["company"] for o in OPPS.values()).most_common(1)[0][0]
    expected = {i for i, o in OPPS.items() if o["company"] == company}
    assert ids(listed(gclient, CustomerCompanyName=[company])) == expected
    assert ids(listed(gclient, CustomerCompanyName=[company.upper()])) == expected
    assert listed(gclient, CustomerCompanyName=[company[:-1]]) == []  # whole names only

    both = ids(listed(gclient, CustomerCompanyName=[company], LifeCycleStage=stages))
    assert both == {i for i, o in OPPS.items() if o["company"] == company and o["stage"] in stages}


@pytest.mark.parametrize(("name", "key"), [("LastModifiedDate", "modified"),
                                           ("CreatedDate", "created")])
def test_date_filters(gclient: Any, name: str, key: str) -> None:
    dates = sorted(when(o[key]) for o in OPPS.values())
    low, high = dates[10], dates[40]
    after = {f"After{name}": low}
    before = {f"Before{name}": high}
    assert ids(listed(gclient, **{name: after})) == {
        i for i, o in OPPS.items() if when(o[key]) >= low  # "on or after"
    }
    assert ids(listed(gclient, **{name: before})) == {
        i for i, o in OPPS.items() if when(o[key]) < high
    }
    window = ids(listed(gclient, **{name: {**after, **before}}))
    assert len(window) == 30


def test_target_close_date_filter(gclient: Any) -> None:
    dates = sorted(o["target_close_date"] for o in OPPS.values())
    low = dates[N // 2]
    got = ids(listed(gclient, TargetCloseDate={"AfterTargetCloseDate": low}))
    assert got == {i for i, o in OPPS.items() if o["target_close_date"] >= low}


def test_look_back_finds_exactly_the_writes_since(gen: Emulator, gclient: Any) -> None:
    since = datetime.now(UTC)
    for identifier in ("O1000005", "O1000030"):
        gclient.assign_opportunity(Catalog="Sandbox", Identifier=identifier, Assignee={
            **ASSIGNEE, "Email": "user7@example.com"})
        time.sleep(0.01)
    page = gclient.list_opportunities(
        Catalog="Sandbox",
        LastModifiedDate={"AfterLastModifiedDate": since},
        Sort={"SortBy": "LastModifiedDate", "SortOrder": "DESCENDING"},
    )["OpportunitySummaries"]
    assert [s["Id"] for s in page] == ["O1000030", "O1000005"]


def test_a_page_token_after_a_write_repeats_nothing(gen: Emulator, gclient: Any) -> None:
    first = gclient.list_opportunities(Catalog="Sandbox", MaxResults=10)
    seen = [s["Id"] for s in first["OpportunitySummaries"]]
    # The last one seen becomes the newest: an offset token would show it again.
    gclient.assign_opportunity(
        Catalog="Sandbox", Identifier=seen[-1], Assignee={**ASSIGNEE, "Email": "user9@example.com"}
    )
    rest: list[str] = []
    token = first["NextToken"]
    while token:
        page = gclient.list_opportunities(Catalog="Sandbox", MaxResults=10, NextToken=token)
        rest += [s["Id"] for s in page["OpportunitySummaries"]]
        token = page.get("NextToken")
    assert not set(seen) & set(rest)
    assert sorted(seen + rest) == sorted(OPPS)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"LifeCycleStage": ["Won"]}, "LifeCycleStage[0]"),
        ({"Sort": {"SortBy": "Owner", "SortOrder": "ASCENDING"}}, "Sort.SortBy"),
        ({"Sort": {"SortBy": "Identifier", "SortOrder": "UP"}}, "Sort.SortOrder"),
        ({"Sort": {"SortBy": "Identifier"}}, "Sort.SortOrder"),
        ({"MaxResults": 0}, "MaxResults"),
        ({"MaxResults": 101}, "MaxResults"),
        ({"Identifier": [f"O{i}" for i in range(21)]}, "Identifier"),
        ({"Identifier": ["5100001"]}, "Identifier[0]"),
        ({"LastModifiedDate": {"AfterLastModifiedDate": "yesterday"}},
         "LastModifiedDate.AfterLastModifiedDate"),
        ({"TargetCloseDate": {"AfterTargetCloseDate": "2025-13-01"}},
         "TargetCloseDate.AfterTargetCloseDate"),
    ],
)
def test_bad_values_are_validation_exceptions(
    emu: Emulator, query: dict[str, Any], field: str
) -> None:
    body = json.dumps({"Catalog": "Sandbox", **query}).encode()
    status, headers, document = raw_post(emu.url, body, operation="ListOpportunities")
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "ValidationException"
    assert document["Reason"] == "REQUEST_VALIDATION_FAILED"
    assert [e["FieldName"] for e in document["ErrorList"]] == [field]


def test_bad_next_tokens(gclient: Any) -> None:
    token = gclient.list_opportunities(Catalog="Sandbox", MaxResults=5)["NextToken"]
    # A page size may change between pages; the filters and the sort may not.
    assert gclient.list_opportunities(Catalog="Sandbox", MaxResults=9, NextToken=token)
    for query in (
        {"NextToken": "not-a-token"},
        {"NextToken": token[:-4]},
        {"NextToken": token, "LifeCycleStage": ["Prospect"]},
        {"NextToken": token, "Sort": {"SortBy": "Identifier", "SortOrder": "DESCENDING"}},
    ):
        with pytest.raises(ClientError) as info:
            gclient.list_opportunities(Catalog="Sandbox", **query)
        assert info.value.response["Error"]["Code"] == "ValidationException"
        assert info.value.response["ErrorList"][0]["FieldName"] == "NextToken"


def test_a_page_costs_one_read_token_and_no_write(emulator: Callable[..., Emulator]) -> None:
    emu = emulator(seed=SEED, read_rate=0.001, read_burst=3, write_rate=0.001, write_burst=1)
    client = make_client(emu.url)
    token = None
    for _ in range(3):
        kwargs = {"NextToken": token} if token else {}
        token = client.list_opportunities(Catalog="Sandbox", MaxResults=10, **kwargs)["NextToken"]
    with pytest.raises(ClientError, match="ThrottlingException"):
        client.list_opportunities(Catalog="Sandbox", NextToken=token)
    assert emu.state()["throttled"] == {"write": 0, "read": 1}
    client.assign_opportunity(Catalog="Sandbox", Identifier="O1000001", Assignee={
        **ASSIGNEE, "Email": "user3@example.com"})


def test_generated_seed_is_varied_enough_to_filter_on() -> None:
    opps = generate_seed(700)["catalogs"]["Sandbox"]["opportunities"].values()
    assert {o["stage"] for o in opps} == set(STAGES)
    companies = Counter(o["company"] for o in opps)
    assert 5 <= len(companies) <= 20
    assert companies.most_common(1)[0][1] >= 50  # some customers have many opportunities
    owners = Counter(o["team"][0]["Email"] for o in opps)
    assert len(owners) == 50 and max(owners.values()) - min(owners.values()) <= 1
    now = datetime.now(UTC)
    assert all(when(o["created"]) <= when(o["modified"]) < now for o in opps)
    assert len({o["modified"][:7] for o in opps}) >= 12  # spread over many months
    assert generate_seed(5)["catalogs"] == generate_seed(5)["catalogs"]
    assert list(opps)[3] == generate_seed(4)["catalogs"]["Sandbox"]["opportunities"]["O1000003"]


def test_demo_seed_has_every_stage_and_shared_customers() -> None:
    opps = load_seed()["catalogs"]["Sandbox"]["opportunities"]
    assert {o["stage"] for o in opps.values()} == set(STAGES)
    assert max(Counter(o["company"] for o in opps.values()).values()) >= 5
    assert [m["BusinessTitle"] for m in opps["O5100033"]["team"]] == ["SolutionsArchitect"]


def test_an_empty_filter_list_is_the_same_query(gclient: Any) -> None:
    token = gclient.list_opportunities(Catalog="Sandbox", MaxResults=5)["NextToken"]
    page = gclient.list_opportunities(Catalog="Sandbox", NextToken=token, LifeCycleStage=[])
    assert len(page["OpportunitySummaries"]) == 20
