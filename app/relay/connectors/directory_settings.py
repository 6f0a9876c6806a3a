"""Per-retailer and per-location connector settings kept in the relay's directory
(`{P}_Web2Text_Directory` items; `web2text-relay admin set-retailer` and
`set-location`): a retailer's RLM API key (`RlmApiKey`, a secret: never logged or
printed), a location's DHQ store id (`UniversalStoreId`) and street address
(`StreetAddress`), which stand in for Nexus when Nexus is not configured."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from app.relay.connectors.records import now_iso
from app.relay.ddb import is_conditional_failure
from app.relay.directory import LOCATION, RETAILER

RETAILER_FIELDS = {"rlm_api_key": "RlmApiKey"}
LOCATION_FIELDS = {"universal_store_id": "UniversalStoreId", "street_address": "StreetAddress"}


class NotInDirectory(LookupError):
    pass


def _set(tables: Any, item_id: str, kind: str, values: Mapping[str, str | None]) -> None:
    """SET the given attributes (REMOVE those given as "" or None), bump Version."""
    sets, removes = ["UpdatedAt = :now"], []
    names: dict[str, str] = {}
    exprs: dict[str, Any] = {":k": kind, ":one": 1}
    exprs[":now"] = now_iso()
    for i, (attr, value) in enumerate(values.items()):
        names[f"#a{i}"] = attr
        if value:
            exprs[f":v{i}"] = value
            sets.append(f"#a{i} = :v{i}")
        else:
            removes.append(f"#a{i}")
    expr = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    try:
        tables.directory.update_item(
            Key={"Id": item_id},
            UpdateExpression=expr + " ADD Version :one",
            ConditionExpression="Kind = :k",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=exprs,
        )
    except ClientError as exc:
        if is_conditional_failure(exc):
            raise NotInDirectory(f"no {kind.lower()} {item_id} in the directory") from None
        raise


def set_retailer_settings(tables: Any, retailer_id: str, **values: str | None) -> list[str]:
    """Set (or with "" clear) `rlm_api_key`; returns the names of what was set."""
    attrs = {RETAILER_FIELDS[k]: v for k, v in values.items() if v is not None}
    if attrs:
        _set(tables, retailer_id, RETAILER, attrs)
    return sorted(k for k, v in values.items() if v is not None)


def set_location_settings(tables: Any, location_id: str, **values: str | None) -> list[str]:
    attrs = {LOCATION_FIELDS[k]: v for k, v in values.items() if v is not None}
    if attrs:
        _set(tables, location_id, LOCATION, attrs)
    return sorted(k for k, v in values.items() if v is not None)


def _item(tables: Any, item_id: str) -> dict[str, Any]:
    item = tables.directory.get_item(Key={"Id": item_id}, ConsistentRead=True).get("Item")
    return dict(item) if item else {}


def retailer_rlm_key(tables: Any, retailer_id: str) -> str | None:
    item = _item(tables, retailer_id)
    if item.get("Kind") != RETAILER or not item.get("RlmApiKey"):
        return None
    return str(item["RlmApiKey"])


def local_store(tables: Any, location_id: str) -> dict[str, Any] | None:
    """A directory location in Nexus's store shape (the fields the connectors read)."""
    item = _item(tables, location_id)
    if item.get("Kind") != LOCATION:
        return None
    return {
        "location_id": location_id,
        "retailer_id": item.get("RetailerId"),
        "location_name": item.get("Name"),
        "universal_id": item.get("UniversalStoreId") or None,
        "street_address": item.get("StreetAddress") or None,
        "Web2Text_Phone_Number": item.get("Web2TextPhoneNumber") or None,
        "store_phone_number": item.get("StorePhoneNumber") or None,
    }
