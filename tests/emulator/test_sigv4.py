"""SigV4 is checked the way AWS answers: missing, unknown key, bad signature, expiry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bulk_assign.emulator import Emulator
from tests.support.emulators import ASSIGNEE, make_client, raw_post


def code_and_status(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as info:
        call()
    response = info.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def get(client: Any) -> Callable[[], Any]:
    return lambda: client.get_opportunity(Catalog="Sandbox", Identifier="O5100001")


def test_wrong_secret_is_invalid_signature(emu: Emulator) -> None:
    client = make_client(emu.url, secret="not-the-secret")
    assert code_and_status(get(client)) == ("InvalidSignatureException", 403)


def test_unknown_key_is_unrecognized_client(emu: Emulator) -> None:
    client = make_client(emu.url, key="AKIDUNKNOWN")
    with pytest.raises(ClientError) as info:
        get(client)()
    assert info.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert "security token included in the request is invalid" in str(info.value)


def test_unsigned_request_is_missing_authentication_token(emu: Emulator) -> None:
    status, headers, body = raw_post(
        emu.url, b'{"Catalog":"Sandbox","Identifier":"O5100001"}', sign=False
    )
    assert (status, body["__type"]) == (403, "MissingAuthenticationTokenException")
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_signed_raw_request_is_accepted(emu: Emulator) -> None:
    status, _, body = raw_post(emu.url, b'{"Catalog":"Sandbox","Identifier":"O5100001"}')
    assert status == 200
    assert body["Id"] == "O5100001"


def test_several_registered_keys(emulator: Callable[..., Emulator]) -> None:
    emu = emulator(quotas=False, credentials={"alice": "s1", "bob": "s2"})
    make_client(emu.url, key="alice", secret="s1").get_opportunity(
        Catalog="Sandbox", Identifier="O5100001"
    )
    make_client(emu.url, key="bob", secret="s2").get_opportunity(
        Catalog="Sandbox", Identifier="O5100001"
    )
    assert code_and_status(get(make_client(emu.url, key="bob", secret="s1")))[0] == (
        "InvalidSignatureException"
    )
    assert [c["access_key"] for c in emu.state()["calls"]] == ["alice", "bob", None]


def test_credentials_expire_after_n_calls(emulator: Callable[..., Emulator]) -> None:
    emu = emulator(quotas=False, reject_credentials_after=3)
    client = make_client(emu.url)
    for _ in range(3):
        get(client)()
    assert code_and_status(get(client)) == ("ExpiredTokenException", 403)
    assert code_and_status(
        lambda: client.assign_opportunity(
            Catalog="Sandbox", Identifier="O5100001", Assignee=ASSIGNEE
        )
    ) == ("ExpiredTokenException", 403)
    assert emu.state()["owners"]["Sandbox"]["O5100001"]["Email"] != ASSIGNEE["Email"]

    emu.configure(reject_credentials_after=None)
    get(client)()
    emu.configure(reject_credentials_after=1)  # counts again from now
    get(client)()
    assert code_and_status(get(client))[0] == "ExpiredTokenException"
