"""What every request handler and background task of one relay process shares.

Reached from a request as `request.app.state.ctx`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.relay.config import Settings
from app.relay.ddb import Tables

log = logging.getLogger("app.relay")


@dataclass
class RelayContext:
    settings: Settings
    tables: Tables
    twilio: Any = None  # app.relay.twilio_client.TwilioGateway (None until configured)
    change_log: Any = None  # app.relay.changes.ChangeLog
    idempotency: Any = None  # app.relay.idempotency.IdempotencyStore
    pool: Any = None  # app.relay.pool.ProxyPool
    limits: Any = None  # app.relay.ratelimit.Limits (rates and slots shared by instances)
    #: epoch seconds; tests replace it to move the limits' windows and the idle close
    clock: Callable[[], float] = time.time
    extras: dict[str, Any] = field(default_factory=dict)
    #: test hook: called with the name of each step reached (may block, to hold a
    #: request at that step while a test sends another one)
    on_step: Callable[[str], None] | None = None

    def crash_point(self, step: str) -> None:
        """Test hooks: `on_step`, then with W2T_CRASH_AT=<step> the process dies right
        here (no cleanup)."""
        if self.on_step is not None:
            self.on_step(step)
        if self.settings.crash_at and self.settings.crash_at == step:
            log.warning("W2T_CRASH_AT reached: exiting", extra={"step": step})
            os._exit(17)
