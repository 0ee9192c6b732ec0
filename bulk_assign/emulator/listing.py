"""ListOpportunities: the model's filters, its sort and an opaque cursor for NextToken."""

from __future__ import annotations

import base64
import hashlib
import heapq
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from bulk_assign.emulator.dates import parse_timestamp
from bulk_assign.emulator.errors import ApiError, validation_error

DEFAULT_MAX_RESULTS = 20
DEFAULT_SORT_BY = "LastModifiedDate"
DEFAULT_SORT_ORDER = "DESCENDING"
_TOKEN_VERSION = 2


class Listed(Protocol):
    """What the listing reads of an opportunity."""

    id: str
    company: str
    stage: str
    review_status: str
    created: float
    modified: float
    target_close_date: str


Opp = TypeVar("Opp", bound=Listed)
Position = tuple[Any, str]  # (sort value, identifier): a total order, so pages never overlap
Check = Callable[[Listed], bool]

SORT_KEYS: dict[str, Callable[[Listed], Any]] = {
    "LastModifiedDate": lambda o: o.modified,
    "Identifier": lambda o: o.id,
    "CustomerCompanyName": lambda o: o.company,
    "CreatedDate": lambda o: o.created,
    "TargetCloseDate": lambda o: o.target_close_date,
}


@dataclass(frozen=True)
class ListQuery:
    """One ListOpportunities request, checked: filters, order, page size and cursor.

    The request's shape (enums, ranges, required members) is checked against the service
    model before this; here are the rules the model cannot express.
    """

    size: int
    sort_by: str
    descending: bool
    checks: tuple[Check, ...]
    fingerprint: str
    cursor: Position | None

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ListQuery:
        sort = params.get("Sort") or {}
        sort_by = sort.get("SortBy", DEFAULT_SORT_BY)
        descending = sort.get("SortOrder", DEFAULT_SORT_ORDER) == "DESCENDING"
        fingerprint = _fingerprint(params)
        cursor = _decode_token(params.get("NextToken"), fingerprint)
        if cursor is not None and not _same_kind(cursor[0], sort_by):
            raise _bad_token()
        try:
            checks = tuple(_checks(params))
        except (ValueError, TypeError, OverflowError):
            raise _bad_date() from None
        return cls(
            size=params.get("MaxResults") or DEFAULT_MAX_RESULTS,
            sort_by=sort_by,
            descending=descending,
            checks=checks,
            fingerprint=fingerprint,
            cursor=cursor,
        )

    def position(self, opp: Listed) -> Position:
        return (SORT_KEYS[self.sort_by](opp), opp.id)

    def page(self, opps: Iterable[Opp]) -> tuple[list[Opp], str | None]:
        """The page's opportunities in order and the NextToken (None on the last page)."""
        cursor, descending = self.cursor, self.descending
        matching = [o for o in opps if all(check(o) for check in self.checks)]
        if cursor is not None:
            matching = [
                o for o in matching
                if (self.position(o) < cursor if descending else self.position(o) > cursor)
            ]
        pick = heapq.nlargest if descending else heapq.nsmallest
        chosen = pick(self.size + 1, matching, key=self.position)
        if len(chosen) <= self.size:
            return chosen, None
        page = chosen[: self.size]
        return page, _encode_token(self.fingerprint, self.position(page[-1]))


def _same_kind(value: Any, sort_by: str) -> bool:
    if sort_by in ("LastModifiedDate", "CreatedDate"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)


def _checks(params: dict[str, Any]) -> Iterable[Check]:
    """One predicate per filter given; an empty list filters nothing."""
    ids = set(params.get("Identifier") or ())
    if ids:
        yield lambda o: o.id in ids
    stages = set(params.get("LifeCycleStage") or ())
    if stages:
        yield lambda o: o.stage in stages
    reviews = set(params.get("LifeCycleReviewStatus") or ())
    if reviews:
        yield lambda o: o.review_status in reviews
    # Exact names, compared ignoring case (the documentation does not say; see docs/emulator.md).
    companies = {name.casefold() for name in params.get("CustomerCompanyName") or ()}
    if companies:
        yield lambda o: o.company.casefold() in companies
    yield from _range_checks(params, "LastModifiedDate", lambda o: o.modified, parse_timestamp)
    yield from _range_checks(params, "CreatedDate", lambda o: o.created, parse_timestamp)
    yield from _range_checks(params, "TargetCloseDate", lambda o: o.target_close_date, str)


def _range_checks(
    params: dict[str, Any],
    name: str,
    value_of: Callable[[Listed], Any],
    parse: Callable[[Any], Any],
) -> Iterable[Check]:
    """``After<name>`` is inclusive ("on or after", as the documentation says), ``Before``
    exclusive, so consecutive windows neither overlap nor leave a gap."""
    bounds = params.get(name) or {}
    after, before = bounds.get(f"After{name}"), bounds.get(f"Before{name}")
    if after is not None:
        low = parse(after)
        yield lambda o: value_of(o) >= low
    if before is not None:
        high = parse(before)
        yield lambda o: value_of(o) < high


def _fingerprint(params: dict[str, Any]) -> str:
    """Binds a NextToken to the request's catalog, filters and sort (not its page size)."""
    ignored = ("NextToken", "MaxResults")
    shape = {k: v for k, v in params.items() if k not in ignored and v not in (None, [], {})}
    text = json.dumps(shape, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _encode_token(fingerprint: str, position: Position) -> str:
    document = {"v": _TOKEN_VERSION, "q": fingerprint, "k": position[0], "id": position[1]}
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


def _decode_token(token: str | None, fingerprint: str) -> Position | None:
    if not token:
        return None
    try:
        document = json.loads(base64.urlsafe_b64decode(token.encode()))
        if (
            not isinstance(document, dict)
            or document.get("v") != _TOKEN_VERSION
            or document.get("q") != fingerprint
            or not isinstance(document.get("id"), str)
            or not isinstance(document.get("k"), str | int | float)
        ):
            raise ValueError("not a token of this request")
        return (document["k"], document["id"])
    except (ValueError, UnicodeDecodeError):
        raise _bad_token() from None


def _bad_token() -> ApiError:
    return validation_error(
        "NextToken is not valid for this request.",
        [{"FieldName": "NextToken", "Code": "INVALID_VALUE", "Message": "is not valid"}],
    )


def _bad_date() -> ApiError:
    return validation_error(
        "A date filter is not a valid ISO 8601 date and time.",
        [{"FieldName": "(date filter)", "Code": "INVALID_VALUE", "Message": "is not valid"}],
    )
