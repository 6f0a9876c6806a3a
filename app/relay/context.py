"""The relay's services: what every request handler and background task of one
relay process shares, built once by `app.relay.app.build_context`.

Reached from a request as `context_of(request)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request
from twilio.request_validator import RequestValidator

from app.relay.cache import RelayCaches
from app.relay.config import Settings
from app.relay.ddb import Tables

if TYPE_CHECKING:
    from app.relay.changes import ChangeLog
    from app.relay.connectors.registry import Connectors
    from app.relay.idempotency import IdempotencyStore
    from app.relay.integrations import Integration
    from app.relay.lead_lock import LeadLock
    from app.relay.leads import LeadService
    from app.relay.metrics import RelayMetrics
    from app.relay.pool import ProxyPool
    from app.relay.presence import PresenceWatch
    from app.relay.ratelimit import Limits
    from app.relay.scheduled_dispatch import ScheduleDispatcher
    from app.relay.stream import HeadWatch
    from app.relay.twilio_client import TwilioGateway


def no_checkpoint(step: str) -> None:
    """Production: a named step between two side effects is just passed."""


@dataclass
class RelayContext:
    settings: Settings
    tables: Tables
    #: None only when a test runs the relay without Twilio (the integration does not apply)
    twilio: TwilioGateway | None
    change_log: ChangeLog
    idempotency: IdempotencyStore
    pool: ProxyPool
    metrics: RelayMetrics
    #: the change log's heads, shared by every stream of this process
    head_watch: HeadWatch
    #: who views or types where, shared by every stream of this process
    presence: PresenceWatch
    caches: RelayCaches
    #: the lead integrations `LeadRunner` runs, in order
    integrations: list[Integration]
    #: checks the `X-Twilio-Signature` of webhooks
    webhook_validator: RequestValidator
    #: the per-lead lock: the lead service holds it while a lead runs, and the
    #: integrations guard each side effect with it
    lead_lock: LeadLock
    #: the lead-tracking systems' clients and integrations, and Nexus
    connectors: Connectors
    #: set right after this object is built (the service is built from it)
    leads: LeadService = field(init=False)
    #: rates and slots shared by instances (`app.relay.ratelimit`); set right after
    limits: Limits = field(init=False)
    #: sends texts scheduled for later when due (`app.relay.scheduled_dispatch`); set
    #: right after, one claim owner per process
    scheduler: ScheduleDispatcher = field(init=False)
    #: epoch seconds; tests replace it to move the limits' windows, the idle close
    #: and the hour a staff send is checked at (quiet hours)
    clock: Callable[[], float] = time.time
    #: called with the name of each step between two side effects (webhook effects,
    #: lead processing, closes, sends). A no-op in production; tests install one:
    #: the crash tests' kills the process at a step (`tests.support.crashing_relay`),
    #: the interleaving tests' holds a request at a step while another one runs
    checkpoint: Callable[[str], None] = no_checkpoint

    def require_twilio(self) -> TwilioGateway:
        """The Twilio gateway, for code that only runs with one (the Twilio
        integration applies, the reconcile runs, only when there is one)."""
        if self.twilio is None:
            raise RuntimeError("Twilio is not configured")
        return self.twilio


def context_of(request: Request) -> RelayContext:
    """The services of the app serving `request`."""
    ctx = request.app.state.ctx
    if not isinstance(ctx, RelayContext):  # pragma: no cover - create_app always sets it
        raise RuntimeError("the app has no relay services")
    return ctx
