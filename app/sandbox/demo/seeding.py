"""The slow way to a seeded inbox: every lead, text and edit through the real APIs.

Used when no snapshot fits (the first start after a change of the relay or the
simulator, or `--prepare`); the result is then saved as a snapshot
(`app.sandbox.demo.snapshot`) so later starts restore it in a moment.
"""

from __future__ import annotations

import asyncio
import logging

import httpx

from app.sandbox import demo_data as data
from app.sandbox.demo.client import DemoClient, describe
from app.sandbox.demo.handle import DemoError, Track
from app.sandbox.demo.progress import STALL_SECONDS
from app.sandbox.demo_data import LeadSeed, Step

log = logging.getLogger("app.sandbox.demo")


def _pair(lead: LeadSeed) -> tuple[str, str]:
    return (lead.phone, data.location(lead.location_key).web2text_number)


async def seed_leads(client: DemoClient, leads: list[LeadSeed], failed: set[str]) -> None:
    """Phase 1: every website lead, its conversation and the greeting, concurrently."""
    stats = client.handle.stats
    limit = asyncio.Semaphore(8)

    async def create(lead: LeadSeed) -> None:
        async with limit:
            await client.create_lead(lead)
            if await client.track(lead) is None:
                raise DemoError(f"lead {lead.lead_id} got no conversation", "seed_failed")

    async def guarded(lead: LeadSeed) -> None:
        try:
            await create(lead)
        except (DemoError, httpx.HTTPError) as exc:
            # One odd lead must not cost the newcomer the whole demo.
            log.warning("demo: seeding lead %s: %s", lead.lead_id, describe(exc))
            stats.errors.append(f"{lead.lead_id}: {describe(exc)}")
            failed.add(lead.lead_id)

    # Repeat shoppers (same phone, same number) come second, so they join
    # the first lead's conversation the way a real second form would.
    seen: set[tuple[str, str]] = set()
    first: list[LeadSeed] = []
    later: list[LeadSeed] = []
    for lead in leads:
        (later if _pair(lead) in seen else first).append(lead)
        seen.add(_pair(lead))
    await asyncio.gather(*(guarded(lead) for lead in first))
    await asyncio.gather(*(guarded(lead) for lead in later))
    stats.leads_seeded = len(leads) - len(failed)
    if len(failed) > len(leads) // 4:
        raise DemoError(
            f"seeding failed for {len(failed)} of {len(leads)} leads; first: {stats.errors[0]}",
            "seed_failed",
        )


async def play_histories(client: DemoClient, leads: list[LeadSeed], failed: set[str]) -> None:
    """Phase 2: what staff, customers and store phones said since, then pipeline edits."""
    handle = client.handle
    limit = asyncio.Semaphore(8)
    # One coroutine per conversation keeps each history in order.
    by_conversation: dict[tuple[str, str], list[LeadSeed]] = {}
    for lead in leads:
        if lead.lead_id not in failed:
            by_conversation.setdefault(_pair(lead), []).append(lead)
    tracks = {(t.customer, t.store_number): t for t in list(handle.tracks.values())}

    async def play_all(group: list[LeadSeed]) -> None:
        track = tracks.get(_pair(group[0]))
        if track is None:
            return
        async with limit:
            for lead in group:
                try:
                    for step in lead.history:
                        await _play(client, track, step)
                        handle.stats.messages_seeded += 1
                    await client.patch(lead)
                except (DemoError, httpx.HTTPError) as exc:
                    log.warning("demo: history of lead %s: %s", lead.lead_id, describe(exc))
                    handle.stats.errors.append(f"{lead.lead_id}: {describe(exc)}")

    await asyncio.gather(*(play_all(group) for group in by_conversation.values()))
    await asyncio.to_thread(settle, handle.sim)


def settle(sim: object) -> None:
    """Until the simulator has delivered every text and webhook: only then are the
    handsets final (the simulated customers must not answer their own history) and
    the relay's tables complete for a snapshot."""
    try:
        # (a bound for a starved machine; an idle simulator returns at once)
        sim.wait_idle(STALL_SECONDS / 2)  # type: ignore[attr-defined]
    except TimeoutError:
        log.warning("demo: the simulator was still busy after the histories")


async def _play(client: DemoClient, track: Track, step: Step) -> None:
    if step.speaker == "customer":
        await client.inbound(track.customer, track.customer_proxy, step.text)
    elif step.speaker == "store":
        await client.inbound(track.store_number, track.store_proxy, step.text)
    else:
        await client.staff_send(track, step.text)
