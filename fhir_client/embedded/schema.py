"""Tables of the embedded store, declared with sqlmodel, and the engine setup.

One `resource` row per resource (its JSON serialised once, at write time, so a
search can stream stored text into a Bundle without re-encoding) and four
index tables, one per search parameter kind. Every index row carries the
resource type so that the composite indexes answer a patient-scoped search
from the index alone. `schema_version` in the `store_meta` table lets a later
release migrate, or refuse, a database written by an older one.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Index, Table, create_engine, event
from sqlalchemy.pool import StaticPool
from sqlmodel import Field, SQLModel

from fhir_client.limits import STORE_BUSY_TIMEOUT_SECONDS

SCHEMA_VERSION = 1

#: Execution option that makes a transaction start with ``BEGIN IMMEDIATE``.
BEGIN_IMMEDIATE = "ehr_agent_begin_immediate"

#: Index tables are clustered on (rid, param, value): that primary key is the
#: per-resource index (used to delete a resource's rows on update, for
#: `:missing` and for `_sort`), so no second B-tree is maintained per insert.
#: Secondary indexes in SQLite end with the primary key, so the value indexes
#: still cover `rid`.
_WITHOUT_ROWID: dict[str, Any] = {"sqlite_with_rowid": False}


class StoreMeta(SQLModel, table=True):
    """Key/value facts about the database itself (schema version)."""

    __tablename__ = "store_meta"
    key: str = Field(primary_key=True)
    value: str


class ResourceRow(SQLModel, table=True):
    """A stored resource; `rid` is a compact key the index tables point at."""

    __tablename__ = "resource"
    __table_args__ = (
        Index("ix_resource_type_id", "res_type", "res_id", unique=True),
        Index("ix_resource_patient", "patient_id", "res_type"),
    )
    rid: int = Field(primary_key=True)
    res_type: str
    res_id: str
    patient_id: str | None = None
    version: int
    last_updated: str
    json_text: str


class TokenIndex(SQLModel, table=True):
    """code/system pairs of token parameters (codes, statuses, identifiers)."""

    __tablename__ = "idx_token"
    __table_args__ = (
        Index("ix_token_value", "res_type", "param", "code", "system"),
        _WITHOUT_ROWID,
    )
    rid: int = Field(primary_key=True)
    param: str = Field(primary_key=True)
    system: str = Field(primary_key=True)
    code: str = Field(primary_key=True)
    res_type: str


class ReferenceIndex(SQLModel, table=True):
    """Reference targets; param `_ref` holds every reference, for $everything."""

    __tablename__ = "idx_ref"
    __table_args__ = (
        Index("ix_ref_value", "res_type", "param", "target_id", "target_type"),
        _WITHOUT_ROWID,
    )
    rid: int = Field(primary_key=True)
    param: str = Field(primary_key=True)
    target_type: str = Field(primary_key=True)
    target_id: str = Field(primary_key=True)
    res_type: str


class DateIndex(SQLModel, table=True):
    """Date ranges as UTC milliseconds and as yyyymmdd ordinals (see dates.py)."""

    __tablename__ = "idx_date"
    __table_args__ = (
        Index("ix_date_value", "res_type", "param", "low_ms"),
        _WITHOUT_ROWID,
    )
    rid: int = Field(primary_key=True)
    param: str = Field(primary_key=True)
    low_ms: int = Field(primary_key=True)
    high_ms: int = Field(primary_key=True)
    low_ord: int
    high_ord: int
    res_type: str


class StringIndex(SQLModel, table=True):
    """Strings, normalised (casefolded, accents stripped) and as written."""

    __tablename__ = "idx_string"
    __table_args__ = (
        Index("ix_string_value", "res_type", "param", "norm"),
        _WITHOUT_ROWID,
    )
    rid: int = Field(primary_key=True)
    param: str = Field(primary_key=True)
    norm: str = Field(primary_key=True)
    exact: str = Field(primary_key=True)
    res_type: str


def table(name: str) -> Table:
    """A table object by name, for SQLAlchemy Core statements."""
    return SQLModel.metadata.tables[name]


INDEX_TABLES = ("idx_token", "idx_ref", "idx_date", "idx_string")


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


def make_engine(db_path: str | Path) -> Engine:
    """An engine with pragmas for fast bulk loads and safe use from many threads.

    File databases use WAL (readers never block the writer) with
    synchronous=NORMAL, which is durable across application crashes and only
    risks the last commits on power loss: the store is a rebuildable cache of
    FHIR data, so load speed wins. `:memory:` uses one shared connection
    (StaticPool), otherwise each thread would see its own empty database.
    """
    memory = str(db_path) == ":memory:"
    url = "sqlite://" if memory else f"sqlite:///{Path(db_path)}"
    # hide_parameters: a failed statement's error text would otherwise quote its
    # parameters, which are resource JSON (patient data), into tracebacks and logs.
    kwargs: dict[str, Any] = {
        "connect_args": {"check_same_thread": False},
        "hide_parameters": True,
    }
    if memory:
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself so a transaction covers reads too.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        if not memory:
            # The busy handler first: switching to WAL may itself wait for a lock.
            cursor.execute(f"PRAGMA busy_timeout={int(STORE_BUSY_TIMEOUT_SECONDS * 1000)}")
            _switch_to_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA mmap_size=268435456")
        cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers ask for IMMEDIATE (see fhir_client.embedded.writing): the write
        # lock is taken, and waited for, before anything is read.
        immediate = conn.get_execution_options().get(BEGIN_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
