"""SigV4 verification, recomputed with botocore's own signer so both sides agree."""

from __future__ import annotations

import hmac
from collections.abc import Mapping

# botocore ships no type information (no botocore-stubs in the dev set).
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from bulk_assign.emulator.errors import ApiError

SERVICE = "partnercentral-selling"
_ALGORITHM = "AWS4-HMAC-SHA256"


class _Verifier(SigV4Auth):
    """botocore's signer limited to the headers the client says it signed."""

    def __init__(self, credentials: Credentials, region: str, signed: list[str]) -> None:
        super().__init__(credentials, SERVICE, region)
        self._signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        header_map = HTTPHeaders()
        for name in self._signed:
            for value in request.headers.get_all(name) or []:
                header_map[name] = value
        return header_map


def _parse_authorization(value: str) -> tuple[str, str, str, list[str], str]:
    """(access key, date, region, signed headers, signature) or ApiError."""
    algorithm, _, rest = value.partition(" ")
    if algorithm != _ALGORITHM:
        raise _incomplete()
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, _, val = item.strip().partition("=")
        parts[key] = val
    try:
        scope = parts["Credential"].split("/")
        signed = parts["SignedHeaders"].split(";")
        signature = parts["Signature"]
    except KeyError:
        raise _incomplete() from None
    if len(scope) != 5 or scope[3] != SERVICE or scope[4] != "aws4_request":
        raise _incomplete()
    return scope[0], scope[1], scope[2], signed, signature


def _incomplete() -> ApiError:
    return ApiError(
        "IncompleteSignatureException", 403, "Authorization header is not a valid SigV4 header."
    )


def verify(
    *,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: Mapping[str, str],
) -> str:
    """Check the request's SigV4 signature; return the access key or raise ApiError (403).

    ``headers`` must be keyed by lower-case names.
    """
    authorization = headers.get("authorization")
    if not authorization:
        raise ApiError("MissingAuthenticationTokenException", 403, "Missing Authentication Token")
    access_key, date, region, signed, signature = _parse_authorization(authorization)
    secret = credentials.get(access_key)
    if secret is None:
        raise ApiError(
            "UnrecognizedClientException",
            403,
            "The security token included in the request is invalid.",
        )
    amz_date = headers.get("x-amz-date", "")
    if not amz_date.startswith(date) or "host" not in signed:
        raise _incomplete()
    request = AWSRequest(method=method, url=f"http://{headers.get('host', '')}{path}", data=body)
    for name in signed:
        value = headers.get(name)
        if value is None:
            raise _incomplete()
        request.headers[name] = value
    request.context["timestamp"] = amz_date
    verifier = _Verifier(Credentials(access_key, secret), region, signed)
    canonical = verifier.canonical_request(request)
    expected = verifier.signature(verifier.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, signature):
        raise ApiError(
            "InvalidSignatureException",
            403,
            "The request signature we calculated does not match the signature you provided.",
        )
    return access_key
