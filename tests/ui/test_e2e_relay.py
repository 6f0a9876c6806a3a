"""The desktop against the real engine and the real relay (uvicorn, DynamoDB Local).

Changes are put on the relay's own change log (what its webhook and lead handlers
write), so the feed, the engine's store and the widgets are all real; sends go
through the relay's staff API.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.sync.api import SyncState
from app.ui.controller import AppController, Options
from app.ui.profiles import KEYRING_SERVICE
from app.ui.thread_model import MessageItem
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay
from tests.ui.conftest import MemoryKeyring, open_lead
from tests.ui.fake_engine import install_fake_demo

pytestmark = pytest.mark.dynamodb


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str) -> Iterator[tuple[RelayHandle, Seed]]:
    handle = start_relay(
        dynamodb_endpoint, None, background=False, stream_heartbeat_s=0.3, stream_poll_s=0.05,
        snapshot_bootstrap=False,  # its changes are written to the log only: replay it
    )
    seed = seed_dealer(handle, web2text_number="+13125550166")
    yield handle, seed
    handle.stop()


def ts(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Feed:
    """Writes leads, conversations and messages on the relay's change log."""

    def __init__(self, handle: RelayHandle, seed: Seed) -> None:
        self.handle, self.seed = handle, seed
        self.versions: dict[str, int] = {}

    def _put(self, entity: str, ident: str, data: dict[str, Any]) -> None:
        version = self.versions.get(ident, 0) + 1
        self.versions[ident] = version
        data = {
            **data,
            "version": version,
            "locationId": self.seed.location_id,
            "retailerId": self.seed.retailer_id,
        }
        self.handle.ctx.change_log.record(self.seed.location_id, entity, ident, version, data)

    def lead(self, name: str, phone: str, minutes_ago: float = 5) -> tuple[str, str]:
        lead_id, sid = str(uuid.uuid4()), "CH" + uuid.uuid4().hex
        at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        self._put(
            "conversation",
            sid,
            {
                "conversationSid": sid,
                "customerPhone": phone,
                "web2textNumber": self.seed.web2text_number,
                "state": "active",
                "leadIds": [lead_id],
                "unreadCount": 1,
                "lastMessageAt": ts(at),
                "lastMessagePreview": "Do you have oak flooring?",
                "optedOut": False,
            },
        )
        self._put(
            "lead",
            lead_id,
            {
                "leadId": lead_id,
                "conversationSid": sid,
                "status": "ACTIVE",
                "pipelineStatus": "new",
                "assigneeId": None,
                "assigneeName": None,
                "notes": [],
                "activity": [{"at": ts(at), "kind": "created", "text": "Lead created"}],
                "customer": {
                    "name": name,
                    "phone": phone,
                    "preferredContact": "text",
                    "message": "Do you have oak flooring?",
                    "pageUrl": "https://x.test/oak",
                },
                "dateSubmitted": ts(at),
                "lastActivityAt": ts(at),
                "firstStaffReplyAt": None,
                "possibleOptOut": False,
                "optedOut": False,
            },
        )
        self.message(sid, "Do you have oak flooring?", at=at)
        return lead_id, sid

    def message(self, sid: str, body: str, at: datetime | None = None) -> str:
        msid = "IM" + uuid.uuid4().hex
        self._put(
            "message",
            msid,
            {
                "messageSid": msid,
                "conversationSid": sid,
                "index": None,
                "author": "+13125550134",
                "authorKind": "customer",
                "body": body,
                "status": "delivered",
                "createdAt": ts(at or datetime.now(UTC)),
                "idempotencyKey": None,
            },
        )
        return msid


def controller(tmp_path: Path, **kw: Any) -> AppController:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    env = kw.pop("env", {})
    return AppController(app, Options(data_dir=tmp_path, **kw), tray_available=True, env=env)


def test_check_key_asks_the_relay_through_the_engines_client(
    relay: tuple[RelayHandle, Seed], run: Any
) -> None:
    from app.ui.signin import SignInError, check_key

    handle, seed = relay
    me = run(check_key(handle.url + "/", f"  {seed.staff_key} "))
    assert (me.staff_id, me.retailer_id) == (seed.staff_id, seed.retailer_id)
    assert me.location_ids == (seed.location_id,)

    def reason(url: str, key: str, timeout: float = 10.0) -> tuple[str, str]:
        try:
            run(check_key(url, key, timeout=timeout))
        except SignInError as exc:
            return exc.reason, exc.message
        raise AssertionError("the key was accepted")

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    closed_url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    silent = socket.socket()  # accepts connections, never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    try:
        assert reason(handle.url, "not-a-real-key")[0] == "unauthorized"
        assert reason(handle.url, seed.lead_key) == (
            "forbidden", "This key isn't a staff key (it can't open the inbox)."
        )
        unreachable = f"Can't reach the relay at {closed_url}."
        assert reason(closed_url, "k") == ("relay_unreachable", unreachable)
        assert reason(silent_url, "k", timeout=0.3)[0] == "relay_timeout"
        assert reason("http://relay.example.com", "k")[0] == "insecure_relay_url"
        assert reason(handle.url, "  ")[0] == "key_missing"
    finally:
        silent.close()


def test_sign_in_dialog_against_real_relay_then_live_inbox(
    relay: tuple[RelayHandle, Seed],
    tmp_path: Path,
    memory_keyring: MemoryKeyring,
    qtbot: Any,
    loop: Any,
) -> None:
    handle, seed = relay
    feed = Feed(handle, seed)
    _, _ = feed.lead("Alma Ortiz", "+13125550171", minutes_ago=30)
    ctrl = controller(tmp_path)
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.signin is not None and ctrl.signin.isVisible())
    dlg = ctrl.signin
    assert dlg is not None
    # a wrong key first: the relay's 401 becomes a clear message
    qtbot.keyClicks(dlg.url_edit, handle.url)
    qtbot.keyClicks(dlg.key_edit, "not-a-real-key")
    qtbot.mouseClick(dlg.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dlg.error_label.isVisible, timeout=10000)
    assert "doesn't recognise this key" in dlg.error_label.text()
    dlg.key_edit.clear()
    qtbot.keyClicks(dlg.key_edit, seed.staff_key)
    qtbot.mouseClick(dlg.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ctrl.engine is not None, timeout=10000)
    # the key went to the keyring, not to a file
    assert (
        memory_keyring.store[(KEYRING_SERVICE, f"{handle.url}|{seed.staff_id}")] == seed.staff_key
    )
    assert seed.staff_key not in (tmp_path / "profiles.json").read_text()
    w = ctrl.window
    qtbot.waitUntil(
        lambda: ctrl.engine is not None and ctrl.engine.status().state is SyncState.ONLINE,
        timeout=15000,
    )
    qtbot.waitUntil(lambda: "Online" in w.status_bar.state_label.text(), timeout=5000)
    qtbot.waitUntil(
        lambda: any(
            w.leads_model.row_at(i).name == "Alma Ortiz"  # type: ignore[union-attr]
            for i in range(w.leads_model.rowCount())
        ),
        timeout=10000,
    )
    # a new lead arrives live over the stream
    feed.lead("Ben Okafor", "+13125550172", minutes_ago=0)
    qtbot.waitUntil(
        lambda: w.leads_model.rowCount() > 0 and w.leads_model.row_at(0).name == "Ben Okafor",
        timeout=10000,
    )  # type: ignore[union-attr]
    started = time.monotonic()
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=15000)
    assert time.monotonic() - started < 10


def test_relay_url_and_token_provision_then_inbound_bubble_and_notification(
    relay: tuple[RelayHandle, Seed],
    tmp_path: Path,
    memory_keyring: MemoryKeyring,
    qtbot: Any,
    loop: Any,
) -> None:
    handle, seed = relay
    feed = Feed(handle, seed)
    _, sid_open = feed.lead("Cara Diaz", "+13125550173", minutes_ago=2)
    _, sid_other = feed.lead("Dev Patel", "+13125550174", minutes_ago=3)
    ctrl = controller(tmp_path, relay_url=handle.url, env={"W2T_TOKEN": seed.staff_key})
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.engine is not None, timeout=10000)
    assert ctrl.signin is None  # no typing needed
    assert (
        memory_keyring.store[(KEYRING_SERVICE, f"{handle.url}|{seed.staff_id}")] == seed.staff_key
    )
    w = ctrl.window
    qtbot.waitUntil(
        lambda: ctrl.engine is not None and ctrl.engine.status().state is SyncState.ONLINE,
        timeout=15000,
    )
    qtbot.waitUntil(lambda: w.leads_model.index_of_name("Cara Diaz") >= 0, timeout=10000)  # type: ignore[attr-defined]
    open_lead(w, qtbot, "Cara Diaz")
    with qtbot.waitActive(w):
        w.activateWindow()
    feed.message(sid_open, "Is Saturday OK for a visit?")
    qtbot.waitUntil(
        lambda: any(
            isinstance(it := w.thread_model.item_at(i), MessageItem)
            and it.message.body == "Is Saturday OK for a visit?"
            for i in range(w.thread_model.rowCount())
        ),
        timeout=10000,
    )
    # a message in another conversation → one notification naming the customer
    feed.message(sid_other, "Hello? Anyone there?")
    qtbot.waitUntil(
        lambda: any(n.body == "Hello? Anyone there?" for n in ctrl.tray.shown), timeout=10000
    )
    assert not any(n.body == "Is Saturday OK for a visit?" for n in ctrl.tray.shown)
    assert next(n for n in ctrl.tray.shown if n.body == "Hello? Anyone there?").title == "Dev Patel"
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=15000)


def test_typed_message_goes_through_engine_to_relay(
    relay: tuple[RelayHandle, Seed],
    tmp_path: Path,
    memory_keyring: MemoryKeyring,
    qtbot: Any,
    loop: Any,
) -> None:
    """Without Twilio behind this relay the send cannot complete: the bubble shows at once
    as pending, the outbox keeps it, and the relay's answer comes back as a state."""
    handle, seed = relay
    feed = Feed(handle, seed)
    feed.lead("Eve Stone", "+13125550175", minutes_ago=1)
    ctrl = controller(tmp_path, relay_url=handle.url, env={"W2T_TOKEN": seed.staff_key})
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.engine is not None, timeout=10000)
    w = ctrl.window
    qtbot.waitUntil(lambda: w.leads_model.index_of_name("Eve Stone") >= 0, timeout=15000)  # type: ignore[attr-defined]
    open_lead(w, qtbot, "Eve Stone")
    qtbot.keyClicks(w.pane.composer.edit, "We do! Come by anytime.")
    qtbot.keyClick(w.pane.composer.edit, Qt.Key.Key_Return)

    def last() -> Any:
        items = [w.thread_model.item_at(i) for i in range(w.thread_model.rowCount())]
        msgs = [it.message for it in items if isinstance(it, MessageItem)]
        return msgs[-1] if msgs else None

    qtbot.waitUntil(
        lambda: last() is not None and last().body == "We do! Come by anytime.", timeout=3000
    )
    assert last().author_kind == "staff" and last().author_name
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=15000)


def test_demo_flag_uses_start_demo_and_stops_it(
    relay: tuple[RelayHandle, Seed],
    tmp_path: Path,
    memory_keyring: MemoryKeyring,
    qtbot: Any,
    loop: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--demo` calls app.sandbox.demo.start_demo() off the Qt thread, signs in with what it
    returns (without touching the keyring), and stops the demo at quit. The real demo takes
    over a minute to seed, so this stands it in with the test relay."""
    import threading

    handle, seed = relay
    calls: list[str] = []

    def start_demo(folder: Path) -> tuple[str, str, str]:
        calls.append(f"start:{threading.current_thread() is threading.main_thread()}:{folder.name}")
        return handle.url, seed.staff_key, str(folder)

    def stop_demo() -> None:
        calls.append("stop")

    install_fake_demo(monkeypatch, start_demo, stop_demo)
    ctrl = controller(tmp_path, demo=True)
    task = asyncio.ensure_future(ctrl.run())
    qtbot.waitUntil(lambda: ctrl.engine is not None, timeout=15000)
    assert calls == ["start:False:demo"]  # on a worker thread, in <data-dir>/demo
    assert ctrl.profile is not None and ctrl.profile.staff_id == seed.staff_id
    assert not memory_keyring.store  # demo keys never reach the keyring
    window = ctrl.window
    side = window.sidebar
    assert side.demo_badge.isVisibleTo(window) and side.demo_badge.text() == "DEMO"
    qtbot.waitUntil(lambda: side.staff_label.text().startswith("Signed in as "), timeout=15000)
    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=15000)
    assert calls[-1] == "stop"


def test_web2text_process_with_a_real_engine_quits_cleanly(
    relay: tuple[RelayHandle, Seed], tmp_path: Path
) -> None:
    """The console script, provisioned from the environment, with the real engine syncing:
    `--quit-after` closes it with exit code 0 (no hang, no crash at exit)."""
    import os
    import subprocess
    import sys

    handle, seed = relay
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "W2T_TOKEN": seed.staff_key,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    script = Path(sys.executable).with_name("web2text")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "app.ui.main"]
    started = time.monotonic()
    proc = subprocess.run(
        [*cmd, "--data-dir", str(tmp_path), "--relay-url", handle.url, "--quit-after", "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert time.monotonic() - started < 30
    # provisioned: the profile exists, the engine opened its own store
    assert (tmp_path / "profiles.json").exists()
    assert any((tmp_path / "profiles").iterdir())
