"""The demo's snapshot: made by a start that plays the seed through the real APIs,
restored by the next start (`app.sandbox.demo.snapshot`, `.restore`, `.retime`).

The restored demo must be a working one: the desktop's feed holds the seeded
leads, the times are recent, and texts still flow both ways through the relay
and the simulator (their SIDs and webhooks re-made).
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.sandbox import demo_data as data
from app.sandbox.demo import DemoHandle, prepare, snapshot, start_demo, stop_demo
from app.sandbox.demo.retime import replace_sids, shift_epoch, shift_iso, shift_item

SEED, LEADS = 7, 6
TWO_DAYS = 2 * 24 * 3600
# an in-process relay on moto answers slowly on a loaded machine: no 5 s guess
SLOW = httpx.Timeout(60.0)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)
    return value


# ----------------------------------------------------------------- pure parts


def test_iso_timestamps_move_and_keep_their_format() -> None:
    text = '{"a": "2026-12-07T09:26:03.753015+00:00", "b": "at 2026-12-07T09:26:09Z", ' \
        '"c": "2026-12-07T23:59:59.5Z", "d": "2026-12-07", "e": "no time"}'
    moved = json.loads(shift_iso(text, timedelta(days=1, seconds=1)))
    assert moved == {
        "a": "2026-12-08T09:26:04.753015+00:00",
        "b": "at 2026-12-08T09:26:10Z",
        "c": "2026-12-09T00:00:00.5Z",
        "d": "2026-12-07",  # a date alone is not a moment
        "e": "no time",
    }


def test_epoch_numbers_near_the_making_move_others_do_not() -> None:
    made = 1_796_635_564.0
    assert shift_epoch("1796635564923", made, 60) == "1796635624923"  # ms
    assert shift_epoch("1796635570", made, 60) == "1796635630"  # s
    assert shift_epoch("1796635564.453", made, 60) == "1796635624.453"
    assert shift_epoch("4", made, 60) == "4"  # a version, a count
    assert shift_epoch("15551234567", made, 60) == "15551234567"


def test_items_and_sids() -> None:
    made = 1_796_635_564.0
    item = {"At": {"S": "2026-12-07T09:26:09Z"}, "Seq": {"N": "3"},
            "Exp": {"N": "1796635570"}, "L": {"L": [{"S": "x 2026-12-07T09:26:09Z"}]}}
    moved = shift_item(item, made, 3600)
    assert moved["At"]["S"] == "2026-12-07T10:26:09Z" and moved["Seq"]["N"] == "3"
    assert moved["Exp"]["N"] == "1796639170" and moved["L"]["L"][0]["S"].endswith("10:26:09Z")
    old, new = "CH" + "a" * 32, "CH" + "b" * 32
    assert replace_sids(f'["{old}", "CH{"c" * 32}"]', {old: new}) == f'["{new}", "CH{"c" * 32}"]'


def test_snapshot_names_follow_the_seed_and_the_code(tmp_path: Path) -> None:
    names = {snapshot.snapshot_name(s, n) for s, n in [(7, 40), (7, 10), (8, 40)]}
    assert len(names) == 3
    assert snapshot.fingerprint(7, 40) == snapshot.fingerprint(7, 40)
    bad = tmp_path / "bad.json.gz"
    with gzip.open(bad, "wt") as f:
        json.dump({"format": snapshot.FORMAT + 1}, f)
    with pytest.raises(ValueError):
        snapshot.load(bad)


def test_a_damaged_snapshot_is_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import app.sandbox.demo as demo

    monkeypatch.setenv("W2T_DEMO_SNAPSHOT_DIR", str(tmp_path))
    (tmp_path / snapshot.snapshot_name(SEED, LEADS)).write_bytes(b"not gzip")
    assert snapshot.find(SEED, LEADS) is not None
    assert demo._snapshot_for(SEED, LEADS) is None  # the start plays the seed instead
    assert "ignoring snapshot" in caplog.text


# ----------------------------------------------------------------- restored demo


@pytest.fixture(scope="module")
def restored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoHandle]:
    snaps = tmp_path_factory.mktemp("snapshots")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("W2T_DEMO_SNAPSHOT_DIR", str(snaps))
        path = prepare(SEED, LEADS)
        # as if it had been made two days ago: the restore moves it to now
        with gzip.open(path, "rt") as f:
            snap = json.load(f)
        snap["made_at"] -= TWO_DAYS
        snap["tables"] = json.loads(
            shift_iso(json.dumps(snap["tables"]), timedelta(seconds=-TWO_DAYS))
        )
        snapshot.save(snap, SEED, LEADS, snaps)
        handle = start_demo(tmp_path_factory.mktemp("demo") / "demo", seed=SEED, leads=LEADS,
                            live=False)
    handle.original = snap  # type: ignore[attr-defined]
    try:
        yield handle
    finally:
        stop_demo()


def _get(handle: DemoHandle, path: str, key: str, **params: Any) -> Any:
    resp = httpx.get(f"{handle.relay_url}{path}", params=params, timeout=SLOW,
                     headers={"Authorization": f"Bearer {key}"})
    assert resp.status_code == 200, resp.text
    return resp.json()


def _feed(handle: DemoHandle) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    cursor = ""
    while True:
        page = _get(handle, "/v1/changes", handle.staff_key, cursor=cursor, limit=500)
        changes += page["changes"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            return changes


def test_restore_holds_the_seeded_inbox(restored: DemoHandle) -> None:
    assert restored.stats.restored and restored.history_done.is_set()
    plan = data.build_seed(SEED, LEADS)
    mine = {lead.lead_id for lead in plan if lead.location_key in ("lakeshore-new",
                                                                   "lakeshore-used")}
    leads = {c["id"] for c in _feed(restored) if c["entity"] == "lead"}
    assert mine <= leads


def test_restored_times_are_recent(restored: DemoHandle) -> None:
    lead = data.build_seed(SEED, LEADS)[0]
    state = _get(restored, f"/Lead/{lead.lead_id}/status", restored.lead_key)
    submitted = datetime.fromisoformat(state["DateSubmitted"].replace("Z", "+00:00"))
    assert abs(datetime.now(UTC) - submitted) < timedelta(hours=1), submitted


def test_restored_conversations_have_new_sids_in_the_simulator(restored: DemoHandle) -> None:
    old = {c["conversation"]["sid"] for c in restored.original["conversations"]}  # type: ignore[attr-defined]
    sim = restored.sim
    for sid in restored.tracks:
        assert sid not in old
        resp = httpx.get(f"{sim.url}/v1/Conversations/{sid}", timeout=SLOW, auth=(sim.account_sid,
                                                                    sim.auth_token))
        assert resp.status_code == 200


def test_texts_flow_both_ways_after_a_restore(restored: DemoHandle) -> None:
    track = next(t for t in restored.tracks.values() if t.store_number == data.SHARED_NUMBER)
    before = len(restored.sim.handset(track.customer))
    resp = httpx.post(
        f"{restored.relay_url}/v1/conversations/{track.conversation_sid}/messages",
        timeout=SLOW,
        json={"body": "Still looking?"},
        headers={"Authorization": f"Bearer {restored.staff_key}",
                 "Idempotency-Key": str(uuid.uuid4())},
    )
    assert resp.status_code == 202, resp.text
    wait_for(lambda: len(restored.sim.handset(track.customer)) > before, 120, "the staff text")
    assert restored.sim.handset(track.customer)[-1]["body"] == "Still looking?"
    # ... and the customer's answer reaches the relay through the restored webhooks
    restored.sim.inbound(track.customer, track.customer_proxy, "Yes, tomorrow works")

    def answered() -> bool:
        return any(
            c["entity"] == "message" and c["data"].get("body") == "Yes, tomorrow works"
            for c in _feed(restored)
        )

    wait_for(answered, 120, "the customer's answer in the feed")


def test_the_snapshots_change_log_holds_each_entity_once(
    restored: DemoHandle,
) -> None:
    """The snapshot's change log is folded (`demo.compact`): a desktop syncing from
    cursor 0 reads each entity of a location once, and every lead is there (the
    restored relay appends what it does from then on)."""
    from app.relay.change_records import changes_of

    tables = restored.original["tables"]  # type: ignore[attr-defined]
    log = tables["ChangeLog"]
    # (a conversation of two locations sharing a number is in both locations' logs)
    keys = [(i["LocationId"]["S"], c[0], c[1]) for i in log for c in changes_of(i)]
    assert len(keys) == len(set(keys))
    leads = {entity_id for _, entity, entity_id in keys if entity == "lead"}
    assert leads == {i["LeadId"]["S"] for i in tables["LeadStates"]}
