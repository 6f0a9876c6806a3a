"""The local store's health as a UI sees it: a data folder that takes no writes, a
repair of a damaged store. Pure value types, re-exported by `app.sync.api`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StorageProblem:
    """Why the data folder takes no writes now; the engine carries on by itself once it
    does again. `message` is for the user: which folder, how much room, what to do."""

    reason: str  # disk_full | data_folder_read_only | data_folder_missing | disk_error
    folder: str
    message: str
    needed_bytes: int | None = None  # disk_full: free space the store wants
    free_bytes: int | None = None  # disk_full: free space when it was seen


@dataclass(frozen=True, slots=True)
class SavedItem:
    """An outbox row kept through a repair of the local store."""

    kind: str  # send_message | update_lead | mark_read | a newer kind
    conversation_sid: str | None
    lead_id: str | None
    preview: str  # a send's text (shortened), or what the row does


@dataclass(frozen=True, slots=True)
class RepairReport:
    """What a repair of a damaged local store kept and what it could not read.

    The engine keeps it until the user has been told (`Engine.acknowledge_repair`)."""

    at: datetime
    detail: str  # what SQLite said about the damage
    kept_at: str  # where the damaged file was set aside (never deleted)
    saved: tuple[SavedItem, ...] = ()
    #: outbox rows that could not be read (counted by the keys the outbox's index lists;
    #: an estimate when that index is damaged too)
    unreadable: int = 0
    #: the outbox itself could not be found in the damaged file
    outbox_unreadable: bool = False
    #: files of queued rows that could not be read, left where they were
    orphan_files: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        """The user's one notice: calm, what was kept, what was not, where the file is."""
        sends = sum(1 for s in self.saved if s.kind == "send_message")
        others = len(self.saved) - sends
        kept = []
        if sends:
            kept.append(f"{sends} message{'s' if sends != 1 else ''} waiting to be sent")
        if others:
            kept.append(f"{others} other change{'s' if others != 1 else ''}")
        text = ("Web2Text found damage in its local data on this PC and rebuilt it from the "
                "relay. ")
        text += (f"Kept: {' and '.join(kept)}; they go out as usual. " if kept
                 else "Nothing was waiting to be sent. ")
        if self.outbox_unreadable:
            text += "The list of items waiting to be sent could not be read at all. "
        elif self.unreadable:
            text += (f"Up to {self.unreadable} waiting item"
                     f"{'s' if self.unreadable != 1 else ''} could not be read. ")
        if self.orphan_files:
            n = len(self.orphan_files)
            text += (f"{n} attached file{'s' if n != 1 else ''} of unreadable items "
                     f"{'are' if n != 1 else 'is'} kept, untouched, in the data folder. ")
        return text + f"The damaged file is kept at {self.kept_at}."
