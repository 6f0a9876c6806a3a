"""`web2text --demo`: the whole product in one process, on loopback ports.

    handle = start_demo()             # blocks until everything is seeded (a few seconds)
    handle.relay_url, handle.staff_key, handle.data_dir, handle.is_demo
    handle.stop()                     # or stop_demo()

What runs (all daemon threads of this process):

- moto's `ThreadedMotoServer`: DynamoDB, in memory;
- the Twilio simulator (`app.sandbox.twilio_sim`), whose Messaging Service
  pool is the demo's proxy pool and whose webhooks go to the relay;
- the lead-systems simulator as the dealers' RLM, DealerHQ and chatbot
  (`app.sandbox.demo_lead_systems`): every lead reaches their lead tracking;
- the relay (`app.relay.app.create_app`), its tables created by the relay's
  own `create_all`, the directory, pool and keys written by the same
  functions `web2text-relay admin` uses;
- the simulated world, an asyncio loop in its own thread ("demo-world"): it
  seeds ~40 website leads through the real `POST /Lead/{id}/create`, plays
  their histories (customers and the store phone through the simulator's
  `/_sim/inbound`, staff through the staff API), then keeps the demo alive:
  customers answer a few seconds after staff write (one texts STOP), the store
  phone answers now and then, and a new website lead arrives about every minute.

Nothing here runs on the Qt thread, and the staff key is never written to a
file: the desktop keeps it in memory for the session. Demo data lives in its
own folder (`<user data dir>/Web2Text/demo`, or `W2T_DEMO_DIR`), which every
start wipes and re-creates; it never touches a real profile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import secrets
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from app.core.phones import mask_phone
from app.sandbox import demo_data as data
from app.sandbox.demo_contacts import DEMO_AFTER_HOURS_TEXT, DEMO_HOURS, Contacts
from app.sandbox.demo_data import LeadSeed, Shoppers, Step
from app.sandbox.demo_lead_systems import add_chatbot_summary

log = logging.getLogger("app.sandbox.demo")

MARKER = ".web2text-demo"
TABLE_PREFIX = "DEVDEMO"
# The staff member the desktop signs in as (W2T_DEMO_STAFF picks the other one).
DEFAULT_STAFF = "demo-jordan"
LEAD_ENDPOINTS = ["Lead/create", "Lead/status", "Lead/sync", "Lead/close", "Dealer/status"]


class DemoError(RuntimeError):
    """The demo could not start; the message says why. `reason` is stable snake_case."""

    def __init__(self, message: str, reason: str = "demo_failed") -> None:
        super().__init__(message)
        self.reason = reason




# ----------------------------------------------------------------- data folder


def default_demo_dir() -> Path:
    env = os.environ.get("W2T_DEMO_DIR")
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("Web2Text", appauthor=False)) / "demo"


def reset_demo_dir(path: Path) -> Path:
    """Empty `path` for a new demo, but only if it is a demo folder (or empty/new).

    The marker file guards against wiping a real profile when someone points
    W2T_DEMO_DIR (or `data_dir`) at the wrong folder.
    """
    path = path.expanduser().resolve()
    if path.exists():
        if not path.is_dir():
            raise DemoError(f"{path} is a file, not a folder for demo data", "demo_dir_invalid")
        if (path / MARKER).exists():
            shutil.rmtree(path)
        elif any(path.iterdir()):
            raise DemoError(
                f"{path} holds files that are not demo data; choose an empty folder "
                "(W2T_DEMO_DIR) so the demo never mixes with a real profile",
                "demo_dir_not_empty",
            )
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text(
        "Web2Text demo data: deleted and re-created by every `web2text --demo`.\n",
        encoding="utf-8",
    )
    return path


# ----------------------------------------------------------------- the handle


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
    #: the lead-systems simulator (its `GET /rlm/leads`, `GET /dhq/inquiries` show
    #: what reached the dealers' lead tracking)
    lead_systems_url: str
    lead_key: str = field(repr=False)
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


_current: DemoHandle | None = None
_current_lock = threading.Lock()


def stop_demo() -> None:
    """Stop the demo started by `start_demo()` in this process (the desktop calls it at quit)."""
    global _current
    with _current_lock:
        handle, _current = _current, None
    if handle is not None:
        handle.stop()


# ----------------------------------------------------------------- servers


def _moto_server() -> Any:
    """moto's `ThreadedMotoServer`, told that every request is for DynamoDB.

    moto's dispatcher finds the service of each request by matching it against
    every service's URL patterns and listing moto's package folder, under one
    lock: that was most of the demo's CPU time. The demo only speaks DynamoDB
    (and moto's own /moto-api), so the DynamoDB app is looked up once.
    """
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class DynamoDBDispatcher(DomainDispatcherApplication):
        serial = threading.Lock()

        def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
            # moto's backend is not thread-safe: TransactWriteItems deep-copies a
            # table that other request threads are changing ("dictionary changed
            # size during iteration", a 500). One request at a time, which costs
            # little: the GIL serializes this pure-Python work anyway.
            with self.serial:
                return super().__call__(environ, start_response)

        def get_application(self, environ: dict[str, Any]) -> Any:
            path = environ.get("PATH_INFO", "")
            if isinstance(path, str) and path.startswith("/moto-api"):
                return super().get_application(environ)
            app = self.app_instances.get("dynamodb")
            if app is None:
                with self.lock:
                    app = self.app_instances.get("dynamodb")
                    if app is None:
                        app = self.app_instances["dynamodb"] = self.create_app("dynamodb")
            return app

    class DemoMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DynamoDBDispatcher(create_backend_app)
            self._server = make_server(
                self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
            )
            self._server_ready_event.set()
            self._server.serve_forever()

    return DemoMotoServer(ip_address="127.0.0.1", port=0, verbose=False)


def _start_dynamodb() -> tuple[str, Callable[[], None]]:
    server = _moto_server()
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto keeps its data per process: a second demo in one process starts empty too.
    httpx.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
    return url, server.stop


def _demo_aws_environment() -> None:
    # boto3 needs credentials and a region; moto accepts anything. Real AWS
    # credentials of the user must never be sent anywhere by the demo, not even
    # to loopback, so they are replaced for this (demo) process.
    os.environ["AWS_ACCESS_KEY_ID"] = "demo"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "demo"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION"):
        os.environ.pop(name, None)


def _quiet_logs() -> None:
    # The relay logs every request as JSON on stderr (right for a server); in the
    # desktop's terminal only warnings belong, unless W2T_LOG_LEVEL asks for more.
    level = os.environ.get("W2T_LOG_LEVEL", "").upper()
    logging.getLogger("app").setLevel(level or "WARNING")
    # The relay's expected misses (a 20404 before creating a conversation) are
    # warnings for an operator, noise for someone trying the app.
    logging.getLogger("app.relay").setLevel(level or "ERROR")
    for noisy in ("werkzeug", "urllib3.connectionpool"):
        logging.getLogger(noisy).setLevel(logging.ERROR)


# ----------------------------------------------------------------- start


def start_demo(
    data_dir: Path | str | None = None,
    *,
    staff_id: str | None = None,
    seed: int | None = 7,
    leads: int | None = None,
    live: bool = True,
    lead_interval: float = 60.0,
    reply_delay: tuple[float, float] = (3.0, 8.0),
    store_answer_rate: float = 0.3,
    stop_after: float = 20.0,
    background_history: bool = True,
) -> DemoHandle:
    """Start the embedded sandbox and seed it; returns once the inbox is ready.

    Blocking until every lead and its conversation exist: call it from a worker
    thread, as the desktop does (`asyncio.to_thread`). The conversations'
    histories then play in the background (`handle.history_done` is set when
    they are in), unless `background_history=False`. `live=False` keeps the
    world still after the histories (tests). `seed=None` draws a different
    demo every time.
    """
    global _current
    stop_demo()  # one demo per process
    if leads is None:
        # W2T_DEMO_LEADS: fewer seeded leads start faster on a slow machine.
        raw = os.environ.get("W2T_DEMO_LEADS", "")
        leads = int(raw) if raw.isdigit() and int(raw) >= 6 else 40
    started = time.monotonic()
    staff_id = staff_id or os.environ.get("W2T_DEMO_STAFF") or DEFAULT_STAFF
    try:
        staff = next(s for s in data.STAFF if s.staff_id == staff_id)
    except StopIteration:
        known = ", ".join(s.staff_id for s in data.STAFF)
        raise DemoError(f"no demo staff {staff_id!r} (one of {known})", "unknown_staff") from None
    folder = reset_demo_dir(Path(data_dir) if data_dir else default_demo_dir())
    _demo_aws_environment()
    _quiet_logs()

    stops: list[Callable[[], None]] = []
    try:
        handle = _start(folder, staff, stops, seed, leads)
        world = World(
            handle,
            rng=random.Random(seed),
            reply_delay=reply_delay,
            store_answer_rate=store_answer_rate,
            lead_interval=lead_interval,
            stop_after=stop_after,
        )
        stops.append(world.stop)
        handle._world = world  # type: ignore[attr-defined]
        world.start()
        handle._stops = stops
        plan = data.build_seed(seed if seed is not None else 7, leads)
        world.call(world.seed_leads(plan), 300)
        handle.stats.seed_seconds = round(time.monotonic() - started, 2)
        world.after_seed(plan, live=live, wait=not background_history)
    except BaseException:
        for stop in reversed(stops):
            with contextlib.suppress(Exception):
                stop()
        raise
    log.info(
        "demo ready in %.1fs: %d leads, %d messages, relay %s, data in %s",
        handle.stats.seed_seconds,
        handle.stats.leads_seeded,
        handle.stats.messages_seeded,
        handle.relay_url,
        handle.data_dir,
    )
    with _current_lock:
        _current = handle
    return handle


def _start(
    folder: Path,
    staff: data.StaffSeed,
    stops: list[Callable[[], None]],
    seed: int | None,
    leads: int,
) -> DemoHandle:
    from app.relay import auth, directory
    from app.relay.app import create_app
    from app.relay.config import Settings
    from app.relay.ddb import Tables, make_client
    from app.relay.tables import create_all
    from app.sandbox.demo_lead_systems import configure_dealers, start_demo_lead_systems
    from app.sandbox.servers import UvicornThread, free_port
    from app.sandbox.twilio_sim import start_simulator

    ddb_url, stop_ddb = _start_dynamodb()
    stops.append(stop_ddb)

    sim = start_simulator(
        account_sid="AC" + secrets.token_hex(16),
        auth_token=secrets.token_urlsafe(24),
        pool=data.proxy_pool(),
        carrier_delay=0.05,
    )
    stops.append(sim.stop)
    lead_systems, connectors = start_demo_lead_systems()
    stops.append(lead_systems.stop)

    port = free_port()
    relay_url = f"http://127.0.0.1:{port}"
    settings = Settings(
        table_prefix=TABLE_PREFIX,
        dynamodb_endpoint=ddb_url,
        twilio_account_sid=sim.account_sid,
        twilio_auth_token=sim.auth_token,
        twilio_messaging_service_sid=sim.messaging_service_sid,
        twilio_base_url=sim.url,
        public_url=relay_url,  # webhook signatures are computed for this URL
        environment="demo",
        # seeding sends ~40 leads, their status polls and a burst of history through
        # one key and a few staff members at once: past the production abuse limits
        key_rate_per_min=100_000,
        staff_send_rate_per_min=10_000,
        conversation_send_rate_per_min=10_000,
        connectors=connectors,
    )
    create_all(make_client(settings), TABLE_PREFIX)
    tables = Tables.from_settings(settings)
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
    lead_key = auth.issue_key(tables, LEAD_ENDPOINTS, description="demo website forms")
    keys = {
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

    # The pool is loaded when the relay starts, so the directory comes first.
    relay_app = create_app(settings)
    _quiet_logs()  # again: create_app configures the relay's own log handler
    relay = UvicornThread(relay_app, port=port, timeout_graceful_shutdown=5)
    relay.start()
    stops.append(lambda: relay.stop(timeout=5))

    def drain() -> None:
        # Runs after the world stopped and before the relay stops: the relay's
        # lead processing still needs the simulator and DynamoDB, and the
        # simulator's last webhooks still need the relay.
        with contextlib.suppress(TimeoutError):
            sim.wait_idle(3.0)
        # What is cut off now (a history text still on its way when the user
        # quits) does not matter any more: keep tracebacks of it off the terminal.
        for name in ("app.sandbox.twilio_sim", "uvicorn.error", "app.relay"):
            logging.getLogger(name).setLevel(logging.CRITICAL)

    stops.append(drain)
    sim.set_webhook_url(f"{relay_url}/TwilioWebhooks/onIncomingMessage")
    sim.set_voice_url(f"{relay_url}/TwilioWebhooks/onIncomingCall")
    # one store keeps opening hours: texts outside them get its after-hours reply
    first = data.LOCATIONS[0]
    directory.set_hours(tables, first.location_id, DEMO_HOURS, DEMO_AFTER_HOURS_TEXT)

    handle = DemoHandle(
        relay_url=relay_url,
        staff_key=keys[staff.staff_id],
        data_dir=folder,
        staff_id=staff.staff_id,
        staff_name=staff.name,
        simulator_url=sim.url,
        dynamodb_url=ddb_url,
        lead_systems_url=lead_systems.url,
        lead_key=lead_key,
        other_staff={k: v for k, v in keys.items() if k != staff.staff_id},
    )
    handle._sim = sim  # type: ignore[attr-defined]
    handle._lead_systems = lead_systems  # type: ignore[attr-defined]
    handle._staff_keys = keys  # type: ignore[attr-defined]
    return handle


# ----------------------------------------------------------------- the world


class World:
    """The simulated customers, store phones and website, on their own asyncio loop."""

    def __init__(
        self,
        handle: DemoHandle,
        *,
        rng: random.Random,
        reply_delay: tuple[float, float],
        store_answer_rate: float,
        lead_interval: float,
        stop_after: float,
    ) -> None:
        self.handle = handle
        self.sim: Any = handle._sim  # type: ignore[attr-defined]
        self.staff_keys: dict[str, str] = handle._staff_keys  # type: ignore[attr-defined]
        self.rng = rng
        self.reply_delay = reply_delay
        self.store_answer_rate = store_answer_rate
        self.lead_interval = lead_interval
        self.stop_after = stop_after
        self.shoppers = Shoppers(random.Random(rng.random()))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name="demo-world", daemon=True)
        self.client: httpx.AsyncClient | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.failed: set[str] = set()  # lead ids that could not be seeded
        self._closing = False
        #: photos, calls, texts after a close and strangers (app.sandbox.demo_contacts)
        self.contacts = Contacts(self, interval=max(lead_interval, 5.0))

    # --- thread plumbing ---------------------------------------------------
    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> None:
        self.thread.start()

    def call(self, coro: Any, timeout: float) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def after_seed(self, plan: list[LeadSeed], *, live: bool, wait: bool) -> None:
        async def run() -> None:
            try:
                await self.play_histories(plan)
            finally:
                self.handle.history_done.set()
            if live:
                self._spawn_live()

        if wait:
            self.call(run(), 600)
        else:
            self.loop.call_soon_threadsafe(self._spawn, run())

    def _spawn_live(self) -> None:
        self._spawn(self._watch_customers())
        self._spawn(self._website())
        self._spawn(self.contacts.run())
        for track in self.handle.tracks.values():
            if track.texts_stop and not track.opted_out:
                track.pending = True
                self._spawn(self._text_later(track, "STOP", self.stop_after))

    def _spawn(self, coro: Any) -> None:
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and not self._closing:
            exc = task.exception()
            log.warning("demo world task failed: %s: %s", type(exc).__name__, exc)
            self.handle.stats.errors.append(f"{type(exc).__name__}: {exc}")

    def stop(self) -> None:
        if not self.thread.is_alive():
            return

        async def close() -> None:
            self._closing = True
            for task in list(self.tasks):
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            if self.client is not None:
                await self.client.aclose()

        with contextlib.suppress(Exception):
            self.call(close(), 5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)

    # --- HTTP helpers ------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        if self.client is None:
            self.client = httpx.AsyncClient(
                timeout=httpx.Timeout(20.0),
                limits=httpx.Limits(max_connections=16),
            )
        return self.client

    async def _create_lead(self, lead: LeadSeed) -> None:
        loc = data.location(lead.location_key)
        body = lead.create_body(data.retailer(loc.retailer).retailer_id, loc.location_id)
        chatbot = add_chatbot_summary(self.handle._lead_systems, lead)  # type: ignore[attr-defined]
        if chatbot is not None:
            body["Lead"]["BotpressConversationId"] = chatbot
        resp = await self._http().post(
            f"{self.handle.relay_url}/Lead/{lead.lead_id}/create",
            json=body,
            headers={
                "Authorization": f"Bearer {self.handle.lead_key}",
                "idempotency-key": f"demo-create-{lead.lead_id}",
            },
        )
        if resp.status_code not in (200, 409):
            raise DemoError(
                f"lead create answered {resp.status_code}: {resp.text[:300]}", "seed_failed"
            )

    async def _conversation_of(self, lead: LeadSeed, timeout: float = 30.0) -> str | None:
        """The lead's ConversationSID once the relay has synced it to Twilio."""
        deadline = time.monotonic() + timeout
        # Each status read is DynamoDB work for the same busy process, so poll gently.
        delay = 0.3
        await asyncio.sleep(delay)
        while time.monotonic() < deadline:
            resp = await self._http().get(
                f"{self.handle.relay_url}/Lead/{lead.lead_id}/status",
                headers={"Authorization": f"Bearer {self.handle.lead_key}"},
            )
            if resp.status_code == 200:
                twilio = (resp.json().get("Integrations") or {}).get("Twilio") or {}
                sid = (twilio.get("Data") or {}).get("ConversationSID")
                if sid:
                    return str(sid)
                if twilio.get("SyncStatus") == "ERROR":
                    log.warning("demo lead %s: Twilio sync failed", lead.lead_id)
                    return None
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 1.5)
        log.warning("demo lead %s: no conversation after %ss", lead.lead_id, timeout)
        return None

    def _proxies(self, sid: str, customer: str, store: str) -> tuple[str, str] | None:
        """The proxy numbers the relay bound for the customer and the store phone."""
        state = self.sim.state
        with state.lock:
            conv = state.conversations.get(sid)
            if conv is None:
                return None
            by_address = {
                p.address: p.proxy_address for p in conv.participants.values() if p.address
            }
        cp, sp = by_address.get(customer), by_address.get(store)
        return (cp, sp) if cp and sp else None

    async def _track(self, lead: LeadSeed) -> Track | None:
        sid = await self._conversation_of(lead)
        if sid is None:
            return None
        store = data.location(lead.location_key).web2text_number
        existing = self.handle.tracks.get(sid)
        if existing is not None:  # a second lead joined the same conversation
            existing.leads.append(lead)
            existing.replies += lead.replies
            return existing
        proxies = None
        for _ in range(100):
            proxies = self._proxies(sid, lead.phone, store)
            if proxies:
                break
            await asyncio.sleep(0.05)
        if proxies is None:
            log.warning("demo: conversation %s has no SMS participants", sid)
            return None
        # The greeting on the customer's phone means the relay finished setting the
        # conversation up (its leads are joined): staff may write from then on.
        for _ in range(300):
            if self.sim.handset(lead.phone):
                break
            await asyncio.sleep(0.05)
        track = Track(
            conversation_sid=sid,
            customer=lead.phone,
            customer_proxy=proxies[0],
            store_number=store,
            store_proxy=proxies[1],
            leads=[lead],
            replies=list(lead.replies),
            texts_stop=lead.texts_stop,
        )
        self.handle.tracks[sid] = track
        return track

    async def _inbound(self, phone: str, to: str, body: str) -> None:
        resp = await self._http().post(
            f"{self.handle.simulator_url}/_sim/inbound",
            json={"from": phone, "to": to, "body": body},
        )
        resp.raise_for_status()

    async def _staff_send(self, track: Track, text: str) -> None:
        staff = next(s for s in data.STAFF if track.leads[0].location_key in s.locations)
        resp = await self._http().post(
            f"{self.handle.relay_url}/v1/conversations/{track.conversation_sid}/messages",
            json={"body": text},
            headers={
                "Authorization": f"Bearer {self.staff_keys[staff.staff_id]}",
                "Idempotency-Key": f"demo-{uuid.uuid4()}",
            },
        )
        if resp.status_code != 202:
            raise DemoError(f"staff send answered {resp.status_code}: {resp.text[:200]}")

    async def _patch(self, lead: LeadSeed) -> None:
        staff = next(s for s in data.STAFF if lead.location_key in s.locations)
        body: dict[str, Any] = {}
        if lead.pipeline:
            body["status"] = lead.pipeline
        if lead.assign_to_staff:
            body["assigneeId"] = staff.staff_id
        if lead.note:
            body["note"] = lead.note
        if not body:
            return
        url = f"{self.handle.relay_url}/v1/leads/{lead.lead_id}"
        headers = {"Authorization": f"Bearer {self.staff_keys[staff.staff_id]}"}
        version = "0"
        # A 412 hands back the current version: edit that one. The relay is still
        # taking in this lead's webhooks, so the version may move a few times.
        for attempt in range(20):
            resp = await self._http().patch(
                url, json=body, headers={**headers, "If-Match": f'"{version}"'}
            )
            if resp.status_code == 200:
                return
            if resp.status_code != 412:
                raise DemoError(f"lead patch answered {resp.status_code}: {resp.text[:200]}")
            version = str((resp.json().get("current") or {}).get("version", version))
            if attempt:
                await asyncio.sleep(0.05 * attempt)
        raise DemoError("lead patch kept conflicting", "version_conflict")

    # --- seeding -----------------------------------------------------------
    @staticmethod
    def _pair(lead: LeadSeed) -> tuple[str, str]:
        return (lead.phone, data.location(lead.location_key).web2text_number)

    async def seed_leads(self, leads: list[LeadSeed]) -> None:
        """Phase 1: every website lead, its conversation and the greeting, concurrently."""
        stats = self.handle.stats
        limit = asyncio.Semaphore(8)

        async def create(lead: LeadSeed) -> None:
            async with limit:
                await self._create_lead(lead)
                if await self._track(lead) is None:
                    raise DemoError(f"lead {lead.lead_id} got no conversation", "seed_failed")

        async def guarded(lead: LeadSeed) -> None:
            try:
                await create(lead)
            except (DemoError, httpx.HTTPError) as exc:
                # One odd lead must not cost the newcomer the whole demo.
                log.warning("demo: seeding lead %s: %s", lead.lead_id, exc)
                stats.errors.append(f"{lead.lead_id}: {exc}")
                self.failed.add(lead.lead_id)

        # Repeat shoppers (same phone, same number) come second, so they join
        # the first lead's conversation the way a real second form would.
        seen: set[tuple[str, str]] = set()
        first: list[LeadSeed] = []
        later: list[LeadSeed] = []
        for lead in leads:
            (later if self._pair(lead) in seen else first).append(lead)
            seen.add(self._pair(lead))
        await asyncio.gather(*(guarded(lead) for lead in first))
        await asyncio.gather(*(guarded(lead) for lead in later))
        stats.leads_seeded = len(leads) - len(self.failed)
        if len(self.failed) > len(leads) // 4:
            raise DemoError(
                f"seeding failed for {len(self.failed)} of {len(leads)} leads; first: "
                f"{stats.errors[0]}",
                "seed_failed",
            )

    async def play_histories(self, leads: list[LeadSeed]) -> None:
        """Phase 2: what staff, customers and store phones said since, then pipeline edits.

        The relay makes many DynamoDB requests per message (idempotency record,
        change log, versioned lead updates, one per webhook) and moto answers
        each in pure Python, so this phase takes longer than the first; it runs
        while the desktop is already showing the inbox, whose live stream
        brings each message in as it lands.
        """
        stats = self.handle.stats
        limit = asyncio.Semaphore(8)
        # One coroutine per conversation keeps each history in order.
        by_conversation: dict[tuple[str, str], list[LeadSeed]] = {}
        for lead in leads:
            if lead.lead_id not in self.failed:
                by_conversation.setdefault(self._pair(lead), []).append(lead)
        tracks = {
            (t.customer, t.store_number): t for t in list(self.handle.tracks.values())
        }

        async def play_all(group: list[LeadSeed]) -> None:
            track = tracks.get(self._pair(group[0]))
            if track is None:
                return
            async with limit:
                for lead in group:
                    try:
                        for step in lead.history:
                            await self._play(track, step)
                            stats.messages_seeded += 1
                        await self._patch(lead)
                    except (DemoError, httpx.HTTPError) as exc:
                        log.warning("demo: history of lead %s: %s", lead.lead_id, exc)
                        stats.errors.append(f"{lead.lead_id}: {exc}")

        await asyncio.gather(*(play_all(group) for group in by_conversation.values()))
        # Only the handsets must be settled before the simulated customers start
        # listening, or they would answer their own history. (The simulator's
        # webhooks to the relay drain on their own.)
        carrier = self.sim.runtime.carrier
        for _ in range(200):
            if carrier.idle():
                break
            await asyncio.sleep(0.05)
        for track in self.handle.tracks.values():
            track.seen = len(self.sim.handset(track.customer))

    async def _play(self, track: Track, step: Step) -> None:
        if step.speaker == "customer":
            await self._inbound(track.customer, track.customer_proxy, step.text)
        elif step.speaker == "store":
            await self._inbound(track.store_number, track.store_proxy, step.text)
        else:
            await self._staff_send(track, step.text)

    # --- live --------------------------------------------------------------
    async def _watch_customers(self) -> None:
        """React when a customer's phone receives a text from staff or the store."""
        while True:
            for track in list(self.handle.tracks.values()):
                if track.opted_out:
                    continue
                count = len(self.sim.handset(track.customer))
                if count <= track.seen:
                    continue
                track.seen = count
                if track.pending:
                    continue
                if track.texts_stop:
                    track.pending = True
                    self._spawn(self._text_later(track, "STOP", self._delay()))
                elif track.replies:
                    track.pending = True
                    self._spawn(self._text_later(track, track.replies.pop(0), self._delay()))
            await asyncio.sleep(0.5)

    def _delay(self) -> float:
        low, high = self.reply_delay
        return self.rng.uniform(low, high)

    async def _text_later(self, track: Track, body: str, delay: float) -> None:
        await asyncio.sleep(delay)
        try:
            await self._inbound(track.customer, track.customer_proxy, body)
        finally:
            track.pending = False
        stats = self.handle.stats
        if body == "STOP":
            track.opted_out = True
            stats.stops += 1
            log.info("demo: %s texted STOP", mask_phone(track.customer))
            return
        stats.customer_replies += 1
        # Now and then someone at the store picks up the store phone and answers.
        if self.rng.random() < self.store_answer_rate:
            await asyncio.sleep(self.rng.uniform(5.0, 15.0))
            await self._inbound(track.store_number, track.store_proxy, self.rng.choice(
                data.STORE_REPLIES
            ))
            stats.store_replies += 1

    async def _website(self) -> None:
        """A new website lead about every `lead_interval` seconds."""
        staff = next(s for s in data.STAFF if s.staff_id == self.handle.staff_id)
        while True:
            await asyncio.sleep(self.lead_interval * self.rng.uniform(0.75, 1.25))
            # Most go to the desktop user's stores, so the tray has news to show.
            keys = list(staff.locations) * 3 + [loc.key for loc in data.LOCATIONS]
            lead = data.new_lead(self.rng, self.shoppers, self.rng.choice(keys))
            try:
                await self._create_lead(lead)
            except (DemoError, httpx.HTTPError) as exc:
                log.warning("demo: website lead failed: %s", exc)
                continue
            self.handle.stats.live_leads += 1
            track = await self._track(lead)
            if track is None:
                continue
            # The greeting is not something to answer; what staff write next is.
            track.seen = len(self.sim.handset(track.customer))
            if track.replies and self.rng.random() < 0.6:  # some write back to the greeting
                track.pending = True
                self._spawn(
                    self._text_later(track, track.replies.pop(0), self.rng.uniform(8.0, 20.0))
                )
