"""The demo's other ways in: now and then a customer sends a photo, calls their pool
number, or texts again after their thread closed, and a stranger texts a pool
number. Each goes through the simulator's control plane (`/_sim/inbound` with media,
`/_sim/call`) like the demo's texts, so the relay and the desktop see the real flows.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import struct
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from app.sandbox.demo.handle import Track
    from app.sandbox.demo.world import World

log = logging.getLogger("app.sandbox.demo")

PHOTO_CAPTIONS = (
    "Here's the room it would go in",
    "This is what we have now",
    "Photo of the spot",
    "",
)
STRANGER_TEXTS = ("Who is this?", "Got a missed text from this number", "Is this the store?")
AFTER_CLOSE_TEXTS = ("Hi again, is that sale still on?", "Me again, can I come by Saturday?")
DEMO_HOURS = "mon-fri 09:00-18:00, sat 10:00-16:00"
DEMO_AFTER_HOURS_TEXT = "Thanks for your text! We're closed now; we'll answer when we open."


@dataclass
class ContactStats:
    photos: int = 0
    calls: int = 0
    texts_after_close: int = 0
    strangers: int = 0


def demo_photo(rng: random.Random, width: int = 96, height: int = 64) -> bytes:
    """A small PNG with a random two-colour band pattern (no image library needed)."""
    a = bytes(rng.randrange(256) for _ in range(3))
    b = bytes(rng.randrange(256) for _ in range(3))
    rows = b"".join(
        b"\x00" + b"".join(a if (x // 12 + y // 12) % 2 else b for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


class Contacts:
    """Plays the photos, calls, texts after a close and strangers of a demo world."""

    def __init__(self, world: World, interval: float) -> None:
        self.world = world
        self.interval = interval
        self.stats = ContactStats()
        self.closed: set[str] = set()  # conversations this module closed

    @property
    def rng(self) -> random.Random:
        return self.world.rng

    def _sim(self, path: str) -> str:
        return f"{self.world.handle.simulator_url}{path}"

    async def run(self) -> None:
        steps = (self.photo, self.call, self.photo, self.text_after_close, self.stranger)
        while True:
            await asyncio.sleep(self.interval * self.rng.uniform(0.75, 1.25))
            track = self._someone()
            step = self.rng.choice(steps)
            try:
                await step(track)
            except (httpx.HTTPError, RuntimeError) as exc:
                log.warning("demo: %s failed: %s", step.__name__, exc)

    def _someone(self) -> Track | None:
        tracks = [
            t
            for t in self.world.handle.tracks.values()
            if not t.opted_out and t.conversation_sid not in self.closed
        ]
        return self.rng.choice(tracks) if tracks else None

    async def photo(self, track: Track | None) -> None:
        if track is None:
            return
        data = base64.b64encode(demo_photo(self.rng)).decode()
        media = [{"contentType": "image/png", "filename": "photo.png", "dataBase64": data}]
        body = self.rng.choice(PHOTO_CAPTIONS)
        await self._post(
            "/_sim/inbound",
            {"from": track.customer, "to": track.customer_proxy, "body": body, "media": media},
        )
        self.stats.photos += 1

    async def call(self, track: Track | None) -> None:
        if track is None:
            return
        answered = self.rng.random() < 0.6
        await self._post(
            "/_sim/call",
            {
                "from": track.customer,
                "to": track.customer_proxy,
                "answer": answered,
                "duration": self.rng.randint(20, 400),
            },
        )
        self.stats.calls += 1

    async def text_after_close(self, track: Track | None) -> None:
        """Close the customer's lead the way a dealer's system does, then they text
        the same number again (a new lead, texted in)."""
        if track is None:
            return
        handle = self.world.handle
        for lead in track.leads:
            resp = await self.world._http().post(
                f"{handle.relay_url}/Lead/{lead.lead_id}/close",
                json={"reason": "Sold"},
                headers={"Authorization": handle.lead_key},
                # a close runs the lead's connectors (RLM, DHQ, Botpress) before it answers
                timeout=90.0,
            )
            if resp.status_code not in (200, 409):
                raise RuntimeError(f"close answered {resp.status_code}")
        self.closed.add(track.conversation_sid)
        await asyncio.sleep(self.rng.uniform(5.0, 10.0))
        body = self.rng.choice(AFTER_CLOSE_TEXTS)
        await self._post(
            "/_sim/inbound", {"from": track.customer, "to": track.customer_proxy, "body": body}
        )
        self.stats.texts_after_close += 1

    async def stranger(self, _track: Track | None) -> None:
        pool = self.world.sim.pool
        phone = f"+1773555{self.rng.randrange(10000):04d}"
        body = self.rng.choice(STRANGER_TEXTS)
        await self._post(
            "/_sim/inbound", {"from": phone, "to": self.rng.choice(pool), "body": body}
        )
        self.stats.strangers += 1

    async def _post(self, path: str, body: dict[str, Any]) -> None:
        resp = await self.world._http().post(self._sim(path), json=body)
        resp.raise_for_status()
