"""The demo's website form survives a relay that did not answer in time (a busy
build machine making the installers' snapshot): it is sent again with the same
idempotency key, so the relay sees one lead."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from app.sandbox import demo_data as data
from app.sandbox.demo.client import DemoClient, describe
from app.sandbox.demo.handle import DemoHandle


class SlowFirstAnswer(ThreadingHTTPServer):
    """Holds the first request until `release` is set; answers the others at once."""

    daemon_threads = True

    def __init__(self, holds: int) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.holds = holds
        self.release = threading.Event()
        self.keys: list[str] = []
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server: SlowFirstAnswer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        with self.server.lock:
            self.server.keys.append(self.headers["idempotency-key"])
            hold = len(self.server.keys) <= self.server.holds
        if hold:
            self.server.release.wait(60)
        payload = json.dumps({"LeadId": "x"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: object) -> None:
        pass


def _serve(holds: int) -> Iterator[SlowFirstAnswer]:
    server = SlowFirstAnswer(holds)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def slow_once() -> Iterator[SlowFirstAnswer]:
    yield from _serve(holds=1)


@pytest.fixture
def never() -> Iterator[SlowFirstAnswer]:
    yield from _serve(holds=99)


def _client(server: SlowFirstAnswer) -> DemoClient:
    handle = DemoHandle(
        relay_url=f"http://127.0.0.1:{server.server_address[1]}",
        staff_key="staff",
        data_dir=Path("unused"),
        staff_id="demo-jordan",
        staff_name="Jordan",
        simulator_url="http://127.0.0.1:9",
        dynamodb_url="http://127.0.0.1:9",
        lead_key="lead",
    )
    # the held request times out; the next answer comes at once, well within this
    return DemoClient(handle, timeout=2.0)


async def test_a_lead_the_relay_did_not_answer_is_sent_again(
    slow_once: SlowFirstAnswer,
) -> None:
    lead = data.build_seed(7, 6)[0]
    client = _client(slow_once)
    try:
        await client.create_lead(lead)
    finally:
        await client.aclose()
    assert slow_once.keys == [f"demo-create-{lead.lead_id}"] * 2


async def test_the_last_timeout_is_the_error_with_its_name(never: SlowFirstAnswer) -> None:
    lead = data.build_seed(7, 6)[0]
    client = _client(never)
    client.timeout = 0.2
    try:
        with pytest.raises(httpx.TimeoutException) as caught:
            await client.create_lead(lead, attempts=2)
    finally:
        await client.aclose()
    assert len(never.keys) == 2
    assert describe(caught.value).startswith("ReadTimeout")
