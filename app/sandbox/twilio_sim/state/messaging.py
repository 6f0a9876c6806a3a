"""The Messaging Service: its pool of sender numbers and its inbound webhook URL."""

from __future__ import annotations

import threading
from datetime import datetime

from app.sandbox.twilio_sim.sids import new_sid


class MessagingService:
    """The one Messaging Service of the account. `reset` leaves it as it is: the pool
    and the webhook URL are configuration, not traffic."""

    def __init__(
        self, lock: threading.RLock, numbers: list[str], created: datetime, webhook_url: str | None
    ) -> None:
        self.lock = lock
        self.pool: dict[str, str] = {n: new_sid("PN") for n in numbers}  # number -> PN sid
        self.created = created
        self.webhook_url = webhook_url

    def set_webhook_url(self, url: str | None) -> None:
        with self.lock:
            self.webhook_url = url

    def serves(self, number: str) -> bool:
        return number in self.pool

    def accepts_proxy(self, number: str) -> bool:
        """A proxy address must be a pool number (any number while the pool is empty)."""
        return not self.pool or number in self.pool
