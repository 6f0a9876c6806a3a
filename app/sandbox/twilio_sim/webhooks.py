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
from app.sandbox.twilio_sim.scheduler import Scheduler
from app.sandbox.twilio_sim.sids import new_sid

log = logging.getLogger(__name__)

# How long a "reordered" webhook is held back so that later ones overtake it.
REORDER_DELAY = 0.3
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
    with_retry_count: bool = True
    token: str = field(default_factory=lambda: new_sid("WE"))
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
    ) -> None:
        self._auth_token = auth_token
        self._faults = faults
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._scheduler = Scheduler("twilio-sim-webhooks")
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()
        self.deliveries: deque[DeliveryRecord] = deque(maxlen=5000)

    def start(self) -> None:
        self._client = httpx.Client(timeout=self._timeout, follow_redirects=False)
        self._scheduler.start()

    def stop(self) -> None:
        self._scheduler.stop()
        if self._client is not None:
            self._client.close()
            self._client = None

    def clear(self) -> None:
        self._scheduler.clear()
        with self._lock:
            self.deliveries.clear()

    def idle(self) -> bool:
        return self._scheduler.idle()

    def submit(self, event: WebhookEvent) -> None:
        faults = self._faults.snapshot()
        delay = REORDER_DELAY if self._faults.roll(faults.webhook_reorder_rate) else 0.0
        self._scheduler.call_later(delay, lambda: self._attempt(event, 0))
        if self._faults.roll(faults.webhook_duplicate_rate):
            # Same event, same idempotency token: what a receiver must dedupe.
            self._scheduler.call_later(delay + DUPLICATE_DELAY, lambda: self._attempt(event, 0))

    def _attempt(self, event: WebhookEvent, attempt: int) -> None:
        params = dict(event.params)
        if event.with_retry_count:
            params["RetryCount"] = str(attempt)
        headers = {
            "I-Twilio-Idempotency-Token": event.token,
            "User-Agent": "TwilioProxy/1.1",
            "Accept": "*/*",
        }
        status: int | None = None
        error: str | None = None
        response: httpx.Response | None = None
        assert self._client is not None
        try:
            if event.method == "GET":
                sep = "&" if "?" in event.url else "?"
                url = event.url + sep + urlencode(sorted(params.items()))
                headers["X-Twilio-Signature"] = compute_signature(self._auth_token, url, None)
                response = self._client.get(url, headers=headers)
            else:
                headers["X-Twilio-Signature"] = compute_signature(
                    self._auth_token, event.url, params
                )
                response = self._client.post(event.url, data=params, headers=headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        with self._lock:
            self.deliveries.append(
                DeliveryRecord(event.kind, event.url, event.token, attempt, status, error)
            )
        if status is not None and 200 <= status < 300:
            log.debug("webhook %s delivered (attempt %d)", event.kind, attempt)
            if event.on_success is not None and response is not None:
                event.on_success(response)
            return
        retryable = status is None or status >= 500 or status == 429
        if retryable and attempt + 1 < self._max_attempts:
            delay = self._retry_delay * (2**attempt)
            log.info(
                "webhook %s failed (%s), retry %d in %.2fs",
                event.kind,
                status or error,
                attempt + 1,
                delay,
            )
            self._scheduler.call_later(delay, lambda: self._attempt(event, attempt + 1))
        else:
            log.warning(
                "webhook %s gave up after %d attempt(s): %s",
                event.kind,
                attempt + 1,
                status or error,
            )
