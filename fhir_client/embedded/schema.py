"""Tables of the embedded store, declared with sqlmodel, and the engine setup.

One `resource` row per resource (its JSON serialised once, at write time, so a
search can stream stored text into a Bundle without re-encoding) and four
index tables, one per search parameter kind. Every index row carries the
resource type so that the composite indexes answer a patient-scoped search
from the index alone. `schema_version` in the `store_meta` table lets a later
release migrate, or refuse, a database written by an older one.

Imported only to create the tables and to write: reads go through
:mod:`fhir_client.embedded.connection` (the standard library's sqlite3), which also
holds the connection pragmas both use.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Index, Table, create_engine, event, insert, select
from sqlalchemy.pool import StaticPool
from sqlmodel import Field, SQLModel

from fhir_client.embedded.connection import (
    BEGIN_IMMEDIATE,
    INDEX_TABLES,
    SCHEMA_VERSION,
    StoreBusy,
    configure,
)

__all__ = [
    "BEGIN_IMMEDIATE",
    "INDEX_TABLES",
    "SCHEMA_VERSION",
    "DateIndex",
    "ReferenceIndex",
    "ResourceRow",
    "StoreBusy",
    "StoreMeta",
    "StringIndex",
    "TokenIndex",
    "create_tables",
    "make_engine",
    "table",
]

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


def create_tables(conn: Connection) -> str:
    """Create the missing tables and the schema version row (inside the caller's write
    transaction); returns the stored version."""
    SQLModel.metadata.create_all(conn)
    meta = table("store_meta")
    version = conn.execute(
        select(meta.c.value).where(meta.c.key == "schema_version")
    ).scalar_one_or_none()
    if version is None:
        version = str(SCHEMA_VERSION)
        conn.execute(insert(meta).values(key="schema_version", value=version))
    return str(version)


def make_engine(db_path: str | Path, shared: sqlite3.Connection | None = None) -> Engine:
    """An engine for writes, its connections configured like the readers' (see
    :func:`fhir_client.embedded.connection.configure`).

    ``shared`` is the one connection of a ``:memory:`` store (StaticPool): the readers
    use it too, otherwise each would see its own empty database.
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
        if shared is not None:
            kwargs["creator"] = lambda: shared
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # SQLAlchemy then lets the "begin" listener emit BEGIN itself, so a
        # transaction covers reads too.
        configure(dbapi_conn, memory=memory)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers ask for IMMEDIATE (see fhir_client.embedded.writing): the write
        # lock is taken, and waited for, before anything is read.
        immediate = conn.get_execution_options().get(BEGIN_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
