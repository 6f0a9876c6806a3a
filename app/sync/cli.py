"""`web2text-sync`: the sync engine without a window.

    web2text-sync [--data-dir DIR] [--relay-url URL] send CONVERSATION_SID TEXT
    web2text-sync [--data-dir DIR] [--relay-url URL] run [--until-idle] [--timeout S]
    web2text-sync [--data-dir DIR] [--relay-url URL] status

`send` only queues (works offline, for any conversation SID). The relay URL
given once is remembered in the store. The staff key comes from the keyring
(service "web2text", user = the relay URL) or from `W2T_TOKEN`; a key given
in `W2T_TOKEN` is saved to the keyring when one is available.

The relay URL must be https:// (plain http:// only to this computer: localhost,
127.0.0.1, ::1): the staff key is never sent in clear.

Exit codes: 0 ok; 1 usage / local error (an http:// URL to another host too);
2 `run --until-idle` finished with failed outbox rows; 3 no relay or key; 4 the
relay refused the key; 5 timed out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

import httpx

from app.core.relay_url import InsecureRelayUrl, check_relay_url
from app.sync import store
from app.sync.api import EngineError, SyncState
from app.sync.db import Database, default_data_dir
from app.sync.engine import SyncEngine

KEYRING_SERVICE = "web2text"
log = logging.getLogger("web2text.sync")


def _keyring_get(user: str) -> str | None:
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, user)
    except Exception:  # no usable backend (headless CI, locked keychain)
        return None


def _keyring_set(user: str, token: str) -> None:
    with contextlib.suppress(Exception):
        import keyring

        keyring.set_password(KEYRING_SERVICE, user, token)


def resolve_token(relay_url: str) -> str | None:
    env = os.environ.get("W2T_TOKEN")
    if env:
        if _keyring_get(relay_url) != env:
            _keyring_set(relay_url, env)
        return env
    return _keyring_get(relay_url)


def _relay_url(db: Database, given: str | None) -> str | None:
    if given:
        url = given.rstrip("/")
        if db.writer.call(store.get_meta, "relay_url") != url:
            db.writer.call(store.set_meta, "relay_url", url)
        return url
    return db.writer.call(store.get_meta, "relay_url")


def _refuse_url(url: str) -> bool:
    """Print why the key must not go to `url` (plain http to another host); True then."""
    try:
        check_relay_url(url)
    except InsecureRelayUrl as exc:
        _print({"error": exc.reason, "message": str(exc)})
        print(f"web2text-sync: error: {exc}", file=sys.stderr)
        return True
    return False


def _print(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, sort_keys=True) + "\n")
    sys.stdout.flush()


def cmd_send(db: Database, args: argparse.Namespace) -> int:
    me = db.reader.call(store.get_me)
    try:
        msg = db.writer.call(store.enqueue_send, args.conversation_sid, args.text, me)
    except EngineError as exc:
        _print({"error": exc.reason, "message": exc.message})
        return 1
    _print({"queued": True, "outbox_id": msg.outbox_id, "local_id": msg.local_id,
            "conversation_sid": msg.conversation_sid})
    return 0


def cmd_status(db: Database, relay_url: str | None, token: str | None) -> int:
    pending, failed = db.reader.call(store.outbox_counts)
    online = False
    error: str | None = None
    if relay_url and token:
        try:
            response = httpx.get(f"{relay_url}/v1/me", timeout=5.0,
                                 headers={"Authorization": f"Bearer {token}"})
            online = response.status_code == 200
            if not online:
                error = f"relay answered {response.status_code}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
    elif not relay_url:
        error = "no relay configured"
    else:
        error = "no staff key"
    failures = [
        {"outbox_id": r.outbox_id, "kind": r.kind, "conversation_sid": r.conversation_sid,
         "lead_id": r.lead_id, "reason": r.reason, "message": r.error_message}
        for r in db.reader.call(store.list_outbox) if r.state == store.FAILED
    ]
    _print({
        "pending": pending, "failed": failed, "online": online,
        "cursor": db.reader.call(store.cursor_of),
        "last_synced_at": db.reader.call(store.get_meta, "last_synced_at"),
        "relay_url": relay_url, "error": error, "failures": failures,
    })
    return 0


async def cmd_run(data_dir: Path, relay_url: str, token: str, until_idle: bool,
                  timeout: float | None) -> int:
    engine = SyncEngine(data_dir, relay_url, token)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await engine.start()
    code = 0
    try:
        if until_idle:
            idle = asyncio.create_task(engine.wait_idle(timeout))
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({idle, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if idle in done:
                if idle.result():
                    code = 2 if engine.status().failed else 0
                elif engine.status().state is SyncState.AUTH_REQUIRED:
                    code = 4
                else:
                    code = 5
            else:
                idle.cancel()
        else:
            await stop.wait()
    finally:
        status = engine.status()
        await engine.stop()
    _print({"pending": status.pending, "failed": status.failed,
            "online": status.state is SyncState.ONLINE, "cursor": status.cursor,
            "state": status.state.value, "last_error": status.last_error})
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="web2text-sync", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="local store directory (default: the platform's user data dir)")
    parser.add_argument("--relay-url", default=None, help="relay base URL (remembered)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    send = sub.add_parser("send", help="queue a message (works offline)")
    send.add_argument("conversation_sid")
    send.add_argument("text")
    run = sub.add_parser("run", help="deliver the outbox and sync until stopped")
    run.add_argument("--until-idle", action="store_true",
                     help="exit once the outbox is empty and the feed caught up")
    run.add_argument("--timeout", type=float, default=None,
                     help="with --until-idle: give up after this many seconds (exit 5)")
    sub.add_parser("status", help="print the outbox and sync status as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.relay_url and _refuse_url(args.relay_url):
        return 1  # never remembered
    data_dir = args.data_dir or default_data_dir()
    db = Database.open(data_dir)
    try:
        relay_url = _relay_url(db, args.relay_url)
        if args.command == "send":
            return cmd_send(db, args)
        if relay_url and _refuse_url(relay_url):
            return 1
        token = resolve_token(relay_url) if relay_url else None
        if args.command == "status":
            return cmd_status(db, relay_url, token)
    finally:
        db.close()
    if not relay_url or not token:
        _print({"error": "not_configured",
                "message": "need --relay-url and a staff key (keyring or W2T_TOKEN)"})
        return 3
    return asyncio.run(cmd_run(data_dir, relay_url, token, args.until_idle, args.timeout))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
