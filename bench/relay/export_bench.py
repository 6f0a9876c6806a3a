"""Compliance export figures (issue 17): peak memory and rows/s of
`web2text-relay admin export` as the retailer's history grows.

    .venv/bin/python -m bench.relay.export_bench [--sizes 1000,4000,16000] [--json out.json]

Starts DynamoDB Local, makes the relay's tables, and for each size N gives one
retailer N consent rows (half web-form leads in LeadStates, half STOP/START events
in ConsentEvents, interleaved in time) and N send-log rows (conversations of 20
messages each). Then runs the export's own code (`consent_rows` / `message_rows`
into `write_rows`, CSV to a file) under `tracemalloc` and prints, per size and
kind, the rows written, the peak of Python memory allocated during the export,
and rows per second. Constant memory means the peak does not grow with N.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from app.relay.ddb import Tables
from app.relay.export import (
    CONSENT_COLUMNS,
    FAR_FUTURE,
    FAR_PAST,
    MESSAGE_COLUMNS,
    consent_rows,
    message_rows,
    write_rows,
)
from tests.support.dynamodb_local import dynamodb_local
from tests.support.relay import init_tables

PER_CONVERSATION = 20


def _stamp(i: int) -> str:
    """The i-th second of 2025 (a year holds 31.5 M: any N fits)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_735_689_600 + i)) + ".000000Z"


def fill_consent(tables: Tables, retailer_id: str, n: int) -> None:
    with tables.leads.batch_writer() as leads, tables.table("ConsentEvents").batch_writer() as ev:
        for i in range(n):
            if i % 2 == 0:
                leads.put_item(
                    Item={
                        "LeadId": str(uuid.uuid4()),
                        "LeadType": "WEB2TEXT",
                        "UniversalRetailerId": retailer_id,
                        "DateSubmitted": _stamp(i),
                        "LocationId": "bench-location",
                        "Status": "CLOSED",
                        "Lead": {
                            "Name": f"Customer {i}",
                            "PhoneNumber": f"+1312555{i % 10000:04d}",
                            "PageUrl": "https://floors.example/oak-natural-wide-plank",
                            "IPAddress": "203.0.113.9",
                        },
                    }
                )
            else:
                ev.put_item(
                    Item={
                        "RetailerId": retailer_id,
                        "EventKey": f"{_stamp(i)}#bench-{i}",
                        "At": _stamp(i),
                        "Kind": "STOP" if i % 4 == 1 else "START",
                        "Phone": f"+1312555{i % 10000:04d}",
                        "PoolNumber": "+13125550100",
                        "Keyword": "STOP" if i % 4 == 1 else "START",
                        "Source": "customer",
                    }
                )


def fill_messages(tables: Tables, retailer_id: str, n: int) -> None:
    with tables.conversations.batch_writer() as convs, tables.messages.batch_writer() as msgs:
        sid = ""
        for i in range(n):
            if i % PER_CONVERSATION == 0:
                sid = "CH" + uuid.uuid4().hex
                convs.put_item(
                    Item={
                        "ConversationSid": sid,
                        "RetailerId": retailer_id,
                        "CreatedAt": _stamp(i),
                        "LocationId": "bench-location",
                        "CustomerPhone": f"+1415555{i % 10000:04d}",
                        "CustomerProxy": "+13125550100",
                        "Web2TextNumber": "+13125550199",
                    }
                )
            inbound = i % 2 == 0
            msgs.put_item(
                Item={
                    "ConversationSid": sid,
                    "MessageSid": "IM" + uuid.uuid4().hex,
                    "CreatedAt": _stamp(i),
                    "Author": f"+1415555{i % 10000:04d}" if inbound else "+13125550199",
                    "AuthorKind": "customer" if inbound else "staff",
                    "StaffName": "" if inbound else "Sam Staff",
                    "Body": "Do you have the oak in stock this week?",
                    "Status": "delivered",
                }
            )


def measure(
    rows: Callable[[], Iterator[dict[str, Any]]], columns: Any, out: Path
) -> dict[str, Any]:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with out.open("w", newline="") as f:
            count = write_rows(rows(), columns, "csv", f)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    seconds = time.perf_counter() - started
    return {
        "rows": count,
        "peak_kib": round(peak / 1024),
        "rows_per_s": round(count / seconds) if seconds else None,
        "file_kib": round(out.stat().st_size / 1024),
    }


def run(sizes: list[int]) -> list[dict[str, Any]]:
    results = []
    with dynamodb_local() as endpoint, tempfile.TemporaryDirectory() as tmp:
        settings = init_tables(endpoint, "BENCHEXPORT")
        tables = Tables.from_settings(settings)
        for n in sizes:
            retailer = str(uuid.uuid4())
            fill_consent(tables, retailer, n)
            fill_messages(tables, retailer, n)
            for what, rows, columns in (
                ("consent", consent_rows, CONSENT_COLUMNS),
                ("messages", message_rows, MESSAGE_COLUMNS),
            ):

                def produce(rows: Any = rows, retailer: str = retailer) -> Iterator[dict[str, Any]]:
                    found: Iterator[dict[str, Any]] = rows(tables, retailer, FAR_PAST, FAR_FUTURE)
                    return found

                figure = measure(produce, columns, Path(tmp) / f"{what}-{n}.csv")
                results.append({"size": n, "what": what, **figure})
                print(
                    f"{what:9} N={n:>6}: {figure['rows']:>6} rows,"
                    f" peak {figure['peak_kib']:>5} KiB, {figure['rows_per_s']:>6} rows/s,"
                    f" file {figure['file_kib']} KiB",
                    flush=True,
                )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,4000,16000")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
    ):
        os.environ.setdefault(name, value)  # DynamoDB Local takes any
    results = run([int(s) for s in args.sizes.split(",")])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
