"""A small in-process cache with a time-to-live, for items read on every request
that rarely change (API-key records, retailers, locations).

Why: DynamoDB Local (and DynamoDB's bill) charge per call, and every lead
creation and API request used to re-read the same few items. An entry lives at
most `ttl` seconds (`Settings.cache_ttl_s`, `W2T_CACHE_TTL`, default 15 s), so a
change made by another instance (a revoked key, a churned retailer) takes effect
here within that bound; a change made through the same cache (`revoke_key`, the
directory's put functions, given it) drops the entry at once. Thread-safe (the
relay's sync routes run in a thread pool); bounded size (oldest entries dropped).
A relay app holds its caches in one `RelayCaches`, part of its services.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from app.relay.directory import Location, Retailer

V = TypeVar("V")


class TtlCache(Generic[V]):
    def __init__(self, max_entries: int = 4096, clock: Callable[[], float] = time.monotonic):
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()
        self._max = max_entries
        self._clock = clock

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            return entry[1]

    def put(self, key: Hashable, value: V, ttl: float) -> None:
        if ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def get_or_load(self, key: Hashable, ttl: float, load: Callable[[], V | None]) -> V | None:
        """The cached value, else `load()` (cached unless it is None: absences are not
        cached, so a newly added item is seen at once)."""
        value = self.get(key) if ttl > 0 else None
        if value is not None:
            return value
        value = load()
        if value is not None:
            self.put(key, value, ttl)
        return value

    def discard(self, key: Hashable) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def discard_where(self, pred: Callable[[Any], bool]) -> None:
        with self._lock:
            for key in [k for k in self._entries if pred(k)]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _recent_conversations() -> TtlCache[dict[str, Any]]:
    return TtlCache(max_entries=4096)


@dataclass
class RelayCaches:
    """The in-process caches of one relay app."""

    #: active API-key records by (table, presented key's hash): `auth.cached_lookup_key`
    keys: TtlCache[dict[str, Any]] = field(default_factory=TtlCache)
    #: retailers and locations read by the lead service's hot path (`directory.cached_*`)
    directory: TtlCache[Retailer | Location] = field(default_factory=TtlCache)
    #: conversations this process last read or wrote (`conversation_store.recent_conversation`)
    conversations: TtlCache[dict[str, Any]] = field(default_factory=_recent_conversations)
    #: location -> its retailer, for the staff API (a location never changes retailer)
    location_retailers: dict[str, str] = field(default_factory=dict)
