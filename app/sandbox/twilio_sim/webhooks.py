"""Outgoing webhooks: signed exactly like Twilio and delivered from a worker thread."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx

from app.sandbox.twilio_sim.faults import FaultState
from app.sandbox.twilio_sim.keyed import KeyedWorkers
from app.sandbox.twilio_sim.scheduler import Scheduler
from app.sandbox.twilio_sim.sids import new_sid

log = logging.getLogger(__name__)

# A "reordered" webhook is held back until a later webhook of the same key has been
# sent (so it really is overtaken), or at most this long when none comes.
REORDER_MAX_HOLD = 3.0
DUPLICATE_DELAY = 0.05


def compute_signature(auth_token: str, url: str, params: dict[str, str] | None) -> str:
    """Twilio's X-Twilio-Signature: HMAC-SHA1 over the URL followed by every POST
    parameter name and value, sorted by name; base64-encoded."""
    payload = url
    for name in sorted(params or {}):
        payload += name + (params or {})[name]
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass
class WebhookEvent:
    url: str
    method: str  # "POST" or "GET"
    params: dict[str, str]
    kind: str  # EventType, or "onIncomingMessage" for the Messaging Service webhook
    # Webhooks with the same key are delivered one after the other, in order.
    key: str = ""
    with_retry_count: bool = True
    token: str = field(default_factory=lambda: new_sid("WE"))
    duplicate: bool = False  # fault: deliver it a second time after the first attempt
    on_success: Callable[[httpx.Response], None] | None = None


@dataclass
class DeliveryRecord:
    kind: str
    url: str
    token: str
    attempt: int
    status: int | None  # HTTP status, or None when the request itself failed
    error: str | None = None


class WebhookDispatcher:
    def __init__(
        self,
        auth_token: str,
        faults: FaultState,
        timeout: float,
        max_attempts: int,
        retry_delay: float,
        workers: int = 4,
    ) -> None:
        self._auth_token = auth_token
        self._faults = faults
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        # The scheduler only times things (reordering, duplicates, retry backoff); the
        # sending happens on the keyed workers.
        self._scheduler = Scheduler("twilio-sim-webhook-timer")
        self._workers = KeyedWorkers("twilio-sim-webhooks", workers)
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self._held: dict[str, list[WebhookEvent]] = {}
        self.deliveries: deque[DeliveryRecord] = deque(maxlen=5000)

    def start(self) -> None:
        self._client = httpx.Client(timeout=self._timeout, follow_redirects=False)
        self._scheduler.start()
        self._workers.start()

    def stop(self) -> None:
        self._scheduler.stop()
        self._workers.stop()
        if self._client is not None:
            self._client.close()
            self._client = None

    def clear(self) -> None:
        self._scheduler.clear()
        self._workers.clear()
        with self._lock:
            self._held.clear()
            self.deliveries.clear()

    def idle(self) -> bool:
        with self._lock:
            held = any(self._held.values())
        return not held and self._scheduler.idle() and self._workers.idle()

    def submit(self, event: WebhookEvent) -> None:
        faults = self._faults.snapshot()
        # Same event, same idempotency token: what a receiver must dedupe.
        event.duplicate = self._faults.roll(faults.webhook_duplicate_rate)
        if self._faults.roll(faults.webhook_reorder_rate):
            with self._lock:
                self._held.setdefault(event.key, []).append(event)
            self._scheduler.call_later(
                REORDER_MAX_HOLD, lambda: self._release(event.key, event), counts=False
            )
        else:
            self._later(0, event, 0)

    def _release(self, key: str, only: WebhookEvent | None = None) -> None:
        with self._lock:
            held = self._held.get(key, [])
            released = [e for e in held if only is None or e is only]
            remaining = [e for e in held if e not in released]
            if remaining:
                self._held[key] = remaining
            else:
                self._held.pop(key, None)
        for event in released:
            self._later(0, event, 0)

    def _later(self, delay: float, event: WebhookEvent, attempt: int) -> None:
        def send() -> None:
            self._attempt(event, attempt)

        if delay <= 0:
            self._workers.submit(event.key, send)
        else:
            self._scheduler.call_later(delay, lambda: self._workers.submit(event.key, send))

    def _attempt(self, event: WebhookEvent, attempt: int) -> None:
        response, error = self._post(event, attempt)
        status = response.status_code if response is not None else None
        with self._lock:
            self.deliveries.append(
                DeliveryRecord(event.kind, event.url, event.token, attempt, status, error)
            )
            overtaken = bool(self._held.get(event.key)) and event not in self._held[event.key]
        if overtaken:
            self._release(event.key)
        if attempt == 0 and event.duplicate:
            event.duplicate = False
            self._later(DUPLICATE_DELAY, event, 0)
        if response is not None and 200 <= response.status_code < 300:
            log.debug("webhook %s delivered (attempt %d)", event.kind, attempt)
            if event.on_success is not None:
                event.on_success(response)
            return
        self._retry_or_give_up(event, attempt, status or error)

    def _post(self, event: WebhookEvent, attempt: int) -> tuple[httpx.Response | None, str | None]:
        """One signed request: the response, or the name of the error that stopped it."""
        params = dict(event.params)
        if event.with_retry_count:
            params["RetryCount"] = str(attempt)
        headers = {
            "I-Twilio-Idempotency-Token": event.token,
            "User-Agent": "TwilioProxy/1.1",
            "Accept": "*/*",
        }
        assert self._client is not None
        try:
            if event.method == "GET":
                sep = "&" if "?" in event.url else "?"
                url = event.url + sep + urlencode(sorted(params.items()))
                headers["X-Twilio-Signature"] = compute_signature(self._auth_token, url, None)
                return self._client.get(url, headers=headers), None
            headers["X-Twilio-Signature"] = compute_signature(self._auth_token, event.url, params)
            return self._client.post(event.url, data=params, headers=headers), None
        except httpx.HTTPError as exc:
            return None, type(exc).__name__

    def _retry_or_give_up(
        self, event: WebhookEvent, attempt: int, outcome: int | str | None
    ) -> None:
        """No answer, a 5xx or a 429 is tried again with backoff; other answers are final."""
        retryable = not isinstance(outcome, int) or outcome >= 500 or outcome == 429
        if retryable and attempt + 1 < self._max_attempts:
            delay = self._retry_delay * (2**attempt)
            log.info(
                "webhook %s failed (%s), retry %d in %.2fs", event.kind, outcome, attempt + 1, delay
            )
            self._later(delay, event, attempt + 1)
        else:
            log.warning(
                "webhook %s gave up after %d attempt(s): %s", event.kind, attempt + 1, outcome
            )
