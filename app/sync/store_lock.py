"""One running engine per store: two would deliver one outbox out of order."""

from __future__ import annotations

from pathlib import Path

from filelock import FileLock, Timeout

from app.sync.api import EngineError
from app.sync.storage import StorageError, classify


def lock_store(data_dir: Path) -> FileLock:
    """Take the store's lock, or refuse with `store_in_use`/`store_lock_unavailable`.

    An OS lock (flock, or LockFileEx on Windows) that goes away with the
    process, so a crash never leaves the store locked. (`web2text-sync
    send`/`status` do not take it.)
    """
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:  # a full, read-only or vanished data folder
        raise classify(exc, data_dir) or exc from None
    # thread_local=False: the UI may stop the engine from another thread than started it.
    # No soft-lock fallback on a file system without OS locks: a plain lock file would
    # outlive a crash and keep the store "in use" until someone deleted it.
    lock = FileLock(data_dir / "engine.lock", mode=0o600, thread_local=False,
                    fallback_to_soft=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise EngineError("store_in_use",
                          f"another engine is already running on {data_dir}") from None
    except OSError as exc:
        problem = classify(exc, data_dir)
        if isinstance(problem, StorageError):
            raise problem from None
        raise EngineError("store_lock_unavailable",
                          f"the file system of {data_dir} cannot lock files ({exc.strerror})"
                          ) from None
    return lock


def unlock_store(lock: FileLock | None) -> None:
    if lock is not None:
        lock.release()
