"""Run a real relay (uvicorn on loopback) against DynamoDB Local and the Twilio
simulator; seed it through the same code the admin CLI uses.

    relay = start_relay(dynamodb_endpoint, sim)        # sim: simulator handle or None
    seed = seed_dealer(relay)                          # retailer + location + pool + keys
    ... relay.url, seed.lead_key, seed.staff_key ...
    relay.stop()

Every relay gets its own table prefix (`TEST<random>`) unless `prefix` is given;
two relays started with the same prefix share their tables (multi-instance tests).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from app.relay import auth, directory
from app.relay.app import create_app
from app.relay.config import Settings
from app.relay.context import RelayContext
from app.relay.ddb import Tables, make_client
from app.relay.tables import create_all
from app.sandbox.servers import UvicornThread, free_port

TEST_ACCOUNT_SID = "AC" + "0" * 32
TEST_AUTH_TOKEN = "test-auth-token"
#: GET /metrics answers only with this bearer token (W2T_METRICS_TOKEN)
METRICS_TOKEN = "test-metrics-token"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def new_prefix() -> str:
    return "TEST" + secrets.token_hex(4).upper()


def init_tables(dynamodb_endpoint: str, prefix: str) -> Settings:
    settings = Settings(table_prefix=prefix, dynamodb_endpoint=dynamodb_endpoint)
    create_all(make_client(settings), prefix)
    return settings


def _sim_attr(sim: Any, *names: str) -> Any:
    for name in names:
        value = getattr(sim, name, None)
        if value is None and getattr(sim, "config", None) is not None:
            value = getattr(sim.config, name, None)
        if value is not None:
            return value
    return None


@dataclass
class RelayHandle:
    url: str
    settings: Settings
    server: UvicornThread
    app: Any
    sim: Any = None  # the simulator handle it talks to, if any

    @property
    def ctx(self) -> RelayContext:
        """The relay's services (tests may swap parts of them)."""
        ctx = self.app.state.ctx
        assert isinstance(ctx, RelayContext)
        return ctx

    @property
    def tables(self) -> Tables:
        return self.ctx.tables

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> RelayHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def relay_settings(
    dynamodb_endpoint: str, sim_handle: Any, prefix: str, port: int, **overrides: Any
) -> Settings:
    url = f"http://127.0.0.1:{port}"
    settings = Settings(
        table_prefix=prefix,
        dynamodb_endpoint=dynamodb_endpoint,
        twilio_account_sid=_sim_attr(sim_handle, "account_sid") or TEST_ACCOUNT_SID,
        twilio_auth_token=_sim_attr(sim_handle, "auth_token") or TEST_AUTH_TOKEN,
        twilio_messaging_service_sid=_sim_attr(sim_handle, "messaging_service_sid"),
        twilio_base_url=_sim_attr(sim_handle, "url", "base_url"),
        public_url=url,
        environment="test",
        ddb_max_attempts=3,
        twilio_max_attempts=3,
        twilio_timeout_s=5.0,
        sweeper_interval_s=0.5,
        stuck_after_s=2.0,
        reconcile_interval_s=3600.0,
        pool_refresh_s=5.0,
        # Tests of other behaviour reuse one key, a few phones and one conversation
        # for many leads, texts and streams; the abuse tests (tests/relay_abuse) pass
        # the limits they exercise.
        key_rate_per_min=100_000,
        phone_leads_per_day=1_000,
        staff_send_rate_per_min=100_000,
        conversation_send_rate_per_min=100_000,
        streams_per_key=1_000,
        metrics_token=METRICS_TOKEN,
    )
    return settings.with_overrides(**overrides) if overrides else settings


def start_relay(
    dynamodb_endpoint: str,
    sim_handle: Any = None,
    prefix: str | None = None,
    *,
    register_inbound: bool = True,
    **overrides: Any,
) -> RelayHandle:
    """A relay on a free loopback port; its tables are created first (idempotent).

    With a simulator handle, the simulator's Messaging Service inbound webhook is
    pointed at this relay (`register_inbound=False` leaves it alone), and
    `seed_dealer(handle)` seeds the simulator's pool. `overrides` are Settings
    fields (e.g. `background=False`, `stuck_after_s=2.0`).
    """
    prefix = prefix or new_prefix()
    init_tables(dynamodb_endpoint, prefix)
    port = free_port()
    settings = relay_settings(dynamodb_endpoint, sim_handle, prefix, port, **overrides)
    app = create_app(settings)
    if sim_handle is None:
        app.state.ctx.twilio = None  # no Twilio at all: the Twilio integration does not apply
    server = UvicornThread(app, port=port).start()
    if sim_handle is not None and register_inbound and hasattr(sim_handle, "set_webhook_url"):
        sim_handle.set_webhook_url(server.url + "/TwilioWebhooks/onIncomingMessage")
    return RelayHandle(url=server.url, settings=settings, server=server, app=app, sim=sim_handle)


@dataclass
class Seed:
    retailer_id: str
    location_id: str
    web2text_number: str
    lead_key: str  # every lead-service endpoint
    staff_key: str
    staff_id: str
    pool: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def tables_for(target: RelayHandle | Settings) -> Tables:
    settings = target.settings if isinstance(target, RelayHandle) else target
    return Tables.from_settings(settings)


def seed_retailer(
    target: RelayHandle | Settings,
    retailer_id: str | None = None,
    name: str = "Acme Floors",
    **kwargs: Any,
) -> str:
    retailer_id = retailer_id or str(uuid.uuid4())
    directory.put_retailer(tables_for(target), retailer_id, name, **kwargs)
    return retailer_id


def seed_location(
    target: RelayHandle | Settings,
    retailer_id: str,
    web2text_number: str,
    location_id: str | None = None,
    name: str = "Main Street",
    **kwargs: Any,
) -> str:
    location_id = location_id or str(uuid.uuid4())
    directory.put_location(
        tables_for(target), retailer_id, location_id, name, web2text_number, **kwargs
    )
    return location_id


def seed_pool(target: RelayHandle | Settings, numbers: list[str]) -> None:
    directory.add_pool_numbers(tables_for(target), numbers)
    if isinstance(target, RelayHandle):
        target.ctx.pool.refresh()


def issue_key(target: RelayHandle | Settings, endpoints: list[str], **kwargs: Any) -> str:
    return auth.issue_key(tables_for(target), endpoints, **kwargs)


def issue_staff_key(
    target: RelayHandle | Settings,
    retailer_id: str,
    locations: list[str],
    staff_id: str = "staff-1",
    name: str = "Sam Staff",
) -> str:
    return auth.issue_key(
        tables_for(target),
        [auth.STAFF_ENDPOINT],
        staff_id=staff_id,
        name=name,
        retailer_id=retailer_id,
        locations=locations,
    )


DEFAULT_POOL = ["+13125550101", "+13125550102", "+13125550103", "+14155550104", "+12125550105"]


def seed_dealer(
    target: RelayHandle | Settings,
    *,
    web2text_number: str = "+13125550188",
    pool: list[str] | None = None,
    store_number: str | None = None,
    timezone: str | None = "America/Chicago",
) -> Seed:
    """One retailer with one location, a proxy pool, an all-endpoint key and a staff key."""
    retailer_id = seed_retailer(target)
    location_id = seed_location(
        target, retailer_id, web2text_number, store_number=store_number, timezone=timezone
    )
    if pool is None and isinstance(target, RelayHandle) and getattr(target.sim, "pool", None):
        pool = list(target.sim.pool)  # the simulator only accepts its own numbers
    pool = list(DEFAULT_POOL if pool is None else pool)
    if pool:
        seed_pool(target, pool)
    lead_key = issue_key(target, ["*"], description="tests: all endpoints")
    staff_key = issue_staff_key(target, retailer_id, [location_id])
    return Seed(
        retailer_id=retailer_id,
        location_id=location_id,
        web2text_number=web2text_number,
        lead_key=lead_key,
        staff_key=staff_key,
        staff_id="staff-1",
        pool=pool,
    )
