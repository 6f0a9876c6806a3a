"""Background coroutines started from Qt slots, tracked so quitting can cancel them."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger(__name__)


class Tasks:
    """Owns the asyncio tasks a widget starts; exceptions are logged, never lost (the
    unexpected ones also reach the crash reports: `app.ui.unexpected`)."""

    def __init__(self, name: str = "ui") -> None:
        self._name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self.errors: list[BaseException] = []

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        """Run `coro` on the event loop; None when there is no loop any more (a signal
        that arrives while the app closes starts nothing)."""
        # (asyncio is imported on use: the window's first frame is painted before it is)
        import asyncio

        try:
            task = asyncio.ensure_future(coro)
        except RuntimeError:  # no current event loop: the app is shutting down
            coro.close()
            log.debug("%s: no event loop, not started", self._name)
            return None
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            return
        self.errors.append(exc)
        from app.ui import unexpected

        if unexpected.expected(exc):  # the engine refused (e.g. a full disk): shown elsewhere
            log.warning("%s task: %s", self._name, exc)
        else:
            unexpected.report(f"{self._name} task", exc)

    @property
    def running(self) -> int:
        return len(self._tasks)

    def cancel_pending(self) -> None:
        """Cancel every task without waiting: for an owner being destroyed, whose
        tasks must not resume into its deleted widgets."""
        for task in list(self._tasks):
            task.cancel()

    async def cancel_all(self) -> None:
        import asyncio

        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def idle(self) -> None:
        """Wait until every task started so far (and those they start) is done."""
        import asyncio

        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
