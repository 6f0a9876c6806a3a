"""What one customer text's webhook costs in DynamoDB calls and capacity units.

    .venv/bin/python -m bench.relay.write_units [--texts 40]

A relay in this process (background jobs off), the Twilio simulator and DynamoDB
Local (which reports consumed capacity like DynamoDB: a write unit per started KB
of the larger of the old and new item, twice that inside a transaction). One lead
is created; then `--texts` customer texts go into its conversation, each as the
signed `onMessageAdded` webhook Twilio posts (like `bench.relay.run`'s webhook
phase; its answer ends the acknowledgement path). Every call the relay makes
meanwhile is asked for `ReturnConsumedCapacity=TOTAL`, and the calls and units are
totalled per operation and per table.

Baseline, same run: the bare write the rate bench compares against (one PutItem
of a message-sized item), and what the same writes would cost as one
`TransactWriteItems` (twice their write units; no values returned, so the change
published afterwards would need the updated items read back: their read units are
added at a strongly consistent read's price).
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
import uuid
from collections import Counter
from typing import Any

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")

#: operations that take ReturnConsumedCapacity
_MEASURED = {
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
    "BatchWriteItem", "TransactWriteItems", "TransactGetItems",
}
_WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}


class CapacityTally:
    """Calls and consumed capacity of a boto3 DynamoDB client, per operation and table."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.units: Counter[tuple[str, str]] = Counter()  # (operation, table) -> units

    def watch(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb", self._ask)
        client.meta.events.register("after-call.dynamodb", self._add)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.units.clear()

    def _ask(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in _MEASURED:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _add(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity") or []
        entries = consumed if isinstance(consumed, list) else [consumed]
        with self._lock:
            self.calls[model.name] += 1
            for entry in entries:
                table = str(entry.get("TableName", "?")).removeprefix(self._prefix + "_")
                self.units[(model.name, table)] += float(entry.get("CapacityUnits", 0))


def bare_put_units(client: Any, table: str, item_bytes: int) -> float:
    """Write units of one PutItem of `item_bytes` of data (the rate bench's baseline)."""
    resp = client.put_item(
        TableName=table,
        Item={"ConversationSid": {"S": "CHbench"}, "MessageSid": {"S": "IMbench"},
              "Body": {"S": "x" * item_bytes}},
        ReturnConsumedCapacity="TOTAL",
    )
    return float(resp["ConsumedCapacity"]["CapacityUnits"])


def per_text(tally: CapacityTally, texts: int) -> dict[str, Any]:
    calls = {op: round(n / texts, 2) for op, n in sorted(tally.calls.items())}
    writes = {f"{op} {table}": round(units / texts, 2)
              for (op, table), units in sorted(tally.units.items()) if op in _WRITES}
    reads = {f"{op} {table}": round(units / texts, 2)
             for (op, table), units in sorted(tally.units.items()) if op not in _WRITES}
    wcu = sum(writes.values())
    rcu = sum(reads.values())
    # a transaction of the same items: 2x their write units, plus reading back the
    # updated conversation and lead to publish them (strongly consistent: 1 unit/4 KB)
    updated = sum(units for (op, table), units in tally.units.items()
                  if op == "UpdateItem") / texts
    return {
        "calls_per_text": calls,
        "calls_total": round(sum(tally.calls.values()) / texts, 2),
        "write_units_per_text": writes,
        "write_units_total": round(wcu, 2),
        "read_units_per_text": reads,
        "read_units_total": round(rcu, 2),
        "as_one_transaction": {
            "calls": 1 + (1 if updated else 0),
            "write_units": round(2 * wcu, 2),
            "read_units_to_publish": round(max(1.0, updated / 4), 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=40)
    args = parser.parse_args()

    from app.relay import message_store
    from app.relay.tables import MESSAGES
    from app.sandbox.twilio_sim import start_simulator
    from tests.relay.contact_support import post_signed
    from tests.support.dynamodb_local import dynamodb_local
    from tests.support.relay import seed_dealer, start_relay, tables_for
    from tests.sync.integration import create_lead

    pool = [f"+1312555{n:04d}" for n in range(7501, 7509)]
    with dynamodb_local() as endpoint:
        sim = start_simulator("AC" + "6" * 32, "bench-units-token", pool=pool,
                              carrier_delay=0.0)
        relay = start_relay(endpoint, sim, background=False)
        try:
            seed = seed_dealer(relay, web2text_number="+13125550166", pool=pool)
            lead = create_lead(relay, seed, name="Unit Counter")
            sim.wait_idle()
            tables = relay.app.state.ctx.tables
            tally = CapacityTally(relay.settings.table_prefix)
            for client in {id(c): c for c in (tables.client, tables.resource.meta.client)}.values():
                tally.watch(client)
            mine = tables_for(relay)  # the bench's own reads are not the relay's
            tally.reset()
            for n in range(args.texts):
                form = {
                    "EventType": "onMessageAdded", "AccountSid": sim.account_sid,
                    "ConversationSid": lead.conversation_sid,
                    "MessageSid": "IM" + uuid.uuid4().hex, "Index": str(100 + n),
                    "Author": lead.customer, "Body": f"text {n} about the oak floor",
                    "Attributes": "{}", "Source": "SMS",
                    "DateCreated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
                answer = post_signed(sim, relay, "/TwilioWebhooks/sync", form)
                if answer.status_code != 200:
                    raise SystemExit(f"text {n}: the webhook answered {answer.status_code}")
            stored = message_store.list_messages(mine, lead.conversation_sid)
            if sum(1 for m in stored if m.get("AuthorKind") == "customer") < args.texts:
                raise SystemExit("not every text was stored")
            figures = per_text(tally, args.texts)
            figures["baseline_bare_put_write_units"] = bare_put_units(
                mine.client, f"{relay.settings.table_prefix}_Web2Text_{MESSAGES}", 300)
            figures["texts"] = args.texts
        finally:
            relay.stop()
            sim.stop()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
