"""Staff working together through the real engine and the real relay (uvicorn, DynamoDB
Local): one desktop's "typing" reaches another desktop's engine as a `PresenceChanged`
and a desktop that vanishes drops out by itself; shared templates are saved
version-checked and reach every desktop through the feed."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.relay import conversation_store
from app.sync.api import (
    ChangesApplied,
    EngineError,
    PresenceChanged,
    SharedTemplate,
    SyncState,
)
from tests.support.relay import RelayHandle, Seed, issue_staff_key, seed_dealer, start_relay
from tests.sync.conftest import Recorder, fast_engine

pytestmark = pytest.mark.dynamodb


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str) -> Iterator[tuple[RelayHandle, Seed]]:
    handle = start_relay(
        dynamodb_endpoint,
        background=False,
        stream_heartbeat_s=0.3,
        stream_poll_s=0.05,
        presence_viewing_hold_s=1.5,
        presence_typing_hold_s=1.0,
    )
    seed = seed_dealer(handle, web2text_number="+13125550144")
    yield handle, seed
    handle.stop()


def _conversation(handle: RelayHandle, seed: Seed) -> str:
    sid = "CH" + uuid.uuid4().hex
    conversation_store.put_conversation(
        handle.tables,
        {
            "ConversationSid": sid,
            "LocationId": seed.location_id,
            "LocationIds": [seed.location_id],
            "CustomerPhone": "+13125550100",
            "Web2TextNumber": "+13125550144",
            "State": "active",
            "LeadIds": [],
            "Version": 1,
        },
    )
    return sid


def _of(rec: Recorder, sid: str, staff_id: str) -> list[PresenceChanged]:
    return [
        e for e in rec.of(PresenceChanged) if (e.conversation_sid, e.staff_id) == (sid, staff_id)
    ]


async def test_typing_reaches_a_colleague_and_a_vanished_desktop_drops_out(
    relay: tuple[RelayHandle, Seed], tmp_path: Path
) -> None:
    handle, seed = relay
    sid = _conversation(handle, seed)
    dana_key = issue_staff_key(handle, seed.retailer_id, [seed.location_id], "s-dana", "Dana")
    bo_key = issue_staff_key(handle, seed.retailer_id, [seed.location_id], "s-bo", "Bo")
    dana = fast_engine(tmp_path / "dana", handle.url, dana_key)
    bo = fast_engine(tmp_path / "bo", handle.url, bo_key)
    heard = Recorder()
    bo.add_listener(heard)
    await dana.start()
    await bo.start()
    try:
        await heard.wait_for(lambda: bo.status().state is SyncState.ONLINE, timeout=20)
        dana_rec = Recorder()
        dana.add_listener(dana_rec)
        await dana_rec.wait_for(lambda: dana.status().state is SyncState.ONLINE, timeout=20)
        await dana.set_presence(sid, "typing")
        await heard.wait_for(lambda: any(e.state == "typing" for e in _of(heard, sid, "s-dana")))
        typing = next(e for e in _of(heard, sid, "s-dana") if e.state == "typing")
        assert typing.staff_name == "Dana" and typing.expires_at.tzinfo is not None
        # "left" ends it at once
        await dana.set_presence(sid, "left")
        await heard.wait_for(lambda: _of(heard, sid, "s-dana")[-1].state == "left")
        # viewing, then Dana's PC vanishes (no "left" is ever sent): it lapses by itself
        await dana.set_presence(sid, "viewing")
        await heard.wait_for(lambda: _of(heard, sid, "s-dana")[-1].state == "viewing")
        await dana.stop()
        await heard.wait_for(lambda: _of(heard, sid, "s-dana")[-1].state == "left", timeout=10)
    finally:
        await dana.stop()
        await bo.stop()


async def test_presence_is_not_sent_offline(tmp_path: Path) -> None:
    engine = fast_engine(tmp_path / "off", None, None)
    await engine.start()
    try:
        await engine.set_presence("CH" + "0" * 32, "viewing")  # nothing to send it to
        assert engine.status().state is SyncState.OFFLINE
    finally:
        await engine.stop()


async def test_shared_templates_are_version_checked_and_reach_every_desktop(
    relay: tuple[RelayHandle, Seed], tmp_path: Path
) -> None:
    handle, seed = relay
    loc = seed.location_id
    dana_key = issue_staff_key(handle, seed.retailer_id, [loc], "s-dana2", "Dana")
    bo_key = issue_staff_key(handle, seed.retailer_id, [loc], "s-bo2", "Bo")
    dana = fast_engine(tmp_path / "dana", handle.url, dana_key)
    bo = fast_engine(tmp_path / "bo", handle.url, bo_key)
    dana_rec, bo_rec = Recorder(), Recorder()
    dana.add_listener(dana_rec)
    bo.add_listener(bo_rec)
    await dana.start()
    await bo.start()
    try:
        for engine, rec in ((dana, dana_rec), (bo, bo_rec)):
            await rec.wait_for(lambda e=engine: e.status().state is SyncState.ONLINE, timeout=20)
        start = (await dana.shared_templates(loc)).version
        hours = SharedTemplate(None, "Hours", "Hi {first_name}, we're open 9-6.")
        saved = await dana.save_shared_templates(loc, [hours], start)
        assert saved.version == start + 1 and saved.updated_by == "Dana"
        # Bo edits what he saw before Dana's save: refused, and he now has hers
        with pytest.raises(EngineError) as err:
            await bo.save_shared_templates(loc, [SharedTemplate(None, "Mine", "x")], start)
        assert err.value.reason == "version_conflict"
        assert (await bo.shared_templates(loc)).templates == saved.templates

        # on her version his edit goes; Dana's desktop gets it from the feed
        def dana_heard() -> int:
            return sum(loc in e.location_ids for e in dana_rec.of(ChangesApplied))

        heard_before = dana_heard()
        [kept] = saved.templates
        visit = SharedTemplate(None, "Visit", "Stop by {location_name}!")
        again = await bo.save_shared_templates(loc, [kept, visit], saved.version)
        assert [t.name for t in again.templates] == ["Hours", "Visit"]
        assert again.templates[0].template_id == kept.template_id
        await dana_rec.wait_for(lambda: dana_heard() > heard_before)
        assert await dana.shared_templates(loc) == again
        # a template with an unknown merge field is refused with the relay's reason
        bad = SharedTemplate(None, "Bad", "Hi {nickname}")
        with pytest.raises(EngineError) as err:
            await dana.save_shared_templates(loc, [bad], again.version)
        assert err.value.reason == "invalid_template"
    finally:
        await dana.stop()
        await bo.stop()


async def test_shared_templates_are_saved_online_only(tmp_path: Path) -> None:
    engine = fast_engine(tmp_path / "off", None, None)
    await engine.start()
    try:
        with pytest.raises(EngineError) as err:
            await engine.save_shared_templates("loc-1", [SharedTemplate(None, "A", "b")], 0)
        assert err.value.reason == "offline"
        assert (await engine.shared_templates("loc-1")).version == 0
    finally:
        await engine.stop()
