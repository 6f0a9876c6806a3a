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

Every answer is one line of JSON on stdout; an error is `{"error": <stable
reason>, "message": ...}` (never a traceback: `-v` logs one to stderr). A store
found damaged is repaired on the way (`app.sync.repair`) and the output carries
the repair's report once (`"repair"`).

Exit codes: 0 ok; 1 usage / local error (an http:// URL to another host too);
2 `run --until-idle` finished with failed outbox rows; 3 no relay or key; 4 the
relay refused the key; 5 timed out; 6 the data folder takes no writes (disk full,
read-only, unplugged, disk errors).
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
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import httpx

from app.core.relay_url import InsecureRelayUrl, check_relay_url
from app.sync import store
from app.sync.api import EngineError, SyncState
from app.sync.clock import RelayClock
from app.sync.db import Database, default_data_dir
from app.sync.engine import SyncEngine
from app.sync.repair import finish_interrupted, repair_store, report_dict, report_of
from app.sync.storage import StorageError, StoreDamaged
from app.sync.store_lock import lock_store, unlock_store

KEYRING_SERVICE = "web2text"
log = logging.getLogger("web2text.sync")

T = TypeVar("T")

EXIT_LOCAL, EXIT_NOT_CONFIGURED, EXIT_STORAGE = 1, 3, 6


def _keyring_get(user: str) -> tuple[str | None, str | None]:
    """The key saved for `user`, and why the keyring could not be read (if so)."""
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, user), None
    except Exception as exc:  # no backend (headless), locked, wiped, a broken backend
        return None, type(exc).__name__


def _keyring_set(user: str, token: str) -> None:
    with contextlib.suppress(Exception):
        import keyring

        keyring.set_password(KEYRING_SERVICE, user, token)


def token_and_problem(relay_url: str) -> tuple[str | None, str | None]:
    """The staff key (`W2T_TOKEN` first, then the keyring) and a keyring problem, if any."""
    env = os.environ.get("W2T_TOKEN")
    if env:
        if _keyring_get(relay_url)[0] != env:
            _keyring_set(relay_url, env)
        return env, None
    return _keyring_get(relay_url)


def resolve_token(relay_url: str) -> str | None:
    return token_and_problem(relay_url)[0]


class StoreHold:
    """The command's store: opened on first use, repaired once if found damaged."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.db: Database | None = None

    def call(self, fn: Callable[[Database], T]) -> T:
        for attempt in (1, 2):
            try:
                if self.db is None:
                    finish_interrupted(self.data_dir)
                    self.db = Database.open(self.data_dir)
                return fn(self.db)
            except StoreDamaged as exc:
                if attempt == 2:
                    raise
                self.close()
                self._repair(exc.detail)
        raise AssertionError("unreachable")  # pragma: no cover

    def _repair(self, detail: str) -> None:
        try:
            lock = lock_store(self.data_dir)
        except EngineError as exc:
            if exc.reason != "store_in_use":
                raise
            raise EngineError("store_damaged", "the local store is damaged; the engine "
                              "running on it repairs it itself") from None
        try:
            repair_store(self.data_dir, detail, RelayClock().now_dt())
        finally:
            unlock_store(lock)

    def untold_repair(self) -> dict[str, Any] | None:
        """The last repair's report, once (it is then marked as told)."""
        report = report_of(self.call(lambda db: db.reader.call(store.repair_report)))
        if report is None:
            return None
        self.call(lambda db: db.writer.call(store.acknowledge_repair))
        return report_dict(report)

    def close(self) -> None:
        db, self.db = self.db, None
        if db is not None:
            db.close()


def _relay_url(hold: StoreHold, given: str | None) -> str | None:
    if given:
        url = given.rstrip("/")
        if hold.call(lambda db: db.reader.call(store.get_meta, "relay_url")) != url:
            hold.call(lambda db: db.writer.call(store.set_meta, "relay_url", url))
        return url
    return hold.call(lambda db: db.reader.call(store.get_meta, "relay_url"))


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


def _with_repair(hold: StoreHold, out: dict[str, Any]) -> dict[str, Any]:
    report = hold.untold_repair()
    return {**out, "repair": report} if report else out


def cmd_send(hold: StoreHold, args: argparse.Namespace) -> int:
    def send(db: Database) -> Any:
        me = db.reader.call(store.get_me)
        offset = db.reader.call(store.get_meta, "clock_offset")
        # the relay's time as last seen (its clock orders the thread), else this PC's
        now = RelayClock(offset=float(offset or 0)).now_iso()
        return db.writer.call(store.enqueue_send, args.conversation_sid, args.text, me, None,
                              now)

    msg = hold.call(send)
    _print(_with_repair(hold, {
        "queued": True, "outbox_id": msg.outbox_id, "local_id": msg.local_id,
        "conversation_sid": msg.conversation_sid}))
    return 0


def _probe(relay_url: str | None, token: str | None, keyring: str | None) -> tuple[bool, str]:
    """Whether the relay answers `/v1/me` for the key, and if not, why."""
    if not relay_url:
        return False, "no relay configured"
    if not token:
        return False, f"no staff key (keyring: {keyring})" if keyring else "no staff key"
    try:
        response = httpx.get(f"{relay_url}/v1/me", timeout=5.0,
                             headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        return False, type(exc).__name__
    if response.status_code == 200:
        return True, ""
    return False, f"relay answered {response.status_code}"


def cmd_status(hold: StoreHold, relay_url: str | None, token: str | None,
               keyring: str | None) -> int:
    def read(db: Database) -> dict[str, Any]:
        pending, failed = db.reader.call(store.outbox_counts)
        failures = [
            {"outbox_id": r.outbox_id, "kind": r.kind, "conversation_sid": r.conversation_sid,
             "lead_id": r.lead_id, "reason": r.reason, "message": r.error_message}
            for r in db.reader.call(store.list_outbox) if r.state == store.FAILED
        ]
        return {"pending": pending, "failed": failed, "failures": failures,
                "cursor": db.reader.call(store.cursor_of),
                "last_synced_at": db.reader.call(store.get_meta, "last_synced_at")}

    out = hold.call(read)
    online, error = _probe(relay_url, token, keyring)
    _print(_with_repair(hold, {**out, "online": online, "relay_url": relay_url,
                               "error": error or None}))
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
            code = await _until_idle(engine, stop, timeout)
        else:
            await stop.wait()
    finally:
        status = engine.status()
        if status.repair is not None:
            with contextlib.suppress(EngineError):
                await engine.acknowledge_repair()
        await engine.stop()
    out: dict[str, Any] = {
        "pending": status.pending, "failed": status.failed,
        "online": status.state is SyncState.ONLINE, "cursor": status.cursor,
        "state": status.state.value, "last_error": status.last_error}
    if status.repair is not None:
        out["repair"] = report_dict(status.repair)
    if status.storage is not None:
        out.update(error=status.storage.reason, message=status.storage.message,
                   folder=status.storage.folder)
    _print(out)
    return code


async def _until_idle(engine: SyncEngine, stop: asyncio.Event, timeout: float | None) -> int:
    idle = asyncio.create_task(engine.wait_idle(timeout))
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({idle, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if idle not in done:
        idle.cancel()
        return 0
    state = engine.status().state
    if idle.result():
        return 2 if engine.status().failed else 0
    if state is SyncState.AUTH_REQUIRED:
        return 4
    if state is SyncState.STORAGE_PROBLEM:
        return EXIT_STORAGE
    return 5


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line of JSON, like every other error of this command."""

    def error(self, message: str) -> NoReturn:
        _print({"error": "usage", "message": f"{message} (see web2text-sync --help)"})
        raise SystemExit(EXIT_LOCAL)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="web2text-sync", description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="local store directory (default: the platform's user data dir)")
    parser.add_argument("--relay-url", default=None, help="relay base URL (remembered)")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
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
    try:
        return _command(args)
    except StorageError as exc:
        problem = exc.problem
        _print({"error": problem.reason, "message": problem.message, "folder": problem.folder,
                "needed_bytes": problem.needed_bytes, "free_bytes": problem.free_bytes})
        return EXIT_STORAGE
    except EngineError as exc:
        _print({"error": exc.reason, "message": exc.message})
        return EXIT_LOCAL
    except Exception as exc:  # a bug: one line for the user, the traceback with -v
        log.info("web2text-sync failed", exc_info=exc)
        _print({"error": "internal_error",
                "message": f"{type(exc).__name__}: {exc} (run with -v for details)"})
        return EXIT_LOCAL


def _command(args: argparse.Namespace) -> int:
    data_dir = args.data_dir or default_data_dir()
    hold = StoreHold(data_dir)
    try:
        relay_url = _relay_url(hold, args.relay_url)
        if args.command == "send":
            return cmd_send(hold, args)
        if relay_url and _refuse_url(relay_url):
            return 1
        token, keyring = token_and_problem(relay_url) if relay_url else (None, None)
        if args.command == "status":
            return cmd_status(hold, relay_url, token, keyring)
    finally:
        hold.close()
    if not relay_url or not token:
        if keyring:
            _print({"error": "keyring_unavailable",
                    "message": f"the keyring could not be read ({keyring}): unlock it, or "
                               "give the staff key in W2T_TOKEN"})
        else:
            _print({"error": "not_configured",
                    "message": "need --relay-url and a staff key (keyring or W2T_TOKEN)"})
        return EXIT_NOT_CONFIGURED
    return asyncio.run(cmd_run(data_dir, relay_url, token, args.until_idle, args.timeout))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
