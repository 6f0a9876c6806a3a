"""The inbox's first page as it was last shown, so the next start paints rows at once.

Starting the engine (its SQLAlchemy stack, opening the store, the first query) takes
longer than showing the window. The rows the inbox last showed (unfiltered, first
page) are kept in a small file next to the profiles; at start they are painted with
the window, and the engine's first answer replaces them a moment later. It holds
what the local store holds (names, phones, previews), so it gets the same protection:
owner-only permissions, written atomically, never shared between staff profiles.
A missing, unreadable or older-format file is simply ignored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from app.sync.api import LeadRow

log = logging.getLogger(__name__)

FORMAT = 1
#: rows kept: a screenful and then some (the inbox pages in more as you scroll)
MAX_ROWS = 100
_DATETIMES = frozenset(f.name for f in fields(LeadRow) if "datetime" in str(f.type))


def snapshot_path(data_dir: Path, key_user: str) -> Path:
    """One file per staff profile (`Profile.key_user`: relay URL and staff id)."""
    digest = hashlib.sha256(key_user.encode("utf-8")).hexdigest()[:24]
    return Path(data_dir) / "inbox-cache" / f"{digest}.json"


def save(path: Path, rows: Sequence[LeadRow], total: int) -> None:
    """Write atomically with owner-only permissions (blocking: call off the Qt thread)."""
    payload = {
        "format": FORMAT,
        "total": int(total),
        "rows": [_encode(r) for r in rows[:MAX_ROWS]],
    }
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(payload, f, separators=(",", ":"))
    os.replace(tmp, path)


def load(path: Path) -> tuple[list[LeadRow], int] | None:
    """The rows and total last saved, or None (missing, damaged, other format)."""
    try:
        with open(path, encoding="utf-8") as f:
            payload = json.load(f)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            return None
        rows = [_decode(r) for r in payload["rows"]]
        return rows, max(int(payload["total"]), len(rows))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.info("inbox snapshot ignored: %s", type(exc).__name__)
        return None


def remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _encode(row: LeadRow) -> dict[str, Any]:
    out = asdict(row)
    for name in _DATETIMES:
        value = out[name]
        out[name] = value.isoformat() if isinstance(value, datetime) else None
    return out


def _decode(data: dict[str, Any]) -> LeadRow:
    values = dict(data)
    for name in _DATETIMES:
        raw = values.get(name)
        values[name] = datetime.fromisoformat(raw) if raw else None
    if values.get("last_activity_at") is None:
        raise ValueError("row without last_activity_at")
    return LeadRow(**values)
