"""Photo thumbnails for the thread: never made on the Qt thread.

`ThumbnailStore.image(item)` answers from memory at once (or None, and starts the
load); the load runs as a task: the photo's file comes from the engine (fetched
once into the data folder) or is an attachment not sent yet, and is decoded and
scaled down in a worker thread (`QImageReader` with a scaled size: a large JPEG is
decoded at the small size) and kept on disk beside the photos (`media/thumbs/`), so
a thread opened again paints from a small file. `ready` says when one arrived.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Signal
from PySide6.QtGui import QImage, QImageReader

from app.sync.api import Engine, EngineError, MediaItem
from app.ui.tasks import Tasks

log = logging.getLogger(__name__)

#: the longest side of a thumbnail, in pixels
THUMB_SIDE = 240
#: thumbnails kept in memory (a thread shows a few dozen at most)
MEMORY_ITEMS = 200


def media_key(item: MediaItem) -> str:
    return item.sid or item.local_path or ""


def scaled_image(source: Path, side: int = THUMB_SIDE) -> QImage:
    """Decode `source` at most `side` pixels on its longest side (blocking: a worker's)."""
    reader = QImageReader(str(source))
    reader.setAutoTransform(True)
    size = reader.size()
    if size.isValid() and max(size.width(), size.height()) > side:
        scale = side / max(size.width(), size.height())
        reader.setScaledSize(
            QSize(max(1, round(size.width() * scale)), max(1, round(size.height() * scale)))
        )
    image = reader.read()
    if image.isNull():
        raise OSError(f"not a readable image: {reader.errorString()}")
    return image


def load_thumbnail(source: Path, cached: Path | None) -> QImage:
    """The thumbnail from its disk copy, or made from `source` and saved (blocking)."""
    if cached is not None and cached.exists():
        image = QImage(str(cached))
        if not image.isNull():
            return image
    image = scaled_image(source)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(cached.name + ".part.png")
        if image.save(str(tmp)):
            os.replace(tmp, cached)
    return image


class ThumbnailStore(QObject):
    ready = Signal(str)  # the media key whose thumbnail arrived
    failed = Signal(str)

    def __init__(self, tasks: Tasks, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self.engine: Engine | None = None
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self._loading: set[str] = set()
        self._failed: set[str] = set()

    def set_engine(self, engine: Engine | None) -> None:
        self.engine = engine
        self._images.clear()
        self._failed.clear()

    def image(self, item: MediaItem) -> QImage | None:
        """The thumbnail if it is here; otherwise None, and its load starts."""
        key = media_key(item)
        image = self._images.get(key)
        if image is not None:
            self._images.move_to_end(key)
            return image
        if key and key not in self._loading and key not in self._failed:
            self._loading.add(key)
            self._tasks.spawn(self._load(key, item))
        return None

    @property
    def loading(self) -> int:
        """Thumbnails being made now."""
        return len(self._loading)

    def has_failed(self, item: MediaItem) -> bool:
        return media_key(item) in self._failed

    async def source_file(self, item: MediaItem) -> Path:
        """The photo's full file: the attachment's copy here, or the engine's."""
        # (asyncio is imported on use: the window's first frame is painted before it is)
        import asyncio

        if item.local_path:
            local = Path(item.local_path)
            if await asyncio.to_thread(local.exists):
                return local
        if item.sid is None or self.engine is None:
            raise EngineError("media_unavailable", "the photo is not here")
        return await self.engine.media_file(item.sid)

    async def _load(self, key: str, item: MediaItem) -> None:
        import asyncio

        try:
            source = await self.source_file(item)
            cached = source.parent / "thumbs" / f"{source.name}.png" if item.sid else None
            image = await asyncio.to_thread(load_thumbnail, source, cached)
        except (EngineError, OSError) as exc:
            log.info("thumbnail not loaded: %s", exc)
            self._failed.add(key)
            self.failed.emit(key)
            return
        finally:
            self._loading.discard(key)
        self._images[key] = image
        while len(self._images) > MEMORY_ITEMS:
            self._images.popitem(last=False)
        self.ready.emit(key)

    def retry_failed(self) -> None:
        """Photos that could not load (offline) are tried again on the next paint."""
        self._failed.clear()
