"""The live figures' measured process (run by bench_ui; prints one JSON line).

    python -m bench.ui.child_live burst   --data-dir D --changes N [--locations K]
    python -m bench.ui.child_live inbound --data-dir D --rate R --seconds S --leads L
                                          [--locations K]

Both start the app on the data set's store with the relay stand-in (`relay_proc`, its
own process) and a heartbeat on the Qt thread (`probes`): an idle baseline first, then

- `burst`: N changes put on the feed at once and applied, the inbox open;
- `inbound`: customers text in, R a second for S seconds, with the inbox and a
  conversation open (every fifth text goes to that conversation).

The figure is the longest gap between two heartbeats while that happens, beside the
longest gap of the idle baseline just before it in the same process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from typing import Any

from bench.ui.child import done, rss_mb
from bench.ui.probes import GcLog, Heartbeat, StallSampler

IDLE_S = 3.0
#: after the last change: the inbox, the locations and the thread refresh once more
SETTLE_S = 1.0


def start_relay(locations: int) -> tuple[subprocess.Popen[str], str]:
    relay = subprocess.Popen(
        [sys.executable, "-m", "bench.ui.relay_proc", "--locations", str(locations)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert relay.stdout is not None
    return relay, relay.stdout.readline().strip()


def point_profile_at(data_dir: str, url: str) -> None:
    path = os.path.join(data_dir, "profiles.json")
    with open(path, encoding="utf-8") as f:
        profiles = json.load(f)
    profiles["profiles"][0]["relay_url"] = url
    profiles["last"] = f"{url}|S1"
    with open(path, "w", encoding="utf-8") as f:
        json.dump(profiles, f)


def post(url: str) -> dict[str, Any]:
    from tests.sync.fake_relay import TOKEN

    req = urllib.request.Request(
        url, method="POST", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return dict(json.loads(resp.read()))


async def until(check: Any, step: float = 0.02) -> None:
    while not check():
        await asyncio.sleep(step)


class Live:
    """The app with its relay stand-in, a heartbeat and the stall probes."""

    def __init__(self, data_dir: str, locations: int) -> None:
        from app.ui.main import build, parse_args

        self.relay, self.url = start_relay(locations)
        point_profile_at(data_dir, self.url)
        self.qapp, self.ctrl = build(parse_args(["--data-dir", data_dir, "--theme", "light"]))
        self.w = self.ctrl.window
        self.heartbeat = Heartbeat()
        self.sampler = StallSampler(self.heartbeat)
        self.result: dict[str, Any] = {"interval_ms": self.heartbeat.interval_ms}

    async def online(self) -> Any:
        from app.sync.api import SyncState

        await until(
            lambda: self.ctrl.engine is not None
            and self.ctrl.engine.status().state is SyncState.ONLINE
            and self.w.leads_model.rowCount() > 0,
            0.05,
        )
        return self.ctrl.engine

    async def measure(self, busy: Any) -> None:
        """An idle baseline, then `busy()` (a coroutine that returns once the work it
        caused is applied), both under the heartbeat."""
        self.heartbeat.start()
        self.sampler.start()
        idle_start = time.perf_counter()
        await asyncio.sleep(IDLE_S)
        idle_end = busy_start = time.perf_counter()
        with GcLog() as gcs:
            await busy()
            applied = time.perf_counter()
            await asyncio.sleep(SETTLE_S)
        busy_end = time.perf_counter()
        self.heartbeat.stop()
        self.sampler.stop()
        self.result.update(
            {
                "apply_s": round(applied - busy_start, 2),
                "idle": self.heartbeat.summary(idle_start, idle_end),
                "busy": self.heartbeat.summary(busy_start, busy_end),
                "stalls_at": self.sampler.top(),
                "full_gc": gcs.full,
                "inbox_total_after": self.w.leads_model.total,
                **rss_mb(),
            }
        )

    def run(self, scenario: Any) -> None:
        from app.ui.main import run

        keep: list[Any] = []

        def start(_engine: Any) -> None:
            if not keep:  # on the app's loop, once the engine is there
                keep.append(asyncio.ensure_future(self._guarded(scenario)))

        self.ctrl.engineStarted.connect(start)
        try:
            run(self.qapp, self.ctrl)
        finally:
            self.relay.terminate()
            self.relay.wait(10)
        done(self.result)

    async def _guarded(self, scenario: Any) -> None:
        try:
            await asyncio.wait_for(scenario(), 400)
        except BaseException as exc:  # report instead of hanging the parent
            import traceback

            traceback.print_exc()
            self.result["error"] = repr(exc)
        self.ctrl.quit()


def burst(live: Live, n_changes: int) -> None:
    async def scenario() -> None:
        engine = await live.online()

        async def busy() -> None:
            target = await asyncio.to_thread(post, f"{live.url}/bench/publish?n={n_changes}")
            await until(lambda: engine.status().cursor == target["cursor"])

        await live.measure(busy)
        live.result["changes"] = n_changes

    live.run(scenario)


def inbound(live: Live, rate: float, seconds: float, leads: int) -> None:
    async def scenario() -> None:
        engine = await live.online()
        w = live.w
        top = w.leads_model.row_at(0)
        assert top is not None and top.conversation_sid
        w.open_lead(top.lead_id)
        await until(lambda: w.thread_model.conversation_sid == top.conversation_sid
                    and w.thread_model.rowCount() > 0)
        open_index = int(top.lead_id.removeprefix("lead"))
        shown_before = w.thread_model.rowCount()

        async def busy() -> None:
            url = f"{live.url}/bench/inbound?rate={rate}&seconds={seconds}"
            target = await asyncio.to_thread(post, f"{url}&leads={leads}&open={open_index}")
            await until(lambda: engine.status().cursor == target["cursor"])
            live.result["texts"] = target["texts"]

        await live.measure(busy)
        live.result["open_thread_rows"] = [shown_before, w.thread_model.rowCount()]
        # the conversation shown at the end: still the one opened before the texts
        live.result["open_thread_sids"] = [top.conversation_sid, w.thread_model.conversation_sid]

    live.run(scenario)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["burst", "inbound"])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--locations", type=int, default=1)
    p.add_argument("--changes", type=int, default=10_000)
    p.add_argument("--rate", type=float, default=50)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--leads", type=int, default=10_000)
    a = p.parse_args()
    live = Live(a.data_dir, a.locations)
    if a.mode == "burst":
        burst(live, a.changes)
    else:
        inbound(live, a.rate, a.seconds, a.leads)


if __name__ == "__main__":
    main()
