"""The admin commands of the lead-tracking connectors and the compliance export:

    web2text-relay admin set-retailer --retailer-id ID [--rlm-api-key KEY|-] [--clear-rlm-api-key]
    web2text-relay admin set-location --location-id ID [--universal-store-id S] [--street-address A]
    web2text-relay admin connector-resend --lead-id ID --system RLM|DHQ|ActOn|FloorForce
    web2text-relay admin export --retailer-id ID [--since D] [--until D]
                                [--format csv|jsonl] [--what consent|messages] [--output FILE]

Secrets are never printed: `--rlm-api-key -` reads the key from stdin (kept out
of the shell history and the process list).
"""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

SYSTEMS = ("Botpress", "RLM", "DHQ", "ActOn", "FloorForce")


def _uuid(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a UUID") from None


def register(asub: Any) -> None:
    """Add the commands to `web2text-relay admin`'s subparsers."""
    r = asub.add_parser("set-retailer", help="a retailer's connector settings")
    r.add_argument("--retailer-id", type=_uuid, required=True)
    r.add_argument("--rlm-api-key", help="the retailer's RLM key; '-' reads it from stdin")
    r.add_argument("--clear-rlm-api-key", action="store_true")

    loc = asub.add_parser("set-location", help="a location's DHQ store (without Nexus)")
    loc.add_argument("--location-id", type=_uuid, required=True)
    loc.add_argument("--universal-store-id", help="the DHQ store id (Nexus universal_id)")
    loc.add_argument("--street-address")

    resend = asub.add_parser(
        "connector-resend", help="send a lead's unconfirmed connector steps again"
    )
    resend.add_argument("--lead-id", type=_uuid, required=True)
    resend.add_argument("--system", choices=SYSTEMS, required=True)

    from app.relay.export import add_arguments

    add_arguments(asub.add_parser("export", help="the compliance export of one retailer"))


def _fail(message: str, code: int = 2) -> int:
    print(f"web2text-relay: error: {message}", file=sys.stderr)
    return code


def run(args: argparse.Namespace, tables: Any) -> int | None:
    """Run one of these commands; None when `args` names another."""
    cmd = args.admin_command
    if cmd == "set-retailer":
        return _set_retailer(args, tables)
    if cmd == "set-location":
        return _set_location(args, tables)
    if cmd == "connector-resend":
        return _resend(args, tables)
    if cmd == "export":
        from app.relay.export import run_export

        return run_export(args, tables)
    return None


def _set_retailer(args: argparse.Namespace, tables: Any) -> int:
    from app.relay.connectors.directory_settings import NotInDirectory, set_retailer_settings

    key = args.rlm_api_key
    if key == "-":
        key = sys.stdin.readline().strip()
        if not key:
            return _fail("no RLM API key on stdin")
    if args.clear_rlm_api_key:
        if key:
            return _fail("--rlm-api-key and --clear-rlm-api-key exclude each other")
        key = ""
    try:
        changed = set_retailer_settings(tables, args.retailer_id, rlm_api_key=key)
    except NotInDirectory as exc:
        return _fail(str(exc), 1)
    what = ", ".join(changed) or "nothing"
    print(f"retailer {args.retailer_id}: {what} saved", file=sys.stderr)
    return 0


def _set_location(args: argparse.Namespace, tables: Any) -> int:
    from app.relay.connectors.directory_settings import NotInDirectory, set_location_settings

    try:
        changed = set_location_settings(
            tables,
            args.location_id,
            universal_store_id=args.universal_store_id,
            street_address=args.street_address,
        )
    except NotInDirectory as exc:
        return _fail(str(exc), 1)
    print(f"location {args.location_id}: {', '.join(changed) or 'nothing'} saved", file=sys.stderr)
    return 0


def _resend(args: argparse.Namespace, tables: Any) -> int:
    from app.relay.connectors.progress import forget_unconfirmed
    from app.relay.connectors.records import NotFound

    try:
        forgotten = forget_unconfirmed(tables, args.lead_id, args.system)
    except NotFound:
        return _fail(f"no lead {args.lead_id}", 1)
    if not forgotten:
        print(f"{args.system}: nothing unconfirmed for lead {args.lead_id}", file=sys.stderr)
        return 0
    print(
        f"{args.system}: {len(forgotten)} step(s) will be sent again on the lead's next sync "
        "(Lead/sync, or Sync now on the desktop)",
        file=sys.stderr,
    )
    return 0
