"""The simulated customers, store phones and website while the demo runs, on their
own asyncio loop in a thread ("demo-world"); everything they do goes through the
relay and the simulator, as real people's texts and forms would."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import uuid
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

import httpx

from app.core.phones import mask_phone
from app.sandbox import demo_data as data
from app.sandbox.demo.client import DemoClient, describe
from app.sandbox.demo.handle import DemoError, DemoHandle, Track
from app.sandbox.demo.progress import wait_while_progressing
from app.sandbox.demo_contacts import Contacts
from app.sandbox.demo_data import Shoppers

log = logging.getLogger("app.sandbox.demo")
T = TypeVar("T")


class World:
    """Runs the live part of the demo: replies, the STOP, new website leads."""

    def __init__(
        self,
        handle: DemoHandle,
        *,
        rng: random.Random,
        reply_delay: tuple[float, float],
        store_answer_rate: float,
        lead_interval: float,
        stop_after: float,
    ) -> None:
        self.handle = handle
        self.client = DemoClient(handle)
        self.rng = rng
        self.reply_delay = reply_delay
        self.store_answer_rate = store_answer_rate
        self.lead_interval = lead_interval
        self.stop_after = stop_after
        self.shoppers = Shoppers(random.Random(rng.random()))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="demo-world", daemon=True)
        self.tasks: set[asyncio.Task[Any]] = set()
        self.failed: set[str] = set()  # lead ids that could not be seeded
        self._closing = False
        #: photos, calls, texts after a close and strangers (app.sandbox.demo_contacts)
        self.contacts = Contacts(self, interval=max(lead_interval, 5.0))

    @property
    def sim(self) -> Any:
        """The Twilio simulator (what `Contacts` reads the pool from)."""
        return self.handle.sim

    def _http(self) -> httpx.AsyncClient:
        """The world's HTTP client (`Contacts` sends through it)."""
        return self.client.http()

    # --- thread plumbing ---------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> None:
        self.thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def call_while_progressing(self, coro: Coroutine[Any, Any, T], what: str) -> T:
        """Run `coro` (seeding) on the world's loop and wait for it as long as the
        world's requests keep completing (`progress`), however long that takes."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return wait_while_progressing(future, self.client.progress, what=what)

    def later(self, make: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `make()` on the world's loop without waiting for it."""
        self.loop.call_soon_threadsafe(lambda: self._spawn(make()))

    def go_live(self) -> None:
        """Start the live behaviours (once the seeded histories are in)."""
        for track in self.handle.tracks.values():
            # what is on the phones now is history, not something to answer
            track.seen = len(self.handle.sim.handset(track.customer))
        self._spawn(self._watch_customers())
        self._spawn(self._website())
        self._spawn(self.contacts.run())
        for track in self.handle.tracks.values():
            if track.texts_stop and not track.opted_out:
                track.pending = True
                self._spawn(self._text_later(track, "STOP", self.stop_after))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and not self._closing:
            exc = task.exception()
            log.warning("demo world task failed: %s: %s", type(exc).__name__, exc)
            self.handle.stats.errors.append(f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        if not self.thread.is_alive():
            return

        async def close() -> None:
            self._closing = True
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            await self.client.aclose()

        with contextlib.suppress(Exception):
            self.call(close(), 5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    # --- live --------------------------------------------------------------
    async def _watch_customers(self) -> None:
        """React when a customer's phone receives a text from staff or the store."""
        while True:
            for track in list(self.handle.tracks.values()):
                if track.opted_out:
                    continue
                count = len(self.handle.sim.handset(track.customer))
                if count <= track.seen:
                    continue
                track.seen = count
                if track.pending:
                    continue
                if track.texts_stop:
                    track.pending = True
                    self._spawn(self._text_later(track, "STOP", self._delay()))
                elif track.replies:
                    track.pending = True
                    self._spawn(self._text_later(track, track.replies.pop(0), self._delay()))
            await asyncio.sleep(0.5)

    def _delay(self) -> float:
        low, high = self.reply_delay
        return self.rng.uniform(low, high)

    async def _text_later(self, track: Track, body: str, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await self.client.inbound(track.customer, track.customer_proxy, body)
        finally:
            track.pending = False
        stats = self.handle.stats
        if body == "STOP":
            track.opted_out = True
            stats.stops += 1
            log.info("demo: %s texted STOP", mask_phone(track.customer))
            return
        stats.customer_replies += 1
        # Now and then someone at the store picks up the store phone and answers.
        if self.rng.random() < self.store_answer_rate:
            await asyncio.sleep(self.rng.uniform(5.0, 15.0))
            reply = self.rng.choice(data.STORE_REPLIES)
            await self.client.inbound(track.store_number, track.store_proxy, reply)
            stats.store_replies += 1

    async def _website(self) -> None:
        """A new website lead about every `lead_interval` seconds."""
        staff = next(s for s in data.STAFF if s.staff_id == self.handle.staff_id)
        while True:
            await asyncio.sleep(self.lead_interval * self.rng.uniform(0.75, 1.25))
            # Most go to the desktop user's stores, so the tray has news to show.
            keys = list(staff.locations) * 3 + [loc.key for loc in data.LOCATIONS]
            lead = data.new_lead(self.rng, self.shoppers, self.rng.choice(keys))
            # A fresh id, never one drawn from the seeded stream: an id the seed
            # already used would repeat that lead's idempotency key with another
            # body (the relay's idempotency_conflict).
            lead.lead_id = str(uuid.uuid4())
            try:
                await self.client.create_lead(lead)
            except (DemoError, httpx.HTTPError) as exc:
                log.warning("demo: website lead failed: %s", describe(exc))
                self.handle.stats.errors.append(f"website lead: {describe(exc)}")
                continue
            self.handle.stats.live_leads += 1
            track = await self.client.track(lead)
            if track is None:
                continue
            # The greeting is not something to answer; what staff write next is.
            track.seen = len(self.handle.sim.handset(track.customer))
            if track.replies and self.rng.random() < 0.6:  # some write back to the greeting
                track.pending = True
                delay = self.rng.uniform(8.0, 20.0)
                self._spawn(self._text_later(track, track.replies.pop(0), delay))
