"""The photo figures of the contact issue, measured on loopback:

1. Inbound photo webhook → thumbnail painted in the open thread: p50 and p99
   (goal p99 <= 300 ms). t0 just before the simulator receives the customer's MMS
   (it then posts the signed webhooks to the relay); t1 the first paint of the
   thread's viewport after the thumbnail store reported the photo ready. Baseline,
   same run, same path: a text without a photo, t1 the first paint after its bubble
   is in the thread (the photo's extra is fetching it and making the thumbnail).
2. The largest Qt-thread stall while 20 photos (1600x1200 JPEGs) arrive at once
   (goal <= 50 ms): the longest gap between beats of a 5 ms precise timer on the
   Qt thread from the burst until all 20 thumbnails are in, minus the interval.

    QT_QPA_PLATFORM=offscreen .venv/bin/python -m bench.ui.bench_photos [--n 40]

DynamoDB Local and the relay (`web2text-relay serve`) run in their own processes;
the Twilio simulator runs in this one (its webhook posts are threads of this process:
they compete with the Qt thread for the interpreter, so figure 2 is an upper bound).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QObject, Qt, QTimer
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication

POOL = [f"+1312555{n:04d}" for n in range(7401, 7409)]
SIM_SID, SIM_TOKEN = "AC" + "5" * 32, "bench-photos-token"


def jpeg(width: int, height: int, shade: int) -> bytes:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor((shade * 37) % 256, (shade * 91) % 256, 160))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "JPEG", 85)
    return bytes(data.data())


def media(data: bytes, name: str) -> list[dict[str, str]]:
    return [{"contentType": "image/jpeg", "filename": name,
             "dataBase64": base64.b64encode(data).decode()}]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


class FirstPaint(QObject):
    """The time of the first viewport paint after each key was marked ready."""

    def __init__(self, viewport: Any) -> None:
        super().__init__()
        self.painted: dict[str, float] = {}
        self._waiting: set[str] = set()
        viewport.installEventFilter(self)

    def ready(self, keys: set[str]) -> None:
        self._waiting |= keys

    def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and self._waiting:
            now = time.perf_counter()
            for key in self._waiting:
                self.painted.setdefault(key, now)
            self._waiting.clear()
        return False


class PaintProbe(FirstPaint):
    """The first paint after each photo's thumbnail arrived (keyed by media sid)."""

    def __init__(self, viewport: Any, thumbs: Any) -> None:
        super().__init__(viewport)
        thumbs.ready.connect(lambda key: self.ready({key}))


class BubbleProbe(FirstPaint):
    """The first paint after each text's bubble is in the thread (keyed by body)."""

    def __init__(self, viewport: Any, model: Any) -> None:
        super().__init__(viewport)
        self._model = model
        self._seen: set[str] = {m.body for m in model.messages}
        model.rowsInserted.connect(self._rows)
        model.modelReset.connect(self._rows)

    def _rows(self, *_args: Any) -> None:
        new = {m.body for m in self._model.messages} - self._seen
        self._seen |= new
        self.ready(new)


async def text_baseline(n: int, w: Any, sim: Any, customer: str, proxy: str) -> list[float]:
    """Webhook → bubble painted for `n` texts without a photo (the baseline)."""
    probe = BubbleProbe(w.pane.view.viewport(), w.thread_model)
    latencies = []
    for i in range(n):
        body = f"baseline text {i}"
        t0 = time.perf_counter()
        await asyncio.to_thread(sim.inbound, customer, proxy, body)
        while body not in probe.painted:
            await asyncio.sleep(0.002)
        latencies.append((probe.painted[body] - t0) * 1000)
    return latencies


async def scenario(n: int, ctrl: Any, sim: Any, customer: str, proxy: str) -> dict[str, Any]:
    w = ctrl.window
    print("waiting for the lead", file=sys.stderr)
    while ctrl.engine is None or w.leads_model.index_of_name("Bench Photo") < 0:
        await asyncio.sleep(0.05)
    row = w.leads_model.index_of_name("Bench Photo")
    w.leads_view.setCurrentIndex(w.leads_model.index(row))
    lead_row = w.leads_model.row_at(row)
    assert lead_row is not None
    lead_id = lead_row.lead_id
    w.open_lead(lead_id, focus=True)
    while w.thread_model.rowCount() == 0:
        await asyncio.sleep(0.05)
    print("thread open", file=sys.stderr)
    baseline = await text_baseline(n, w, sim, customer, proxy)
    probe = PaintProbe(w.pane.view.viewport(), w.thread_model.thumbnails)

    def sent_sid(record: dict[str, Any]) -> str:
        return str(record["media"][0]["sid"])

    latencies = []
    small = [jpeg(1024, 768, i) for i in range(n)]
    for i, data in enumerate(small):
        t0 = time.perf_counter()
        record = await asyncio.to_thread(sim.inbound, customer, proxy, "", media(data, f"p{i}.jpg"))
        sid = sent_sid(record)
        while sid not in probe.painted:
            await asyncio.sleep(0.002)
        latencies.append((probe.painted[sid] - t0) * 1000)

    print(f"latency done: {len(latencies)}", file=sys.stderr)
    # 20 at once, with a precise beat on the Qt thread
    beats: list[float] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(5)
    timer.timeout.connect(lambda: beats.append(time.perf_counter()))
    burst = [jpeg(1600, 1200, 100 + i) for i in range(20)]
    timer.start()
    await asyncio.sleep(1.0)
    start = time.perf_counter()
    with ThreadPoolExecutor(20) as pool:
        futures = [
            asyncio.wrap_future(
                pool.submit(sim.inbound, customer, proxy, "", media(d, f"b{i}.jpg"))
            )
            for i, d in enumerate(burst)
        ]
        records = await asyncio.gather(*futures)
    sids = {sent_sid(r) for r in records}

    def shown() -> set[str]:
        return {m.media[0].sid for m in w.thread_model.messages if m.media}

    # every photo in the thread, and the thumbnails of those on screen painted (rows
    # scrolled out of view load theirs when they are scrolled to)
    thumbs = w.thread_model.thumbnails
    while not sids <= shown() or thumbs.loading or not probe.painted.keys() & sids:
        await asyncio.sleep(0.01)
    end = time.perf_counter()
    painted_in_burst = len(probe.painted.keys() & sids)
    timer.stop()
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(x for x in beats if start <= x <= end)]
    return {
        "photo_to_thumbnail_ms": {"n": n, "p50": pct(latencies, 0.5), "p99": pct(latencies, 0.99),
                                  "max": round(max(latencies), 1), "goal_p99": 300},
        "baseline_text_to_bubble_ms": {"n": n, "p50": pct(baseline, 0.5),
                                       "p99": pct(baseline, 0.99)},
        "photo_over_text": {"p50": round(pct(latencies, 0.5) / pct(baseline, 0.5), 2),
                            "p99": round(pct(latencies, 0.99) / pct(baseline, 0.99), 2)},
        "burst_20_photos": {"seconds": round(end - start, 2),
                            "thumbnails_painted": painted_in_burst,
                            "max_stall_ms": round(max(gaps) - 5, 1),
                            "p99_gap_ms": pct(gaps, 0.99), "goal_max_stall": 50},
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=40)
    args = parser.parse_args()

    import qasync

    from app.sandbox.servers import free_port
    from app.sandbox.twilio_sim import start_simulator
    from app.ui.controller import AppController, Options
    from tests.support.dynamodb_local import dynamodb_local
    from tests.support.relay import init_tables, new_prefix, seed_dealer
    from tests.support.relay_process import RelayProcess, relay_env
    from tests.sync.integration import create_lead

    app = QApplication.instance() or QApplication(sys.argv)
    with dynamodb_local() as endpoint, tempfile.TemporaryDirectory() as tmp:
        sim = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
        prefix = new_prefix()
        seed = seed_dealer(init_tables(endpoint, prefix), web2text_number="+13125550177", pool=POOL)
        port = free_port()
        env = relay_env(
            W2T_TABLE_PREFIX=prefix, W2T_DYNAMODB_ENDPOINT=endpoint,
            TWILIO_ACCOUNT_SID=SIM_SID, TWILIO_AUTH_TOKEN=SIM_TOKEN,
            W2T_TWILIO_BASE_URL=sim.url, W2T_PUBLIC_URL=f"http://127.0.0.1:{port}",
        )
        relay = RelayProcess(env, port, Path(tmp) / "relay.log")
        try:
            sim.set_webhook_url(f"{relay.url}/TwilioWebhooks/onIncomingMessage")
            lead = create_lead(SimpleNamespace(url=relay.url), seed, name="Bench Photo")
            proxy = sim.handset(lead.customer)[0]["from"]
            ctrl = AppController(app, Options(data_dir=Path(tmp) / "desk", relay_url=relay.url),
                                 tray_available=False, env={"W2T_TOKEN": seed.staff_key})
            loop = qasync.QEventLoop(app)
            asyncio.set_event_loop(loop)
            running = loop.create_task(ctrl.run())
            result = loop.run_until_complete(scenario(args.n, ctrl, sim, lead.customer, proxy))
            ctrl.quit()
            loop.run_until_complete(running)
            # qasync's default executor (asyncio.to_thread) runs QThreads: closing the
            # loop ends them before Qt does
            loop.close()
        finally:
            relay.stop()
            sim.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
