"""The demo's seed data: realistic, fictional, and covering the conversation rules."""

from __future__ import annotations

import collections
import uuid
from pathlib import Path

import pytest

from app.core.lead_schema import parse_create_request
from app.core.phones import parse_phone
from app.sandbox import demo_data as data
from app.sandbox.demo import MARKER, DemoError, reset_demo_dir


def _is_fictional(e164: str) -> bool:
    # NANP numbers reserved for fiction: NXX 555, line 0100-0199.
    return e164.startswith("+1") and e164[5:8] == "555" and e164[8:10] == "01"


def test_two_retailers_three_locations_two_sharing_a_number() -> None:
    assert len(data.RETAILERS) == 2
    assert {r.kind for r in data.RETAILERS} == {"cars", "flooring"}
    assert len(data.LOCATIONS) == 3
    numbers = collections.Counter(loc.web2text_number for loc in data.LOCATIONS)
    assert sorted(numbers.values()) == [1, 2]
    shared = [loc for loc in data.LOCATIONS if numbers[loc.web2text_number] == 2]
    assert len({loc.retailer for loc in shared}) == 1  # one retailer's two locations


def test_every_number_is_fictional_and_valid() -> None:
    numbers = [loc.web2text_number for loc in data.LOCATIONS]
    numbers += [loc.store_number for loc in data.LOCATIONS]
    numbers += data.proxy_pool()
    numbers += [lead.phone for lead in data.build_seed()]
    for number in numbers:
        assert _is_fictional(number), number
        assert parse_phone(number) == number


def test_proxy_pool_is_large_and_spread_over_area_codes() -> None:
    pool = data.proxy_pool()
    assert len(pool) == len(set(pool)) >= 200
    assert len({n[2:5] for n in pool}) >= 6
    reserved = {loc.web2text_number for loc in data.LOCATIONS}
    assert not reserved & set(pool)


def test_ids_are_stable_uuids() -> None:
    for r in data.RETAILERS:
        assert uuid.UUID(r.retailer_id).version == 5
    assert len({loc.location_id for loc in data.LOCATIONS}) == 3


def test_seed_is_deterministic_and_about_forty_leads() -> None:
    first, again = data.build_seed(7), data.build_seed(7)
    assert [lead.lead_id for lead in first] == [lead.lead_id for lead in again]
    assert 38 <= len(first) <= 44
    assert len({lead.lead_id for lead in first}) == len(first)
    assert [lead.lead_id for lead in data.build_seed(8)] != [lead.lead_id for lead in first]


def test_seed_covers_rules_histories_statuses_and_one_stop() -> None:
    leads = data.build_seed()
    by_pair = collections.Counter(
        (lead.phone, data.location(lead.location_key).web2text_number) for lead in leads
    )
    repeated = [pair for pair, n in by_pair.items() if n == 2]
    assert len(repeated) == 2  # rule 1 (same store twice) and rule 3 (shared number)
    rule3 = [lead for lead in leads if (lead.phone, data.SHARED_NUMBER) in repeated]
    assert {lead.location_key for lead in rule3} == {"lakeshore-new", "lakeshore-used"}
    assert sum(lead.texts_stop for lead in leads) == 1
    quitter = next(lead for lead in leads if lead.texts_stop)
    assert quitter.history and quitter.history[-1].speaker == "staff"
    speakers = collections.Counter(step.speaker for lead in leads for step in lead.history)
    assert speakers["customer"] > 10 and speakers["staff"] > 10 and speakers["store"] >= 1
    statuses = {lead.pipeline for lead in leads}
    assert {None, "contacted", "engaged", "appointment"} <= statuses
    assert sum(1 for lead in leads if not lead.history) >= 5  # untouched new leads
    # Both product worlds, on the retailer's own site, with traffic sources.
    kinds = {data.retailer(data.location(lead.location_key).retailer).kind for lead in leads}
    assert kinds == {"cars", "flooring"}
    for lead in leads:
        site = data.retailer(data.location(lead.location_key).retailer).website
        assert lead.page_url.startswith(site + "/")


def test_create_bodies_pass_the_relay_schema() -> None:
    for lead in data.build_seed():
        loc = data.location(lead.location_key)
        body = lead.create_body(data.retailer(loc.retailer).retailer_id, loc.location_id)
        parsed = parse_create_request(lead.lead_id, body)
        assert parsed.lead_id == lead.lead_id


def test_reset_demo_dir_wipes_only_demo_folders(tmp_path: Path) -> None:
    demo = reset_demo_dir(tmp_path / "demo")
    assert (demo / MARKER).exists()
    (demo / "profiles").mkdir()
    (demo / "profiles" / "store.sqlite").write_text("old demo data")
    again = reset_demo_dir(demo)
    assert again == demo and not (demo / "profiles").exists() and (demo / MARKER).exists()

    real = tmp_path / "real-profile"
    real.mkdir()
    (real / "profiles.json").write_text("{}")
    with pytest.raises(DemoError) as info:
        reset_demo_dir(real)
    assert info.value.reason == "demo_dir_not_empty"
    assert (real / "profiles.json").read_text() == "{}"

    empty = tmp_path / "empty"
    empty.mkdir()
    assert (reset_demo_dir(empty) / MARKER).exists()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(DemoError) as info:
        reset_demo_dir(a_file)
    assert info.value.reason == "demo_dir_invalid"


def test_default_demo_dir_is_separate_from_the_real_profile(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from app.sandbox.demo import default_demo_dir

    monkeypatch.delenv("W2T_DEMO_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    folder = default_demo_dir()
    assert folder.name == "demo"
    assert folder.parent == tmp_path / "Web2Text"
    monkeypatch.setenv("W2T_DEMO_DIR", str(tmp_path / "elsewhere"))
    assert default_demo_dir() == tmp_path / "elsewhere"
