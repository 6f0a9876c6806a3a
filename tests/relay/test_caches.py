"""The relay's short-TTL caches (API keys, directory items) and the batched change
feed, against DynamoDB Local: what a revocation or a directory change elsewhere
costs in staleness, and that in-process changes are seen at once."""

from __future__ import annotations

import time

import pytest

from app.relay import auth, directory, feed
from app.relay.cache import TtlCache
from app.relay.changes import ChangeLog
from app.relay.config import Settings
from app.relay.tables import CHANGE_LOG
from tests.support.relay import init_tables, new_prefix, seed_location, seed_retailer, tables_for


@pytest.fixture(scope="module")
def settings(dynamodb_endpoint: str) -> Settings:
    return init_tables(dynamodb_endpoint, new_prefix())


def test_ttl_cache_expiry_bound_and_misses() -> None:
    now = [100.0]
    cache: TtlCache[str] = TtlCache(max_entries=2, clock=lambda: now[0])
    loads: list[str] = []

    def load(value: str | None) -> str | None:
        loads.append(str(value))
        return value

    assert cache.get_or_load("a", 10, lambda: load("A")) == "A"
    assert cache.get_or_load("a", 10, lambda: load("A2")) == "A"  # cached
    now[0] += 10.0
    assert cache.get_or_load("a", 10, lambda: load("A3")) == "A3"  # expired: read again
    assert cache.get_or_load("none", 10, lambda: load(None)) is None
    assert cache.get_or_load("none", 10, lambda: load("N")) == "N"  # absences not cached
    cache.put("b", "B", 10)
    cache.put("c", "C", 10)
    assert cache.get("a") is None  # the oldest entry gave way (max 2)
    assert cache.get_or_load("z", 0, lambda: load("Z")) == "Z"
    assert cache.get("z") is None  # ttl 0: never cached
    assert loads == ["A", "A3", "None", "N", "Z"]


def test_revocation_through_the_cache_is_immediate(settings: Settings) -> None:
    tables = tables_for(settings)
    cache: TtlCache[dict[str, object]] = TtlCache()
    key = auth.issue_key(tables, ["*"])
    assert auth.cached_lookup_key(cache, tables, key, 30) is not None
    assert auth.revoke_key(tables, key, cache=cache)
    assert auth.cached_lookup_key(cache, tables, key, 30) is None


def test_revocation_elsewhere_takes_effect_within_the_ttl(settings: Settings) -> None:
    tables = tables_for(settings)
    cache: TtlCache[dict[str, object]] = TtlCache()
    key = auth.issue_key(tables, ["*"])
    assert auth.cached_lookup_key(cache, tables, key, 1.0) is not None
    # another instance (or the admin CLI in its own process) revokes: the item changes
    # in DynamoDB, this process's cache does not hear of it
    tables.api_keys.update_item(
        Key={"API_Key": auth.hash_key(key)},
        UpdateExpression="SET Active = :f",
        ExpressionAttributeValues={":f": False},
    )
    assert auth.lookup_key(tables, key) is None  # uncached lookups see it at once
    deadline = time.monotonic() + 5
    while auth.cached_lookup_key(cache, tables, key, 1.0) is not None:
        assert time.monotonic() < deadline, "a revoked key outlived the cache TTL"
        time.sleep(0.1)
    # and a TTL of 0 never caches
    other = auth.issue_key(tables, ["*"])
    assert auth.cached_lookup_key(cache, tables, other, 0) is not None
    tables.api_keys.update_item(
        Key={"API_Key": auth.hash_key(other)},
        UpdateExpression="SET Active = :f",
        ExpressionAttributeValues={":f": False},
    )
    assert auth.cached_lookup_key(cache, tables, other, 0) is None


def test_directory_changes_through_the_cache_are_seen_at_once(settings: Settings) -> None:
    tables = tables_for(settings)
    cache: TtlCache[directory.Retailer | directory.Location] = TtlCache()
    rid = seed_retailer(settings, name="Cached Floors")
    loc = seed_location(settings, rid, "+13125550931", name="Cached Store")
    retailer = directory.cached_retailer(cache, tables, rid, 30)
    location = directory.cached_location(cache, tables, loc, 30)
    assert retailer is not None and retailer.status == "Customer"
    assert location is not None and location.name == "Cached Store"
    directory.put_retailer(tables, rid, "Cached Floors", status="Churned_Customer", cache=cache)
    directory.put_location(tables, rid, loc, "Renamed Store", "+13125550931", cache=cache)
    again = directory.cached_retailer(cache, tables, rid, 30)
    assert again is not None and again.status == "Churned_Customer"
    moved = directory.cached_location(cache, tables, loc, 30)
    assert moved is not None and moved.name == "Renamed Store"
    # an id that is not a location is not one through the cache either
    assert directory.cached_location(cache, tables, rid, 30) is None
    assert directory.cached_retailer(cache, tables, loc, 30) is None


def test_batched_publish_records_in_order_per_location(settings: Settings) -> None:
    tables = tables_for(settings)
    log = ChangeLog(tables.client, tables.name(CHANGE_LOG))
    calls: list[str] = []
    real = tables.client

    class Counting:
        def __getattr__(self, name: str) -> object:
            calls.append(name)
            return getattr(real, name)

    log.table.client = Counting()
    a, b = "loc-batch-a", "loc-batch-b"
    with feed.batched(log):
        feed.publish(log, [a, b], "message", "IM1", 1, {"n": 1})
        feed.publish(log, a, "conversation", "CH1", 2, {"n": 2})
        feed.publish(log, a, "lead", "L1", 3, {"n": 3})
        assert calls == []  # nothing written inside the block
    # each location: its head read (first sight) + one put (a: one group item holding
    # the three changes)
    assert sorted(calls) == sorted(["query", "put_item", "query", "put_item"])
    page = log.read([a], None)
    assert [(c.entity, c.entity_id) for c in page.changes] == [
        ("message", "IM1"),
        ("conversation", "CH1"),
        ("lead", "L1"),
    ]
    assert [(c.entity, c.entity_id) for c in log.read([b], None).changes] == [("message", "IM1")]
    calls.clear()
    with feed.batched(log):
        feed.publish(log, a, "lead", "L1", 4, {"n": 4})
    assert calls == ["put_item"]  # the head is known now: one put
