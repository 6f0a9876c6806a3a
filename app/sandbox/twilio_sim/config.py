"""Configuration of one simulator instance."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from app.sandbox.twilio_sim.sids import new_sid

_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class SimConfigError(ValueError):
    """A simulator setting is unusable; the message says which and why."""


@dataclass
class SimConfig:
    """Everything a simulator needs to start.

    `time_scale` is how many simulated seconds pass per real second: conversation
    timers (`Timers.Inactive`/`Timers.Closed`) and every timestamp the simulator
    reports follow the simulated clock, so `time_scale=60` turns PT1M into one
    real second. `POST /_sim/tick` moves the clock forward instantly.
    """

    account_sid: str
    auth_token: str
    webhook_url: str | None = None
    # The pool numbers' voice webhook (A CALL COMES IN); calls need one.
    voice_url: str | None = None
    pool: list[str] = field(default_factory=list)
    messaging_service_sid: str = field(default_factory=lambda: new_sid("MG"))
    chat_service_sid: str = field(default_factory=lambda: new_sid("IS"))
    time_scale: float = 1.0
    # Twilio gives a webhook receiver 5 s; a timed-out or failed delivery is retried.
    webhook_timeout: float = 5.0
    webhook_max_attempts: int = 3
    webhook_retry_delay: float = 0.25
    # Parallel webhook senders; webhooks of one conversation still go one at a time.
    webhook_workers: int = 4
    # Real time between a receipt going `sent` and the handset receiving it.
    carrier_delay: float = 0.02
    # How often the timer loop looks for conversations whose timers are due.
    timer_interval: float = 0.05
    help_reply: str = "Reply STOP to unsubscribe. Msg&Data Rates May Apply."
    stop_reply: str = (
        "You have successfully been unsubscribed. You will not receive any more "
        "messages from this number. Reply START to resubscribe."
    )
    start_reply: str = (
        "You have successfully been re-subscribed to messages from this number. "
        "Reply HELP for help. Reply STOP to unsubscribe. Msg&Data Rates May Apply."
    )

    def validate(self) -> SimConfig:
        if not _ACCOUNT_SID.match(self.account_sid):
            raise SimConfigError(
                "account_sid must be AC followed by 32 hex digits, like Twilio's account SIDs"
            )
        if not self.auth_token:
            raise SimConfigError("auth_token must not be empty")
        if not _SERVICE_SID.match(self.messaging_service_sid):
            raise SimConfigError("messaging_service_sid must be MG followed by 32 hex digits")
        for name in ("webhook_url", "voice_url"):
            url = getattr(self, name)
            if url is not None and not re.match(r"^https?://", url):
                raise SimConfigError(f"{name} must be an http(s) URL")
        bad = [n for n in self.pool if not _E164.match(n)]
        if bad:
            raise SimConfigError(f"pool numbers must be E.164 (+ and digits): {len(bad)} invalid")
        if len(set(self.pool)) != len(self.pool):
            raise SimConfigError("pool numbers must be unique")
        if self.time_scale <= 0:
            raise SimConfigError("time_scale must be positive")
        if self.webhook_workers < 1:
            raise SimConfigError("webhook_workers must be at least 1")
        if self.webhook_max_attempts < 1:
            raise SimConfigError("webhook_max_attempts must be at least 1")
        return self
