"""An unmodified boto3 client against the emulator: operations, errors, pagination, state."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bulk_assign.emulator import Emulator, generate_seed
from tests.support.emulators import ASSIGNEE, get_json, make_client, post_json, raw_post


def error_of(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call()
    return info.value.response


def test_get_assign_get_shows_new_owner(emu: Emulator, client: Any) -> None:
    before = client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")
    assert before["Id"] == "O5100001"
    assert before["Arn"].startswith("arn:")
    assert before["OpportunityTeam"][0]["Email"] != ASSIGNEE["Email"]
    assert before["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]

    answer = client.assign_opportunity(Catalog="Sandbox", Identifier="O5100001", Assignee=ASSIGNEE)
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert answer["ResponseMetadata"]["RequestId"]

    after = client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")
    assert after["OpportunityTeam"] == [ASSIGNEE]
    assert after["LastModifiedDate"] > before["LastModifiedDate"]
    assert emu.state()["owners"]["Sandbox"]["O5100001"] == ASSIGNEE


def test_assign_replaces_the_account_manager_not_other_members(client: Any) -> None:
    # O5100004 has a SolutionsArchitect listed before its PartnerAccountManager.
    team = client.get_opportunity(Catalog="Sandbox", Identifier="O5100004")["OpportunityTeam"]
    assert [m["BusinessTitle"] for m in team] == ["SolutionsArchitect", "PartnerAccountManager"]
    client.assign_opportunity(Catalog="Sandbox", Identifier="O5100004", Assignee=ASSIGNEE)
    team = client.get_opportunity(Catalog="Sandbox", Identifier="O5100004")["OpportunityTeam"]
    assert team[0]["BusinessTitle"] == "SolutionsArchitect"
    assert team[1] == ASSIGNEE


@pytest.mark.parametrize("identifier", ["O5100033", "O5100034"])
def test_assign_without_an_owner_adds_the_owner(
    emu: Emulator, client: Any, identifier: str
) -> None:
    # O5100033 has only a SolutionsArchitect, O5100034 no team: neither has an owner.
    before = client.get_opportunity(Catalog="Sandbox", Identifier=identifier)["OpportunityTeam"]
    assert emu.state()["owners"]["Sandbox"][identifier] is None
    client.assign_opportunity(Catalog="Sandbox", Identifier=identifier, Assignee=ASSIGNEE)
    team = client.get_opportunity(Catalog="Sandbox", Identifier=identifier)["OpportunityTeam"]
    assert team == [*before, ASSIGNEE]
    assert emu.state()["owners"]["Sandbox"][identifier] == ASSIGNEE


def test_the_solutions_architect_alone_is_no_owner(emu: Emulator, client: Any) -> None:
    team = client.get_opportunity(Catalog="Sandbox", Identifier="O5100033")["OpportunityTeam"]
    assert [m["BusinessTitle"] for m in team] == ["SolutionsArchitect"]
    assert emu.state()["owners"]["Sandbox"]["O5100033"] is None


def test_another_title_joins_the_team_and_leaves_the_owner(emu: Emulator, client: Any) -> None:
    owner = emu.state()["owners"]["Sandbox"]["O5100001"]
    architect = {**ASSIGNEE, "BusinessTitle": "Senior Account Manager"}
    for _ in range(2):  # sent twice, the person is there twice: each call is a write
        client.assign_opportunity(Catalog="Sandbox", Identifier="O5100001", Assignee=architect)
    team = client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")["OpportunityTeam"]
    assert team == [owner, architect, architect]
    assert emu.state()["owners"]["Sandbox"]["O5100001"] == owner
    assert emu.state()["counts"]["AssignOpportunity"]["applied"] == 2


def test_another_title_on_an_ownerless_opportunity_leaves_it_ownerless(
    emu: Emulator, client: Any
) -> None:
    architect = {**ASSIGNEE, "BusinessTitle": "SolutionsArchitect"}
    client.assign_opportunity(Catalog="Sandbox", Identifier="O5100034", Assignee=architect)
    team = client.get_opportunity(Catalog="Sandbox", Identifier="O5100034")["OpportunityTeam"]
    assert team == [architect]
    assert emu.state()["owners"]["Sandbox"]["O5100034"] is None


def test_demo_seed_matches_the_demo_file(emu: Emulator) -> None:
    owners = emu.state()["owners"]["Sandbox"]
    assert sorted(owners) == [f"O51{i:05d}" for i in range(1, 41)]
    assert owners["O5100002"]["Email"] == "akua.mensah@anycompany.example"
    assert owners["O5100005"]["Email"] == "liam.obrien@anycompany.example"
    assert owners["O5100011"]["Email"] == "lars.berg@anycompany.example"
    assert len(emu.state()["owners"]["AWS"]) == 5


def test_unknown_opportunity_and_wrong_catalog_are_404(client: Any) -> None:
    for catalog, identifier in [("Sandbox", "O9999999"), ("AWS", "O5100001")]:
        response = error_of(
            lambda c=catalog, i=identifier: client.get_opportunity(Catalog=c, Identifier=i)
        )
        assert response["Error"]["Code"] == "ResourceNotFoundException"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert response["ResponseMetadata"]["RequestId"]
    response = error_of(
        lambda: client.assign_opportunity(
            Catalog="Sandbox", Identifier="O9999999", Assignee=ASSIGNEE
        )
    )
    assert response["Error"]["Code"] == "ResourceNotFoundException"


def test_unregistered_assignee_is_business_validation_failed(emu: Emulator, client: Any) -> None:
    stranger = {**ASSIGNEE, "Email": "new.hire@anycompany.example"}
    response = error_of(
        lambda: client.assign_opportunity(
            Catalog="Sandbox", Identifier="O5100027", Assignee=stranger
        )
    )
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Reason"] == "BUSINESS_VALIDATION_FAILED"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert emu.state()["owners"]["Sandbox"]["O5100027"]["Email"] != stranger["Email"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"Email": "priya.patel@anycompany"}, "Assignee.Email"),
        ({"Email": "Omar.Farouk@AnyCompany.example"}, "Assignee.Email"),
        ({"Phone": "+44 20 7946 0001"}, "Assignee.Phone"),
        ({"Phone": "4.41E+11"}, "Assignee.Phone"),
    ],
)
def test_bad_values_are_request_validation_failed(
    client: Any, change: dict[str, str], field: str
) -> None:
    response = error_of(
        lambda: client.assign_opportunity(
            Catalog="Sandbox", Identifier="O5100001", Assignee={**ASSIGNEE, **change}
        )
    )
    assert response["Error"]["Code"] == "ValidationException"
    assert response["Reason"] == "REQUEST_VALIDATION_FAILED"
    assert [e["FieldName"] for e in response["ErrorList"]] == [field]
    assert response["ErrorList"][0]["Code"] == "INVALID_STRING_FORMAT"


def test_a_valid_phone_is_stored(client: Any) -> None:
    assignee = {**ASSIGNEE, "Phone": "+442079460001"}
    client.assign_opportunity(Catalog="Sandbox", Identifier="O5100001", Assignee=assignee)
    team = client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")["OpportunityTeam"]
    assert team == [assignee]


def test_missing_required_member_is_request_validation_failed(emu: Emulator) -> None:
    # botocore would refuse to send this, so it goes raw (signed).
    body = json.dumps(
        {"Catalog": "Sandbox", "Identifier": "O5100001", "Assignee": {"Email": ASSIGNEE["Email"]}}
    ).encode()
    status, headers, document = raw_post(emu.url, body, operation="AssignOpportunity")
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "ValidationException"
    assert document["Reason"] == "REQUEST_VALIDATION_FAILED"
    assert {e["FieldName"] for e in document["ErrorList"]} == {
        "Assignee.FirstName",
        "Assignee.LastName",
        "Assignee.BusinessTitle",
    }
    assert {e["Code"] for e in document["ErrorList"]} == {"REQUIRED_FIELD_MISSING"}


@pytest.mark.parametrize(
    ("body", "operation", "content_type", "status", "code"),
    [
        (b'{"Catalog":"Sandbox"}', "DeleteEverything", None, 400, "UnknownOperationException"),
        (b'{"Catalog": "Sandbox",', "GetOpportunity", None, 400, "SerializationException"),
        (b'{"Catalog":"Sandbox"}', "GetOpportunity", "text/plain", 415, "UnsupportedMediaType"),
    ],
)
def test_protocol_errors(
    emu: Emulator, body: bytes, operation: str, content_type: str | None, status: int, code: str
) -> None:
    kwargs = {"content_type": content_type} if content_type else {}
    got_status, headers, document = raw_post(emu.url, body, operation=operation, **kwargs)
    assert got_status == status
    assert document["__type"].startswith(code)
    assert headers["x-amzn-ErrorType"] == document["__type"]
    assert headers["Content-Type"] == "application/x-amz-json-1.0"
    assert document["message"] == document["Message"]
    assert headers["x-amzn-RequestId"]


def test_botocore_parses_protocol_errors(emu: Emulator) -> None:
    """The codes above reach a botocore ClientError with the right status."""
    client = make_client(emu.url)

    def tamper(request: Any, **_: Any) -> None:
        request.headers.replace_header("X-Amz-Target", "AWSPartnerCentralSelling.Nope")

    client.meta.events.register_first("before-sign.partnercentral-selling.*", tamper)
    response = error_of(lambda: client.get_opportunity(Catalog="Sandbox", Identifier="O5100001"))
    assert response["Error"]["Code"] == "UnknownOperationException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_paginator_walks_every_page(emulator: Callable[..., Emulator]) -> None:
    emu = emulator(seed=generate_seed(45), quotas=False)
    client = make_client(emu.url)
    pages = list(
        client.get_paginator("list_opportunities").paginate(
            Catalog="Sandbox", PaginationConfig={"PageSize": 10}
        )
    )
    assert [len(p["OpportunitySummaries"]) for p in pages] == [10, 10, 10, 10, 5]
    summaries = [s for p in pages for s in p["OpportunitySummaries"]]
    assert sorted(s["Id"] for s in summaries) == [f"O{1_000_000 + i}" for i in range(45)]
    modified = [s["LastModifiedDate"] for s in summaries]
    assert modified == sorted(modified, reverse=True)  # the default: newest first
    assert "NextToken" not in pages[-1]
    default_page = client.list_opportunities(Catalog="Sandbox")
    assert len(default_page["OpportunitySummaries"]) == 20


def test_bad_next_token_and_page_size(client: Any) -> None:
    response = error_of(lambda: client.list_opportunities(Catalog="Sandbox", NextToken="zzz"))
    assert response["Error"]["Code"] == "ValidationException"
    with pytest.raises(Exception, match="MaxResults"):
        client.list_opportunities(Catalog="Sandbox", MaxResults=101)  # botocore checks the range


def test_state_logs_every_call_without_personal_data(emu: Emulator, client: Any) -> None:
    client.assign_opportunity(Catalog="Sandbox", Identifier="O5100001", Assignee=ASSIGNEE)
    with pytest.raises(ClientError):
        client.get_opportunity(Catalog="Sandbox", Identifier="O9999999")
    state = get_json(emu.url + "/_emulator/state")
    assert [(c["operation"], c["identifier"], c["outcome"]) for c in state["calls"]] == [
        ("AssignOpportunity", "O5100001", "ok"),
        ("GetOpportunity", "O9999999", "ResourceNotFoundException"),
    ]
    assert state["calls"][0]["access_key"] == "test"
    assert state["counts"]["AssignOpportunity"] == {"ok": 1, "applied": 1}
    assert state["throttled"] == {"write": 0, "read": 0}
    assert "jorge" not in json.dumps(state["calls"])


def test_reset_and_config_endpoints(emu: Emulator, client: Any) -> None:
    client.assign_opportunity(Catalog="Sandbox", Identifier="O5100001", Assignee=ASSIGNEE)
    status, _ = post_json(emu.url + "/_emulator/reset", {})
    assert status == 200
    state = emu.state()
    assert state["calls"] == []
    assert state["owners"]["Sandbox"]["O5100001"]["Email"] != ASSIGNEE["Email"]

    status, config = post_json(emu.url + "/_emulator/config", {"error_rate": 0.25})
    assert status == 200
    assert config["error_rate"] == 0.25
    assert "test" not in json.dumps(config.get("credentials", ""))
    status, problem = post_json(emu.url + "/_emulator/config", {"error_rate": 3})
    assert status == 400
    assert "error_rate" in problem["message"]
    status, problem = post_json(emu.url + "/_emulator/config", {"no_such_thing": 1})
    assert status == 400


def test_stopped_emulator_drops_kept_alive_connections(emulator: Callable[..., Emulator]) -> None:
    emu = emulator(quotas=False)
    client = make_client(emu.url)
    client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")
    emu.stop()
    with pytest.raises(Exception):  # noqa: B017 - refused or closed, either is fine
        client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")
