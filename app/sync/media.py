"""Photos in the data folder (no Qt; blocking file work runs in worker threads).

- `stage_attachment`: a photo staff attach is checked (JPEG, PNG or GIF by its
  bytes, at most 5 MB: the relay's rules) and copied into `attachments/` at once,
  so the outbox row that sends it survives the original file moving or a restart.
- `MediaCache`: message photos by MediaSid under `media/`, fetched from the relay
  once (`GET /v1/media/{sid}`) and written atomically; a sent attachment's copy is
  adopted under its new sid, so staff never download their own photo.
- `MediaPrefetcher`: the photos of messages just mirrored from the feed are fetched
  into the cache at once (a few at a time), not when a thread first paints them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ulid import ULID

from app.sync.api import EngineError, MediaItem

log = logging.getLogger(__name__)

#: the relay's upload limit (DESIGN: at most 5 MB)
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
)
_SID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class StagedAttachment:
    path: Path
    content_type: str
    filename: str
    size: int

    def payload(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "contentType": self.content_type,
            "filename": self.filename,
            "size": self.size,
        }

    def item(self) -> MediaItem:
        return MediaItem(None, self.content_type, self.filename, self.size, str(self.path))


def sniff_image(head: bytes) -> tuple[str, str] | None:
    """(content type, extension) of a JPEG, PNG or GIF by its first bytes."""
    for magic, content_type, ext in _SIGNATURES:
        if head.startswith(magic):
            return content_type, ext
    return None


def stage_attachment(data_dir: Path, source: Path) -> StagedAttachment:
    """Check a photo and copy it into the data folder (blocking)."""
    try:
        size = source.stat().st_size
        with source.open("rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise EngineError("attachment_unreadable", f"cannot read {source.name}: {exc}") from exc
    kind = sniff_image(head)
    if kind is None:
        raise EngineError("unsupported_media_type", "only JPEG, PNG and GIF photos can be sent")
    if size > MAX_ATTACHMENT_BYTES:
        raise EngineError("media_too_large", "a photo may be at most 5 MB")
    content_type, ext = kind
    folder = data_dir / "attachments"
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{ULID()}{ext}"
    tmp = target.with_suffix(ext + ".part")
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except OSError:  # (a full disk: the half copy would hold on to the last space)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    name = source.name if source.suffix else source.name + ext
    return StagedAttachment(target, content_type, name[:120], size)


def media_items(raw: str | None) -> tuple[MediaItem, ...]:
    """A stored message's `media` JSON as items."""
    import json

    try:
        entries = json.loads(raw or "[]")
    except ValueError:
        return ()
    out = []
    for e in entries if isinstance(entries, list) else []:
        if isinstance(e, dict) and (e.get("sid") or e.get("localPath")):
            out.append(
                MediaItem(
                    sid=e.get("sid") or None,
                    content_type=str(e.get("contentType") or ""),
                    filename=e.get("filename") or None,
                    size=int(e.get("size") or 0),
                    local_path=e.get("localPath") or None,
                )
            )
    return tuple(out)


class MediaCache:
    """`media/<sid>`: each photo once on disk; concurrent asks share one download."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = Path(data_dir) / "media"
        self._loading: dict[str, asyncio.Future[Path]] = {}

    def path_for(self, sid: str) -> Path:
        if not _SID.match(sid):
            raise EngineError("media_unavailable", "not a media sid")
        return self.folder / sid

    async def file(self, sid: str, fetch: Any) -> Path:
        """The photo's file; `fetch(sid)` (async, bytes) is called at most once at a time."""
        path = self.path_for(sid)
        if await asyncio.to_thread(path.exists):
            return path
        pending = self._loading.get(sid)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Path] = asyncio.get_running_loop().create_future()
        self._loading[sid] = future
        try:
            data = await fetch(sid)
            await asyncio.to_thread(self._write, path, data)
            future.set_result(path)
            return path
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: nobody else may be waiting
            raise
        finally:
            self._loading.pop(sid, None)

    def _write(self, path: Path, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{ULID()}.part")
        tmp.write_bytes(data)
        os.replace(tmp, path)

    def adopt(self, staged: str, sid: str) -> None:
        """A sent attachment's copy becomes the cached photo of its sid (blocking)."""
        path = self.path_for(sid)
        self.folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            if not path.exists():
                os.replace(staged, path)
            else:
                os.remove(staged)


#: photos fetched ahead at the same time (a burst of MMS must not crowd out the feed)
PREFETCH_PARALLEL = 3


class MediaPrefetcher:
    """Fetches the photos of newly mirrored messages into the `MediaCache` at once, a few
    at a time, so a thread that paints one finds its file here (or its download under
    way: the cache shares it). A failed fetch is left for the thread's own ask."""

    def __init__(self, cache: MediaCache, fetch: Any, parallel: int = PREFETCH_PARALLEL) -> None:
        self._cache = cache
        self._fetch = fetch
        self._parallel = parallel
        self._slots: asyncio.Semaphore | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def want(self, sids: list[str]) -> None:
        """Start fetching `sids` (on the engine's loop; returns at once)."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._parallel)
        for sid in sids:
            if sid in self._tasks or not _SID.match(sid):
                continue
            task = asyncio.create_task(self._one(sid, self._slots), name=f"w2t-media-{sid}")
            self._tasks[sid] = task
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        sid = task.get_name().removeprefix("w2t-media-")
        if self._tasks.get(sid) is task:
            del self._tasks[sid]

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def _one(self, sid: str, slots: asyncio.Semaphore) -> None:
        async with slots:
            try:
                await self._cache.file(sid, self._fetch)
            except (EngineError, OSError) as exc:
                log.info("photo not fetched ahead: %s", exc)

    async def cancel(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
