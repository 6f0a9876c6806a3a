"""The demo's requests survive a relay that did not answer in time or answered
"not now" (a busy build machine making the installers' snapshot: DynamoDB read
timeouts inside the relay become 5xx): they are sent again with the same
idempotency key, so the relay sees one lead, one text. And seeding is given up
only when nothing moved for a while, never after a fixed total."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from app.sandbox import demo_data as data
from app.sandbox.demo.client import DemoClient, describe
from app.sandbox.demo.handle import DemoError, DemoHandle, Track
from app.sandbox.demo.progress import Progress, wait_while_progressing


class SlowFirstAnswer(ThreadingHTTPServer):
    """Holds the first `holds` requests until `release` is set, or answers them with
    `first_status`; answers the others at once, as the relay does when it took them
    (202 for a staff text, 200 for a lead)."""

    daemon_threads = True

    def __init__(self, holds: int, first_status: int | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.holds = holds
        self.first_status = first_status
        self.release = threading.Event()
        self.keys: list[str] = []
        self.peers: list[int] = []  # the client's port of each request
        self.lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    server: SlowFirstAnswer

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        with self.server.lock:
            self.server.keys.append(self.headers.get("idempotency-key", ""))
            self.server.peers.append(self.client_address[1])
            early = len(self.server.keys) <= self.server.holds
        status = 202 if self.path.endswith("/messages") else 200
        if early and self.server.first_status is not None:
            status = self.server.first_status
        elif early:
            self.server.release.wait(60)
        payload = json.dumps({"LeadId": "x"}).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *_: object) -> None:
        pass


def _serve(holds: int, **kwargs: int) -> Iterator[SlowFirstAnswer]:
    server = SlowFirstAnswer(holds, **kwargs)
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


@pytest.fixture
def read_timeouts() -> Iterator[SlowFirstAnswer]:
    """Two 500s (the relay's answer when DynamoDB did not answer in time), then 202."""
    yield from _serve(holds=2, first_status=500)


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
            client.attempts = 2
            await client.create_lead(lead)
    finally:
        await client.aclose()
    assert len(never.keys) == 2
    assert describe(caught.value).startswith("ReadTimeout")


async def test_a_relay_5xx_is_sent_again_with_the_same_key(
    read_timeouts: SlowFirstAnswer,
) -> None:
    lead = data.build_seed(7, 6)[0]
    client = _client(read_timeouts)
    try:
        await client.create_lead(lead)
        assert client.progress.steps == 1
    finally:
        await client.aclose()
    assert read_timeouts.keys == [f"demo-create-{lead.lead_id}"] * 3


async def test_a_staff_text_repeated_after_a_5xx_keeps_its_key(
    read_timeouts: SlowFirstAnswer,
) -> None:
    lead = data.build_seed(7, 6)[0]
    client = _client(read_timeouts)
    client.handle.staff_keys = {s.staff_id: "staff" for s in data.STAFF}
    track = Track(conversation_sid="CH1", customer=lead.phone, customer_proxy="+1",
                  store_number="+2", store_proxy="+3", leads=[lead], replies=[])  # fmt: skip
    try:
        await client.staff_send(track, "hello")
    finally:
        await client.aclose()
    assert len(read_timeouts.keys) == 3 and len(set(read_timeouts.keys)) == 1


class ManualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_seeding_waits_past_the_bound_while_steps_complete() -> None:
    """Five steps, each just inside the bound: a total five times the bound."""
    clock = ManualClock()
    progress = Progress(clock)
    future: Future[str] = Future()

    def world() -> None:
        for _ in range(5):
            clock.now += 90.0
            progress.mark()
        future.set_result("seeded")

    thread = threading.Thread(target=world)
    thread.start()
    try:
        assert wait_while_progressing(future, progress, stall=100.0, poll=0.01) == "seeded"
    finally:
        thread.join(10)
    assert clock.now == 450.0 and progress.steps == 5


def test_seeding_without_a_step_for_the_bound_is_given_up() -> None:
    clock = ManualClock()
    progress = Progress(clock)
    progress.mark()
    clock.now = 100.0
    # quiet is counted from the later of the last step and the wait's start
    assert progress.stalled(100.0, since=0.0)
    assert not progress.stalled(100.0, since=50.0)

    class Ticking(ManualClock):  # ten seconds pass at every look, and nothing completes
        def __call__(self) -> float:
            self.now += 10.0
            return self.now

    future: Future[str] = Future()
    with pytest.raises(DemoError) as caught:
        wait_while_progressing(future, Progress(Ticking()), stall=100.0, poll=0.01)
    assert caught.value.reason == "seed_stalled"
    assert future.cancelled()


@pytest.fixture
def answers() -> Iterator[SlowFirstAnswer]:
    yield from _serve(holds=0)


async def test_each_inbound_text_goes_once_on_a_connection_of_its_own(
    answers: SlowFirstAnswer,
) -> None:
    """No pooled keep-alive connection (which a starved process may find closed by the
    simulator, losing the text), and never repeated once it may have arrived."""
    client = _client(answers)
    client.handle.simulator_url = client.handle.relay_url
    try:
        await client.inbound("+18475550100", "+18475550110", "one")
        await client.inbound("+18475550100", "+18475550110", "two")
    finally:
        await client.aclose()
    assert len(answers.peers) == 2 and answers.peers[0] != answers.peers[1]
    assert client.progress.steps == 2


async def test_an_inbound_text_that_never_connected_is_sent_again_then_fails() -> None:
    from app.sandbox.servers import free_port

    handle = DemoHandle(
        relay_url="http://127.0.0.1:9", staff_key="s", data_dir=Path("unused"),
        staff_id="demo-jordan", staff_name="Jordan",
        simulator_url=f"http://127.0.0.1:{free_port()}", dynamodb_url="http://127.0.0.1:9",
        lead_key="lead",
    )  # fmt: skip
    client = DemoClient(handle, timeout=2.0, attempts=2)
    try:
        with pytest.raises(httpx.ConnectError):
            await client.inbound("+18475550100", "+18475550110", "hello")
    finally:
        await client.aclose()
    assert client.progress.steps == 0
