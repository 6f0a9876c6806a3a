"""Who else is here: colleagues viewing or typing in the open conversation.

`PresenceBoard` tells the relay (through `Engine.set_presence`, best effort) that
this staff member views the open conversation (renewed while it stays open), types
in it (at most every `TYPING_EVERY_S` while keys come) or left it; and it keeps
what the engine reports of the others (`PresenceChanged`), each until it is
renewed, ends, or lapses by itself at its `expires_at` (a PC that vanished sends
nothing more). `text` words it for the thread header: "Dana is typing…".
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import NamedTuple

from PySide6.QtCore import QObject, QTimer, Signal

from app.sync.api import Engine, PresenceChanged
from app.ui import fmt
from app.ui.bridge import BridgeSlots, EngineBridge
from app.ui.tasks import Tasks

#: how often "viewing" is renewed (the relay lets it lapse after a longer hold)
RENEW_MS = 20_000
#: how often "typing" is sent while keys come (the relay holds it a little longer)
TYPING_EVERY_S = 3.0
#: a presence is dropped here this long after it lapsed: the relay's word (typing
#: became viewing, or left) normally comes first
GRACE = timedelta(seconds=2)


class Someone(NamedTuple):
    name: str
    state: str  # "viewing" | "typing"
    expires_at: datetime


def presence_text(people: list[Someone]) -> str:
    """'Dana is typing…', 'Dana and Bo are viewing', both kinds joined by ' · '."""
    parts = []
    for state, singular, plural in (
        ("typing", "is typing…", "are typing…"),
        ("viewing", "is viewing", "are viewing"),
    ):
        names = sorted(p.name for p in people if p.state == state)
        if not names:
            continue
        who = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        parts.append(f"{who} {singular if len(names) == 1 else plural}")
    return " · ".join(parts)


class PresenceBoard(QObject):
    changed = Signal(str)  # the open conversation's presence text ("" when alone)

    def __init__(self, tasks: Tasks, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._engine: Engine | None = None
        self._events = BridgeSlots(lambda b: [(b.presenceChanged, self.on_presence)])
        self._sid: str | None = None
        self._typed_at = float("-inf")
        #: conversation -> staff id -> what they do there
        self._others: dict[str, dict[str, Someone]] = {}
        self._renew = QTimer(self)
        self._renew.setInterval(RENEW_MS)
        self._renew.timeout.connect(lambda: self._post("viewing"))
        self._expiry = QTimer(self)
        self._expiry.setSingleShot(True)
        self._expiry.timeout.connect(self._expire)

    # ------------------------------------------------------------------ ours

    def set_engine(self, engine: Engine | None, bridge: EngineBridge | None) -> None:
        if self._sid is not None:
            self._post("left")
        self._engine = engine
        self._events.attach(bridge)
        self._others.clear()
        self._sid = None
        self._renew.stop()
        self.changed.emit("")

    def open(self, sid: str | None) -> None:
        """The conversation on screen changed (None: none)."""
        if sid == self._sid:
            return
        if self._sid is not None:
            self._post("left")
        self._sid = sid
        self._typed_at = float("-inf")
        if sid is None:
            self._renew.stop()
        else:
            self._post("viewing")
            self._renew.start()
        self.changed.emit(self.text())

    def typed(self) -> None:
        """A key typed into the composer."""
        now = time.monotonic()
        if self._sid is not None and now - self._typed_at >= TYPING_EVERY_S:
            self._typed_at = now
            self._post("typing")

    def _post(self, state: str) -> None:
        engine, sid = self._engine, self._sid
        if engine is not None and sid is not None:
            self._tasks.spawn(engine.set_presence(sid, state))

    # ------------------------------------------------------------------ theirs

    def on_presence(self, ev: PresenceChanged) -> None:
        me = self._engine.me if self._engine is not None else None
        if me is not None and ev.staff_id == me.staff_id:
            return  # ourselves (another PC of ours shows as nobody else)
        people = self._others.setdefault(ev.conversation_sid, {})
        if ev.state == "left" or ev.expires_at + GRACE <= fmt.now_utc():
            people.pop(ev.staff_id, None)
        else:
            people[ev.staff_id] = Someone(ev.staff_name or "Someone", ev.state, ev.expires_at)
        self._schedule_expiry()
        if ev.conversation_sid == self._sid:
            self.changed.emit(self.text())

    def people(self, sid: str | None = None) -> list[Someone]:
        sid = self._sid if sid is None else sid
        return list(self._others.get(sid or "", {}).values())

    def text(self) -> str:
        return presence_text(self.people())

    def _expire(self) -> None:
        now = fmt.now_utc()
        for people in self._others.values():
            for staff_id, someone in list(people.items()):
                if someone.expires_at + GRACE <= now:
                    del people[staff_id]
        self._schedule_expiry()
        self.changed.emit(self.text())

    def _schedule_expiry(self) -> None:
        soonest = min(
            (p.expires_at for people in self._others.values() for p in people.values()),
            default=None,
        )
        if soonest is None:
            self._expiry.stop()
            return
        wait_ms = int((soonest + GRACE - fmt.now_utc()).total_seconds() * 1000) + 50
        self._expiry.start(max(0, wait_ms))
