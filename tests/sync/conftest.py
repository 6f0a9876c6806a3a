"""Fixtures of the sync engine's tests: a fake relay port on loopback, engines on temp dirs."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.sandbox.servers import UvicornThread
from app.sync.api import EngineEvent
from app.sync.db import Database
from app.sync.engine import SyncEngine
from app.sync.retry import Backoff
from tests.sync.fake_relay import TOKEN, FakeRelay

# subprocesses and keyring lookups must never touch a real user keyring
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database.open(tmp_path / "store")
    yield database
    database.close()


@pytest.fixture
def fake_relay() -> Iterator[tuple[FakeRelay, str]]:
    relay = FakeRelay()
    server = UvicornThread(relay.app).start()
    try:
        yield relay, server.url
    finally:
        relay.down = True  # ends open streams so that the server can stop
        server.stop()


class Recorder:
    """An EngineListener keeping every event, with a way to wait for one."""

    def __init__(self) -> None:
        self.events: list[EngineEvent] = []
        self._changed = asyncio.Event()

    def on_event(self, event: EngineEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def of(self, kind: type[Any]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]

    def expect(self) -> None:
        """Forget events seen so far for `wait_next` (call it before reading state)."""
        self._changed.clear()

    async def wait_next(self, timeout: float) -> None:
        """Until an event arrives after the last `expect()` (or `timeout` passes)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)

    async def wait_for(self, pred: Callable[[], bool], timeout: float = 10.0) -> None:
        async def _loop() -> None:
            while not pred():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(_loop(), timeout)


def fast_engine(data_dir: Path, url: str | None, token: str | None = TOKEN,
                **kwargs: Any) -> SyncEngine:
    kwargs.setdefault("backoff", Backoff(base=0.02, cap=0.2))
    kwargs.setdefault("reconnect_backoff", Backoff(base=0.02, cap=0.2))
    kwargs.setdefault("heartbeat_timeout", 2.0)
    kwargs.setdefault("request_timeout", 3.0)
    return SyncEngine(data_dir, url, token, **kwargs)


@pytest.fixture
async def engine_factory(tmp_path: Path) -> AsyncIterator[Callable[..., Any]]:
    started: list[SyncEngine] = []

    async def make(url: str | None, name: str = "desk", **kwargs: Any) -> tuple[SyncEngine,
                                                                                 Recorder]:
        engine = fast_engine(tmp_path / name, url, **kwargs)
        rec = Recorder()
        engine.add_listener(rec)
        await engine.start()
        started.append(engine)
        return engine, rec

    yield make
    for engine in started:
        await engine.stop()
