"""The embedded demo (`--demo`): the one place the desktop reaches `app.sandbox`.

`app.sandbox.demo.start_demo(folder)` starts an in-process relay, DynamoDB and the
Twilio simulator with sample data and returns (relay URL, staff key, data folder);
`stop_demo()` stops them. Either may block, so they run off the Qt thread.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from pathlib import Path
from types import ModuleType

log = logging.getLogger(__name__)

class DemoUnavailable(Exception):
    pass


class DemoHost:
    def __init__(self) -> None:
        self._demo: ModuleType | None = None

    async def start(self, folder: Path) -> tuple[str, str, str]:
        """Start the demo in `folder` (which it resets): (relay URL, staff key, data dir).

        A cancel (the app quits meanwhile) waits for a blocking start to finish, so that
        `stop` then stops what it started rather than leaving its servers running in a
        process without a window.
        """
        import asyncio

        try:
            # the demo's entry point (a source checkout has it; an installed app may not)
            demo = self._demo = importlib.import_module("app.sandbox.demo")
        except ImportError as exc:
            raise DemoUnavailable(
                "The demo is not part of this build (app.sandbox.demo is missing). "
                "Run without --demo, or install the full source checkout."
            ) from exc
        start = demo.start_demo
        if inspect.iscoroutinefunction(start):
            result = await start(folder)
        else:  # blocking (servers start, data is seeded): off the Qt thread
            starting = asyncio.ensure_future(asyncio.to_thread(start, folder))
            try:
                result = await asyncio.shield(starting)
            except asyncio.CancelledError:
                await asyncio.wait([starting])
                raise
        relay_url, key, data_dir = result
        return str(relay_url), str(key), str(data_dir)

    async def stop(self) -> None:
        """Stop a started demo, bounded (a stuck server cannot hang the exit)."""
        import asyncio

        stop = getattr(self._demo, "stop_demo", None)
        if not callable(stop):
            return
        try:
            if inspect.iscoroutinefunction(stop):
                await asyncio.wait_for(stop(), 10)
            else:  # stopping servers blocks: not on the Qt thread
                await asyncio.wait_for(asyncio.to_thread(stop), 15)
        except Exception:
            log.exception("the demo did not stop cleanly")
