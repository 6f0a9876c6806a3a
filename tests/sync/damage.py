"""Real damage for the sync tests: bytes overwritten in a store's pages, small file
systems that fill up, folders that turn read-only or vanish (mounts; the tests skip
with the reason where this machine cannot mount)."""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.sync.inbox import DB_FILENAME

PAGE = 4096


def checkpoint(data_dir: Path) -> None:
    """Copy the WAL into the store file (what a clean close does), so that the pages
    overwritten below are the ones SQLite reads."""
    conn = sqlite3.connect(data_dir / DB_FILENAME)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def pages_of(data_dir: Path, table: str, kind: str = "leaf") -> list[int]:
    """The page numbers of `table`'s b-tree pages of `kind` (leaf / internal)."""
    conn = sqlite3.connect(f"file:{data_dir / DB_FILENAME}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT pageno FROM dbstat WHERE name = ? AND pagetype = ? "
                            "ORDER BY pageno", (table, kind)).fetchall()
    finally:
        conn.close()
    return [int(r[0]) for r in rows]


def overwrite_page(data_dir: Path, pageno: int, nbytes: int = 96, seed: int = 22) -> None:
    """Garbage over the head of one page (its header and cell pointers), as a failing
    disk or a half-restored backup leaves it."""
    junk = bytes([0xFF]) + random.Random(seed).randbytes(nbytes - 1)  # no valid page type
    with open(data_dir / DB_FILENAME, "r+b") as f:
        f.seek((pageno - 1) * PAGE)
        f.write(junk)
        f.flush()
        os.fsync(f.fileno())


def kept_files(data_dir: Path) -> list[Path]:
    return sorted(data_dir.glob("sync-damaged-*.db"))


# --------------------------------------------------------------------------- mounts


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)


def _umount(target: Path, lazy: bool = False) -> None:
    cmd = ["umount", *(["-l"] if lazy else []), str(target)]
    subprocess.run(cmd, check=False, capture_output=True, timeout=30)


def mount_or_skip(*args: str) -> None:
    """Mount, or skip the test with the reason (not root, no mount namespace rights)."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small file system")
    try:
        _mount(*args)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        pytest.skip(f"cannot mount here: {detail.decode(errors='replace').strip() or exc}")


@contextlib.contextmanager
def tiny_disk(root: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of `size_mb` MB: a disk that fills up."""
    mnt = root / f"disk-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    mount_or_skip("-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(mnt))
    try:
        yield mnt
    finally:
        _umount(mnt, lazy=True)


def fill(disk: Path, name: str = "filler.bin") -> Path:
    """Fill `disk` until it refuses another byte; the file to delete to free it."""
    path = disk / name
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    try:
        for size in (1 << 20, 1 << 16, 1 << 12, 1):  # big blocks, then the last crumbs
            chunk = b"\0" * size
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, chunk)
    finally:
        os.close(fd)
    return path


class Drive:
    """A folder mounted (bound) at `where`: unplug it (lazily unmounted, so open files
    keep working on the detached file system, as a network share may) and plug it back;
    make it read-only and writable again."""

    def __init__(self, root: Path) -> None:
        self.backing = root / "backing"
        self.backing.mkdir()
        self.where = root / "drive"
        self.where.mkdir()
        mount_or_skip("--bind", str(self.backing), str(self.where))
        self.mounted = True

    def unplug(self) -> None:
        _umount(self.where, lazy=True)
        self.mounted = False

    def plug(self, *, read_only: bool = False) -> None:
        """Plug the drive back (read-only at once: a running engine may open its store
        the moment the folder is back, and a drive with files open for writing cannot
        be remounted read-only)."""
        _mount("--bind", *(["-o", "ro"] if read_only else []), str(self.backing),
               str(self.where))
        self.mounted = True

    def read_only(self) -> None:
        """Only while nothing holds a file on it open for writing (else "busy")."""
        _mount("-o", "remount,bind,ro", str(self.where))

    def writable(self) -> None:
        _mount("-o", "remount,bind,rw", str(self.where))

    def close(self) -> None:
        if self.mounted:
            _umount(self.where, lazy=True)
            self.mounted = False
