"""What a failed disk operation means for the store: damage, or a storage problem.

SQLite and the OS report the same few situations in many ways (result codes,
errno values, SQLAlchemy wrapping). `classify` turns them into one of two
`EngineError`s that the engine acts on:

- `StoreDamaged` (`store_damaged`): SQLITE_CORRUPT / SQLITE_NOTADB, "database disk
  image is malformed". The engine sets the file aside and rebuilds (`app.sync.repair`).
- `StorageError`: the data folder cannot take writes right now. Its reason says why
  (`disk_full`, `data_folder_read_only`, `data_folder_missing`, `disk_error`) and its
  `problem` is what the user is told: which folder, how much room, what to do. The
  engine pauses and carries on by itself once a probe write succeeds.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from app.sync.api import EngineError, StorageProblem
from app.sync.inbox import DB_FILENAME

DISK_FULL = "disk_full"
READ_ONLY = "data_folder_read_only"
MISSING = "data_folder_missing"
DISK_ERROR = "disk_error"
STORE_DAMAGED = "store_damaged"

#: room a write needs besides the WAL already there: the WAL may grow to about its
#: checkpoint size (1,000 pages) before it is copied back into the store
WAL_ROOM = 4 * 1024 * 1024
#: free space below which an I/O error is taken for a full disk
NEARLY_FULL = 1024 * 1024

# SQLite primary result codes (the low byte of an extended code)
_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_IOERR = 3, 8, 10
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 11, 13, 14, 26

_DAMAGE_TEXTS = ("database disk image is malformed", "file is not a database",
                 "malformed database schema")


class StoreDamaged(EngineError):
    """The store file is damaged (SQLite says corrupt / not a database)."""

    def __init__(self, detail: str) -> None:
        super().__init__(STORE_DAMAGED, f"the local store is damaged: {detail}")
        self.detail = detail


class StorageError(EngineError):
    """The data folder cannot take writes now; `problem` says what to do."""

    def __init__(self, problem: StorageProblem) -> None:
        super().__init__(problem.reason, problem.message)
        self.problem = problem


def classify(exc: BaseException, folder: Path) -> EngineError | None:
    """The damage or storage problem `exc` means, or None for any other error."""
    if isinstance(exc, StoreDamaged | StorageError):
        return exc
    orig = getattr(exc, "orig", None)  # SQLAlchemy's DBAPIError wraps the driver's error
    if isinstance(orig, BaseException):
        exc = orig
    if isinstance(exc, sqlite3.Error):
        return _from_sqlite(exc, folder)
    if isinstance(exc, OSError):
        return _from_os(exc, folder)
    return None


def _from_sqlite(exc: sqlite3.Error, folder: Path) -> EngineError | None:
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    text = str(exc)
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or any(t in text for t in _DAMAGE_TEXTS):
        return StoreDamaged(text)
    if primary == _SQLITE_FULL or "database or disk is full" in text:
        return StorageError(problem_for(DISK_FULL, folder))
    if primary in (_SQLITE_READONLY, _SQLITE_PERM) or "readonly database" in text:
        return StorageError(problem_for(_read_only_or_missing(folder), folder))
    if primary in (_SQLITE_CANTOPEN, _SQLITE_IOERR) or "unable to open database" in text \
            or "disk I/O error" in text:
        return StorageError(problem_for(_unwritable_reason(folder), folder))
    return None


def _from_os(exc: OSError, folder: Path) -> EngineError | None:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(problem_for(DISK_FULL, folder))
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StorageError(problem_for(READ_ONLY if folder.is_dir() else MISSING, folder))
    if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.EIO, errno.ENODEV, errno.ENXIO,
                     errno.ESTALE):
        return StorageError(problem_for(_unwritable_reason(folder), folder))
    return None


def _read_only_or_missing(folder: Path) -> str:
    # (SQLite answers "read-only" also for a store file removed under an open connection)
    if not folder.is_dir() or not (folder / DB_FILENAME).exists():
        return MISSING
    return READ_ONLY


def _unwritable_reason(folder: Path) -> str:
    """Why a store that failed to open or to write is not usable: the folder is gone,
    it refuses writes, or the disk reports errors."""
    if not folder.is_dir() or not (folder / DB_FILENAME).exists():
        return MISSING
    if not os.access(folder, os.W_OK):
        return READ_ONLY
    free = free_bytes(folder)
    if free is not None and free < NEARLY_FULL:
        # (a full disk fails the WAL's own files as I/O errors before any "disk is full")
        return DISK_FULL
    return DISK_ERROR


def check_present(folder: Path) -> None:
    """Raise `StorageError(data_folder_missing)` when the store file is not there.

    A drive unplugged (USB, network) can leave the open file handles working on a
    detached file system while the path is gone: a write then would be lost with it.
    """
    if not (folder / DB_FILENAME).exists():
        raise StorageError(problem_for(MISSING, folder))


def room_needed(folder: Path) -> int:
    """Free bytes the store wants for its next writes: room for the WAL to grow."""
    try:
        wal = (folder / (DB_FILENAME + "-wal")).stat().st_size
    except OSError:
        wal = 0
    return WAL_ROOM + wal


def free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def problem_for(reason: str, folder: Path) -> StorageProblem:
    """What the user is told: which folder, what happened, how much room, what to do."""
    where = str(folder)
    if reason == DISK_FULL:
        needed, free = room_needed(folder), free_bytes(folder)
        now = "" if free is None else f" ({size_text(free)} free now)"
        return StorageProblem(
            reason, where,
            f"The disk holding {where} is full{now}. Web2Text needs about "
            f"{size_text(needed)} free there to save messages. Free some space on that "
            "disk (empty the Recycle Bin or Trash, delete large downloads); Web2Text "
            "carries on by itself. Nothing already saved is lost.",
            needed_bytes=needed, free_bytes=free)
    if reason == READ_ONLY:
        return StorageProblem(
            reason, where,
            f"Web2Text cannot write to its data folder {where}: the folder or its drive is "
            "read-only. Make it writable again (check the drive's lock switch or the "
            "folder's permissions); Web2Text carries on by itself. Nothing already saved "
            "is lost.")
    if reason == MISSING:
        return StorageProblem(
            reason, where,
            f"Web2Text's data folder {where} is not available: was a USB or network drive "
            "unplugged? Plug it back in or reconnect it; Web2Text carries on by itself. "
            "Nothing already saved is lost.")
    return StorageProblem(
        DISK_ERROR, where,
        f"The disk holding {where} reports errors. Check the drive (and its cable); "
        "Web2Text carries on by itself once it can write there again. Nothing already "
        "saved is lost.")


def size_text(n: int) -> str:
    """Bytes as people read them: '512 KB', '4.2 MB', '1.5 GB'."""
    if n < 1024 * 1024:
        return f"{max(1, round(n / 1024))} KB"
    if n < 1024 ** 3:
        return f"{n / 1024 ** 2:.1f} MB"
    return f"{n / 1024 ** 3:.1f} GB"
