"""The memory of every (customer, pool number) pair the relay ever bound: the location,
the last lead and the customer's name, so a text after the thread closed goes back to
the store that served this customer through this number.

Items live in the ProxyPool table beside the bindings: `Pk=SEEN#<customer>,
Sk=<pool number>` (never deleted; a binding `BIND#…` is deleted when its conversation
closes, this is not)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.relay.versioned import now_iso


@dataclass(frozen=True)
class PairHistory:
    customer: str
    pool_number: str
    location_id: str
    lead_id: str
    customer_name: str
    conversation_sid: str


def _pk(customer: str) -> str:
    return f"SEEN#{customer}"


def remember_pair(
    tables: Any,
    customer: str,
    pool_number: str,
    *,
    location_id: str,
    lead_id: str,
    customer_name: str,
    conversation_sid: str,
) -> None:
    """Record (or move forward) the pair's last lead; one PutItem, last writer wins."""
    tables.pool.put_item(
        Item={
            "Pk": _pk(customer),
            "Sk": pool_number,
            "LocationId": location_id,
            "LeadId": lead_id,
            "CustomerName": customer_name,
            "ConversationSid": conversation_sid,
            "At": now_iso(),
        }
    )


def pair_history(tables: Any, customer: str, pool_number: str) -> PairHistory | None:
    item = tables.pool.get_item(
        Key={"Pk": _pk(customer), "Sk": pool_number}, ConsistentRead=True
    ).get("Item")
    if not item:
        return None
    return PairHistory(
        customer=customer,
        pool_number=pool_number,
        location_id=str(item.get("LocationId", "")),
        lead_id=str(item.get("LeadId", "")),
        customer_name=str(item.get("CustomerName", "")),
        conversation_sid=str(item.get("ConversationSid", "")),
    )
