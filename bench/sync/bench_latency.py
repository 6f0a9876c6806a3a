"""Figure 3 of the sync issue: a Twilio webhook posted to the relay → the engine's
listener event, p50 and p99 on loopback (goal p99 <= 50 ms, issue 19), with its baseline.

    .venv/bin/python -m bench.sync.bench_latency [--n 200]

Runs DynamoDB Local, the Twilio simulator and a real relay (uvicorn) on
loopback, creates a lead through the lead service, starts a `SyncEngine` and
posts signed `onMessageAdded` webhooks for customer messages to
`/TwilioWebhooks/sync`, one at a time. For each: t0 just before the POST, t1
when the listener receives the `InboundMessages` event for that MessageSid.

Baseline (same run, same relay): the webhook's own round trip (POST → 2xx), i.e.
the time the relay needs to store the event durably before the desktop path
(change log → stream poll → SSE → engine apply → listener) even starts. The
relay's stream poll interval is printed with the result (it bounds the latency).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")

from app.sync.api import EngineEvent, InboundMessages
from app.sync.engine import SyncEngine
from tests.support.dynamodb_local import dynamodb_local
from tests.support.relay import seed_dealer, start_relay
from tests.support.twilio_sim import running_simulator
from tests.sync.integration import (
    create_lead,
    customer_message_webhook,
    post_signed_webhook,
)

POOL = [f"+1312555{n:04d}" for n in range(7101, 7111)]


class Waiter:
    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.event = asyncio.Event()

    def on_event(self, event: EngineEvent) -> None:
        if isinstance(event, InboundMessages):
            now = time.perf_counter()
            for m in event.messages:
                self.seen.setdefault(m.message_sid, now)
            self.event.set()


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(n: int, poll_s: float | None) -> dict[str, Any]:
    with dynamodb_local() as endpoint, running_simulator(pool=POOL) as sim:
        relay = start_relay(endpoint, sim, **({} if poll_s is None else {"stream_poll_s": poll_s}))
        try:
            poll = relay.settings.stream_poll_s
            sim.set_webhook_url(f"{relay.url}/TwilioWebhooks/onIncomingMessage")
            seed = seed_dealer(relay, web2text_number="+13125550133", pool=POOL)
            lead = await asyncio.to_thread(create_lead, relay, seed)
            with tempfile.TemporaryDirectory() as tmp:
                engine = SyncEngine(Path(tmp), relay.url, seed.staff_key)
                waiter = Waiter()
                engine.add_listener(waiter)
                await engine.start()
                try:
                    while not engine.caught_up:
                        await asyncio.sleep(0.05)
                    latencies: list[float] = []
                    webhook_rtt: list[float] = []
                    after_ack: list[float] = []
                    for i in range(n + 5):
                        form = customer_message_webhook(lead.conversation_sid, lead.customer,
                                                        f"latency probe {i}", 100 + i)
                        t0 = time.perf_counter()
                        r = await asyncio.to_thread(post_signed_webhook, relay, sim,
                                                    "/TwilioWebhooks/sync", form)
                        t_ack = time.perf_counter()
                        if r.status_code >= 300:
                            raise SystemExit(f"webhook refused: {r.status_code} {r.text}")
                        sid = form["MessageSid"]
                        while sid not in waiter.seen:
                            waiter.event.clear()
                            await asyncio.wait_for(waiter.event.wait(), 10)
                        if i >= 5:  # warm-up excluded
                            latencies.append(waiter.seen[sid] - t0)
                            webhook_rtt.append(t_ack - t0)
                            after_ack.append(waiter.seen[sid] - t_ack)
                finally:
                    await engine.stop()
        finally:
            relay.stop()
    ms = [v * 1000 for v in latencies]
    base = [v * 1000 for v in webhook_rtt]
    desk = [v * 1000 for v in after_ack]
    return {
        "figure": "webhook posted to the relay -> engine listener event",
        "n": n,
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(_p(ms, 0.99), 1),
        "baseline_webhook_ack_p50_ms": round(statistics.median(base), 1),
        "baseline_webhook_ack_p99_ms": round(_p(base, 0.99), 1),
        "desktop_path_after_ack_p50_ms": round(statistics.median(desk), 1),
        "desktop_path_after_ack_p99_ms": round(_p(desk, 0.99), 1),
        "relay_stream_poll_s": poll,
        "goal": "p99 <= 50 ms",
        "ok": _p(ms, 0.99) <= 50,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--poll", type=float, default=None,
                        help="override the relay's stream poll interval (seconds)")
    args = parser.parse_args()
    sys.stdout.write(json.dumps(asyncio.run(measure(args.n, args.poll))) + "\n")


if __name__ == "__main__":
    main()
