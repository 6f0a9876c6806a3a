"""The live figures' relay stand-in, in its own process.

    python -m bench.ui.relay_proc [--locations N]   # prints the base URL, serves until killed

A real relay runs on another machine: its Python work (building and encoding the
stream's events) must not compete with the measured app for the GIL, so the stand-in
(`tests.sync.fake_relay.FakeRelay`) runs here rather than in a thread of the app. Its
staff member has the data set's locations (`bench.ui.dataset.location_views`).

- `POST /bench/publish?n=N` puts N changes on the feed at once (per new lead: its
  conversation, the lead and eight messages), as a burst of activity at the relay would;
- `POST /bench/inbound?rate=R&seconds=S&leads=L&open=I` has customers text in, R texts a
  second for S seconds, each as the relay announces one (the message, its conversation
  with one more unread and the new preview, the lead with its new activity): every
  fifth into lead I's conversation, the others round-robin over the 200 most recent of
  the data set's L leads. Answers at once with the cursor the feed will have reached.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from typing import Any

from app.sandbox.servers import UvicornThread
from bench.ui import dataset
from tests.sync.fake_relay import FakeRelay, change, conv_data, lead_data, msg_data

#: the inbound texts go to this many of the most recent leads (and the open one)
ACTIVE_LEADS = 200


def burst(n_changes: int) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    i = 0
    while len(changes) < n_changes:
        sid = f"CHs{i}"
        changes.append(change("conversation", conv_data(sid, unread=1, at=1e6 + i)))
        changes.append(
            change(
                "lead",
                lead_data(
                    f"leads{i}",
                    sid,
                    name=f"Stream {i}",
                    phone=f"+1773{5550000 + i:07d}",
                    at=1e6 + i,
                ),
            )
        )
        for j in range(8):
            changes.append(
                change("message", msg_data(f"IMs{i}x{j}", sid, f"live {i} {j}", at=1e6 + i + j))
            )
        i += 1
    return changes[:n_changes]


class Texts:
    """Customers texting into the data set's conversations, as the relay announces it."""

    def __init__(self, leads: int, locations: int, open_lead: int) -> None:
        self._leads = leads
        self._locs = dataset.location_ids(locations)
        self._open = open_lead
        self._versions: Counter[str] = Counter()
        self._unread: Counter[int] = Counter()
        self._sent = 0
        #: later than everything in the data set
        self._start = leads * dataset.LEAD_SPACING_S + 3600.0

    def _target(self, k: int) -> int:
        if k % 5 == 0:
            return self._open
        return self._leads - 1 - (k % ACTIVE_LEADS)

    def _version(self, key: str) -> int:
        self._versions[key] += 1
        return 1 + self._versions[key]

    def next(self) -> list[dict[str, Any]]:
        """One more text: its three changes."""
        k, self._sent = self._sent, self._sent + 1
        i = self._target(k)
        at = self._start + k
        loc = self._locs[i % len(self._locs)]
        self._unread[i] += 1
        body = f"Text {k}: {dataset.body(k)}"
        _, lead = dataset.lead_changes(i, 1, loc)
        message = msg_data(f"IMin{k}", f"CH{i}", body, at=at, location=loc)
        conv = conv_data(
            f"CH{i}", unread=i % 3 + self._unread[i], at=at, location=loc, preview=body,
            version=self._version(f"c{i}"),
        )  # fmt: skip
        lead = {
            **lead,
            "lastActivityAt": message["createdAt"],
            "version": self._version(f"l{i}"),
        }
        return [change("message", message), change("conversation", conv), change("lead", lead)]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--locations", type=int, default=1)
    a = p.parse_args()
    relay = FakeRelay()
    views = dataset.location_views(a.locations)
    relay.location, relay.other_locations = views[0], views[1:]
    keep: list[asyncio.Task[None]] = []

    @relay.app.post("/bench/publish")
    async def publish(n: int) -> dict[str, Any]:
        changes = burst(n)
        relay.publish(*changes)
        return {"cursor": str(len(relay.log))}

    @relay.app.post("/bench/inbound")
    async def inbound(rate: float, seconds: float, leads: int, open: int) -> dict[str, Any]:
        texts = Texts(leads, a.locations, open)
        count = int(rate * seconds)

        async def send() -> None:
            started = time.monotonic()
            for k in range(count):
                # on a schedule: a late tick sends what is due, as texts would pile up
                await asyncio.sleep(max(0.0, started + k / rate - time.monotonic()))
                relay.publish(*texts.next())

        keep.append(asyncio.create_task(send()))
        return {"cursor": str(len(relay.log) + 3 * count), "texts": count}

    server = UvicornThread(relay.app).start()
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        sys.exit(0)


if __name__ == "__main__":
    main()
