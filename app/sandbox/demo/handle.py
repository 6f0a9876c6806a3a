"""What a running demo hands out: its addresses and keys, its conversations, its figures."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.sandbox.demo_data import LeadSeed

log = logging.getLogger("app.sandbox.demo")


class DemoError(RuntimeError):
    """The demo could not start; the message says why. `reason` is stable snake_case."""

    def __init__(self, message: str, reason: str = "demo_failed") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class Track:
    """One seeded or live conversation, as the simulated people see it."""

    conversation_sid: str
    customer: str
    customer_proxy: str
    store_number: str
    store_proxy: str
    leads: list[LeadSeed]
    replies: list[str]
    texts_stop: bool = False
    opted_out: bool = False
    seen: int = 0  # messages on the customer's handset already reacted to
    pending: bool = False  # a reply is scheduled


@dataclass
class DemoStats:
    leads_seeded: int = 0
    messages_seeded: int = 0
    seed_seconds: float = 0.0
    restored: bool = False  # the seeded inbox came from a snapshot, not a replay
    live_leads: int = 0
    customer_replies: int = 0
    store_replies: int = 0
    stops: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class DemoHandle:
    """A running demo. Iterating gives `(relay_url, staff_key, data_dir)`."""

    relay_url: str
    staff_key: str = field(repr=False)
    data_dir: Path
    staff_id: str
    staff_name: str
    simulator_url: str
    dynamodb_url: str
    lead_key: str = field(repr=False)
    # The Twilio simulator (app.sandbox.twilio_sim.SimHandle) and every staff key.
    sim: Any = field(default=None, repr=False)
    #: the lead-systems simulator as the dealers' RLM, DealerHQ and chatbot
    #: (app.sandbox.lead_systems_sim.LeadSystemsHandle); its `GET /rlm/leads` and
    #: `GET /dhq/inquiries` show what reached the dealers' lead tracking
    lead_systems: Any = field(default=None, repr=False)
    lead_systems_url: str = ""
    staff_keys: dict[str, str] = field(default_factory=dict, repr=False)
    world: Any = field(default=None, repr=False)  # app.sandbox.demo.world.World
    # The other retailer's staff member, for trying a second profile (kiosk switch).
    other_staff: dict[str, str] = field(default_factory=dict, repr=False)
    tracks: dict[str, Track] = field(default_factory=dict, repr=False)
    stats: DemoStats = field(default_factory=DemoStats)
    is_demo: bool = True
    # Set once the seeded conversations' histories are in (they play after start).
    history_done: threading.Event = field(default_factory=threading.Event, repr=False)
    _stops: list[Callable[[], None]] = field(default_factory=list, repr=False)
    _stopped: bool = field(default=False, repr=False)

    def __iter__(self) -> Iterator[Any]:
        # app.ui.controller unpacks `relay_url, key, data_dir = start_demo()`.
        return iter((self.relay_url, self.staff_key, str(self.data_dir)))

    def stop(self) -> None:
        """Stop the world, the relay, the simulator and DynamoDB (bounded, idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        for stop in reversed(self._stops):
            try:
                stop()
            except Exception:  # a half-dead server must not keep the others running
                log.exception("demo: stopping a component failed")
        self._stops.clear()
