"""Proxy candidates ordered by area-code proximity (real map data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import proxy
from app.core.proxy import (
    country_area_codes,
    nearby_area_codes,
    order_by_proximity,
    proximity_map,
    proxy_candidates,
)

DATA = Path(proxy.__file__).parent / "data"

CHICAGO = "+13125550134"
LA = "+12135550100"
CHICAGO_773 = "+17735550100"
NAPERVILLE_630 = "+16305550100"
CHICAGO_312 = "+13125550199"
TORONTO = "+14165550100"
LONDON = "+442079460000"
PARIS = "+33142685300"


def test_map_is_packaged_with_its_license() -> None:
    assert (DATA / "AREA_CODES_LICENSE").read_text().startswith("MIT License")
    shipped = json.loads((DATA / "areaCodeProximityMap.json").read_text())
    assert set(shipped) == {"us", "ca"}
    pmap = proximity_map()
    assert pmap["us"]["312"][:4] == ("312", "773", "331", "630")
    assert proximity_map() is pmap  # loaded once
    assert len(country_area_codes("us")) == len(shipped["us"])
    assert country_area_codes("zz") == ()


def test_every_list_starts_with_itself_and_covers_its_country() -> None:
    for country, codes in proximity_map().items():
        for code, near in codes.items():
            assert near[0] == code, (country, code)
            assert set(near) == set(codes), (country, code)


def test_chicago_prefers_773_and_630_over_213() -> None:
    pool = [LA, NAPERVILLE_630, CHICAGO_773]
    assert proxy_candidates(CHICAGO, pool) == [CHICAGO_773, NAPERVILLE_630, LA]


def test_same_area_code_first() -> None:
    pool = [LA, CHICAGO_773, CHICAGO_312]
    assert proxy_candidates(CHICAGO, pool)[0] == CHICAGO_312


def test_los_angeles_prefers_california() -> None:
    pool = ["+12125550100", "+14155550100", "+13105550100"]  # NYC, SF, LA-west
    assert proxy_candidates("+13235550100", pool) == [
        "+13105550100",
        "+14155550100",
        "+12125550100",
    ]


def test_canadian_address_uses_canadian_list() -> None:
    # Toronto (416): Ottawa 613 is nearer than Vancouver 604.
    pool = ["+16045550100", "+16135550100", LA]
    assert proxy_candidates(TORONTO, pool) == ["+16135550100", "+16045550100", LA]


def test_other_nanp_country_after_the_list_then_the_rest() -> None:
    pool = [PARIS, TORONTO, LA, "not a number", CHICAGO_773]
    # US list first (773, 213), then +1 outside it (Toronto), then the rest in pool order.
    assert proxy_candidates(CHICAGO, pool) == [CHICAGO_773, LA, TORONTO, PARIS, "not a number"]


def test_unknown_area_code_falls_back_to_country_list() -> None:
    # 999 is not an assigned area code: the US list (map order) applies.
    assert nearby_area_codes("999", "us")[:3] == ("999", "201", "202")
    assert nearby_area_codes("999", "ca")[:3] == ("999", "204", "226")
    assert nearby_area_codes("999") == ("999", *country_area_codes("us"))
    pool = ["+19995550101", "+13125550100", "+12015550100"]
    assert proxy_candidates("+19995550100", pool) == [
        "+19995550101",  # same (unknown) area code still first
        "+12015550100",
        "+13125550100",
    ]


def test_nanp_region_without_its_own_list_uses_us_list() -> None:
    # Puerto Rico (787) is +1 but not in the map.
    pool = [TORONTO, "+12025550100", "+12015550100"]
    assert proxy_candidates("+17875550100", pool) == ["+12015550100", "+12025550100", TORONTO]


def test_non_nanp_address_same_country_code_first() -> None:
    pool = [CHICAGO_773, PARIS, LONDON, LA, "+447700900123"]
    assert proxy_candidates("+447911123456", pool) == [
        LONDON,
        "+447700900123",
        CHICAGO_773,
        PARIS,
        LA,
    ]


def test_bound_numbers_are_left_out() -> None:
    pool = [LA, NAPERVILLE_630, CHICAGO_773]
    assert proxy_candidates(CHICAGO, pool, bound={CHICAGO_773}) == [NAPERVILLE_630, LA]
    assert proxy_candidates(CHICAGO, pool, bound=pool) == []


def test_duplicates_once() -> None:
    assert proxy_candidates(CHICAGO, [LA, LA, CHICAGO_773]) == [CHICAGO_773, LA]


def test_paging() -> None:
    pool = [LA, NAPERVILLE_630, CHICAGO_773, CHICAGO_312, TORONTO]
    everything = proxy_candidates(CHICAGO, pool)
    assert proxy_candidates(CHICAGO, pool, page=0, page_size=2) == everything[:2]
    assert proxy_candidates(CHICAGO, pool, page=1, page_size=2) == everything[2:4]
    assert proxy_candidates(CHICAGO, pool, page=2, page_size=2) == everything[4:]
    assert proxy_candidates(CHICAGO, pool, page=3, page_size=2) == []
    assert proxy_candidates(CHICAGO, pool, page=1) == []
    with pytest.raises(ValueError):
        proxy_candidates(CHICAGO, pool, page=-1)
    with pytest.raises(ValueError):
        proxy_candidates(CHICAGO, pool, page_size=0)


def test_channel_prefix_and_garbage_addresses() -> None:
    pool = [LA, CHICAGO_773]
    assert proxy_candidates("whatsapp:" + CHICAGO, pool) == [CHICAGO_773, LA]
    assert proxy_candidates("staff:alice", pool) == pool  # not a phone: pool order
    assert proxy_candidates("", pool) == pool
    # a +1 number too short to have an area code: same country code first
    assert proxy_candidates("+1312", [PARIS, LA]) == [LA, PARIS]


numbers = st.one_of(
    st.sampled_from(list(country_area_codes("us"))[:40] + list(country_area_codes("ca"))[:10]).map(
        lambda ac: f"+1{ac}55501{ac[-2:]}"
    ),
    st.sampled_from([LONDON, PARIS, "+61291234567", "junk"]),
)


def _distance_rank(address: str, number: str) -> int:
    if not address.startswith("+"):
        return 0  # not a phone number: pool order
    if not address.startswith("+1"):
        return 0 if number[:3] == address[:3] else 1
    near = nearby_area_codes(address[2:5])
    if not number.startswith("+1"):
        return 10_000
    code = number[2:5]
    return near.index(code) if code in near else 9_999


@given(
    numbers,
    st.lists(numbers, max_size=25),
    st.lists(numbers, max_size=5),
    st.integers(min_value=1, max_value=7),
)
def test_properties(address: str, pool: list[str], bound: list[str], page_size: int) -> None:
    result = proxy_candidates(address, pool, bound)
    # a permutation of the pool's distinct unbound numbers
    assert sorted(result) == sorted(set(pool) - set(bound))
    # nearest first: the distance rank never decreases along the result
    ranks = [_distance_rank(address, n) for n in result]
    assert ranks == sorted(ranks)
    # pages concatenate to the whole
    pages: list[str] = []
    page = 0
    while chunk := proxy_candidates(address, pool, bound, page=page, page_size=page_size):
        assert len(chunk) <= page_size
        pages += chunk
        page += 1
    assert pages == result
    # same area code numbers come first
    if address.startswith("+1") and len(address) == 12:
        same = [n for n in result if n[:5] == address[:5]]
        assert result[: len(same)] == same


def test_order_by_proximity_is_stable_for_ties() -> None:
    a, b = "+13125550001", "+13125550002"
    assert order_by_proximity(CHICAGO, [a, b]) == [a, b]
    assert order_by_proximity(CHICAGO, [b, a]) == [b, a]
