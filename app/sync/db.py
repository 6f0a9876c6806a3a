"""Opening the local SQLite store: file mode, pragmas, migrations, worker threads.

Every connection runs in WAL mode with foreign keys on and `synchronous=FULL`:
a committed outbox row survives a power cut, not just a process crash (the
issue's "the outbox commits durably"). Connections are the standard library's
`sqlite3` in autocommit mode: writers open their transactions with `BEGIN
IMMEDIATE` themselves (`app.sync.store.access.write_tx`), so that two processes on
one store (`web2text-sync send` while `run` is going) queue on the busy timeout
instead of failing with a stale-snapshot error half-way through a transaction;
a read outside one sees the newest committed state.

SQLAlchemy and Alembic are imported only to migrate a store whose schema is not
this build's (`HEAD_REVISION`): a running engine does without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
import stat
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from app.sync.api import EngineError
from app.sync.inbox import DB_FILENAME, HEAD_REVISION
from app.sync.storage import check_present, classify

if TYPE_CHECKING:
    import sqlalchemy as sa
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
BUSY_TIMEOUT_MS = 10_000

T = TypeVar("T")


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_data_dir("Web2Text", appauthor=False))


def _secure_file(path: Path) -> None:
    """Create `path` (if missing) readable by the owner only, before SQLite opens it.

    An existing file is never opened here: SQLite's locks on it are POSIX locks of
    the whole process, and closing any other descriptor of the file drops them all.
    Another process (`web2text-sync status`) would then take this process's open
    connections for gone, checkpoint and delete the WAL they still write to, and
    never see their commits."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
    os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the store file, pragmas set, in autocommit mode (transactions
    are begun explicitly), usable from the thread that owns it.

    `mode=rw`: a connection never creates the file (`Database` does, owner-only, before
    the first one). A data folder that vanished (a USB drive unplugged) then fails to
    open instead of growing an empty store on whatever disk the path now leads to. Nor
    is the file opened here by any other descriptor: closing one would drop this
    process's SQLite locks on it, and another process could then reset the WAL under
    the open connections."""
    uri = Path(os.path.abspath(path)).as_uri() + "?mode=rw"
    conn = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                           isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return conn


def migration_engine(path: Path) -> sa.Engine:
    """A SQLAlchemy engine on the store file for Alembic (migrations and their tests),
    its connections made by `connect`."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    _secure_file(path)
    engine = sa.create_engine("sqlite://", poolclass=NullPool, creator=lambda: connect(path))

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _alembic_config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(conn: sqlite3.Connection) -> str | None:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).fetchone()
    if exists is None:
        return None
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return None if row is None else str(row[0])


def upgrade(connection: sa.Connection, revision: str = "head") -> None:
    """Alembic's upgrade to `revision` on a SQLAlchemy connection (`migration_engine`)."""
    from alembic import command

    if connection.in_transaction():
        connection.rollback()
    command.upgrade(_alembic_config(connection), revision)
    if connection.in_transaction():
        connection.commit()


def migrate(conn: sqlite3.Connection, revision: str = "head") -> None:
    """Bring the store's schema to `revision` (default: the newest). A store at this
    build's schema opens without importing SQLAlchemy or Alembic; the others are
    migrated through a connection of their own to the same file."""
    if revision == "head" and current_revision(conn) == HEAD_REVISION:
        return
    if conn.in_transaction:
        conn.rollback()
    path = Path(conn.execute("PRAGMA database_list").fetchone()[2])
    engine = migration_engine(path)
    try:
        with engine.connect() as connection:
            upgrade(connection, revision)
    finally:
        engine.dispose()


def _chmod_sidecars(path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(side, stat.S_IRUSR | stat.S_IWUSR)


#: told of every damage or storage problem a store call met (on the worker's thread)
ProblemHook = Callable[[EngineError], None]


class DbThread:
    """One worker thread owning one connection; blocking SQLite work goes here.

    `await thread.run(fn, *args)` calls `fn(connection, *args)` on the worker,
    never on the caller's event loop. A call that meets damage or a storage problem
    raises it as `StoreDamaged`/`StorageError` (`app.sync.storage`), tells
    `on_problem`, and drops its connection: the next call opens a fresh one (the
    old one may point at a file system that is gone).
    """

    def __init__(self, path: Path, name: str, folder: Path, *,
                 writes: bool = False) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._local = threading.local()
        self._folder = folder
        self._writes = writes
        self.on_problem: ProblemHook | None = None

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self._path)
        return conn

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        try:
            if self._writes:
                check_present(self._folder)
            conn = self._conn()
            try:
                return fn(conn, *args)
            finally:
                # a transaction left open would pin an old WAL snapshot (or hold the lock)
                if conn.in_transaction:
                    with contextlib.suppress(Exception):  # (a broken connection)
                        conn.rollback()
        except Exception as exc:
            problem = classify(exc, self._folder)
            if problem is None:
                raise
            self._drop_connection()
            if self.on_problem is not None:
                self.on_problem(problem)
            if problem is exc:
                raise
            raise problem from exc

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    async def reconnect(self) -> None:
        """Drop this thread's connection; the next call opens a fresh one."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._drop_connection)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(self._call, fn, args)
        )

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Blocking variant for code that is not on an event loop (CLI, tests)."""
        return self._executor.submit(self._call, fn, args).result()

    def close(self) -> None:
        def _close() -> None:
            conn = getattr(self._local, "conn", None)
            if conn is not None:
                conn.close()
                self._local.conn = None

        with contextlib.suppress(RuntimeError):
            self._executor.submit(_close).result()
        self._executor.shutdown(wait=True)


class Database:
    """The store file with its writer and reader threads (WAL lets reads run beside writes)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / DB_FILENAME
        try:
            _secure_file(self.path)
        except OSError as exc:  # a full, read-only or vanished data folder
            raise classify(exc, self.data_dir) or exc from exc
        self.writer = DbThread(self.path, "w2t-db-write", self.data_dir, writes=True)
        self.reader = DbThread(self.path, "w2t-db-read", self.data_dir)

    def on_problem(self, hook: ProblemHook | None) -> None:
        """Tell `hook` of every damage or storage problem a store call meets."""
        self.writer.on_problem = self.reader.on_problem = hook

    async def reconnect(self) -> None:
        """Fresh connections for both threads (after a storage problem)."""
        await self.writer.reconnect()
        await self.reader.reconnect()

    @classmethod
    def open(cls, data_dir: Path) -> Database:
        """Open (creating if needed) and migrate to the newest schema; blocking."""
        db = cls(data_dir)
        try:
            db.writer.call(migrate)
        except BaseException:
            db.close()
            raise
        _chmod_sidecars(db.path)
        return db

    @classmethod
    async def open_async(cls, data_dir: Path) -> Database:
        db = await asyncio.to_thread(cls, data_dir)
        try:
            await db.writer.run(migrate)
        except BaseException:
            await asyncio.to_thread(db.close)
            raise
        _chmod_sidecars(db.path)
        return db

    def close(self) -> None:
        self.writer.close()
        self.reader.close()
