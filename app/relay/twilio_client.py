"""The relay's only way to Twilio: the twilio SDK `Client` with timeouts, bounded
retries (tenacity; 429 and 5xx and connection errors only), and every Twilio
domain pointed at `W2T_TWILIO_BASE_URL` when it is set (the simulator).

Message creation is the one call that is not safe to repeat (Twilio has no
idempotency key for it): `send_message` puts the relay's key into the message
`Attributes` and, when an attempt's outcome is unknown (timeout, 5xx), looks at
the conversation's recent messages for that key before trying again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from app.relay.cache import TtlCache
from app.relay.config import Settings
from app.relay.twilio_media import TwilioMedia

log = logging.getLogger("app.relay.twilio")
T = TypeVar("T")

#: Twilio error codes the relay acts on.
BINDING_EXISTS = 50416  # address + proxy already in another non-closed conversation
PARTICIPANT_EXISTS = 50433
UNIQUE_NAME_EXISTS = 50353
CONVERSATION_CLOSED = 50434
NOT_FOUND = 20404

KEY_ATTRIBUTE = "W2TKey"  # the relay's idempotency key inside message Attributes


class RewritingHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Sends every `https://<domain>.twilio.com/...` request to one base URL instead."""

    def __init__(
        self,
        base_url: str | None,
        timeout: float,
        *,
        proxy_configured: bool = False,
        ca_bundle: str | None = None,
    ) -> None:
        super().__init__(timeout=timeout)
        self._base = urlsplit(base_url) if base_url else None
        if self.session is not None and not proxy_configured:
            # requests re-reads the proxy and CA-bundle variables from os.environ on
            # every request (a fifth of a Lookup's CPU). Without a proxy the one
            # thing it can find there is a CA bundle: given to the session once, it
            # is the `verify` requests would work out each time (netrc, the other
            # thing it reads, is never used: every Twilio request carries its auth).
            if ca_bundle:
                self.session.verify = ca_bundle
            self.session.trust_env = False

    # The SDK formats a dozen INFO lines per call (URL, query, every header) before
    # the logger drops them; format them only when they are going to be written.
    def log_request(self, kwargs: dict[str, Any]) -> None:
        if self.logger.isEnabledFor(logging.INFO):
            super().log_request(kwargs)

    def log_response(self, status_code: int, response: Any) -> None:
        if self.logger.isEnabledFor(logging.INFO):
            super().log_response(status_code, response)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if self._base is not None:
            parts = urlsplit(url)
            path = self._base.path.rstrip("/") + parts.path
            url = urlunsplit((self._base.scheme, self._base.netloc, path, parts.query, ""))
        return super().request(method, url, *args, **kwargs)


def make_http_client(settings: Settings) -> RewritingHttpClient:
    return RewritingHttpClient(
        settings.twilio_base_url,
        settings.twilio_timeout_s,
        proxy_configured=settings.proxy_configured,
        ca_bundle=settings.ca_bundle,
    )


def make_client(settings: Settings) -> Client:
    http = make_http_client(settings)
    return Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http)


def _status_of(exc: BaseException) -> int | None:
    if isinstance(exc, TwilioRestException):
        return int(exc.status)
    if isinstance(exc, TwilioException) and len(exc.args) >= 2:
        # list pages fail as TwilioException("Unable to fetch page", response)
        code = getattr(exc.args[1], "status_code", None)
        return int(code) if isinstance(code, int) else None
    return None


def is_transient(exc: BaseException) -> bool:
    status = _status_of(exc)
    if status is not None:
        return status == 429 or status >= 500
    return isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout)


def _error_label(exc: BaseException) -> str:
    code = twilio_code(exc)
    if code is not None:
        return str(code)
    status = _status_of(exc)
    return str(status) if status is not None else type(exc).__name__


def twilio_code(exc: BaseException) -> int | None:
    return getattr(exc, "code", None) if isinstance(exc, TwilioRestException) else None


_BACKOFF = wait_exponential_jitter(multiplier=0.2, max=3.0)


def _retry_after(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    details = getattr(exc, "details", None)
    if isinstance(details, dict):
        ra = details.get("retry_after") or details.get("Retry-After")
        try:
            return min(float(str(ra)), 10.0)
        except (TypeError, ValueError):
            pass
    return float(_BACKOFF(state))


def _attrs(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


class TwilioGateway:
    """Twilio operations the relay uses, each bounded in time and attempts."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self.client = client or make_client(settings)
        self.attempts = settings.twilio_max_attempts
        self.calls_by_code: dict[str, int] = {}  # for /metrics
        # Lookup answers by phone: Lookup is billed per request, and a number's line
        # type rarely changes (W2T_LOOKUP_CACHE_TTL; unknown answers are not kept)
        self._line_types: TtlCache[str] = TtlCache(max_entries=20_000)

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run `fn` with bounded retries on transient failures."""
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=_retry_after,
            retry=retry_if_exception(is_transient),
            reraise=True,
        )
        try:
            return retrying(fn)
        except Exception as exc:
            self._failed(what, exc)
            raise

    def _failed(self, what: str, exc: BaseException, *, warn: bool = True) -> None:
        """Count a call that failed for good (/metrics) and, with `warn`, log it."""
        code = _error_label(exc)
        self.calls_by_code[code] = self.calls_by_code.get(code, 0) + 1
        if warn:
            log.warning("twilio call failed", extra={"call": what, "error": code})

    @property
    def conversations(self) -> Any:
        return self.client.conversations.v1.conversations

    @cached_property
    def media(self) -> TwilioMedia:
        """Media Content Service and MMS media (raw requests; the SDK has neither)."""
        return TwilioMedia(self.settings)

    # ---- conversations ----

    def fetch_conversation(self, sid_or_unique_name: str) -> Any | None:
        try:
            return self.call(
                "fetch_conversation", lambda: self.conversations(sid_or_unique_name).fetch()
            )
        except TwilioRestException as exc:
            if exc.status == 404:
                return None
            raise

    def create_conversation(
        self, *, unique_name: str, friendly_name: str, attributes: dict[str, Any]
    ) -> Any:
        """Create, or (after a crash) find the one created earlier under `unique_name`."""
        existing = self.fetch_conversation(unique_name)
        if existing is not None:
            return existing
        kwargs: dict[str, Any] = {
            "unique_name": unique_name,
            "friendly_name": friendly_name,
            "attributes": json.dumps(attributes),
        }
        if self.settings.twilio_messaging_service_sid:
            kwargs["messaging_service_sid"] = self.settings.twilio_messaging_service_sid
        if self.settings.production:
            kwargs["timers_inactive"] = "P7D"
            kwargs["timers_closed"] = "P30D"
        try:
            return self.conversations.create(**kwargs)  # not retried: see fetch above
        except TwilioRestException as exc:
            if exc.code == UNIQUE_NAME_EXISTS:
                found = self.fetch_conversation(unique_name)
                if found is not None:
                    return found
            if is_transient(exc):
                found = self.fetch_conversation(unique_name)
                if found is not None:
                    return found
                return self.call("create_conversation", lambda: self.conversations.create(**kwargs))
            raise
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout):
            found = self.fetch_conversation(unique_name)
            if found is not None:
                return found
            return self.call("create_conversation", lambda: self.conversations.create(**kwargs))

    def update_conversation(self, sid: str, **kwargs: Any) -> Any:
        if "attributes" in kwargs and not isinstance(kwargs["attributes"], str):
            kwargs["attributes"] = json.dumps(kwargs["attributes"])  # always a JSON string
        return self.call("update_conversation", lambda: self.conversations(sid).update(**kwargs))

    def participants(self, sid: str) -> list[Any]:
        return self.call(
            "list_participants", lambda: self.conversations(sid).participants.list(limit=100)
        )

    def create_checked(
        self, what: str, create: Callable[[], T], existing: Callable[[], T | None]
    ) -> T:
        """A create that is not safe to repeat blindly: after a transient failure
        (the outcome is unknown) look with `existing()` before trying again."""
        for attempt in range(1, self.attempts + 1):
            try:
                return create()
            except Exception as exc:
                if not is_transient(exc) or attempt == self.attempts:
                    self._failed(what, exc)
                    raise
                time.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
                try:
                    found = existing()
                except Exception:
                    # Whether the create took effect is still unknown: creating again
                    # could make a second one. Give up on this attempt; the step is
                    # retried later (the sweeper), and that retry looks first.
                    self._failed(what, exc)
                    raise exc from None
                if found is not None:
                    return found
        raise RuntimeError("unreachable")  # pragma: no cover

    def participant_with_address(self, sid: str, address: str) -> Any | None:
        for part in self.participants(sid):
            binding = getattr(part, "messaging_binding", None) or {}
            if binding.get("address") == address:
                return part
        return None

    def add_sms_participant(self, sid: str, address: str, proxy: str, role: str) -> Any:
        return self.create_checked(
            "add_participant",
            lambda: self.conversations(sid).participants.create(
                messaging_binding_address=address,
                messaging_binding_proxy_address=proxy,
                attributes=json.dumps({"Role": role}),
            ),
            lambda: self.participant_with_address(sid, address),
        )

    def webhooks(self, sid: str) -> list[Any]:
        return self.call("list_webhooks", lambda: self.conversations(sid).webhooks.list(limit=50))

    def add_webhook(self, sid: str, url: str, filters: list[str]) -> Any:
        def existing() -> Any | None:
            for hook in self.webhooks(sid):
                if (getattr(hook, "configuration", None) or {}).get("url") == url:
                    return hook
            return None

        return self.create_checked(
            "add_webhook",
            lambda: self.conversations(sid).webhooks.create(
                target="webhook",
                configuration_url=url,
                configuration_method="POST",
                configuration_filters=filters,
            ),
            existing,
        )

    def recent_messages(self, sid: str, limit: int = 50) -> list[Any]:
        return self.call(
            "list_messages",
            lambda: self.conversations(sid).messages.list(order="desc", limit=limit),
        )

    def find_message_by_key(self, sid: str, key: str, limit: int = 50) -> Any | None:
        for msg in self.recent_messages(sid, limit):
            if _attrs(getattr(msg, "attributes", None)).get(KEY_ATTRIBUTE) == key:
                return msg
        return None

    def send_message(
        self,
        sid: str,
        *,
        author: str,
        body: str,
        key: str,
        attributes: dict[str, Any] | None = None,
        look_first: bool = False,
        webhook: bool = False,
        media_sid: str | None = None,
    ) -> Any:
        """Create a message at most once per `key` (see the module doc).

        `look_first`: an earlier attempt may have succeeded (a resumed step): look
        for the key before creating. `webhook`: ask Twilio to fire the
        conversation webhooks for this API-created message.
        """
        attrs = dict(attributes or {})
        attrs[KEY_ATTRIBUTE] = key
        if look_first:
            found = self.find_message_by_key(sid, key)
            if found is not None:
                return found
        kwargs: dict[str, Any] = {"author": author, "attributes": json.dumps(attrs)}
        if body or not media_sid:
            kwargs["body"] = body
        if media_sid:
            kwargs["media_sid"] = media_sid
        if webhook:
            kwargs["x_twilio_webhook_enabled"] = "true"
        for attempt in range(1, self.attempts + 1):
            try:
                return self.conversations(sid).messages.create(**kwargs)
            except Exception as exc:
                if not is_transient(exc) or attempt == self.attempts:
                    # counted only (this path has never logged the failure itself)
                    self._failed("send_message", exc, warn=False)
                    raise
                # Outcome unknown: it may have been created. Look before sending again.
                try:
                    found = self.find_message_by_key(sid, key)
                except Exception:
                    found = None
                if found is not None:
                    return found
        raise RuntimeError("unreachable")  # pragma: no cover

    # ---- texts outside any conversation (Programmable Messaging) ----

    def find_sent_text(self, *, to: str, from_: str, body: str, limit: int = 50) -> Any | None:
        """A text sent from `from_` to `to` with exactly `body`, among the newest."""
        sent = self.call(
            "list_texts", lambda: self.client.messages.list(to=to, from_=from_, limit=limit)
        )
        return next((m for m in sent if str(getattr(m, "body", "")) == body), None)

    def send_text(self, *, to: str, from_: str, body: str) -> Any:
        """Send one text with the Messages API. After an attempt whose outcome is
        unknown, the sent texts are searched for it before trying again."""
        return self.create_checked(
            "send_text",
            lambda: self.client.messages.create(to=to, from_=from_, body=body),
            lambda: self.find_sent_text(to=to, from_=from_, body=body),
        )

    def line_type(self, phone: str) -> str | None:
        """Twilio Lookup v2 line type (`mobile`, `landline`, ...; `invalid:<its
        validation errors>` for a number Lookup calls invalid), or None when Lookup
        cannot answer."""
        try:
            return self.classify_line(phone)
        except LookupUnavailable:
            return None

    def classify_line(self, phone: str, *, retry: bool = True) -> str:
        """The line type as `line_type`, or `LookupUnavailable` when Lookup cannot answer
        (down, or no line type for a valid number). A known answer is reused for
        `lookup_cache_ttl_s` seconds (this process); a failure is never kept.
        `retry=False`: one attempt (a caller holding a lease that retries later)."""
        answer = self._line_types.get_or_load(
            phone,
            self.settings.lookup_cache_ttl_s,
            lambda: self._lookup_line_type(phone, retry),
        )
        if answer is None:
            raise LookupUnavailable(phone)
        return answer

    def _lookup_line_type(self, phone: str, retry: bool = True) -> str | None:
        def fetch() -> Any:
            return self.client.lookups.v2.phone_numbers(phone).fetch(
                fields="line_type_intelligence"
            )

        try:
            result = self.call("lookup", fetch) if retry else fetch()
        except Exception:
            return None  # unknown: the caller decides (a lead waits, nobody is texted)
        if getattr(result, "valid", True) is False:
            errors = getattr(result, "validation_errors", None) or []
            return "invalid:" + ",".join(str(e) for e in errors)
        info = getattr(result, "line_type_intelligence", None) or {}
        value = info.get("type") if isinstance(info, dict) else None
        return str(value) if value else None

    def message_date(self, message_sid: str) -> datetime | None:
        """When Twilio created an SMS/MMS (Messages API), or None if Twilio does not
        know the sid; transient failures raise (the caller answers 5xx: retried)."""
        try:
            msg = self.call("fetch_message", lambda: self.client.messages(message_sid).fetch())
        except TwilioRestException as exc:
            if exc.status == 404:
                return None
            raise
        created = getattr(msg, "date_created", None)
        return created if isinstance(created, datetime) else None


class LookupUnavailable(Exception):
    """Twilio Lookup gave no line type (an outage, or no answer for this number)."""


def message_attributes(msg: Any) -> dict[str, Any]:
    return _attrs(getattr(msg, "attributes", None))
