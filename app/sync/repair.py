"""A damaged local store: found, set aside, rebuilt with every readable outbox row.

- **Found**: at start after a shutdown that was not clean (`engine.running` is still
  in the data folder: the engine writes it when it starts and removes it when it
  stops) by `PRAGMA quick_check`, and at any time by SQLite's "malformed" / "not a
  database" errors (`app.sync.storage.StoreDamaged`).
- **Rebuilt** (`repair_store`, blocking, with no connection open): the outbox is read
  from the damaged file (`app.sync.salvage`) into a new store built in `rebuild/`;
  then the damaged file (with its `-wal` and `-shm`) is renamed
  `sync-damaged-<UTC time>.db`, never deleted, and the new store takes its place. A
  crash in between is finished at the next start (`finish_interrupted`). The mirror
  is not copied: the engine pulls it again from the start of the change feed.
- **Reported**: a `RepairReport` kept in the new store's meta until the user has been
  told (`acknowledge`).

Queued rows keep their ids and idempotency keys, so a row that had in fact gone
before the damage is answered by the relay with its first answer: never sent twice.
Files a row names (a send's photo, `payload["attachment"]["path"]`, staged in
`attachments/`; `payload["files"]` under `outbox-files/` for other kinds) are never
touched; files there that no kept row names are listed in the report.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.sync.api import RepairReport, SavedItem
from app.sync.inbox import DB_FILENAME, parse_ts
from app.sync.salvage import Salvage, salvage
from app.sync.storage import StorageError, StoreDamaged, problem_for

log = logging.getLogger(__name__)

RUNNING_MARKER = "engine.running"
REBUILD_DIR = "rebuild"
READY_FLAG = "ready"
OUTBOX_FILES = "outbox-files"
#: photos staff attached, copied here until sent (`app.sync.media.stage_attachment`)
ATTACHMENTS = "attachments"
_SIDECARS = ("", "-wal", "-shm")


# --------------------------------------------------------------------------- clean shutdown


def was_unclean(data_dir: Path) -> bool:
    """The last engine on this store did not stop cleanly (crash, power cut, kill)."""
    return (data_dir / RUNNING_MARKER).exists()


def mark_running(data_dir: Path) -> None:
    try:
        (data_dir / RUNNING_MARKER).touch()
    except OSError as exc:  # (a full disk: the next start then skips its check)
        log.warning("could not write the running marker: %s", exc)


def mark_stopped(data_dir: Path) -> None:
    with contextlib.suppress(OSError):
        (data_dir / RUNNING_MARKER).unlink(missing_ok=True)


def check_integrity(conn: sqlite3.Connection) -> None:
    """Raise `StoreDamaged` unless `PRAGMA quick_check` finds the store sound.

    (A page damaged badly enough makes the check itself fail with "malformed", which
    the store's thread raises as `StoreDamaged` too.)
    """
    rows = conn.execute("PRAGMA quick_check").fetchall()
    problems = [str(r[0]) for r in rows if str(r[0]) != "ok"]
    if problems:
        raise StoreDamaged(problems[0])


# --------------------------------------------------------------------------- rebuilding


def repair_store(data_dir: Path, detail: str, now: datetime) -> RepairReport:
    """Salvage, rebuild and swap (see the module's docstring); blocking. No connection to
    the store may be open."""
    from app.sync.db import Database
    from app.sync.store import restore_salvaged

    found = salvage(data_dir / DB_FILENAME)
    rebuild = data_dir / REBUILD_DIR
    shutil.rmtree(rebuild, ignore_errors=True)
    report = _report(found, data_dir, detail, now)
    try:
        db = Database.open(rebuild)
        try:
            db.writer.call(restore_salvaged, found.rows, found.meta, report_json(report))
        finally:
            db.close()
    except StorageError as exc:  # no room for the new store: the data folder's problem
        shutil.rmtree(rebuild, ignore_errors=True)
        raise StorageError(problem_for(exc.reason, data_dir)) from exc
    (rebuild / READY_FLAG).write_text(report.kept_at, encoding="utf-8")
    _swap(data_dir, Path(report.kept_at))
    log.warning("local store repaired: %d queued rows kept, up to %d unreadable; damaged "
                "file kept at %s", len(report.saved), report.unreadable, report.kept_at)
    return report


def finish_interrupted(data_dir: Path) -> None:
    """A repair cut short: a ready rebuild takes the store's place, an unfinished one is
    dropped (the damaged store is still in place and is repaired again)."""
    rebuild = data_dir / REBUILD_DIR
    if not rebuild.is_dir():
        return
    ready = rebuild / READY_FLAG
    if ready.exists():
        _swap(data_dir, Path(ready.read_text(encoding="utf-8").strip()))
    else:
        shutil.rmtree(rebuild, ignore_errors=True)


def _swap(data_dir: Path, kept: Path) -> None:
    """The damaged files go aside (renamed), the rebuilt store comes in, `rebuild/` goes."""
    rebuild = data_dir / REBUILD_DIR
    for suffix in _SIDECARS:
        damaged = data_dir / (DB_FILENAME + suffix)
        if damaged.exists():
            os.replace(damaged, kept.with_name(kept.name + suffix))
    for suffix in _SIDECARS:
        new = rebuild / (DB_FILENAME + suffix)
        if new.exists():
            os.replace(new, data_dir / (DB_FILENAME + suffix))
    shutil.rmtree(rebuild, ignore_errors=True)


def kept_name(data_dir: Path, now: datetime) -> Path:
    """Where the damaged store goes: `sync-damaged-<UTC time>.db`, never over another."""
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = data_dir / f"sync-damaged-{stamp}.db"
    n = 1
    while any(path.with_name(path.name + s).exists() for s in _SIDECARS):
        n += 1
        path = data_dir / f"sync-damaged-{stamp}-{n}.db"
    return path


# --------------------------------------------------------------------------- the report


def _report(found: Salvage, data_dir: Path, detail: str, now: datetime) -> RepairReport:
    rows = found.rows
    named = {f for r in rows for f in _files(r, data_dir)}
    return RepairReport(
        at=now, detail=detail, kept_at=str(kept_name(data_dir, now)),
        saved=tuple(_saved(r) for r in rows), unreadable=found.unreadable,
        outbox_unreadable=found.outbox_unreadable,
        orphan_files=tuple(f for f in _outbox_files(data_dir) if f not in named))


def _saved(row: dict[str, Any]) -> SavedItem:
    payload = json.loads(row["payload"])
    kind = str(row["kind"])
    if kind == "send_message":
        body = str(payload.get("body", ""))
        preview = body if len(body) <= 60 else body[:59] + "…"
        if isinstance(payload.get("attachment"), dict):
            preview = f"{preview} (+ photo)" if preview else "photo"
    elif kind == "update_lead":
        preview = "lead change: " + ", ".join(sorted(payload.get("patch", {})))
    elif kind == "mark_read":
        preview = "read receipt"
    else:
        preview = kind.replace("_", " ")
    return SavedItem(kind, row.get("conversation_sid"), row.get("lead_id"), preview)


def _files(row: dict[str, Any], data_dir: Path) -> list[str]:
    """The files a row names: a send's photo (`attachment.path`) and any `files`, as
    paths relative to the data folder."""
    payload = json.loads(row["payload"])
    files = payload.get("files") or []
    named = [str(f) for f in files] if isinstance(files, list) else []
    attachment = payload.get("attachment")
    if isinstance(attachment, dict) and attachment.get("path"):
        path = Path(str(attachment["path"]))
        named.append(str(path.relative_to(data_dir)) if path.is_relative_to(data_dir)
                     else str(path))
    return named


def _outbox_files(data_dir: Path) -> list[str]:
    """Files waiting to go with queued rows: photos staged in `attachments/` and files
    under `outbox-files/` (half-copied `.part` files are not)."""
    found: list[str] = []
    for name in (ATTACHMENTS, OUTBOX_FILES):
        folder = data_dir / name
        if folder.is_dir():
            found += [str(p.relative_to(data_dir)) for p in folder.rglob("*")
                      if p.is_file() and p.suffix != ".part"]
    return sorted(found)


def report_json(report: RepairReport) -> str:
    return json.dumps({
        "at": report.at.isoformat(), "detail": report.detail, "keptAt": report.kept_at,
        "saved": [{"kind": s.kind, "conversationSid": s.conversation_sid,
                   "leadId": s.lead_id, "preview": s.preview} for s in report.saved],
        "unreadable": report.unreadable, "outboxUnreadable": report.outbox_unreadable,
        "orphanFiles": list(report.orphan_files),
    })


def report_of(text: str | None) -> RepairReport | None:
    if not text:
        return None
    try:
        d = json.loads(text)
        return RepairReport(
            at=parse_ts(d["at"]) or datetime.now(UTC), detail=str(d["detail"]),
            kept_at=str(d["keptAt"]),
            saved=tuple(SavedItem(s["kind"], s.get("conversationSid"), s.get("leadId"),
                                  s.get("preview", "")) for s in d.get("saved", [])),
            unreadable=int(d.get("unreadable", 0)),
            outbox_unreadable=bool(d.get("outboxUnreadable", False)),
            orphan_files=tuple(d.get("orphanFiles", [])))
    except (ValueError, KeyError, TypeError):
        log.warning("an unreadable repair report was dropped")
        return None


def report_dict(report: RepairReport) -> dict[str, Any]:
    """The report as `web2text-sync` prints it."""
    return {**json.loads(report_json(report)), "message": report.message}
