"""Who works where: the staff members a lead can be assigned to (`GET /v1/staff`).

Staff are known from their keys. Each staff key issued (`admin issue-key --staff`)
registers its holder in the Directory table: one item per staff member,
`Id = STAFF#<RetailerId>#<StaffId>`, `Kind = STAFF`, `RetailerId` (so the
`ByRetailer` index lists a retailer's staff next to its locations), `StaffId`,
`Name` and `Keys`: the member's active keys (a prefix of each key's hash) → the
locations that key covers. Revoking a key removes its entry; a member with no
key left is no longer listed. A key issued before this registry existed is
registered the first time its holder asks for the staff list.
"""

from __future__ import annotations

import logging
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from app.core.wire_staff import StaffMemberView
from app.relay.ddb import all_items, is_conditional_failure

log = logging.getLogger("app.relay.staff_directory")

STAFF = "STAFF"
_PREFIX = "STAFF#"
#: how much of a key's SHA-256 names it in `Keys` (never the key itself)
KEY_REF_CHARS = 16


def staff_item_id(retailer_id: str, staff_id: str) -> str:
    return f"{_PREFIX}{retailer_id}#{staff_id}"


def register_key(
    tables: Any,
    *,
    retailer_id: str,
    staff_id: str,
    name: str,
    locations: list[str] | tuple[str, ...],
    key_ref: str,
) -> None:
    """Record a staff key's holder and the locations the key covers."""
    item_id = staff_item_id(retailer_id, staff_id)
    tables.directory.update_item(
        Key={"Id": item_id},
        UpdateExpression=(
            "SET Kind = :k, RetailerId = :r, StaffId = :s, #n = :name, "
            "#keys = if_not_exists(#keys, :empty)"
        ),
        ConditionExpression="attribute_not_exists(Id) OR Kind = :k",
        ExpressionAttributeNames={"#n": "Name", "#keys": "Keys"},
        ExpressionAttributeValues={
            ":k": STAFF,
            ":r": retailer_id,
            ":s": staff_id,
            ":name": name or staff_id,
            ":empty": {},
        },
    )
    tables.directory.update_item(
        Key={"Id": item_id},
        UpdateExpression="SET #keys.#ref = :locs",
        ExpressionAttributeNames={"#keys": "Keys", "#ref": key_ref[:KEY_REF_CHARS]},
        ExpressionAttributeValues={":locs": sorted(set(locations))},
    )


def unregister_key(tables: Any, key_item: dict[str, Any], key_ref: str) -> None:
    """A revoked staff key (`key_ref`: its hash) no longer counts for its holder."""
    staff_id, retailer_id = key_item.get("StaffId"), key_item.get("RetailerId")
    if not staff_id:
        return
    ref = key_ref[:KEY_REF_CHARS]
    try:
        tables.directory.update_item(
            Key={"Id": staff_item_id(str(retailer_id or ""), str(staff_id))},
            UpdateExpression="REMOVE #keys.#ref",
            ConditionExpression="attribute_exists(Id)",
            ExpressionAttributeNames={"#keys": "Keys", "#ref": ref},
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise


def ensure_registered(
    tables: Any,
    *,
    retailer_id: str,
    staff_id: str,
    name: str,
    locations: tuple[str, ...],
    key_ref: str,
) -> None:
    """Register the caller's key if it is not yet (keys issued before the registry)."""
    item = tables.directory.get_item(Key={"Id": staff_item_id(retailer_id, staff_id)}).get("Item")
    keys = (item or {}).get("Keys") or {}
    if key_ref[:KEY_REF_CHARS] in keys:
        return
    register_key(
        tables,
        retailer_id=retailer_id,
        staff_id=staff_id,
        name=name,
        locations=locations,
        key_ref=key_ref,
    )
    log.info("staff key registered on first use", extra={"staff": staff_id})


def staff_of(tables: Any, retailer_id: str, location_ids: list[str]) -> list[StaffMemberView]:
    """The retailer's staff holding a key for any of `location_ids`, each with the
    locations among those its keys cover; sorted by name."""
    wanted = set(location_ids)
    items = all_items(
        tables.directory.query,
        IndexName="ByRetailer",
        KeyConditionExpression=Key("RetailerId").eq(retailer_id) & Key("Id").begins_with(_PREFIX),
    )
    members: list[StaffMemberView] = []
    for item in items:
        if item.get("Kind") != STAFF:
            continue
        covered: set[str] = set()
        for locs in (item.get("Keys") or {}).values():
            covered.update(str(x) for x in locs or [])
        shared = sorted(covered & wanted)
        if shared:
            members.append(
                StaffMemberView(
                    staff_id=str(item["StaffId"]),
                    name=str(item.get("Name") or item["StaffId"]),
                    location_ids=shared,
                )
            )
    return sorted(members, key=lambda m: (m.name.casefold(), m.staff_id))


def name_of(tables: Any, retailer_id: str, staff_id: str) -> str | None:
    """A registered staff member's name (None when unknown)."""
    item = tables.directory.get_item(Key={"Id": staff_item_id(retailer_id, staff_id)}).get("Item")
    if not item or item.get("Kind") != STAFF:
        return None
    return str(item.get("Name") or staff_id)
