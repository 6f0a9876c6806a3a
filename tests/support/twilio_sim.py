"""Reusable helpers for tests that need the Twilio simulator.

Use the fixtures from your own conftest:

    from tests.support.twilio_sim import twilio_sim, webhook_recorder  # noqa: F401

`twilio_sim` is a running simulator (one server per test module, reset before each
test); `sim_client(sim)` is a real twilio `Client` pointed at it. `webhook_recorder`
is a real HTTP server that records what it receives and can be told to fail.
Or start one yourself: `with running_simulator(webhook_url=...) as sim: ...`.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from app.sandbox.servers import UvicornThread
from app.sandbox.twilio_sim import SimHandle, start_simulator

ACCOUNT_SID = "AC" + "5" * 32
AUTH_TOKEN = "sim-test-auth-token"
# Numbers with different area codes (Chicago, Chicago, New York, San Francisco, Dallas).
DEFAULT_POOL = ["+13125550101", "+13125550102", "+12125550103", "+14155550104", "+12145550105"]

T = TypeVar("T")


def point_client_at(client: Client, url: str) -> Client:
    """Send every Twilio domain the relay uses to the simulator."""
    client.conversations.base_url = url
    client.lookups.base_url = url
    client.messaging.base_url = url
    client.api.base_url = url  # Programmable Messaging (2010-04-01)
    return client


def sim_client(sim: SimHandle) -> Client:
    """A synchronous twilio `Client` that talks to the simulator."""
    return point_client_at(Client(sim.account_sid, sim.auth_token), sim.url)


def async_sim_client(sim: SimHandle) -> Client:
    """A twilio `Client` with `AsyncTwilioHttpClient` (use the `*_async` methods).
    Close it with `await client.http_client.session.close()`."""
    return point_client_at(
        Client(sim.account_sid, sim.auth_token, http_client=AsyncTwilioHttpClient()), sim.url
    )


def wait_until(
    predicate: Callable[[], T], timeout: float = 5.0, interval: float = 0.01, what: str = ""
) -> T:
    """Poll until `predicate()` is truthy and return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


@contextmanager
def running_simulator(
    webhook_url: str | None = None,
    pool: list[str] | None = None,
    account_sid: str = ACCOUNT_SID,
    auth_token: str = AUTH_TOKEN,
    **kwargs: Any,
) -> Iterator[SimHandle]:
    sim = start_simulator(
        account_sid,
        auth_token,
        webhook_url=webhook_url,
        pool=DEFAULT_POOL if pool is None else pool,
        **kwargs,
    )
    try:
        yield sim
    finally:
        sim.stop()


@dataclass
class ReceivedWebhook:
    path: str
    url: str
    method: str
    headers: dict[str, str]
    form: dict[str, str]
    query: dict[str, str]
    at: float

    @property
    def event(self) -> str:
        return self.form.get("EventType") or self.query.get("EventType") or ""

    def signature_valid(self, auth_token: str, url: str | None = None) -> bool:
        """Check X-Twilio-Signature with the twilio SDK's own validator."""
        params = self.form if self.method == "POST" else {}
        return bool(
            RequestValidator(auth_token).validate(
                url or self.url, params, self.headers.get("x-twilio-signature", "")
            )
        )


@dataclass
class WebhookRecorder:
    """A real HTTP receiver for webhooks. `fail_next(n)` makes the next n requests
    answer `status`; `reply` sets the body of successful answers (e.g. TwiML)."""

    server: UvicornThread
    received: list[ReceivedWebhook] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    failures_left: int = 0
    failure_status: int = 500
    delay: float = 0.0
    reply: str = "<Response/>"

    @property
    def url(self) -> str:
        return self.server.url

    def fail_next(self, count: int, status: int = 500) -> None:
        with self.lock:
            self.failures_left = count
            self.failure_status = status

    def clear(self) -> None:
        with self.lock:
            self.received.clear()
            self.failures_left = 0
            self.delay = 0.0
            self.reply = "<Response/>"

    def requests(self, path: str | None = None, event: str | None = None) -> list[ReceivedWebhook]:
        with self.lock:
            items = list(self.received)
        return [
            r
            for r in items
            if (path is None or r.path == path) and (event is None or r.event == event)
        ]

    def wait_for(
        self,
        count: int = 1,
        path: str | None = None,
        event: str | None = None,
        timeout: float = 5.0,
        where: Callable[[ReceivedWebhook], bool] | None = None,
    ) -> list[ReceivedWebhook]:
        def enough() -> list[ReceivedWebhook] | None:
            found = [r for r in self.requests(path, event) if where is None or where(r)]
            return found if len(found) >= count else None

        result = wait_until(enough, timeout, what=f"{count} webhook(s) {path or ''} {event or ''}")
        assert result is not None
        return result

    def stop(self) -> None:
        self.server.stop()


def start_webhook_recorder() -> WebhookRecorder:
    app = FastAPI()
    holder: dict[str, WebhookRecorder] = {}

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def receive(path: str, request: Request) -> Response:
        recorder = holder["r"]
        raw = (await request.body()).decode()
        from urllib.parse import parse_qsl

        form = dict(parse_qsl(raw, keep_blank_values=True)) if request.method == "POST" else {}
        item = ReceivedWebhook(
            path="/" + path,
            url=str(request.url),
            method=request.method,
            headers={k.lower(): v for k, v in request.headers.items()},
            form=form,
            query=dict(request.query_params),
            at=time.monotonic(),
        )
        with recorder.lock:
            recorder.received.append(item)
            fail = recorder.failures_left > 0
            if fail:
                recorder.failures_left -= 1
            status, delay, reply = recorder.failure_status, recorder.delay, recorder.reply
        if delay:
            import asyncio

            await asyncio.sleep(delay)
        if fail:
            return Response("receiver failure", status_code=status)
        return Response(reply, media_type="text/xml")

    recorder = WebhookRecorder(server=UvicornThread(app))
    holder["r"] = recorder
    recorder.server.start()
    return recorder


@pytest.fixture(scope="module")
def _twilio_sim_server() -> Iterator[SimHandle]:
    with running_simulator() as sim:
        yield sim


@pytest.fixture
def twilio_sim(_twilio_sim_server: SimHandle) -> SimHandle:
    """A running simulator with `DEFAULT_POOL`, reset, without inbound or voice URL."""
    sim = _twilio_sim_server
    with contextlib.suppress(TimeoutError):  # let the last test's webhooks land first
        sim.wait_idle(timeout=3)
    sim.reset()
    sim.set_webhook_url(None)
    sim.set_voice_url(None)
    return sim


@pytest.fixture(scope="module")
def _webhook_recorder_server() -> Iterator[WebhookRecorder]:
    recorder = start_webhook_recorder()
    yield recorder
    recorder.stop()


@pytest.fixture
def webhook_recorder(_webhook_recorder_server: WebhookRecorder) -> WebhookRecorder:
    _webhook_recorder_server.clear()
    return _webhook_recorder_server
