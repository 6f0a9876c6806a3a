"""The desktop on a damaged PC, end to end: the real engine (`ThreadedEngine`), the real
relay on DynamoDB Local and the Twilio simulator, whose handset
(`GET /_sim/handset/{e164}`) shows each message exactly once.

- a locked, missing, wiped or broken keyring at start: a sign-in prompt (never a
  crash), and what was queued before goes out after sign-in;
- a full disk: the composer keeps what was typed, a banner names the folder and the
  room needed, and the app carries on by itself once space is freed;
- a damaged store: a calm notice of what was kept, shown once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import keyring
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import fail
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLabel

from app.sandbox.twilio_sim import SimHandle
from app.sync import store
from app.sync.api import SyncState
from app.sync.db import Database
from app.ui.controller import AppController, Options
from app.ui.profiles import Profile, ProfileStore, Secrets
from app.ui.thread_model import MessageItem
from tests.support.broken_keyring import BrokenKeyring, LockedKeyring, WipedKeyring
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay
from tests.support.twilio_sim import running_simulator
from tests.sync.damage import checkpoint, fill, kept_files, overwrite_page, pages_of, tiny_disk
from tests.sync.integration import LiveLead, create_lead
from tests.ui.conftest import MemoryKeyring

pytestmark = pytest.mark.dynamodb

POOL = [f"+1312555{n:04d}" for n in range(7301, 7310)]


@pytest.fixture(scope="module")
def stack(dynamodb_endpoint: str) -> Iterator[tuple[SimHandle, RelayHandle, Seed]]:
    with running_simulator(pool=POOL) as sim:
        relay = start_relay(dynamodb_endpoint, sim, stream_heartbeat_s=0.3,
                            stream_poll_s=0.05)
        sim.set_webhook_url(f"{relay.url}/TwilioWebhooks/onIncomingMessage")
        seed = seed_dealer(relay, web2text_number="+13125550277", store_number="+13125550278",
                           pool=POOL)
        yield sim, relay, seed
        relay.stop()


def handset(sim: SimHandle, phone: str) -> list[str]:
    got = httpx.get(f"{sim.url}/_sim/handset/{phone}", timeout=10).json()
    return [m["body"] for m in got["messages"]]


def controller(data_dir: Path, env: dict[str, str] | None = None,
               **options: Any) -> AppController:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    return AppController(app, Options(data_dir=data_dir, **options), tray_available=True,
                         env=env or {})


def saved_profile(data_dir: Path, relay: RelayHandle, seed: Seed) -> Profile:
    """The staff member who used this PC before (their profile; the key in the keyring)."""
    profile = Profile(seed.staff_id, "Sam Staff", relay.url, seed.retailer_id)
    ProfileStore(data_dir).save(profile)
    return profile


def queue_offline(data_dir: Path, profile: Profile, lead: LiveLead, *bodies: str) -> None:
    """Messages that waited in the profile's store (typed while offline)."""
    db = Database.open(ProfileStore(data_dir).engine_dir(profile))
    try:
        for body in bodies:
            db.writer.call(store.enqueue_send, lead.conversation_sid, body, None)
    finally:
        db.close()


def bubble(w: Any, body: str) -> bool:
    model = w.thread_model
    return any(isinstance(it := model.item_at(i), MessageItem) and it.message.body == body
               for i in range(model.rowCount()))


def quit_app(ctrl: AppController, task: Any, qtbot: Any) -> None:
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=20000)


#: keyring trouble -> (what the sign-in dialog says, the key can be saved after sign-in)
KEYRING_TROUBLE: dict[str, tuple[Callable[[], KeyringBackend], str, bool]] = {
    "locked": (LockedKeyring, "keyring is locked", False),
    "missing": (fail.Keyring, "has no keyring", False),
    "wiped": (WipedKeyring, "key is not in this computer's keyring", True),
    "broken": (BrokenKeyring, "could not be read (RuntimeError)", False),
}


@pytest.mark.parametrize("trouble", list(KEYRING_TROUBLE))
def test_keyring_trouble_asks_to_sign_in_and_the_queue_goes_out_after(
        trouble: str, stack: tuple[SimHandle, RelayHandle, Seed], tmp_path: Path, qtbot: Any,
        loop: Any) -> None:
    backend, said, saved = KEYRING_TROUBLE[trouble]
    sim, relay, seed = stack
    lead = create_lead(relay, seed, name=f"Kay {trouble.title()}")
    profile = saved_profile(tmp_path, relay, seed)
    body = f"{trouble}: queued before the keyring went wrong"
    queue_offline(tmp_path, profile, lead, body)
    previous = keyring.get_keyring()
    keyring.set_keyring(backend())
    try:
        ctrl = controller(tmp_path)
        task = asyncio.ensure_future(ctrl.run())
        qtbot.waitUntil(lambda: ctrl.signin is not None and ctrl.signin.isVisible(),
                        timeout=15000)
        dlg = ctrl.signin
        assert dlg is not None and dlg.url_edit.text() == relay.url
        note = " ".join(label.text() for label in dlg.findChildren(QLabel))
        assert said in note and "kept" in note, note
        qtbot.keyClicks(dlg.key_edit, seed.staff_key)
        qtbot.mouseClick(dlg.sign_in_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: ctrl.engine is not None, timeout=15000)
        # the same staff member's store: the queued message goes out, once
        qtbot.waitUntil(lambda: body in handset(sim, lead.customer), timeout=30000)
        if saved:  # a wiped keyring works: the key is kept in it again
            assert Secrets().get(profile) == seed.staff_key
        else:  # it cannot be saved: kept for the session, and said so
            assert ctrl.window.notice.isVisible()
            assert "not saved" in ctrl.window.notice.label.text()
            assert Secrets().get(profile) is None
        quit_app(ctrl, task, qtbot)
    finally:
        keyring.set_keyring(previous)
    assert [b for b in handset(sim, lead.customer) if b.startswith(f"{trouble}:")] == [body]


def test_a_full_disk_keeps_the_typed_text_and_carries_on(
        stack: tuple[SimHandle, RelayHandle, Seed], tmp_path: Path,
        memory_keyring: MemoryKeyring, qtbot: Any, loop: Any) -> None:
    sim, relay, seed = stack
    lead = create_lead(relay, seed, name="Fay Fulldisk")
    with tiny_disk(tmp_path, 24) as disk:
        data_dir = disk / "Web2Text"
        ctrl = controller(data_dir, relay_url=relay.url, env={"W2T_TOKEN": seed.staff_key})
        task = asyncio.ensure_future(ctrl.run())
        w = ctrl.window
        qtbot.waitUntil(lambda: w.leads_model.index_of_name("Fay Fulldisk") >= 0, timeout=20000)
        row = w.leads_model.index_of_name("Fay Fulldisk")
        rect = w.leads_view.visualRect(w.leads_model.index(row))
        qtbot.mouseClick(w.leads_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.waitUntil(lambda: w.current is not None and w.current.name == "Fay Fulldisk")
        filler = fill(disk)
        edit = w.pane.composer.edit
        accepted: list[str] = []
        for i in range(300):  # a full disk bites after a few writes (SQLite reuses its WAL)
            text = f"full: message {i:03d} " + "w" * 300
            qtbot.keyClicks(edit, text)
            qtbot.keyClick(edit, Qt.Key.Key_Return)
            # accepted (its bubble shows) or refused (the text is back in the composer)
            qtbot.waitUntil(lambda: edit.toPlainText() == text or bubble(w, text),  # noqa: B023
                            timeout=10000)
            if edit.toPlainText() == text:
                break
            accepted.append(text)
        else:
            raise AssertionError("the full disk never refused a message")
        storage = w.health.storage
        qtbot.waitUntil(storage.isVisible, timeout=10000)
        assert str(data_dir) in storage.label.text() and "MB free there" in storage.label.text()
        qtbot.waitUntil(lambda: "Can't save" in w.status_bar.state_label.text(), timeout=10000)
        filler.unlink()  # space again: no click needed
        qtbot.waitUntil(lambda: not storage.isVisible(), timeout=30000)
        qtbot.waitUntil(lambda: ctrl.engine is not None
                        and ctrl.engine.status().state is SyncState.ONLINE, timeout=30000)
        qtbot.keyClick(edit, Qt.Key.Key_Return)  # the kept text, sent now
        expected = [*accepted, text]
        qtbot.waitUntil(lambda: [b for b in handset(sim, lead.customer)
                                 if b.startswith("full:")] == expected, timeout=60000)
        assert edit.toPlainText() == ""
        quit_app(ctrl, task, qtbot)


def test_a_damaged_store_is_a_calm_notice_told_once(
        stack: tuple[SimHandle, RelayHandle, Seed], tmp_path: Path,
        memory_keyring: MemoryKeyring, qtbot: Any, loop: Any) -> None:
    sim, relay, seed = stack
    lead = create_lead(relay, seed, name="Dee Damaged")
    profile = saved_profile(tmp_path, relay, seed)
    Secrets().put(profile, seed.staff_key)
    bodies = [f"dmg: queued {i:02d} " + "q" * 300 for i in range(30)]
    queue_offline(tmp_path, profile, lead, *bodies)
    store_dir = ProfileStore(tmp_path).engine_dir(profile)
    checkpoint(store_dir)
    overwrite_page(store_dir, pages_of(store_dir, "outbox")[1])
    ctrl = controller(tmp_path)
    task = asyncio.ensure_future(ctrl.run())
    notice = ctrl.window.health.repair
    qtbot.waitUntil(notice.isVisible, timeout=20000)
    text = notice.label.text()
    assert "30 messages waiting to be sent" in text and str(kept_files(store_dir)[0]) in text
    qtbot.waitUntil(lambda: [b for b in handset(sim, lead.customer) if b.startswith("dmg:")]
                    == bodies, timeout=60000)
    qtbot.waitUntil(lambda: ctrl.engine is not None and ctrl.engine.status().repair is None)
    quit_app(ctrl, task, qtbot)
    again = controller(tmp_path)  # told once: not again at the next start
    task = asyncio.ensure_future(again.run())
    qtbot.waitUntil(lambda: again.engine is not None, timeout=20000)
    qtbot.waitUntil(lambda: again.engine is not None
                    and again.engine.status().state is SyncState.ONLINE, timeout=20000)
    assert not again.window.health.repair.isVisible()
    quit_app(again, task, qtbot)
