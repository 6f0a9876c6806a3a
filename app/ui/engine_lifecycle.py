"""Making, starting and stopping a staff member's engine."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject

from app.sync.api import Engine, EngineError, import_engine, make_engine
from app.ui.bridge import EngineBridge
from app.ui.profiles import Profile

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)

EngineFactory = Callable[[Profile, str, Path], Engine]

#: a stop that takes longer is given up (a stuck relay cannot hang the exit)
STOP_TIMEOUT_S = 10
#: the first wait before an engine that could not start is tried again (it doubles, up
#: to the cap): a data folder that comes back, a web2text-sync that ends
START_RETRY_S = 2.0
START_RETRY_CAP_S = 30.0


def default_engine_factory(profile: Profile, key: str, data_dir: Path) -> Engine:
    from app.ui.engine_host import ThreadedEngine

    # the engine's network and stream parsing run on a thread of their own, not on the
    # Qt thread; its queries read the store from here (engine_host.py)
    return ThreadedEngine(make_engine(data_dir, profile.relay_url, key), reads_anywhere=True)


class EngineImport:
    """The engine's stack (SQLAlchemy, httpx) imported on a worker thread, once, so the
    window keeps painting meanwhile; a test's fake engine needs none of it."""

    def __init__(self, needed: bool) -> None:
        self._needed = needed
        self._future: asyncio.Future[Any] | None = None

    def start(self) -> None:
        import asyncio

        if self._needed and self._future is None:
            self._future = asyncio.ensure_future(asyncio.to_thread(import_engine))

    async def wait(self) -> None:
        self.start()
        if self._future is not None:
            await self._future


async def open_engine(
    factory: EngineFactory, profile: Profile, key: str, data_dir: Path, parent: QObject
) -> tuple[Engine, EngineBridge]:
    """A started engine and the bridge that turns its events into Qt signals.

    A start that fails or is cancelled (the app quits meanwhile) closes what it opened.
    """
    engine = factory(profile, key, data_dir)
    bridge = EngineBridge(parent)
    engine.add_listener(bridge)
    try:
        await engine.start()
    except BaseException:
        await close_engine(engine, bridge)
        raise
    return engine, bridge


async def open_engine_patiently(
    factory: EngineFactory, profile: Profile, key: str, data_dir: Path, parent: QObject,
    on_problem: Callable[[str | None], None],
) -> tuple[Engine, EngineBridge]:
    """`open_engine`, tried again while the engine refuses to start with a reason (a
    full, read-only or missing data folder; the store in use by another program):
    `on_problem` gets what to show meanwhile, and None once it has started."""
    import asyncio

    delay = START_RETRY_S
    while True:
        try:
            opened = await open_engine(factory, profile, key, data_dir, parent)
        except EngineError as exc:
            log.warning("the engine could not start (%s); trying again", exc.reason)
            on_problem(start_problem_text(exc))
            await asyncio.sleep(delay)
            delay = min(START_RETRY_CAP_S, delay * 2)
            continue
        on_problem(None)
        return opened


def start_problem_text(exc: EngineError) -> str:
    """What the user reads while the engine cannot start."""
    if exc.reason == "store_in_use":
        return ("This staff member's data on this PC is in use by another Web2Text program "
                "(web2text-sync?). Web2Text starts as soon as it is free.")
    text = exc.message.rstrip(".")
    if "carries on by itself" in text:
        return text + "."
    return f"Web2Text cannot open its data on this PC: {text}. It tries again by itself."


async def close_engine(engine: Engine, bridge: EngineBridge | None) -> None:
    """Detach `bridge` and stop `engine`, bounded; shielded, so that a cancel of the
    caller (a quit) cannot leave the engine half stopped."""
    import asyncio

    if bridge is not None:
        engine.remove_listener(bridge)
        bridge.deleteLater()
    try:
        await asyncio.shield(asyncio.wait_for(engine.stop(), timeout=STOP_TIMEOUT_S))
    except (TimeoutError, Exception):
        log.exception("engine did not stop cleanly")
