"""What the simulated people do over HTTP: website forms (lead API), texts from
phones (the simulator's `/_sim/inbound`), staff writing and editing leads (staff API)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import httpx

from app.sandbox import demo_data as data
from app.sandbox.demo.handle import DemoError, DemoHandle, Track
from app.sandbox.demo.progress import Progress
from app.sandbox.demo_data import LeadSeed
from app.sandbox.demo_lead_systems import add_chatbot_summary

log = logging.getLogger("app.sandbox.demo")
#: Answers that say "not now" rather than "no": the relay's 5xx (a DynamoDB read
#: timeout on a starved machine), its rate limit and (409 with this reason) the
#: same idempotency key still being worked on by an earlier attempt.
RETRY_STATUSES = frozenset({409, 429, 500, 502, 503, 504})
IN_PROGRESS = "idempotency_in_progress"


def describe(exc: BaseException) -> str:
    """An error for the demo's log and stats: httpx's timeouts have no message."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class DemoClient:
    """HTTP calls of the simulated world, on one asyncio loop."""

    # Bounds, not waits: a loaded machine (a build, a CI run) seeding 40 leads through
    # one process answers slowly, and the happy path never waits for them.
    def __init__(self, handle: DemoHandle, timeout: float = 60.0, attempts: int = 6) -> None:
        self.handle = handle
        self.timeout = timeout
        self.attempts = attempts
        #: completed steps (a lead created, a text sent, an edit made, a conversation found)
        self.progress = Progress()
        self._client: httpx.AsyncClient | None = None

    def http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout), limits=httpx.Limits(max_connections=16)
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def _staff_key(self, location_key: str) -> tuple[str, str]:
        staff = next(s for s in data.STAFF if location_key in s.locations)
        return staff.staff_id, self.handle.staff_keys[staff.staff_id]

    async def _send(
        self, method: str, url: str, what: str, *, retry: frozenset[int] = RETRY_STATUSES,
        **kwargs: Any,
    ) -> httpx.Response:
        """One request that is safe to repeat (an idempotency key, an If-Match, a
        read), sent again after a timeout or a "not now" answer, as on a busy build
        machine; the last answer (or error) once the attempts are spent."""
        for attempt in range(1, self.attempts + 1):
            try:
                resp = await self.http().request(method, url, **kwargs)
            except httpx.TransportError as exc:
                if attempt == self.attempts:
                    raise
                log.info("demo: %s again after %s", what, describe(exc))
            else:
                again = resp.status_code in retry and (
                    resp.status_code != 409 or IN_PROGRESS in resp.text
                )
                if not again or attempt == self.attempts:
                    return resp
                log.info("demo: %s again after answer %s", what, resp.status_code)
                retry_after = resp.headers.get("Retry-After", "")
                if retry_after.isdigit():
                    await asyncio.sleep(min(float(retry_after), 10.0))
                    continue
            await asyncio.sleep(min(0.5 * 2**attempt, 10.0))
        raise AssertionError("unreachable")  # the loop returns or raises

    async def create_lead(self, lead: LeadSeed) -> None:
        """The website form; sent again (same idempotency key, so the same lead)
        when the relay did not answer in time."""
        loc = data.location(lead.location_key)
        body = lead.create_body(data.retailer(loc.retailer).retailer_id, loc.location_id)
        if self.handle.lead_systems is not None:  # (the website's chatbot came first)
            chatbot = add_chatbot_summary(self.handle.lead_systems, lead)
            if chatbot is not None:
                body["Lead"]["BotpressConversationId"] = chatbot
        resp = await self._send(
            "POST",
            f"{self.handle.relay_url}/Lead/{lead.lead_id}/create",
            f"lead {lead.lead_id} create",
            # any 409 here means an earlier attempt made (or is making) the lead
            retry=RETRY_STATUSES - {409},
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
        self.progress.mark()

    async def conversation_of(self, lead: LeadSeed, timeout: float = 120.0) -> str | None:
        """The lead's ConversationSID once the relay has synced it to Twilio; None
        when its sync failed, or when nothing in the world moved for `timeout` s."""
        started = self.progress.clock()
        # Each status read is DynamoDB work for the same busy process, so poll gently.
        delay = 0.3
        await asyncio.sleep(delay)
        while not self.progress.stalled(timeout, since=started):
            try:
                resp: httpx.Response | None = await self.http().get(
                    f"{self.handle.relay_url}/Lead/{lead.lead_id}/status",
                    headers={"Authorization": f"Bearer {self.handle.lead_key}"},
                )
            except httpx.TransportError as exc:  # a read: just ask again
                log.info("demo: lead %s status again after %s", lead.lead_id, describe(exc))
                resp = None
            if resp is not None and resp.status_code == 200:
                twilio = (resp.json().get("Integrations") or {}).get("Twilio") or {}
                sid = (twilio.get("Data") or {}).get("ConversationSID")
                if sid:
                    return str(sid)
                if twilio.get("SyncStatus") == "ERROR":
                    log.warning("demo lead %s: Twilio sync failed", lead.lead_id)
                    return None
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 1.5)
        log.warning("demo lead %s: no conversation, nothing moved for %ss", lead.lead_id, timeout)
        return None

    async def proxies(self, sid: str, customer: str, store: str) -> tuple[str, str] | None:
        """The proxy numbers the relay bound for the customer and the store phone."""
        sim = self.handle.sim
        resp = await self.http().get(
            f"{sim.url}/v1/Conversations/{sid}/Participants",
            params={"PageSize": 50},
            auth=(sim.account_sid, sim.auth_token),
        )
        if resp.status_code != 200:
            return None
        by_address = {
            p["messaging_binding"]["address"]: p["messaging_binding"]["proxy_address"]
            for p in resp.json()["participants"]
            if (p.get("messaging_binding") or {}).get("address")
        }
        cp, sp = by_address.get(customer), by_address.get(store)
        return (cp, sp) if cp and sp else None

    async def track(self, lead: LeadSeed) -> Track | None:
        """The lead's conversation as the world follows it, once the relay set it up."""
        sid = await self.conversation_of(lead)
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
            proxies = await self.proxies(sid, lead.phone, store)
            if proxies:
                break
            await asyncio.sleep(0.05)
        if proxies is None:
            log.warning("demo: conversation %s has no SMS participants", sid)
            return None
        # The greeting on the customer's phone means the relay finished setting the
        # conversation up (its leads are joined): staff may write from then on.
        for _ in range(300):
            if self.handle.sim.handset(lead.phone):
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
        self.progress.mark()
        return track

    async def inbound(self, phone: str, to: str, body: str) -> None:
        """A text from a phone. Repeated only when it never reached the simulator (a
        refused or timed-out connect): one that may have been taken in is not sent
        twice (that would be a second text). Each goes on a connection of its own,
        so a keep-alive connection the server closed while this process was starved
        cannot swallow it."""
        for attempt in range(1, self.attempts + 1):
            try:
                async with httpx.AsyncClient(timeout=httpx.Timeout(self.timeout)) as once:
                    resp = await once.post(
                        f"{self.handle.simulator_url}/_sim/inbound",
                        json={"from": phone, "to": to, "body": body},
                    )
                break
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                if attempt == self.attempts:
                    raise
                log.info("demo: inbound text again after %s", describe(exc))
                await asyncio.sleep(min(0.5 * 2**attempt, 10.0))
        resp.raise_for_status()
        self.progress.mark()

    async def staff_send(self, track: Track, text: str) -> None:
        _, key = self._staff_key(track.leads[0].location_key)
        resp = await self._send(
            "POST",
            f"{self.handle.relay_url}/v1/conversations/{track.conversation_sid}/messages",
            "staff text",
            json={"body": text},
            # one key for every attempt: a repeat is the same text, never a second one
            headers={"Authorization": f"Bearer {key}", "Idempotency-Key": f"demo-{uuid.uuid4()}"},
        )
        if resp.status_code != 202:
            raise DemoError(f"staff send answered {resp.status_code}: {resp.text[:200]}")
        self.progress.mark()

    async def patch(self, lead: LeadSeed) -> None:
        """The pipeline status, assignee and note staff gave the lead."""
        staff_id, key = self._staff_key(lead.location_key)
        body: dict[str, Any] = {}
        if lead.pipeline:
            body["status"] = lead.pipeline
        if lead.assign_to_staff:
            body["assigneeId"] = staff_id
        if lead.note:
            body["note"] = lead.note
        if not body:
            return
        url = f"{self.handle.relay_url}/v1/leads/{lead.lead_id}"
        version = "0"
        # A 412 hands back the current version: edit that one. The relay is still
        # taking in this lead's webhooks, so the version may move a few times.
        for attempt in range(20):
            resp = await self._send(
                "PATCH", url, f"lead {lead.lead_id} edit",
                json=body, headers={"Authorization": f"Bearer {key}", "If-Match": f'"{version}"'},
            )  # fmt: skip
            if resp.status_code == 200:
                self.progress.mark()
                return
            if resp.status_code != 412:
                raise DemoError(f"lead patch answered {resp.status_code}: {resp.text[:200]}")
            version = str((resp.json().get("current") or {}).get("version", version))
            if attempt:
                await asyncio.sleep(0.05 * attempt)
        raise DemoError("lead patch kept conflicting", "version_conflict")
