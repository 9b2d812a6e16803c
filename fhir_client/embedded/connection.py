"""SQLite connections of the embedded store: pragmas, WAL, and pooled read connections.

Reads use the standard library's ``sqlite3`` directly: every read of the store is
already SQL text with bound parameters, and importing SQLAlchemy (with SQLModel, for the
table classes) cost ``ehr-agent patients`` half a second before it read a row
(``bench/startup.py``).  Writes and table creation still go through SQLAlchemy
(:mod:`fhir_client.embedded.schema`, the one place the tables are declared), imported
only when something is written.  Both configure their connections with
:func:`configure`, so reads and writes see the same pragmas.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fhir_client.limits import STORE_BUSY_TIMEOUT_SECONDS, STORE_IDLE_READERS

__all__ = [
    "BEGIN_IMMEDIATE",
    "INDEX_TABLES",
    "SCHEMA_VERSION",
    "TABLES",
    "ReadConnections",
    "StoreBusy",
    "configure",
    "connect",
    "scalar",
    "stored_version",
]

SCHEMA_VERSION = 1

INDEX_TABLES = ("idx_token", "idx_ref", "idx_date", "idx_string")
"""The search index tables, one per search parameter kind."""

TABLES = ("store_meta", "resource", *INDEX_TABLES)
"""Every table of a store file; :mod:`fhir_client.embedded.schema` declares their
columns (a test keeps the two equal)."""

#: Execution option that makes a transaction start with ``BEGIN IMMEDIATE``.
BEGIN_IMMEDIATE = "ehr_agent_begin_immediate"


class StoreBusy(RuntimeError):
    """Another process kept the store's lock longer than this process may wait."""


def _switch_to_wal(cursor: Any) -> None:
    """Put the file in WAL mode, waiting (bounded) while another process creates it.

    The mode is stored in the file, so it is normally already WAL and nothing is
    changed. Changing it needs an exclusive lock, and SQLite answers "database is
    locked" at once, without its busy handler, while another process holds a
    lock on a file still in rollback mode (two `load`s on a new store). So the
    switch is retried until STORE_BUSY_TIMEOUT_SECONDS have passed.
    """
    deadline = time.monotonic() + STORE_BUSY_TIMEOUT_SECONDS
    while True:
        try:
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error):
                raise
            if time.monotonic() >= deadline:
                raise StoreBusy(
                    f"Another process kept the store locked for over "
                    f"{STORE_BUSY_TIMEOUT_SECONDS:g} s while it was being opened; "
                    "try again when it has finished."
                ) from None
            time.sleep(0.05)


def configure(connection: sqlite3.Connection, *, memory: bool) -> None:
    """The store's pragmas, on every connection (read or write) when it is opened.

    File databases use WAL (readers never block the writer) with
    synchronous=NORMAL, which is durable across application crashes and only
    risks the last commits on power loss: the store is a rebuildable cache of
    FHIR data, so load speed wins.  Transactions are begun explicitly
    (``isolation_level = None``), so a read's statements share one snapshot.
    """
    connection.isolation_level = None
    cursor = connection.cursor()
    if not memory:
        # The busy handler first: switching to WAL may itself wait for a lock.
        cursor.execute(f"PRAGMA busy_timeout={int(STORE_BUSY_TIMEOUT_SECONDS * 1000)}")
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA mmap_size=268435456")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def connect(db_path: str | Path) -> sqlite3.Connection:
    """A configured connection, usable from any thread (callers serialise its use)."""
    memory = str(db_path) == ":memory:"
    connection = sqlite3.connect(
        ":memory:" if memory else str(Path(db_path)), check_same_thread=False
    )
    configure(connection, memory=memory)
    return connection


def scalar(cursor: sqlite3.Cursor) -> Any:
    """The first column of the first row, or None when there is no row."""
    row = cursor.fetchone()
    return None if row is None else row[0]


def stored_version(connection: sqlite3.Connection) -> str | None:
    """The file's schema version, or None while any of :data:`TABLES` is missing."""
    tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    present = {name for (name,) in tables}
    if not set(TABLES) <= present:
        return None
    value = scalar(connection.execute("SELECT value FROM store_meta WHERE key = 'schema_version'"))
    return str(value) if value is not None else None


class ReadConnections:
    """Connections for reads, each read inside its own ``BEGIN`` ... ``ROLLBACK``.

    A file store keeps up to ``STORE_IDLE_READERS`` idle connections for the next
    reads (threads of the facade read at once; WAL lets them).  ``:memory:`` has one
    connection, shared with the writer (``shared``), and reads take ``lock``, the
    store's write lock, because all threads use that one connection.
    """

    def __init__(self, db_path: str | Path, lock: threading.RLock) -> None:
        self.db_path = str(db_path)
        self.memory = self.db_path == ":memory:"
        self._lock = lock
        self._idle: list[sqlite3.Connection] = []
        self._idle_lock = threading.Lock()
        self.shared: sqlite3.Connection | None = connect(self.db_path) if self.memory else None
        self._watch: sqlite3.Connection | None = None  # see data_version
        self._watch_lock = threading.Lock()

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A connection inside a read transaction (one snapshot for all its statements)."""
        if self.shared is not None:
            with self._lock, _read_transaction(self.shared):
                yield self.shared
            return
        with self._idle_lock:
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = connect(self.db_path)
        try:
            with _read_transaction(connection):
                yield connection
        except BaseException:
            connection.close()
            raise
        with self._idle_lock:
            if len(self._idle) < STORE_IDLE_READERS:
                self._idle.append(connection)
                connection = None
        if connection is not None:
            connection.close()

    def data_version(self) -> int:
        """SQLite's ``PRAGMA data_version`` on a connection kept for it alone: it changes
        whenever another connection (this process's writer, or another process) commits.

        ``:memory:`` has no other connection (this process's writes are counted by the
        store's snapshot generation), so it is always 0 there.
        """
        if self.shared is not None:
            return 0
        with self._watch_lock:
            if self._watch is None:
                self._watch = connect(self.db_path)
            return int(scalar(self._watch.execute("PRAGMA data_version")))

    def close(self) -> None:
        """Close every connection; reads after this open new ones."""
        with self._watch_lock:
            watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()
        with self._idle_lock:
            idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()
        if self.shared is not None:
            self.shared.close()


@contextmanager
def _read_transaction(connection: sqlite3.Connection) -> Iterator[None]:
    connection.execute("BEGIN")
    try:
        yield
    finally:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
