"""API keys: storage (SHA-256 hashed; legacy plain keys accepted), lookup and the
FastAPI dependencies that authorise a request before its body is read.

Key item (`{P}_Web2Text_APIKeys`, compatible): `API_Key` (hash of the key, or the
plain key for legacy items), `Active`, `DateCreated`, `AuthorizedEndpoints`,
`Description`; staff keys add `StaffId`, `Name`, `RetailerId`, `Locations`.
New items also carry `KeyHashed: true` so a presented hash never matches as a
legacy plain key.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from app.relay import staff_directory
from app.relay.cache import TtlCache
from app.relay.context import context_of
from app.relay.errors import ApiError

STAFF_ENDPOINT = "v1/*"
KEY_PREFIX = "w2t_"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """Who is calling: an integration key or a staff member's key."""

    key_id: str  # first characters of the key's hash: safe to log
    endpoints: frozenset[str]
    #: the key's SHA-256 (legacy plain items too): what rates and idempotency are scoped by
    key_ref: str = ""
    #: lead-service requests per minute (`issue-key --rate`); None: the relay's default
    rate_per_min: int | None = None
    description: str = ""
    staff_id: str | None = None
    name: str | None = None
    retailer_id: str | None = None
    locations: tuple[str, ...] = ()
    retailer_ids: frozenset[str] = field(default_factory=frozenset)  # optional key scope

    @property
    def is_staff(self) -> bool:
        return self.staff_id is not None

    def allows(self, endpoint: str) -> bool:
        if "*" in self.endpoints or endpoint in self.endpoints:
            return True
        # "Admin/bulk" grants every operation; "Admin/bulk/SYNC" only that one;
        # "v1/*" every endpoint under "v1/"
        parts = endpoint.split("/")
        return any(
            "/".join(parts[:n]) in self.endpoints or "/".join(parts[:n]) + "/*" in self.endpoints
            for n in range(1, len(parts))
        )

    def may_access_retailer(self, retailer_id: str | None) -> bool:
        if self.retailer_ids and retailer_id not in self.retailer_ids:
            return False
        return not (self.is_staff and self.retailer_id and retailer_id != self.retailer_id)

    def may_access_location(self, location_id: str | None) -> bool:
        return location_id is not None and location_id in self.locations


def _as_str_set(value: Any) -> frozenset[str]:
    if value is None:
        return frozenset()
    if isinstance(value, str):
        return frozenset(v.strip() for v in value.split(",") if v.strip())
    return frozenset(str(v) for v in value)


def _rate(value: Any) -> int | None:
    try:
        rate = int(value)
    except (TypeError, ValueError):
        return None
    return rate if rate >= 0 else None


def principal_from_item(item: dict[str, Any]) -> Principal:
    locations = item.get("Locations") or []
    if isinstance(locations, str):
        locations = [x for x in locations.split(",") if x]
    # a legacy item is keyed by the plain key: its hash is the id it will have once
    # migrated, so rates and idempotency records stay the key's own across migration
    ref = str(item["API_Key"]) if item.get("KeyHashed") else hash_key(str(item["API_Key"]))
    return Principal(
        key_id=ref[:8],
        key_ref=ref,
        rate_per_min=_rate(item.get("RateLimitPerMinute")),
        endpoints=_as_str_set(item.get("AuthorizedEndpoints")),
        description=str(item.get("Description", "")),
        staff_id=str(item["StaffId"]) if item.get("StaffId") else None,
        name=str(item["Name"]) if item.get("Name") else None,
        retailer_id=str(item["RetailerId"]) if item.get("RetailerId") else None,
        locations=tuple(sorted(str(x) for x in locations)),
        retailer_ids=_as_str_set(item.get("RetailerIds")),
    )


def _active(item: dict[str, Any]) -> bool:
    active = item.get("Active", True)
    if isinstance(active, str):
        return active.lower() in ("true", "1", "yes")
    return bool(active)


def lookup_key(tables: Any, presented: str) -> dict[str, Any] | None:
    """The active key item for `presented`, or None.

    Hashed items are found by the key's SHA-256; legacy items by the plain key,
    but only if they are not hashed items (else the hash itself would work as a key).
    """
    if not presented or len(presented) > 512:
        return None
    item = tables.api_keys.get_item(Key={"API_Key": hash_key(presented)}).get("Item")
    if item is None or not item.get("KeyHashed"):
        item = tables.api_keys.get_item(Key={"API_Key": presented}).get("Item")
        if item is not None and item.get("KeyHashed"):
            item = None
    if item is None or not _active(item):
        return None
    return dict(item)


def cached_lookup_key(
    cache: TtlCache[dict[str, Any]], tables: Any, presented: str, ttl: float
) -> dict[str, Any] | None:
    """`lookup_key` with an in-process `cache` of *active* records for `ttl` seconds
    (the app's `RelayCaches.keys`, by table and the presented key's hash).

    A key revoked through another process keeps working here for at most `ttl`
    (`W2T_KEY_CACHE_TTL`, at most 5 s); `revoke_key` given this cache drops it at once.
    Unknown and inactive keys are never cached, so a new key works immediately
    and a refused key costs a read each time (as before).
    """
    if not presented or len(presented) > 512:
        return None
    cache_key = (tables.api_keys.name, hash_key(presented))
    return cache.get_or_load(cache_key, ttl, lambda: lookup_key(tables, presented))


def presented_key(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    header = header.strip()
    if header[:7].lower() == "bearer ":
        header = header[7:].strip()
    return header or None


def key_cache_ttl(settings: Any) -> float:
    """How long this process reuses a key record: never past `key_cache_ttl_s` (the
    5 s revocation bound), and not at all when `W2T_CACHE_TTL` is 0."""
    return float(min(settings.cache_ttl_s, settings.key_cache_ttl_s))


def authenticate(request: Request) -> Principal:
    key = presented_key(request)
    if key is None:
        raise ApiError(401, "unauthorized", "Authorization is missing - send the API key")
    ctx = context_of(request)
    item = cached_lookup_key(ctx.caches.keys, ctx.tables, key, key_cache_ttl(ctx.settings))
    if item is None:
        raise ApiError(401, "unauthorized", "API key is INVALID - unknown or revoked key")
    principal = principal_from_item(item)
    request.state.principal = principal
    return principal


async def authenticate_async(request: Request) -> Principal:
    """`authenticate` for async dependencies: a key record this process holds in its
    cache is used right here on the event loop; only a DynamoDB read goes to the
    thread pool (a sync dependency cost every request a thread hand-off)."""
    key = presented_key(request)
    ctx = context_of(request)
    ttl = key_cache_ttl(ctx.settings)
    if key is None or ttl <= 0 or len(key) > 512:
        return await run_in_threadpool(authenticate, request)
    item = ctx.caches.keys.get((ctx.tables.api_keys.name, hash_key(key)))
    if item is None:
        return await run_in_threadpool(authenticate, request)
    principal = principal_from_item(item)
    request.state.principal = principal
    return principal


def require_endpoint(endpoint: str) -> Callable[[Request], Awaitable[Principal]]:
    """Dependency: the caller's key must list `endpoint` (or `*`). 401 unknown, 403 not
    allowed, 429 `rate_limited` past the key's rate (`app.relay.ratelimit`)."""

    async def dependency(request: Request) -> Principal:
        principal = await authenticate_async(request)
        if not principal.allows(endpoint):
            raise ApiError(403, "forbidden", f"API key is not authorized for {endpoint}")
        await run_in_threadpool(check_key_rate, context_of(request), principal)
        return principal

    dependency.__name__ = f"require_{endpoint.replace('/', '_')}"
    return dependency


def check_key_rate(ctx: Any, principal: Principal) -> None:
    """Count a lead-service request against the key's rate; 429 `rate_limited` beyond."""
    limits = getattr(ctx, "limits", None)
    if limits is None:
        return
    rate = principal.rate_per_min
    if rate is None:
        rate = ctx.settings.key_rate_per_min
    refusal = limits.hit(f"key:{principal.key_ref}", rate, 60.0)
    if refusal is not None:
        raise refusal.error(
            "rate_limited", f"API key is over its rate of {rate} requests per minute"
        )


def staff_endpoint(request: Request) -> str:
    """The endpoint name of a staff route for AuthorizedEndpoints: its path template
    without parameters, e.g. `v1/conversations/messages` for
    `/v1/conversations/{sid}/messages` (`v1/*` grants them all)."""
    route = request.scope.get("route")
    template = str(getattr(route, "path", None) or request.url.path)
    parts = [p for p in template.strip("/").split("/") if p and not p.startswith("{")]
    return "/".join(parts)


def require_staff() -> Callable[[Request], Awaitable[Principal]]:
    """Dependency: a staff key (StaffId + Locations) whose AuthorizedEndpoints allow the
    route (`staff_endpoint`). 401 unknown, 403 not a staff key or not authorized."""

    async def dependency(request: Request) -> Principal:
        principal = await authenticate_async(request)
        if not principal.is_staff:
            raise ApiError(403, "forbidden", "API key is not a staff key")
        endpoint = staff_endpoint(request)
        if not principal.allows(endpoint):
            raise ApiError(403, "forbidden", f"API key is not authorized for {endpoint}")
        return principal

    return dependency


# ---- administration (the admin CLI and the test helpers use these) ----


def issue_key(
    tables: Any,
    endpoints: Iterable[str],
    *,
    description: str = "",
    staff_id: str | None = None,
    name: str | None = None,
    retailer_id: str | None = None,
    locations: Iterable[str] = (),
    retailer_ids: Iterable[str] = (),
    rate_per_min: int | None = None,
) -> str:
    """Create a key, store only its hash, return the key (shown once). `rate_per_min`:
    its lead-service requests per minute (None: the relay's `W2T_KEY_RATE`)."""
    key = new_key()
    item: dict[str, Any] = {
        "API_Key": hash_key(key),
        "KeyHashed": True,
        "Active": True,
        "DateCreated": datetime.now(UTC).isoformat(),
        "AuthorizedEndpoints": sorted(set(endpoints)),
        "Description": description,
    }
    if staff_id:
        item.update(
            StaffId=staff_id,
            Name=name or staff_id,
            RetailerId=retailer_id,
            Locations=sorted(set(locations)),
        )
    rids = sorted(set(retailer_ids))
    if rids:
        item["RetailerIds"] = rids
    if rate_per_min is not None:
        item["RateLimitPerMinute"] = int(rate_per_min)
    tables.api_keys.put_item(Item=item, ConditionExpression="attribute_not_exists(API_Key)")
    if staff_id:  # colleagues can assign leads to its holder (GET /v1/staff)
        staff_directory.register_key(
            tables,
            retailer_id=retailer_id or "",
            staff_id=staff_id,
            name=name or staff_id,
            locations=list(item["Locations"]),
            key_ref=str(item["API_Key"]),
        )
    return key


def revoke_key(tables: Any, key: str, *, cache: TtlCache[dict[str, Any]] | None = None) -> bool:
    """Deactivate a key given in plain (or its stored id); True if one was found.
    `cache`: a key cache (`cached_lookup_key`) that must forget it at once."""
    forget = cache.discard_where if cache is not None else (lambda _: None)
    # whichever form the caller gave (plain key or stored id), no cached record
    # of it may outlive the revocation
    forget(lambda k: k[0] == tables.api_keys.name)
    for candidate in (hash_key(key), key):
        item = tables.api_keys.get_item(Key={"API_Key": candidate}).get("Item")
        if item is not None:
            tables.api_keys.update_item(
                Key={"API_Key": candidate},
                UpdateExpression="SET Active = :f, DateRevoked = :now",
                ExpressionAttributeValues={":f": False, ":now": datetime.now(UTC).isoformat()},
            )
            # again: a request may have cached the record between the two steps
            forget(lambda k: k[0] == tables.api_keys.name)
            stored = str(item["API_Key"])
            key_ref = stored if item.get("KeyHashed") else hash_key(stored)
            staff_directory.unregister_key(tables, dict(item), key_ref)
            return True
    return False


def migrate_keys(tables: Any) -> int:
    """Replace every legacy plain-text key item by a hashed one (same attributes)."""
    migrated = 0
    scan_kwargs: dict[str, Any] = {}
    while True:
        page = tables.api_keys.scan(**scan_kwargs)
        for item in page.get("Items", []):
            if item.get("KeyHashed"):
                continue
            plain = str(item["API_Key"])
            new_item = dict(item, API_Key=hash_key(plain), KeyHashed=True)
            tables.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": tables.api_keys.name,
                            "Item": _serialize(new_item),
                            "ConditionExpression": "attribute_not_exists(API_Key)",
                        }
                    },
                    {
                        "Delete": {
                            "TableName": tables.api_keys.name,
                            "Key": _serialize({"API_Key": plain}),
                        }
                    },
                ]
            )
            migrated += 1
        if "LastEvaluatedKey" not in page:
            return migrated
        scan_kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _serialize(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    ser = TypeSerializer()
    return {k: ser.serialize(v) for k, v in item.items()}
