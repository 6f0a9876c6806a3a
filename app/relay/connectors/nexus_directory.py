"""Nexus as the relay's source of retailers and stores (optional: `NEXUS_*`).

The lead service validates a lead against its retailer and location, and the
Twilio integration reads the location's Web2Text number; with Nexus configured
both come from Nexus, as in the original (retailer: `GET retailers/{id}` and its
subscriptions for `web2text_opt_out`; store: the AWS API's `nexus/location`), and
the local directory fills what Nexus does not know or does not say (a location's
time zone). Without Nexus, `LocalDirectory` reads the local directory only.

Reads are cached per process (`NEXUS_CACHE_TTL`, default 300 s); when Nexus
cannot answer, the last answer it gave (kept a day) or the local directory
stands in, and only when neither knows the id does the error surface (the lead
service answers 503). A Nexus store's `retailer_id` is taken to be its retailer's
universal id (the id `nexus/retailerLocations?retailer_id=` takes).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from boto3.dynamodb.conditions import Key

from app.relay import directory
from app.relay.cache import TtlCache
from app.relay.connectors.http import CallFailed
from app.relay.connectors.nexus import NexusClient, web2text_opted_out
from app.relay.ddb import all_items
from app.relay.directory import Location, Retailer

log = logging.getLogger("app.relay.connectors")

STALE_TTL_S = 24 * 3600.0


class DirectorySource(Protocol):
    def retailer(self, tables: Any, retailer_id: str) -> Retailer | None: ...

    def location(self, tables: Any, location_id: str) -> Location | None: ...

    def locations_of_retailer(self, tables: Any, retailer_id: str) -> list[Location]: ...

    def location_items(self, tables: Any, retailer_id: str) -> list[dict[str, Any]]: ...


def _local_items(tables: Any, retailer_id: str) -> list[dict[str, Any]]:
    items = all_items(
        tables.directory.query,
        IndexName="ByRetailer",
        KeyConditionExpression=Key("RetailerId").eq(retailer_id),
    )
    return [dict(i) for i in items if i.get("Kind") == directory.LOCATION]


def item_of(store: dict[str, Any]) -> dict[str, Any]:
    """A Nexus store as a directory location item (what Dealer/status reads)."""
    return {
        "Id": str(store.get("location_id") or store.get("id")),
        "Kind": directory.LOCATION,
        "NexusLocationId": store.get("id"),
        "RetailerId": store.get("retailer_id"),
        "Name": store.get("location_name") or store.get("store_name"),
        "StreetAddress": store.get("street_address"),
        "City": store.get("city"),
        "State": store.get("state_province"),
        "ZipCode": store.get("zip_code"),
        "Web2TextPhoneNumber": store.get("Web2Text_Phone_Number"),
        "StorePhoneNumber": store.get("store_phone_number"),
        "CallTrackingPhoneNumber": store.get("call_tracking_number"),
    }


class LocalDirectory:
    """The relay's own directory (`admin add-retailer`/`add-location`)."""

    def __init__(self, cache: TtlCache[Retailer | Location], cache_ttl_s: float) -> None:
        #: the app's `RelayCaches.directory` (the admin's puts given it forget at once)
        self.cache = cache
        self.ttl = cache_ttl_s

    def retailer(self, tables: Any, retailer_id: str) -> Retailer | None:
        return directory.cached_retailer(self.cache, tables, retailer_id, self.ttl)

    def location(self, tables: Any, location_id: str) -> Location | None:
        return directory.cached_location(self.cache, tables, location_id, self.ttl)

    def locations_of_retailer(self, tables: Any, retailer_id: str) -> list[Location]:
        return directory.locations_of_retailer(tables, retailer_id)

    def location_items(self, tables: Any, retailer_id: str) -> list[dict[str, Any]]:
        return _local_items(tables, retailer_id)


def retailer_of(
    found: dict[str, Any], subscriptions: list[dict[str, Any]] | None, local: Retailer | None
) -> Retailer:
    """A Nexus retailer; what only the relay keeps (its countries) from `local`."""
    status = str(found.get("status") or "Customer")
    return Retailer(
        retailer_id=str(found.get("id")),
        name=str(found.get("name") or ""),
        website=found.get("website_url") or None,
        status=status if status in directory.RETAILER_STATUSES else "Customer",
        web2text_opt_out=web2text_opted_out(subscriptions),
        version=local.version if local else 0,
        countries=local.countries if local else directory.DEFAULT_COUNTRIES,
    )


def _e164(number: Any) -> str | None:
    """Nexus holds numbers as people typed them ("(312) 555-0100")."""
    from app.core.phones import PhoneError, parse_phone

    if not number:
        return None
    try:
        return parse_phone(str(number))
    except PhoneError:
        return str(number)  # kept: the lead service refuses an unusable number


def location_of(store: dict[str, Any], local: Location | None) -> Location:
    return Location(
        location_id=str(store.get("location_id") or store.get("id")),
        retailer_id=str(store.get("retailer_id") or (local.retailer_id if local else "")),
        name=str(store.get("location_name") or store.get("store_name") or ""),
        web2text_number=_e164(store.get("Web2Text_Phone_Number")),
        store_number=_e164(store.get("store_phone_number"))
        or (local.store_number if local else None),
        timezone=local.timezone if local else None,
        status="Active",
        version=local.version if local else 0,
    )


class NexusDirectory:
    def __init__(self, nexus: NexusClient, local: LocalDirectory, cache_ttl_s: float) -> None:
        self.nexus = nexus
        self.local = local
        self.ttl = cache_ttl_s
        self._fresh: TtlCache[Any] = TtlCache(max_entries=20_000)
        self._stale: TtlCache[Any] = TtlCache(max_entries=20_000)

    def _read(self, key: tuple[str, str], load: Any, fallback: Any) -> Any:
        """Nexus's answer (cached); when Nexus fails, its last answer, else `fallback()`."""
        cached = self._fresh.get(key) if self.ttl > 0 else None
        if cached is not None:
            return cached
        try:
            value = load()
        except CallFailed as exc:
            stale = self._stale.get(key)
            if stale is not None:
                log.warning("Nexus unavailable: its last answer stands in", extra={"what": key[0]})
                return stale
            value = fallback()
            if value is None or value == []:
                raise exc from None
            return value
        if value is None or value == []:
            return fallback()
        self._fresh.put(key, value, self.ttl)
        self._stale.put(key, value, STALE_TTL_S)
        return value

    def retailer(self, tables: Any, retailer_id: str) -> Retailer | None:
        def load() -> Retailer | None:
            found = self.nexus.retailer(retailer_id)
            if found is None:
                return None
            local = self.local.retailer(tables, retailer_id)
            return retailer_of(found, self.nexus.subscriptions(retailer_id), local)

        value = self._read(
            ("retailer", retailer_id), load, lambda: self.local.retailer(tables, retailer_id)
        )
        return value if isinstance(value, Retailer) else None

    def location(self, tables: Any, location_id: str) -> Location | None:
        def load() -> Location | None:
            store = self.nexus.store(location_id)
            if store is None:
                return None
            return location_of(store, self.local.location(tables, location_id))

        value = self._read(
            ("location", location_id), load, lambda: self.local.location(tables, location_id)
        )
        return value if isinstance(value, Location) else None

    def locations_of_retailer(self, tables: Any, retailer_id: str) -> list[Location]:
        def load() -> list[Location]:
            stores = self.nexus.stores_of(retailer_id) or []
            return sorted(
                (
                    location_of(s, self.local.location(tables, str(s.get("location_id"))))
                    for s in stores
                ),
                key=lambda loc: loc.name,
            )

        value = self._read(
            ("stores", retailer_id),
            load,
            lambda: self.local.locations_of_retailer(tables, retailer_id),
        )
        return list(value or [])

    def location_items(self, tables: Any, retailer_id: str) -> list[dict[str, Any]]:
        def load() -> list[dict[str, Any]]:
            return [item_of(s) for s in self.nexus.stores_of(retailer_id) or []]

        value = self._read(
            ("store-items", retailer_id), load, lambda: _local_items(tables, retailer_id)
        )
        return list(value or [])
