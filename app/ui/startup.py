"""The first frame's inbox rows, read from the local store on a worker thread.

Standard library and `app.ui.profiles` only. `main.build` starts the read once the
window's modules are imported, so the store is read (sqlite3 lets go of the
interpreter) while the window is built, and the rows are there by the time the window
maps (docs/desktop.md, "Start-up order").
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from app.ui.profiles import ProfileStore

log = logging.getLogger(__name__)

Page = tuple[list[Any], int]  # (LeadRow rows, total)

#: where builds before the stored first page kept a JSON copy of each profile's inbox
#: (names, phones, message previews), in the data folder: nothing reads it any more
OLD_SNAPSHOTS = "inbox-cache"


def remove_old_snapshots(data_dir: Path) -> None:
    """Delete the inbox snapshots an earlier build left in `data_dir`, if any.

    Blocking (call it off the Qt thread). Never raises for the file system: a folder
    that cannot be deleted is logged and tried again at the next start."""
    import shutil  # (not on the first frame's path)

    folder = data_dir / OLD_SNAPSHOTS
    # only the folder that build made: nothing through a link, nothing else of that name
    if folder.is_symlink() or not folder.is_dir():
        return
    try:
        shutil.rmtree(folder)
    except OSError as exc:
        log.warning("could not delete the old inbox snapshots in %s: %s", folder, exc)
    else:
        log.info("deleted the old inbox snapshots in %s", folder)


class StoredFirstPage:
    """`app.sync.inbox.first_page` of one store, on a daemon thread of its own."""

    def __init__(self, store_dir: Path | None) -> None:
        self.store_dir = store_dir
        self._done = threading.Event()
        self._page: Page | None = None
        if store_dir is None:
            self._done.set()
            return
        # imported here, so that the thread needs the interpreter for little more than
        # making the rows: the query itself runs without it (sqlite3 lets go of it)
        from app.sync import inbox  # stdlib sqlite3 only: not the engine's stack

        self._first_page = inbox.first_page
        # a daemon: a store that hangs (a network drive) never holds the exit back
        threading.Thread(target=self._read, name="w2t-first-page", daemon=True).start()

    @classmethod
    def for_start(
        cls, data_dir: Path, *, demo: bool = False, relay_url: str | None = None
    ) -> StoredFirstPage:
        """The last profile's store, unless this start signs in afresh (demo, provisioning)
        and so will not show that profile."""
        if demo or relay_url:
            return cls(None)
        profiles = ProfileStore(data_dir)
        last = profiles.last_used()
        return cls(None if last is None else profiles.engine_dir(last))

    def _read(self) -> None:
        try:
            assert self.store_dir is not None
            self._page = self._first_page(self.store_dir)
        except Exception:  # a broken store only costs the head start
            log.exception("reading the stored first page failed")
        finally:
            self._done.set()

    def result(self, timeout: float) -> Page | None:
        """The rows and total, or None (no store, not readable, or not within `timeout`)."""
        return self._page if self._done.wait(timeout) else None
