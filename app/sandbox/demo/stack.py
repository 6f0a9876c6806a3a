"""The demo's servers on loopback: moto's DynamoDB, the Twilio simulator, the
lead-systems simulator (the dealers' RLM, DealerHQ and chatbot) and the relay.

Each is started through its public entry point (moto's DynamoDB Flask app
under werkzeug, `start_simulator`, `start_demo_lead_systems`, the relay's
`create_app` under uvicorn); the directory and the keys are written by the same
functions `web2text-relay admin` uses.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.sandbox import demo_data as data

TABLE_PREFIX = "DEVDEMO"
LEAD_ENDPOINTS = ["Lead/create", "Lead/status", "Lead/sync", "Lead/close", "Dealer/status"]

Stops = list[Callable[[], None]]


@dataclass
class Stack:
    """The servers of one demo, before the relay serves."""

    dynamodb_url: str
    sim: Any  # app.sandbox.twilio_sim.SimHandle
    settings: Any  # app.relay.config.Settings
    relay_port: int
    lead_systems: Any  # app.sandbox.lead_systems_sim.LeadSystemsHandle
    # One boto3 session for the demo's own DynamoDB clients: each new session
    # loads botocore's service models again.
    session: Any = None

    @property
    def relay_url(self) -> str:
        return f"http://127.0.0.1:{self.relay_port}"


def demo_aws_environment() -> None:
    # boto3 needs credentials and a region; moto accepts anything. Real AWS
    # credentials of the user must never be sent anywhere by the demo, not even
    # to loopback, so they are replaced for this (demo) process.
    os.environ["AWS_ACCESS_KEY_ID"] = "demo"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "demo"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION"):
        os.environ.pop(name, None)


def quiet_logs() -> None:
    # The relay logs every request as JSON on stderr through its own handler on
    # "app" (right for a server); embedded in the desktop, its lines go where the
    # desktop's go (its log file, scrubbed) and only warnings, unless
    # W2T_LOG_LEVEL asks for more.
    level = os.environ.get("W2T_LOG_LEVEL", "").upper()
    app_logger = logging.getLogger("app")
    for handler in list(app_logger.handlers):
        if getattr(handler, "_w2t", False):  # app.relay.logs.configure_logging's
            app_logger.removeHandler(handler)
    app_logger.propagate = True
    app_logger.setLevel(level or "WARNING")
    # The relay's expected misses (a 20404 before creating a conversation) are
    # warnings for an operator, noise for someone trying the app.
    logging.getLogger("app.relay").setLevel(level or "ERROR")
    for noisy in ("werkzeug", "urllib3.connectionpool"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


class LocalDynamoDB:
    """moto's DynamoDB (in memory, this process) on a loopback port.

    moto's Flask apps for DynamoDB and for its own /moto-api, served by werkzeug
    the way moto's ThreadedMotoServer serves them, but without its dispatcher,
    which finds the service of every request by matching it against every
    service's URL patterns: the demo only speaks DynamoDB.
    """

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler, create_backend_app
        from werkzeug.serving import make_server

        self._dynamodb = create_backend_app("dynamodb")
        self._moto_api = create_backend_app("moto_api")
        # moto's backend is not thread-safe (TransactWriteItems deep-copies a table
        # that other request threads change): one request at a time, which costs
        # little, the GIL serializes this pure-Python work anyway.
        self._serial = threading.Lock()
        self._server = make_server(
            "127.0.0.1", 0, self._app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="demo-dynamodb", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        app = self._moto_api if str(path).startswith("/moto-api") else self._dynamodb
        with self._serial:
            return app(environ, start_response)

    def start(self) -> LocalDynamoDB:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


def start_dynamodb(stops: Stops) -> str:
    import httpx

    server = LocalDynamoDB().start()
    stops.append(server.stop)
    # moto keeps its data per process: a second demo in one process starts empty too.
    httpx.post(f"{server.url}/moto-api/reset", timeout=10).raise_for_status()
    return server.url


def start_stack(stops: Stops) -> Stack:
    """DynamoDB with the relay's (empty) tables and the simulator; the relay not yet."""
    import boto3

    from app.relay.config import Settings
    from app.relay.ddb import make_client
    from app.relay.tables import create_all
    from app.sandbox.demo_lead_systems import start_demo_lead_systems
    from app.sandbox.servers import free_port
    from app.sandbox.twilio_sim import start_simulator

    dynamodb_url = start_dynamodb(stops)
    sim = start_simulator(
        account_sid="AC" + secrets.token_hex(16),
        auth_token=secrets.token_urlsafe(24),
        pool=data.proxy_pool(),
        carrier_delay=0.05,
        # the relay in this process answers late on a starved machine; a webhook
        # given up would leave a text or its delivery out of the seeded inbox
        webhook_timeout=60.0,
    )
    stops.append(sim.stop)
    lead_systems, connectors = start_demo_lead_systems()
    stops.append(lead_systems.stop)
    port = free_port()
    settings = Settings(
        table_prefix=TABLE_PREFIX,
        dynamodb_endpoint=dynamodb_url,
        twilio_account_sid=sim.account_sid,
        twilio_auth_token=sim.auth_token,
        twilio_messaging_service_sid=sim.messaging_service_sid,
        twilio_base_url=sim.url,
        public_url=f"http://127.0.0.1:{port}",  # webhook signatures are computed for this URL
        environment="demo",
        # seeding sends ~40 leads, their status polls and a burst of history through
        # one key and a few staff members at once: past the production abuse limits
        key_rate_per_min=100_000,
        staff_send_rate_per_min=10_000,
        conversation_send_rate_per_min=10_000,
        # moto runs in this process and answers every request, one at a time: on a
        # starved machine late, never lost. A production-sized read timeout would
        # give up (and retry into the same queue) where waiting is right.
        ddb_timeout_s=60.0,
        connectors=connectors,
    )
    session = boto3.session.Session()
    create_all(make_client(settings, session), TABLE_PREFIX)
    return Stack(dynamodb_url, sim, settings, port, lead_systems, session)


def write_directory(stack: Stack) -> None:
    """Retailers, locations and the proxy pool (what a snapshot also holds)."""
    from app.relay import directory
    from app.relay.ddb import Tables
    from app.sandbox.demo_contacts import DEMO_AFTER_HOURS_TEXT, DEMO_HOURS
    from app.sandbox.demo_lead_systems import configure_dealers

    tables = Tables.from_settings(stack.settings, stack.session)
    for r in data.RETAILERS:
        directory.put_retailer(tables, r.retailer_id, r.name, website=r.website)
    for loc in data.LOCATIONS:
        directory.put_location(
            tables,
            data.retailer(loc.retailer).retailer_id,
            loc.location_id,
            loc.name,
            loc.web2text_number,
            store_number=loc.store_number,
            timezone=loc.timezone,
        )
    configure_dealers(tables)
    directory.add_pool_numbers(tables, data.proxy_pool())
    # one store keeps opening hours: texts outside them get its after-hours reply
    first = data.LOCATIONS[0]
    directory.set_hours(tables, first.location_id, DEMO_HOURS, DEMO_AFTER_HOURS_TEXT)


def issue_keys(stack: Stack) -> tuple[str, dict[str, str]]:
    """A website key and one staff key per demo staff member (fresh every start:
    only their hashes are stored, so a snapshot never holds them)."""
    from app.relay import auth
    from app.relay.ddb import Tables

    tables = Tables.from_settings(stack.settings, stack.session)
    lead_key = auth.issue_key(tables, LEAD_ENDPOINTS, description="demo website forms")
    staff_keys = {
        s.staff_id: auth.issue_key(
            tables,
            [auth.STAFF_ENDPOINT],
            description="demo staff",
            staff_id=s.staff_id,
            name=s.name,
            retailer_id=data.retailer(s.retailer).retailer_id,
            locations=[data.location(k).location_id for k in s.locations],
        )
        for s in data.STAFF
    }
    return lead_key, staff_keys


def start_relay(stack: Stack, stops: Stops) -> None:
    """The relay on its port; it loads the pool as it starts, so the tables come first."""
    from app.relay.app import create_app
    from app.sandbox.servers import UvicornThread

    relay_app = create_app(stack.settings)
    quiet_logs()  # again: create_app configures the relay's own log handler
    relay = UvicornThread(relay_app, port=stack.relay_port, timeout_graceful_shutdown=5)
    relay.start()
    stops.append(lambda: relay.stop(timeout=5))
    sim = stack.sim

    def drain() -> None:
        # Runs after the world stopped and before the relay stops: the relay's
        # lead processing still needs the simulator and DynamoDB, and the
        # simulator's last webhooks still need the relay.
        with contextlib.suppress(TimeoutError):
            sim.wait_idle(3.0)
        # What is cut off now (a text still on its way when the user quits) does
        # not matter any more: keep tracebacks of it off the terminal.
        for name in ("app.sandbox.twilio_sim", "uvicorn.error", "app.relay"):
            logging.getLogger(name).setLevel(logging.CRITICAL)

    stops.append(drain)
    sim.set_webhook_url(f"{stack.relay_url}/TwilioWebhooks/onIncomingMessage")
    sim.set_voice_url(f"{stack.relay_url}/TwilioWebhooks/onIncomingCall")
