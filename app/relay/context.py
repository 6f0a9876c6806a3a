"""What every request handler and background task of one relay process shares.

Reached from a request as `request.app.state.ctx`.
"""

from __future__ import annotations

import logging
import os
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
    extras: dict[str, Any] = field(default_factory=dict)

    def crash_point(self, step: str) -> None:
        """Test hook: with W2T_CRASH_AT=<step> the process dies right here (no cleanup)."""
        if self.settings.crash_at and self.settings.crash_at == step:
            log.warning("W2T_CRASH_AT reached: exiting", extra={"step": step})
            os._exit(17)
