"""Retailers, locations and the proxy pool's members (`{P}_Web2Text_Directory`,
`{P}_Web2Text_ProxyPool`).

Directory items: `Id` (retailer or location UUID), `Kind` (RETAILER|LOCATION),
`RetailerId` (GSI `ByRetailer`), `Name`, `Version`, `UpdatedAt`; retailers add
`Website`, `Status` (Customer|Churned_Customer), `Web2TextOptOut`, `Countries`
(ISO regions its leads may text; absent: US, CA); locations add
`Web2TextPhoneNumber`, `StorePhoneNumber`, `Timezone`, `Status` and
`ReplyTargetMinutes` (how long a new lead or a customer's text may wait for a
reply before the desktop escalates it; absent: `DEFAULT_REPLY_TARGET_MINUTES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from app.core.hours import parse_hours
from app.core.safe_text import unsafe_character
from app.relay.cache import TtlCache
from app.relay.ddb import all_items, is_conditional_failure

RETAILER = "RETAILER"
LOCATION = "LOCATION"
RETAILER_STATUSES = ("Customer", "Churned_Customer")
#: the countries a retailer's leads may be texted in when it names none
DEFAULT_COUNTRIES = ("US", "CA")
POOL_PK = "POOL"
DEFAULT_REPLY_TARGET_MINUTES = 5


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Retailer:
    retailer_id: str
    name: str
    website: str | None
    status: str
    web2text_opt_out: bool
    version: int
    #: ISO regions whose numbers its leads may text (`Countries`; default US, CA)
    countries: tuple[str, ...] = DEFAULT_COUNTRIES

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Retailer:
        countries = item.get("Countries")
        return cls(
            retailer_id=str(item["Id"]),
            name=str(item.get("Name", "")),
            website=item.get("Website") or None,
            status=str(item.get("Status", "Customer")),
            web2text_opt_out=bool(item.get("Web2TextOptOut", False)),
            version=int(item.get("Version", 0)),
            countries=tuple(str(c).upper() for c in countries)
            if isinstance(countries, list | tuple | set) and countries
            else DEFAULT_COUNTRIES,
        )


@dataclass(frozen=True)
class Location:
    location_id: str
    retailer_id: str
    name: str
    web2text_number: str | None
    store_number: str | None
    timezone: str | None
    status: str
    version: int
    hours: str | None = None  # app.core.hours format (admin set-hours)
    after_hours_text: str | None = None
    reply_target_minutes: int = DEFAULT_REPLY_TARGET_MINUTES

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Location:
        return cls(
            location_id=str(item["Id"]),
            retailer_id=str(item["RetailerId"]),
            name=str(item.get("Name", "")),
            web2text_number=item.get("Web2TextPhoneNumber") or None,
            store_number=item.get("StorePhoneNumber") or None,
            timezone=item.get("Timezone") or None,
            status=str(item.get("Status", "Active")),
            version=int(item.get("Version", 0)),
            hours=item.get("Hours") or None,
            after_hours_text=item.get("AfterHoursText") or None,
            reply_target_minutes=int(
                item.get("ReplyTargetMinutes") or DEFAULT_REPLY_TARGET_MINUTES
            ),
        )

    def view(self) -> dict[str, Any]:
        """`LocationView` JSON (camelCase)."""
        return {
            "locationId": self.location_id,
            "retailerId": self.retailer_id,
            "name": self.name,
            "web2textNumber": self.web2text_number,
            "storeNumber": self.store_number,
            "timezone": self.timezone,
            "hours": self.hours,
            "afterHoursText": self.after_hours_text,
            "version": self.version,
            "replyTargetMinutes": self.reply_target_minutes,
        }


def put_retailer(
    tables: Any,
    retailer_id: str,
    name: str,
    *,
    website: str | None = None,
    status: str = "Customer",
    web2text_opt_out: bool = False,
    countries: tuple[str, ...] | list[str] = DEFAULT_COUNTRIES,
    cache: TtlCache[Retailer | Location] | None = None,
) -> Retailer:
    """Create or update a retailer (the admin CLI's add-retailer). `countries`: ISO
    regions (e.g. "US", "CA") whose phone numbers its leads may text; `cache` (see
    `cached_retailer`) forgets it at once."""
    if status not in RETAILER_STATUSES:
        raise ValueError(f"status must be one of {', '.join(RETAILER_STATUSES)}")
    regions = sorted({c.strip().upper() for c in countries if c.strip()})
    if not regions or not all(len(c) == 2 and c.isalpha() for c in regions):
        raise ValueError("countries must be two-letter ISO codes, e.g. US,CA")
    resp = tables.directory.update_item(
        Key={"Id": retailer_id},
        UpdateExpression=(
            "SET Kind = :k, RetailerId = :id, #n = :name, Website = :web, #s = :status, "
            "Web2TextOptOut = :opt, Countries = :countries, UpdatedAt = :now ADD Version :one"
        ),
        ConditionExpression="attribute_not_exists(Id) OR Kind = :k",
        ExpressionAttributeNames={"#n": "Name", "#s": "Status"},
        ExpressionAttributeValues={
            ":k": RETAILER,
            ":id": retailer_id,
            ":name": name,
            ":web": website or "",
            ":status": status,
            ":opt": web2text_opt_out,
            ":countries": regions,
            ":now": _now(),
            ":one": 1,
        },
        ReturnValues="ALL_NEW",
    )
    if cache is not None:
        cache.discard((tables.directory.name, retailer_id))
    return Retailer.from_item(resp["Attributes"])


def put_location(
    tables: Any,
    retailer_id: str,
    location_id: str,
    name: str,
    web2text_number: str,
    *,
    store_number: str | None = None,
    timezone: str | None = None,
    status: str = "Active",
    cache: TtlCache[Retailer | Location] | None = None,
) -> Location:
    """Create or update a location of an existing retailer (the admin CLI's
    add-location); `cache` (see `cached_location`) forgets it at once."""
    if get_retailer(tables, retailer_id) is None:
        raise LookupError(f"retailer {retailer_id} does not exist (add-retailer first)")
    resp = tables.directory.update_item(
        Key={"Id": location_id},
        UpdateExpression=(
            "SET Kind = :k, RetailerId = :rid, #n = :name, Web2TextPhoneNumber = :w2t, "
            "StorePhoneNumber = :store, #tz = :tz, #s = :status, UpdatedAt = :now "
            "ADD Version :one"
        ),
        ConditionExpression="attribute_not_exists(Id) OR Kind = :k",
        ExpressionAttributeNames={"#n": "Name", "#s": "Status", "#tz": "Timezone"},
        ExpressionAttributeValues={
            ":k": LOCATION,
            ":rid": retailer_id,
            ":name": name,
            ":w2t": web2text_number,
            ":store": store_number or "",
            ":tz": timezone or "",
            ":status": status,
            ":now": _now(),
            ":one": 1,
        },
        ReturnValues="ALL_NEW",
    )
    if cache is not None:
        cache.discard((tables.directory.name, location_id))
    return Location.from_item(resp["Attributes"])


def set_hours(
    tables: Any,
    location_id: str,
    hours: str | None,
    after_hours_text: str | None,
    *,
    cache: TtlCache[Retailer | Location] | None = None,
) -> Location:
    """A location's opening hours and after-hours text (the admin CLI's set-hours);
    both None clears them. Raises `HoursError` for hours not in the format, and
    ValueError for a text too long for one SMS or with control characters."""
    if hours is not None:
        parse_hours(hours)  # refuses what the reply could not follow
        hours = hours.strip()
    if after_hours_text is not None:
        after_hours_text = after_hours_text.strip()
        if not after_hours_text or len(after_hours_text) > 320:
            raise ValueError("the after-hours text must be 1 to 320 characters")
        if unsafe_character(after_hours_text, multiline=True) is not None:
            raise ValueError("the after-hours text contains a control character")
    return _update_location(
        tables, location_id, "Hours = :h, AfterHoursText = :t",
        {":h": hours or "", ":t": after_hours_text or ""}, cache)


def set_reply_target(
    tables: Any,
    location_id: str,
    minutes: int,
    cache: TtlCache[Retailer | Location] | None = None,
) -> Location:
    """A location's reply target (1 to 1440 minutes); LookupError for an unknown one;
    `cache` forgets the location at once."""
    if not 1 <= minutes <= 1440:
        raise ValueError("the reply target is 1 to 1440 minutes")
    return _update_location(tables, location_id, "ReplyTargetMinutes = :m", {":m": minutes}, cache)


def _update_location(
    tables: Any,
    location_id: str,
    sets: str,
    values: dict[str, Any],
    cache: TtlCache[Retailer | Location] | None,
) -> Location:
    """SET `sets` on a location that exists (LookupError otherwise), bumping its
    version; `cache` forgets it at once."""
    try:
        resp = tables.directory.update_item(
            Key={"Id": location_id},
            UpdateExpression=f"SET {sets}, UpdatedAt = :now ADD Version :one",
            ConditionExpression="Kind = :k",
            ExpressionAttributeValues={**values, ":k": LOCATION, ":now": _now(), ":one": 1},
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if is_conditional_failure(exc):
            raise LookupError(f"location {location_id} does not exist") from None
        raise
    if cache is not None:
        cache.discard((tables.directory.name, location_id))
    return Location.from_item(resp["Attributes"])


def get_retailer(tables: Any, retailer_id: str) -> Retailer | None:
    item = tables.directory.get_item(Key={"Id": retailer_id}, ConsistentRead=True).get("Item")
    if item is None or item.get("Kind") != RETAILER:
        return None
    return Retailer.from_item(item)


def get_location(tables: Any, location_id: str) -> Location | None:
    item = tables.directory.get_item(Key={"Id": location_id}, ConsistentRead=True).get("Item")
    if item is None or item.get("Kind") != LOCATION:
        return None
    return Location.from_item(item)


def cached_retailer(
    cache: TtlCache[Retailer | Location], tables: Any, retailer_id: str, ttl: float
) -> Retailer | None:
    """`get_retailer`, reusing what `cache` (the app's `RelayCaches.directory`) holds
    from a read within `ttl` seconds.

    A retailer churned or opted out by another process is seen within `ttl`
    (`W2T_CACHE_TTL`); `put_retailer` given this cache drops the entry at once.
    """
    value = cache.get_or_load(
        (tables.directory.name, retailer_id), ttl, lambda: get_retailer(tables, retailer_id)
    )
    return value if isinstance(value, Retailer) else None


def cached_location(
    cache: TtlCache[Retailer | Location], tables: Any, location_id: str, ttl: float
) -> Location | None:
    """`get_location` with the same cache and bound as `cached_retailer`."""
    value = cache.get_or_load(
        (tables.directory.name, location_id), ttl, lambda: get_location(tables, location_id)
    )
    return value if isinstance(value, Location) else None


def get_locations(tables: Any, location_ids: list[str] | tuple[str, ...]) -> list[Location]:
    out = []
    for lid in location_ids:
        loc = get_location(tables, lid)
        if loc is not None:
            out.append(loc)
    return out


def locations_of_retailer(tables: Any, retailer_id: str) -> list[Location]:
    items = all_items(
        tables.directory.query,
        IndexName="ByRetailer",
        KeyConditionExpression=Key("RetailerId").eq(retailer_id),
    )
    return sorted(
        (Location.from_item(i) for i in items if i.get("Kind") == LOCATION),
        key=lambda loc: loc.name,
    )


def locations_with_number(tables: Any, web2text_number: str) -> list[Location]:
    """Every location whose Web2Text number is `web2text_number` (rule 3 shares one)."""
    items = all_items(
        tables.directory.query,
        IndexName="ByWeb2TextNumber",
        KeyConditionExpression=Key("Web2TextPhoneNumber").eq(web2text_number),
    )
    return [Location.from_item(i) for i in items if i.get("Kind") == LOCATION]


# ---- proxy pool members ----


def add_pool_numbers(tables: Any, numbers: list[str]) -> int:
    with tables.pool.batch_writer(overwrite_by_pkeys=["Pk", "Sk"]) as batch:
        for number in numbers:
            batch.put_item(Item={"Pk": POOL_PK, "Sk": number, "AddedAt": _now()})
    return len(numbers)


def pool_numbers(tables: Any) -> list[str]:
    members = all_items(
        tables.pool.query, KeyConditionExpression=Key("Pk").eq(POOL_PK), ConsistentRead=True
    )
    return [str(i["Sk"]) for i in members if not i.get("Disabled")]
