"""The customers' side of the carrier: what each handset received, and who opted out."""

from __future__ import annotations

import threading
from collections import defaultdict
from datetime import datetime
from typing import Any

from app.sandbox.twilio_sim.models import HandsetCall, HandsetMessage


class Phones:
    def __init__(self, lock: threading.RLock) -> None:
        self.lock = lock
        self.received: dict[str, list[HandsetMessage]] = defaultdict(list)
        self.calls: dict[str, list[HandsetCall]] = defaultdict(list)
        self.opted_out: set[tuple[str, str]] = set()  # (phone, pool number)

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.calls.clear()
            self.opted_out.clear()

    def deliver(self, phone: str, message: HandsetMessage) -> None:
        with self.lock:
            self.received[phone].append(message)

    def ring(self, phone: str, call: HandsetCall) -> None:
        with self.lock:
            self.calls[phone].append(call)

    def handset(self, phone: str) -> list[dict[str, Any]]:
        """What `phone` received, in arrival order (the `/_sim/handset` entries)."""
        with self.lock:
            return [
                {
                    "from": m.from_,
                    "body": m.body,
                    "at": _iso_ms(m.at),
                    "media": [
                        {"contentType": x.content_type, "filename": x.filename, "size": x.size}
                        for x in m.media
                    ],
                }
                for m in self.received.get(phone, [])
            ]

    def call_log(self, phone: str) -> list[dict[str, Any]]:
        """The calls that rang `phone`, in order (the `/_sim/handset` `calls`)."""
        with self.lock:
            return [
                {"from": c.from_, "at": _iso_ms(c.at), "status": c.status, "duration": c.duration}
                for c in self.calls.get(phone, [])
            ]

    def keyword(self, phone: str, pool_number: str, opt_out_type: str | None) -> None:
        """STOP blocks that pool number for the phone; START lifts the block."""
        with self.lock:
            if opt_out_type == "STOP":
                self.opted_out.add((phone, pool_number))
            elif opt_out_type == "START":
                self.opted_out.discard((phone, pool_number))

    def blocks(self, phone: str, pool_number: str) -> bool:
        with self.lock:
            return (phone, pool_number) in self.opted_out


def _iso_ms(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
