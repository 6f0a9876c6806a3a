"""The stall figure's relay stand-in, in its own process.

    python -m bench.ui.relay_proc      # prints the base URL, then serves until killed

A real relay runs on another machine: its Python work (building and encoding 10,000
stream events) must not compete with the measured app for the GIL, so the stand-in
(`tests.sync.fake_relay.FakeRelay`) runs here rather than in a thread of the app.
`POST /bench/publish?n=N` puts N changes (per new lead: its conversation, the lead
and eight messages) on the feed at once, as a burst of activity at the relay would.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from app.sandbox.servers import UvicornThread
from tests.sync.fake_relay import FakeRelay, change, conv_data, lead_data, msg_data


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


def main() -> None:
    relay = FakeRelay()

    @relay.app.post("/bench/publish")
    async def publish(n: int) -> dict[str, Any]:
        changes = burst(n)
        relay.publish(*changes)
        return {"cursor": str(len(relay.log))}

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
