"""Helpers of the integration tests and benches: the real relay on DynamoDB Local with
the Twilio simulator, and leads created through the real lead service."""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from app.sandbox.twilio_sim import SimHandle
from tests.support.relay import RelayHandle, Seed


@dataclass
class LiveLead:
    lead_id: str
    conversation_sid: str
    customer: str


def random_customer() -> str:
    return "+1312555" + str(uuid.uuid4().int % 10000).zfill(4)


def create_lead(relay: RelayHandle, seed: Seed, customer: str | None = None,
                name: str = "Pat Customer", timeout: float = 30.0) -> LiveLead:
    """POST /Lead/{id}/create like a website, then wait for its Twilio conversation."""
    customer = customer or random_customer()
    lead_id = str(uuid.uuid4())
    body = {
        "LeadType": "WEB2TEXT", "UniversalRetailerId": seed.retailer_id,
        "SyncImmediately": True,
        "Lead": {"LocationId": seed.location_id, "PageUrl": "https://dealer.test/oak",
                 "Name": name, "PhoneNumber": customer, "PreferredMethodOfContact": "text",
                 "CustomerMessage": "Is the oak flooring in stock?"},
    }
    headers = {"Authorization": f"Bearer {seed.lead_key}"}
    r = httpx.post(f"{relay.url}/Lead/{lead_id}/create", json=body, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    deadline = time.monotonic() + timeout
    while True:
        state = httpx.get(f"{relay.url}/Lead/{lead_id}/status", headers=headers,
                          timeout=10).json()
        twilio = state.get("Integrations", {}).get("Twilio", {})
        sid = twilio.get("Data", {}).get("ConversationSID")
        if twilio.get("SyncStatus") == "ERROR":
            raise AssertionError(f"the lead's Twilio integration failed: {twilio}")
        if sid and twilio.get("SyncStatus") == "SYNCED":
            return LiveLead(lead_id, sid, customer)
        if time.monotonic() > deadline:
            raise AssertionError(f"lead never got a conversation: {state}")
        time.sleep(0.05)


def post_signed_webhook(relay: RelayHandle, sim: SimHandle, path: str,
                        form: dict[str, str]) -> httpx.Response:
    """A webhook as Twilio sends it: form-encoded, signed for W2T_PUBLIC_URL + path."""
    url = f"{relay.settings.public_url}{path}"
    signature = RequestValidator(sim.auth_token).compute_signature(url, form)
    return httpx.post(f"{relay.url}{path}", data=form, timeout=10,
                      headers={"X-Twilio-Signature": signature})


def customer_message_webhook(conversation_sid: str, customer: str, body: str,
                             index: int) -> dict[str, str]:
    return {
        "EventType": "onMessageAdded", "ConversationSid": conversation_sid,
        "MessageSid": "IM" + uuid.uuid4().hex, "Author": customer, "Body": body,
        "Index": str(index), "Attributes": "{}", "Source": "SMS",
        "DateCreated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "AccountSid": "AC" + "0" * 32,
    }


def handset_bodies(sim: SimHandle, phone: str) -> list[str]:
    return [m["body"] for m in sim.handset(phone)]


class TcpProxy:
    """A loopback TCP forwarder whose link can be cut: a network outage between the
    desktop and a relay that keeps running."""

    def __init__(self, target_port: int) -> None:
        import socket
        import threading

        self._target = target_port
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.down = False
        self._conns: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        import socket
        import threading

        while not self._closed:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self._target))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: Any, dst: Any) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def cut(self) -> None:
        """Drop every open connection and refuse new ones."""
        import socket

        self.down = True
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
                s.close()
            except OSError:
                pass

    def restore(self) -> None:
        self.down = False

    def close(self) -> None:
        self._closed = True
        self.cut()
        self._sock.close()
