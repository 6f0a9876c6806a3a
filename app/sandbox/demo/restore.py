"""Putting a snapshot (`snapshot.dump`) into a fresh demo stack, before the relay starts.

The simulator first, through its Twilio REST API with webhooks off: each
conversation, its participants and its messages again (the phones receive the
texts as they did the first time), and once the texts are delivered, the
scoped webhooks that point at the relay. Then the relay's tables, with the old
SIDs and relay address swapped for the new ones and every time moved to now.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from app.sandbox.demo import lead_systems_state, retime
from app.sandbox.demo.handle import DemoHandle, Track
from app.sandbox.demo.snapshot import WEBHOOKS_OFF, _sim_client
from app.sandbox.demo.stack import TABLE_PREFIX, Stack
from app.sandbox.demo_data import LeadSeed

log = logging.getLogger("app.sandbox.demo")
BATCH = 25  # BatchWriteItem's limit
LEAD_LOCK_ATTRIBUTES = ("LockOwner", "LockUntil")


def restore(snapshot: dict[str, Any], stack: Stack) -> dict[str, str]:
    """Fill the stack from `snapshot`; returns the old SID -> new SID map."""
    sids: dict[str, str] = {}
    conversations = sorted(
        snapshot["conversations"], key=lambda c: c["conversation"]["date_created"] or ""
    )
    with _sim_client(stack) as sim:
        for entry in conversations:
            _restore_conversation(sim, entry, sids)
        # the texts reach the phones before any webhook could tell the relay about it
        stack.sim.wait_idle(60.0)
        for entry in conversations:
            _restore_webhooks(sim, entry, sids, snapshot["relay_url"], stack.relay_url)
    _restore_tables(snapshot, stack, sids)
    lead_systems_state.restore(stack.lead_systems, snapshot.get("lead_systems"))
    return sids


def _post(sim: httpx.Client, path: str, form: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in form.items() if v not in (None, "")}
    resp = sim.post(path, data=fields, headers=WEBHOOKS_OFF)
    resp.raise_for_status()
    created: dict[str, Any] = resp.json()
    return created


def _restore_conversation(sim: httpx.Client, entry: dict[str, Any], sids: dict[str, str]) -> None:
    conv = entry["conversation"]
    participants = []
    for part in entry["participants"]:
        spec: dict[str, Any] = {
            "identity": part.get("identity"),
            "attributes": part.get("attributes"),
        }
        binding = part.get("messaging_binding") or {}
        if binding:
            spec["messaging_binding"] = {
                k: binding[k] for k in ("address", "proxy_address", "projected_address")
                if binding.get(k)
            }  # fmt: skip
        participants.append(json.dumps({k: v for k, v in spec.items() if v}))
    form = {
        "FriendlyName": conv.get("friendly_name"),
        "UniqueName": conv.get("unique_name"),
        "Attributes": conv.get("attributes"),
        "State": conv.get("state"),
    }
    fields: dict[str, Any] = {k: v for k, v in form.items() if v}
    fields["Participant"] = participants
    resp = sim.post("/v1/ConversationWithParticipants", data=fields, headers=WEBHOOKS_OFF)
    resp.raise_for_status()
    sids[conv["sid"]] = sid = resp.json()["sid"]
    for message in entry["messages"]:
        made = _post(
            sim,
            f"/v1/Conversations/{sid}/Messages",
            {
                "Author": message.get("author"),
                "Body": message.get("body"),
                "Attributes": message.get("attributes"),
            },
        )
        sids[message["sid"]] = made["sid"]


def _restore_webhooks(
    sim: httpx.Client, entry: dict[str, Any], sids: dict[str, str], old_url: str, new_url: str
) -> None:
    sid = sids[entry["conversation"]["sid"]]
    for hook in entry["webhooks"]:
        config = hook.get("configuration") or {}
        form: dict[str, str | list[str]] = {"Target": hook["target"]}
        if config.get("url"):
            form["Configuration.Url"] = str(config["url"]).replace(old_url, new_url)
        if config.get("method"):
            form["Configuration.Method"] = config["method"]
        if config.get("filters"):
            form["Configuration.Filters"] = list(config["filters"])
        if config.get("triggers"):
            form["Configuration.Triggers"] = list(config["triggers"])
        if config.get("flow_sid"):
            form["Configuration.FlowSid"] = config["flow_sid"]
        resp = sim.post(f"/v1/Conversations/{sid}/Webhooks", data=form, headers=WEBHOOKS_OFF)
        resp.raise_for_status()


def _restore_tables(snapshot: dict[str, Any], stack: Stack, sids: dict[str, str]) -> None:
    from app.relay.ddb import make_client

    ddb = make_client(stack.settings, stack.session)
    made_at = float(snapshot["made_at"])
    delta = retime.now_epoch() - made_at
    # one pass over the text for the SIDs and the relay's address, one over the items
    # for the times
    text = retime.replace_sids(json.dumps(snapshot["tables"]), sids)
    text = text.replace(snapshot["relay_url"], stack.relay_url)
    tables: dict[str, list[dict[str, Any]]] = json.loads(text)
    for suffix, items in tables.items():
        name = f"{TABLE_PREFIX}_Web2Text_{suffix}"
        moved = [retime.shift_item(_unlocked(item), made_at, delta) for item in items]
        for start in range(0, len(moved), BATCH):
            requests = [{"PutRequest": {"Item": item}} for item in moved[start : start + BATCH]]
            pending: dict[str, Any] = {name: requests}
            while pending:
                answer = ddb.batch_write_item(RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}


def _unlocked(item: dict[str, Any]) -> dict[str, Any]:
    """`item` without a lead lock (`app.relay.lead_lock`): its holder was the relay
    that made the snapshot, which is gone; kept, the lock would hold up the restored
    lead's next close or sync until its lease ran out."""
    return {k: v for k, v in item.items() if k not in LEAD_LOCK_ATTRIBUTES}


def tracks(
    snapshot: dict[str, Any], sids: dict[str, str], plan: list[LeadSeed], handle: DemoHandle
) -> None:
    """The conversations the simulated people follow, as seeding left them."""
    by_id = {lead.lead_id: lead for lead in plan}
    for spec in snapshot["tracks"]:
        leads = [by_id[i] for i in spec["lead_ids"] if i in by_id]
        if not leads or spec["sid"] not in sids:
            continue
        sid = sids[spec["sid"]]
        handle.tracks[sid] = Track(
            conversation_sid=sid,
            customer=spec["customer"],
            customer_proxy=spec["customer_proxy"],
            store_number=spec["store_number"],
            store_proxy=spec["store_proxy"],
            leads=leads,
            replies=[reply for lead in leads for reply in lead.replies],
            texts_stop=bool(spec["texts_stop"]),
        )
