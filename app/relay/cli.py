"""`web2text-relay serve` and `web2text-relay admin ...` (DESIGN.md, "Commands").

An error is one line on stderr, `web2text-relay: error: <reason>: <message>`, with a
stable snake_case reason and exit code: 2 usage (`usage`), 1 a refusal or an outside
failure (`unknown_retailer`, `unknown_key`, `dynamodb_error`, `internal_error`: the
traceback only with `W2T_DEBUG=1`), 78 configuration (`configuration`).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import uuid
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TypeAlias

from app.relay.config import ConfigError, Settings


def _uuid(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a UUID") from None


def _e164(text: str) -> str:
    from app.relay.phones_compat import normalize_phone

    try:
        return normalize_phone(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a phone number: {exc}") from None


def _timezone(text: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not an IANA time zone") from None
    return text


def _rate(text: str) -> int:
    """`N/min` (or a bare N): requests per minute."""
    value = text.strip().lower()
    for suffix in ("/min", "/minute", "/m"):
        if value.endswith(suffix):
            value = value[: -len(suffix)].strip()
            break
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate like 120/min")
    return int(value)


def _countries(text: str) -> list[str]:
    codes = [c.strip().upper() for c in text.split(",") if c.strip()]
    if not codes or not all(len(c) == 2 and c.isalpha() for c in codes):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of ISO codes like US,CA")
    return codes


class _Parser(argparse.ArgumentParser):
    """A usage error is one line (no usage block), like every other error here."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"web2text-relay: error: usage: {message} (see {self.prog} --help)\n")


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="web2text-relay", description="Web2Text hosted relay")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    serve = sub.add_parser("serve", help="run the relay (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)

    admin = sub.add_parser("admin", help="tables, directory, pool and keys")
    asub = admin.add_subparsers(dest="admin_command", required=True, parser_class=_Parser)
    asub.add_parser("init-tables", help="create every table (idempotent)")
    _add_directory_commands(asub)
    _add_key_commands(asub)
    from app.relay import cli_connectors

    cli_connectors.register(asub)
    _add_inbound_commands(asub)
    _add_hours_command(asub)
    return parser


#: what `add_subparsers` returns (argparse names it privately)
_Commands: TypeAlias = "argparse._SubParsersAction[_Parser]"


def _add_directory_commands(asub: _Commands) -> None:
    r = asub.add_parser("add-retailer")
    r.add_argument("--retailer-id", type=_uuid, required=True)
    r.add_argument("--name", required=True)
    r.add_argument("--website")
    r.add_argument("--status", choices=["Customer", "Churned_Customer"], default="Customer")
    r.add_argument("--web2text-opt-out", action="store_true")
    r.add_argument(
        "--countries",
        type=_countries,
        default=["US", "CA"],
        help="ISO regions whose numbers its leads may text (default US,CA)",
    )

    loc = asub.add_parser("add-location")
    loc.add_argument("--retailer-id", type=_uuid, required=True)
    loc.add_argument("--location-id", type=_uuid, required=True)
    loc.add_argument("--name", required=True)
    loc.add_argument("--web2text-number", type=_e164, required=True)
    loc.add_argument("--store-number", type=_e164)
    loc.add_argument("--timezone", type=_timezone)

    target = asub.add_parser(
        "set-reply-target", help="minutes a lead may wait for a reply before it escalates"
    )
    target.add_argument("--location-id", type=_uuid, required=True)
    target.add_argument("--minutes", type=int, required=True)

    pool = asub.add_parser("add-pool-number")
    pool.add_argument("numbers", nargs="+", type=_e164, metavar="E164")


def _add_key_commands(asub: _Commands) -> None:
    key = asub.add_parser("issue-key")
    key.add_argument("--endpoints", help="comma-separated, e.g. 'Lead/create,Lead/status'")
    key.add_argument("--description", default="")
    key.add_argument("--staff", action="store_true")
    key.add_argument("--staff-id")
    key.add_argument("--name")
    key.add_argument("--retailer-id", type=_uuid)
    key.add_argument("--locations", help="comma-separated location UUIDs")
    key.add_argument(
        "--rate", type=_rate, help="lead-service requests per minute, e.g. 60/min (default 120)"
    )

    rev = asub.add_parser("revoke-key")
    rev.add_argument("key")
    asub.add_parser("migrate-keys", help="hash every legacy plain-text key")


def _add_inbound_commands(asub: _Commands) -> None:
    unrouted = asub.add_parser("unrouted", help="texts to pool numbers nobody was found for")
    unrouted.add_argument("--limit", type=int, default=200)
    route = asub.add_parser("route", help="make an unrouted text a lead at a location")
    route.add_argument("--id", required=True, help="the text's id (its MessageSid)")
    route.add_argument("--location-id", type=_uuid, required=True)


def _add_hours_command(asub: _Commands) -> None:
    hours = asub.add_parser("set-hours", help="a location's opening hours and after-hours text")
    hours.add_argument("--location-id", type=_uuid, required=True)
    hours.add_argument("--hours", help="e.g. 'mon-fri 09:00-18:00, sat 10:00-16:00'")
    hours.add_argument("--after-hours-text", help="texted once per closed period")
    hours.add_argument("--clear", action="store_true", help="remove the hours and the text")


def _fail(message: str, code: int = 2, reason: str = "usage") -> int:
    """One line on stderr with a stable reason; the exit code."""
    print(f"web2text-relay: error: {reason}: {message}", file=sys.stderr)
    return code


def run_admin(args: argparse.Namespace, settings: Settings) -> int:
    from app.relay import cli_connectors
    from app.relay.ddb import Tables

    tables = Tables.from_settings(settings)
    done = cli_connectors.run(args, tables)
    if done is not None:
        return done
    cmd = args.admin_command
    if cmd == "init-tables":
        return _init_tables(settings)
    command = _ADMIN_COMMANDS.get(cmd)
    if command is None:
        return _fail(f"unknown admin command {cmd}")  # pragma: no cover
    return command(args, tables, settings)


def _init_tables(settings: Settings) -> int:
    from app.relay.ddb import make_client
    from app.relay.tables import create_all

    created = create_all(make_client(settings), settings.table_prefix)
    print(f"created {len(created)} table(s)", file=sys.stderr)
    for name in created:
        print(name)
    return 0


def _add_retailer(args: argparse.Namespace, tables: Any) -> int:
    from app.relay import directory

    r = directory.put_retailer(
        tables,
        args.retailer_id,
        args.name,
        website=args.website,
        status=args.status,
        web2text_opt_out=args.web2text_opt_out,
        countries=args.countries,
    )
    print(f"retailer {r.retailer_id} saved (version {r.version})", file=sys.stderr)
    return 0


def _add_location(args: argparse.Namespace, tables: Any) -> int:
    from app.relay import directory

    try:
        loc = directory.put_location(
            tables,
            args.retailer_id,
            args.location_id,
            args.name,
            args.web2text_number,
            store_number=args.store_number,
            timezone=args.timezone,
        )
    except LookupError as exc:
        return _fail(str(exc), 1, "unknown_retailer")
    print(f"location {loc.location_id} saved (version {loc.version})", file=sys.stderr)
    return 0


def _add_pool_numbers(args: argparse.Namespace, tables: Any) -> int:
    from app.relay import directory

    n = directory.add_pool_numbers(tables, list(dict.fromkeys(args.numbers)))
    print(f"{n} pool number(s) saved", file=sys.stderr)
    return 0


def _revoke_key(args: argparse.Namespace, tables: Any) -> int:
    from app.relay import auth

    if not auth.revoke_key(tables, args.key):
        return _fail("no such key", 1, "unknown_key")
    print("key revoked", file=sys.stderr)
    return 0


def _migrate_keys(args: argparse.Namespace, tables: Any) -> int:
    from app.relay import auth

    n = auth.migrate_keys(tables)
    print(f"{n} key(s) migrated", file=sys.stderr)
    return 0


def _set_hours(args: argparse.Namespace, tables: Any, settings: Settings) -> int:
    """Save the hours, then announce the location on the change log (desktops show it)."""
    from app.core.hours import HoursError
    from app.relay import directory

    if not args.clear and not (args.hours and args.after_hours_text):
        return _fail("set-hours needs --hours and --after-hours-text (or --clear)")
    try:
        loc = directory.set_hours(
            tables,
            args.location_id,
            None if args.clear else args.hours,
            None if args.clear else args.after_hours_text,
        )
    except (HoursError, ValueError, LookupError) as exc:
        return _fail(str(exc))
    _announce_location(tables, settings, loc)
    print(f"location {loc.location_id} hours saved (version {loc.version})", file=sys.stderr)
    return 0


def _set_reply_target(
    tables: Any, settings: Settings, location_id: str, minutes: int
) -> int:
    """Save the target and announce the location to its desktops (the change feed)."""
    from app.relay import directory

    try:
        loc = directory.set_reply_target(tables, location_id, minutes)
    except (LookupError, ValueError) as exc:
        return _fail(str(exc))
    _announce_location(tables, settings, loc)
    print(f"location {loc.location_id}: reply target {minutes} min", file=sys.stderr)
    return 0


def _issue_key(args: argparse.Namespace, tables: Any) -> int:
    from app.relay import auth

    if args.staff:
        missing = [
            f"--{n.replace('_', '-')}"
            for n in ("staff_id", "name", "retailer_id", "locations")
            if not getattr(args, n)
        ]
        if missing:
            return _fail(f"issue-key --staff needs {', '.join(missing)}")
        try:
            locations = [_uuid(x.strip()) for x in args.locations.split(",") if x.strip()]
        except argparse.ArgumentTypeError as exc:
            return _fail(str(exc))
        endpoints = [e.strip() for e in (args.endpoints or auth.STAFF_ENDPOINT).split(",")]
        key = auth.issue_key(
            tables,
            endpoints,
            description=args.description,
            staff_id=args.staff_id,
            name=args.name,
            retailer_id=args.retailer_id,
            locations=locations,
            rate_per_min=args.rate,
        )
    else:
        if not args.endpoints:
            return _fail("issue-key needs --endpoints (or --staff)")
        endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
        if not endpoints:
            return _fail("--endpoints is empty")
        key = auth.issue_key(
            tables,
            endpoints,
            description=args.description,
            retailer_ids=[args.retailer_id] if args.retailer_id else [],
            rate_per_min=args.rate,
        )
    print(key)
    return 0


def _inbound_admin(args: argparse.Namespace, tables: Any) -> int:
    from app.relay.inbound import notices, records, routing

    if args.admin_command == "unrouted":
        for item in records.unrouted(tables, args.limit):
            media = len(item.get("Media") or [])
            notice = notices.get(tables, str(item.get("From", "")), str(item.get("To", "")))
            print(
                "\t".join(
                    [
                        str(item["Id"]),
                        str(item.get("ReceivedAt", "")),
                        str(item.get("From", "")),
                        str(item.get("To", "")),
                        str(item.get("Reason", "")),
                        notices.reply_state(notice, str(item["Id"])),
                        f"{media} photo(s)" if media else "",
                        str(item.get("Body", "")).replace("\n", " ")[:160],
                    ]
                )
            )
        return 0
    try:
        lead_id = routing.route_by_hand(tables, args.id, args.location_id)
    except LookupError as exc:
        return _fail(str(exc), 1)
    print(f"text routed to lead {lead_id}; a running relay processes it", file=sys.stderr)
    print(lead_id)
    return 0


def _announce_location(tables: Any, settings: Settings, loc: Any) -> None:
    """A location's new version on the change feed (its desktops show it), kept as
    long as the relay keeps its changes."""
    from app.relay.changes import ChangeLog
    from app.relay.tables import CHANGE_LOG

    log = ChangeLog(tables.client, tables.name(CHANGE_LOG),
                    retention_s=settings.change_retention_days * 86400)
    log.record(loc.location_id, "location", loc.location_id, loc.version, loc.view())


AdminCommand = Callable[[argparse.Namespace, Any, Settings], int]


def _tables_only(run: Callable[[argparse.Namespace, Any], int]) -> AdminCommand:
    return lambda args, tables, _settings: run(args, tables)


#: `admin <command>` → what runs it (init-tables and the connector commands aside)
_ADMIN_COMMANDS: dict[str, AdminCommand] = {
    "add-retailer": _tables_only(_add_retailer),
    "add-location": _tables_only(_add_location),
    "set-reply-target": lambda args, tables, settings: _set_reply_target(
        tables, settings, args.location_id, args.minutes
    ),
    "add-pool-number": _tables_only(_add_pool_numbers),
    "issue-key": _tables_only(_issue_key),
    "revoke-key": _tables_only(_revoke_key),
    "migrate-keys": _tables_only(_migrate_keys),
    "unrouted": _tables_only(_inbound_admin),
    "route": _tables_only(_inbound_admin),
    "set-hours": _set_hours,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    try:
        settings = Settings.from_env(require_twilio=args.command == "serve")
    except ConfigError as exc:
        return _fail(str(exc), 78, "configuration")
    if args.command == "serve":
        import uvicorn

        from app.relay.app import create_app

        uvicorn.run(
            create_app(settings),
            host=args.host,
            port=args.port,
            log_level="warning",
            access_log=False,
        )
        return 0
    try:
        return run_admin(args, settings)
    except Exception as exc:
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, BotoCoreError | ClientError):
            return _fail(str(exc), 1, "dynamodb_error")
        if os.environ.get("W2T_DEBUG"):
            traceback.print_exc()
        return _fail(f"{type(exc).__name__}: {exc}", 1, "internal_error")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
