"""Photos on the desktop, end to end: the UI, the real engine, the real relay on
DynamoDB Local and the Twilio simulator. A customer's photo shows as a thumbnail in
the open thread (made off the Qt thread, kept in the data folder) and opens in a
viewer (zoom, save as); staff attach a photo by dropping or pasting it and it reaches
the customer's handset exactly once with its text."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

from app.relay import message_store
from app.relay.change_records import decode_cursor
from app.sandbox.twilio_sim import SimHandle
from app.ui.controller import AppController, Options
from app.ui.thread_model import MessageItem
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay
from tests.support.twilio_sim import running_simulator
from tests.sync.integration import create_lead
from tests.ui.conftest import MemoryKeyring, open_lead

pytestmark = pytest.mark.dynamodb

POOL = [f"+1312555{n:04d}" for n in range(7301, 7309)]


def png_bytes(width: int = 640, height: int = 480) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice

    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("teal"))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data.data())


@pytest.fixture(scope="module")
def stack(dynamodb_endpoint: str) -> Iterator[tuple[SimHandle, RelayHandle, Seed]]:
    with running_simulator(pool=POOL) as sim:
        relay = start_relay(dynamodb_endpoint, sim, stream_heartbeat_s=0.3, stream_poll_s=0.05)
        sim.set_webhook_url(f"{relay.url}/TwilioWebhooks/onIncomingMessage")
        seed = seed_dealer(relay, web2text_number="+13125550188", pool=POOL)
        yield sim, relay, seed
        relay.stop()


def _bubbles(window: Any) -> list[Any]:
    model = window.thread_model
    items = [model.item_at(i) for i in range(model.rowCount())]
    return [it.message for it in items if isinstance(it, MessageItem)]


class _Problems(logging.Handler):
    """Warnings and errors logged by the relay and the engine (both in this process)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append(f"{record.name}: {record.getMessage()}"[:300])


def _where_the_photo_is(
    relay: RelayHandle, conversation_sid: str, w: Any, data_dir: Path, problems: list[str]
) -> str:
    """Where a customer's photo got to, for a failed wait: stored by the relay (from
    the webhook), written to the change log, mirrored by the engine, shown in the
    thread; and what went wrong on the way (warnings logged meanwhile)."""
    stored = [(m.get("Body"), bool(m.get("Media")))
              for m in message_store.list_messages(relay.tables, conversation_sid)]
    status = w.engine.status() if getattr(w, "engine", None) is not None else None
    log = relay.app.state.ctx.change_log
    cursor = status.cursor if status is not None else None
    positions = decode_cursor(cursor)
    page = log.read(sorted(positions), cursor, limit=50)
    logged = [(c.seq, c.entity, c.entity_id) for c in page.changes]
    mirrored: list[Any] = []
    for db in data_dir.glob("**/sync.db"):
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            mirrored += conn.execute(
                "SELECT body, media != '[]' FROM messages WHERE conversation_sid = ?",
                (conversation_sid,)).fetchall()
    shown = [(m.body, len(m.media)) for m in _bubbles(w)]
    model = w.thread_model
    loads = (f"loading {model._loading}, reload pending {model.reload_pending}, "
             f"errors {model._tasks.errors}")
    return (f"relay stored {stored}; change log after the engine's cursor {logged}; "
            f"engine {status}; engine mirrored {mirrored}; thread shows {shown} ({loads}); "
            f"warnings {problems}")


def test_photos_in_and_out_of_the_desktop(
    stack: tuple[SimHandle, RelayHandle, Seed],
    tmp_path: Path,
    memory_keyring: MemoryKeyring,
    qtbot: Any,
    loop: Any,
) -> None:
    sim, relay, seed = stack
    lead = create_lead(relay, seed, name="Photo Phil")
    proxy = sim.handset(lead.customer)[0]["from"]
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    ctrl = AppController(
        app,
        Options(data_dir=tmp_path, relay_url=relay.url),
        tray_available=True,
        env={"W2T_TOKEN": seed.staff_key},
    )
    task = asyncio.ensure_future(ctrl.run())
    w = ctrl.window
    qtbot.waitUntil(lambda: ctrl.engine is not None, timeout=10000)
    qtbot.waitUntil(lambda: w.leads_model.index_of_name("Photo Phil") >= 0, timeout=20000)
    open_lead(w, qtbot, "Photo Phil")

    # a customer's photo: a thumbnail in the open thread, then the viewer
    photo = png_bytes()
    media = [{"contentType": "image/png", "filename": "porch.png",
              "dataBase64": base64.b64encode(photo).decode()}]
    problems = _Problems()
    logging.getLogger("app").addHandler(problems)
    try:
        sim.inbound(lead.customer, proxy, "Here is the porch", media)
        # generous: on a busy machine a slow DynamoDB Local read holds up the relay's
        # shared head watch, and so its streams, until botocore's timeout
        qtbot.waitUntil(lambda: any(m.media for m in _bubbles(w)), timeout=60000)
    except qtbot.TimeoutError as exc:
        where = _where_the_photo_is(relay, lead.conversation_sid, w, tmp_path, problems.seen)
        raise AssertionError(where) from exc
    finally:
        logging.getLogger("app").removeHandler(problems)
    message = next(m for m in _bubbles(w) if m.media)
    item = message.media[0]
    thumbs = w.thread_model.thumbnails
    qtbot.waitUntil(lambda: thumbs.image(item) is not None, timeout=30000)
    thumb = thumbs.image(item)
    assert thumb is not None and max(thumb.width(), thumb.height()) == 240
    assert any(tmp_path.glob("**/media/thumbs/*.png"))  # kept on disk for the next time

    view = w.pane.view
    row = next(i for i in range(w.thread_model.rowCount())
               if isinstance(w.thread_model.item_at(i), MessageItem)
               and w.thread_model.item_at(i).message.media)
    index = w.thread_model.index(row)
    view.scrollTo(index)
    rect = view.visualRect(index)
    lay = view.delegate.layout(rect, message, w.thread_model.item_at(row).show_author, view.font())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=lay.photos[0].center())
    qtbot.waitUntil(lambda: bool(view.viewers) and view.viewers[-1].loaded, timeout=30000)
    viewer = view.viewers[-1]
    before = viewer.zoom
    viewer.zoom_in_button.click()
    assert viewer.zoom > before
    saved = tmp_path / "saved.png"
    viewer.save_to(saved).join(10)
    assert saved.read_bytes() == photo
    viewer.close()

    # staff drop a photo on the composer and send it with a text
    source = tmp_path / "showroom.png"
    source.write_bytes(png_bytes(320, 200))
    drop = QMimeData()
    drop.setUrls([QUrl.fromLocalFile(str(source))])
    composer = w.pane.composer
    assert composer.edit.canInsertFromMimeData(drop)
    composer.edit.insertFromMimeData(drop)
    assert composer.attachment == source and composer.chip.isVisible()
    assert composer.edit.toPlainText() == ""  # a photo never becomes text in the box
    qtbot.keyClicks(composer.edit, "ph: our showroom")
    qtbot.keyClick(composer.edit, Qt.Key.Key_Return)
    assert composer.attachment is None and not composer.chip.isVisible()
    qtbot.waitUntil(
        lambda: any(m.body == "ph: our showroom" and m.media for m in _bubbles(w)), timeout=5000)

    def sent() -> list[dict[str, Any]]:
        return [m for m in sim.handset(lead.customer) if m["body"] == "ph: our showroom"]

    qtbot.waitUntil(lambda: bool(sent()), timeout=60000)
    assert sent()[0]["media"][0]["filename"] == "showroom.png"

    # a pasted image becomes the attachment (written to a file off the Qt thread)
    pasted = QMimeData()
    image = QImage(50, 40, QImage.Format.Format_RGB32)
    image.fill(QColor("orange"))
    pasted.setImageData(image)
    composer.edit.insertFromMimeData(pasted)
    qtbot.waitUntil(lambda: composer.attachment is not None, timeout=5000)
    assert composer.attachment is not None and composer.attachment.suffix == ".png"
    assert QImage(str(composer.attachment)).size() == image.size()
    composer.chip.remove_button.click()
    assert composer.attachment is None

    ctrl.quit()
    qtbot.waitUntil(task.done, timeout=15000)
    sim.wait_idle()
    assert len(sent()) == 1  # exactly once
