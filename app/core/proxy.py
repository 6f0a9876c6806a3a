"""Proxy-number candidates, ordered by area-code proximity.

The masked-communications way (Twilio's app, whose MIT data we ship in
`app/core/data/areaCodeProximityMap.json`): for a participant's address, try
the pool numbers whose area code is nearest first, so the customer sees a
local-looking number. The map has, per country (`us`, `ca`) and area code,
every area code of that country ordered by distance, starting with itself.

Ordering of `proxy_candidates` for a North American (+1) address:

1. pool numbers in the same area code as the address;
2. pool numbers whose area code is in the address's list, in the list's order
   (an area code missing from the map falls back to the country's list, i.e.
   all of that country's area codes in the map's order);
3. the other +1 pool numbers (e.g. Canadian numbers for a US address);
4. every other pool number.

For any other address: pool numbers with the address's country code first,
then the others. Within a tier the pool's own order is kept (stable), so the
caller controls tie-breaking. Numbers bound to the address already (in a
non-closed conversation) are left out, duplicates appear once.

Reading the packaged data file is the only I/O here; it happens once (cached).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Final

import phonenumbers

DATA_FILE: Final = "areaCodeProximityMap.json"
NANP_COUNTRY_CODE: Final = 1
#: Map key for NANP regions that have no list of their own (US territories, Caribbean).
_DEFAULT_NANP_COUNTRY: Final = "us"


@cache
def proximity_map() -> Mapping[str, Mapping[str, tuple[str, ...]]]:
    """`{country: {area_code: (nearest area codes, itself first)}}` from the data file."""
    raw = resources.files("app.core.data").joinpath(DATA_FILE).read_text(encoding="utf-8")
    data = json.loads(raw)
    return {
        country.lower(): {str(code): tuple(str(c) for c in near) for code, near in codes.items()}
        for country, codes in data.items()
    }


@cache
def country_area_codes(country: str) -> tuple[str, ...]:
    """All area codes the map knows for `country` (`us`, `ca`), in the map's order."""
    return tuple(proximity_map().get(country.lower(), {}))


def nearby_area_codes(area_code: str, country: str | None = None) -> tuple[str, ...]:
    """Area codes ordered by distance from `area_code`, itself first.

    `country` (`us`/`ca`) picks the list; without it, the country whose map
    knows `area_code`. An area code the map does not know (a new overlay, a
    typo) gets its country's list, with itself first; with no known country,
    the US list.
    """
    pmap = proximity_map()
    countries = [country.lower()] if country else list(pmap)
    for name in countries:
        near = pmap.get(name, {}).get(area_code)
        if near is not None:
            return near
    fallback = countries[0] if country and country.lower() in pmap else _DEFAULT_NANP_COUNTRY
    return (area_code, *(c for c in country_area_codes(fallback) if c != area_code))


@dataclass(frozen=True, slots=True)
class _Address:
    country_code: int
    area_code: str | None  # NANP only
    region: str | None  # ISO region, lower case ("us", "ca", "pr", ...)


def _parse(address: str) -> _Address | None:
    text = address.strip()
    # Twilio addresses may carry a channel prefix ("whatsapp:+1...", "sms:+1...").
    if ":" in text:
        text = text.rsplit(":", 1)[1].strip()
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    cc = number.country_code
    if cc is None:  # pragma: no cover - parse() always sets it for "+..." input
        return None
    region = phonenumbers.region_code_for_number(number)
    area: str | None = None
    if cc == NANP_COUNTRY_CODE:
        national = str(number.national_number)
        area = national[:3] if len(national) == 10 else None
    return _Address(cc, area, region.lower() if region else None)


def _nanp_list(addr: _Address) -> tuple[str, ...]:
    assert addr.area_code is not None
    pmap = proximity_map()
    country = addr.region if addr.region in pmap else None
    return nearby_area_codes(addr.area_code, country)


def order_by_proximity(address: str, pool: Sequence[str]) -> list[str]:
    """The pool (deduplicated) ordered for `address`, as described in the module doc."""
    unique = list(dict.fromkeys(pool))
    addr = _parse(address)
    if addr is None:
        return unique
    parsed = {number: _parse(number) for number in unique}

    if addr.country_code != NANP_COUNTRY_CODE or addr.area_code is None:

        def other_key(number: str) -> int:
            p = parsed[number]
            return 0 if p is not None and p.country_code == addr.country_code else 1

        return sorted(unique, key=other_key)  # sorted() is stable

    rank = {code: i for i, code in enumerate(_nanp_list(addr))}
    beyond = len(rank)

    def nanp_key(number: str) -> int:
        p = parsed[number]
        if p is None or p.country_code != NANP_COUNTRY_CODE:
            return beyond + 1
        if p.area_code == addr.area_code:
            return -1
        return rank.get(p.area_code or "", beyond)

    return sorted(unique, key=nanp_key)


def proxy_candidates(
    address: str,
    pool: Sequence[str],
    bound: Collection[str] = (),
    page: int = 0,
    page_size: int | None = None,
) -> list[str]:
    """Pool numbers to try, nearest first, for the participant at `address`.

    `bound`: numbers already bound to `address` in a non-closed conversation
    (a participant cannot use one proxy number twice). `page`/`page_size` cut
    the result (`page_size=None`: everything on page 0, nothing after). An
    address that is not a phone number keeps the pool's order.
    """
    if page < 0:
        raise ValueError("page must be >= 0")
    if page_size is not None and page_size <= 0:
        raise ValueError("page_size must be > 0")
    excluded = set(bound)
    ordered = [n for n in order_by_proximity(address, pool) if n not in excluded]
    if page_size is None:
        return ordered if page == 0 else []
    start = page * page_size
    return ordered[start : start + page_size]
