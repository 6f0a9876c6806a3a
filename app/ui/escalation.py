"""Unanswered leads escalate: past its location's reply target (default 5 min), a new
lead or a customer's text gets one tray notification per wait, and the sidebar's
"Needs reply" chip counts the leads waiting past it.

`Escalations` asks the engine who waits (`Engine.waiting_for_reply`): about every
lead once the engine starts, then only about the leads that changes name (coalesced;
`WaitBook` keeps the answers), and looks again when the next wait reaches its target
(a single-shot timer set to that moment, at most `RECHECK_MS` away), which needs no
query: time alone starts or ends no wait. A wait is one lead from one
moment (`WaitingLead.waiting_since`): a staff reply ends it, the customer's next
text starts a new one. Waits already past their target when the engine first
reports them (a PC switched on in the morning) are summed up in one notification.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

from app.sync.api import ChangesApplied, Engine, WaitingLead
from app.ui import fmt
from app.ui.bridge import BridgeSlots, EngineBridge
from app.ui.escalation_book import Scope, WaitBook
from app.ui.tasks import Tasks

if TYPE_CHECKING:
    from app.ui.notify_policy import Notification

#: look again at least this often (a target reached while nothing else happens)
RECHECK_MS = 60_000
#: changes are looked at after this pause (a burst asks once)
COALESCE_MS = 300
#: more waits than this past their target at once: one summary notification
SUMMARY_OVER = 3
#: answers about more leads than this are kept in the book on a worker thread
ON_QT_THREAD_UP_TO = 200


def _keep(book: WaitBook, scope: Scope | None, waiting: Sequence[WaitingLead]) -> list[WaitingLead]:
    """The engine's answer (about every lead when `scope` is None) in `book`; the
    waits past their target now."""
    if scope is None:
        book.replace_all(waiting)
    else:
        book.update(scope, waiting)
    return book.came_due(fmt.now_utc())


def _notification(w: WaitingLead, now: datetime) -> Notification:
    from app.ui.notify_policy import Notification  # on use: not on the first frame's path

    waited = fmt.waiting_time(w.waiting_since, now)
    return Notification(
        title=f"{w.name} is waiting for a reply",
        body=f"Waiting {waited}; the reply target is {w.target_minutes} min.",
        conversation_sid=w.conversation_sid,
        lead_id=w.lead_id,
        count=1,
    )


def _summary(due: Sequence[WaitingLead]) -> Notification:
    from app.ui.notify_policy import Notification

    return Notification(
        title=f"{len(due)} customers are waiting for a reply",
        body=", ".join(w.name for w in due[:5]) + ("…" if len(due) > 5 else ""),
        conversation_sid=None,
        lead_id=None,
        count=len(due),
    )


class Escalations(QObject):
    dueCount = Signal(int)  # leads waiting past their target now

    def __init__(
        self, notify: Callable[[Notification], None], tasks: Tasks, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._notify = notify
        self._tasks = tasks
        self._engine: Engine | None = None
        self._events = BridgeSlots(lambda b: [(b.changesApplied, self._on_changes)])
        self._book = WaitBook()
        #: what the next look asks the engine: every lead (after a start), or the
        #: leads the changes since the last look name
        self._ask_all = False
        self._scope = Scope()
        self._first = True
        self._due_shown = -1
        self._looking = False
        self._again = False
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.setInterval(COALESCE_MS)
        self._soon.timeout.connect(self.check)
        self._next = QTimer(self)
        self._next.setSingleShot(True)
        self._next.timeout.connect(self.check)

    def set_engine(self, engine: Engine | None, bridge: EngineBridge | None) -> None:
        self._engine = engine
        self._events.attach(bridge)
        self._book = WaitBook()
        self._ask_all, self._scope = engine is not None, Scope()
        self._first = True
        self._next.stop()
        self._show_due(0)
        if engine is not None:
            self._soon.start()

    def stop(self) -> None:
        self._soon.stop()
        self._next.stop()

    def _on_changes(self, ev: ChangesApplied) -> None:
        self._scope.add(ev)
        if not self._soon.isActive():
            self._soon.start()

    def check(self) -> None:
        """Look now: ask the engine about what changed since the last look (if
        anything did), then notify the waits that reached their target."""
        if self._looking:
            self._again = True  # the look under way goes round once more
        elif self._engine is not None:
            self._looking = True
            self._tasks.spawn(self._look())

    async def _look(self) -> None:
        try:
            while (engine := self._engine) is not None:
                self._again = False
                fresh = await self._refresh(engine)
                if engine is self._engine:
                    self._escalate(fresh)
                if not self._again and engine is self._engine:
                    break
        finally:
            self._looking = False

    async def _refresh(self, engine: Engine) -> list[WaitingLead]:
        """The engine's answer kept in the book; the waits it found due (notified
        from here on)."""
        ask_all, scope = self._ask_all, self._scope
        if not ask_all and not scope:
            return []  # nothing changed: only time moved on
        self._ask_all, self._scope = False, Scope()
        try:
            waiting = await engine.waiting_for_reply(None if ask_all else scope.as_changes())
        except BaseException:
            if engine is self._engine:
                self._ask_all = True  # what was missed is asked again, all of it
            raise
        if engine is not self._engine:
            return []  # another staff member's engine meanwhile
        book = WaitBook() if ask_all else self._book
        keep = partial(_keep, book, None if ask_all else scope, waiting)
        # every wait of a location (a start, a catch-up) is walked off the Qt thread
        if ask_all or len(waiting) + scope.size > ON_QT_THREAD_UP_TO:
            import asyncio  # (not on the first frame's path)

            fresh = await asyncio.to_thread(keep)
        else:
            fresh = keep()
        if engine is not self._engine:
            return []
        self._book = book
        return fresh

    def _escalate(self, fresh: list[WaitingLead]) -> None:
        now = fmt.now_utc()
        fresh = sorted(fresh + self._book.came_due(now), key=lambda w: w.waiting_since)
        self._show_due(self._book.due_count)
        if self._first and len(fresh) > SUMMARY_OVER:
            self._notify(_summary(fresh))
        else:
            for w in fresh:
                self._notify(_notification(w, now))
        self._first = False
        self._schedule(self._book.next_due_at(), now)

    def _show_due(self, count: int) -> None:
        if count != self._due_shown:
            self._due_shown = count
            self.dueCount.emit(count)

    def _schedule(self, soonest: datetime | None, now: datetime) -> None:
        wait_ms = RECHECK_MS
        if soonest is not None:
            wait_ms = min(wait_ms, int((soonest - now).total_seconds() * 1000) + 50)
        self._next.start(max(0, wait_ms))
