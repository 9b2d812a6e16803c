"""EmbeddedStore: FHIR resources and their search indexes in one SQLite file.

Writes are bulk: a batch of resources is validated, serialised once and
written with SQLAlchemy Core `executemany` in a single transaction, so a
Synthea load is all-or-nothing and runs at thousands of resources per second.
Reads return stored JSON text untouched so the facade can stream it; they run on
the standard library's sqlite3 (:mod:`fhir_client.embedded.connection`), and
SQLAlchemy is imported only when the store is first written or created. This
module owns the store's lifecycle, locks and transactions; the SQL of each kind
of read is in :mod:`fhir_client.embedded.reads`, the writes' in
:mod:`fhir_client.embedded.writing`.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fhir_client._lazy import lazy_attributes
from fhir_client.embedded import reads
from fhir_client.embedded.connection import (
    SCHEMA_VERSION,
    ReadConnections,
    StoreBusy,
    scalar,
    stored_version,
)
from fhir_client.embedded.patients import PatientRows, patient_rows
from fhir_client.embedded.reads import HistoryRow, SearchPage
from fhir_client.embedded.snapshots import Snapshots

if TYPE_CHECKING:  # SQLAlchemy and the write path: imported on the first write, never to read
    from sqlalchemy import Engine

    from fhir_client.embedded.query import SearchQuery
    from fhir_client.embedded.validation import StoreError, validate_resource
    from fhir_client.embedded.writing import StoreWriter, WriteResult

_WRITE_NAMES = {
    "StoreError": "fhir_client.embedded.validation",
    "validate_resource": "fhir_client.embedded.validation",
    "WriteResult": "fhir_client.embedded.writing",
}
"""Names of the write path this module offers, imported when first asked for (PEP 562):
validating and writing need the search parameter registry and index extraction, which
a process that only reads the store (``ehr-agent patients``) never builds."""


__getattr__ = lazy_attributes(__name__, _WRITE_NAMES)


Row = tuple[Any, ...]
logger = logging.getLogger(__name__)

__all__ = [
    "EmbeddedStore",
    "SchemaMismatch",
    "SearchPage",
    "StoreBusy",
    "StoreError",
    "WriteResult",
    "validate_resource",
]


class SchemaMismatch(RuntimeError):
    """The database was written by an incompatible version of the store."""


class EmbeddedStore:
    """A FHIR resource store in SQLite, searchable with FHIR R4 semantics.

    Thread-safe: writes are serialised by a lock (SQLite allows one writer
    anyway); for `:memory:` reads take the lock too because all threads share
    one connection.
    """

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = str(db_path)
        self._memory = self.db_path == ":memory:"
        self._write_lock = threading.RLock()
        self._reads = ReadConnections(db_path, self._write_lock)
        self._engine_made: Engine | None = None
        self._wrote = False
        self._snapshots = Snapshots()
        self._init_schema()

    @property
    def _engine(self) -> Engine:
        """The SQLAlchemy engine writes use, made (and SQLAlchemy imported) on first need."""
        if self._engine_made is None:
            from fhir_client.embedded.schema import make_engine

            self._engine_made = make_engine(self.db_path, self._reads.shared)
        return self._engine_made

    # -- lifecycle -----------------------------------------------------------

    def _init_schema(self) -> None:
        """Create the tables once; every later open only reads the schema version.

        Reading first matters: a process opening the store while another one
        loads must not queue for the write lock just to learn the tables exist,
        and a store that exists is opened without importing SQLAlchemy.
        """
        with self._reading() as conn:
            version = stored_version(conn)
        if version is None:
            from fhir_client.embedded.schema import create_tables
            from fhir_client.embedded.writing import write_transaction

            with write_transaction(self._engine, self.db_path, self._write_lock) as conn:
                version = create_tables(conn)
        if version != str(SCHEMA_VERSION):
            raise SchemaMismatch(
                f"{self.db_path} was written with embedded store schema version {version}; "
                f"this version needs {SCHEMA_VERSION}. Delete the file and load "
                "the data again (the store is a cache of your FHIR data)."
            )

    def close(self) -> None:
        """Release the database; the store must not be used afterwards.

        After writes, ``PRAGMA optimize`` refreshes the planner's statistics. It
        is an optimisation, so it never waits for another process's lock and
        never fails the command that is closing the store.
        """
        if self._engine_made is not None:
            if not self._memory and self._wrote:
                from sqlalchemy.exc import DBAPIError

                try:
                    with self._engine_made.connect() as conn:
                        conn.exec_driver_sql("PRAGMA busy_timeout=0")
                        conn.exec_driver_sql("PRAGMA optimize")
                except DBAPIError as error:
                    logger.debug("PRAGMA optimize skipped: %s", type(error.orig).__name__)
            self._engine_made.dispose()
        self._reads.close()

    def _reading(self) -> AbstractContextManager[sqlite3.Connection]:
        """A connection in a read transaction (see :class:`ReadConnections`)."""
        return self._reads.reading()

    # -- writes --------------------------------------------------------------

    @contextmanager
    def writer(self) -> Iterator[StoreWriter]:
        """One write transaction for many ``put`` calls: all of them commit, or none.

        Waits (bounded by ``STORE_WRITE_WAIT_SECONDS``) while another process
        writes; raises :class:`StoreBusy` if that takes too long.
        """
        from fhir_client.embedded.writing import StoreWriter, write_transaction

        with write_transaction(self._engine, self.db_path, self._write_lock) as conn:
            writer = StoreWriter(conn)
            yield writer
            if writer.written:
                self._wrote = True
        self._snapshots.clear()

    def put_resources(self, resources: Sequence[dict[str, Any]]) -> list[WriteResult]:
        """Create or replace resources, all or nothing, in one SQL transaction.

        Raises StoreError naming the first bad resource's position; in that case
        nothing is written. Sets meta.versionId and meta.lastUpdated.
        """
        from fhir_client.embedded.validation import validate_resource

        for i, resource in enumerate(resources):
            validate_resource(resource, i)  # refuse before waiting for the write lock
        if not resources:
            return []
        with self.writer() as writer:
            return writer.put(resources)

    def delete(self, resource_type: str, resource_id: str) -> bool:
        """Remove a resource and its index rows; True if it existed."""
        from fhir_client.embedded.writing import delete_resource, write_transaction

        try:
            with write_transaction(self._engine, self.db_path, self._write_lock) as conn:
                return delete_resource(conn, resource_type, resource_id)
        finally:
            self._snapshots.clear()

    # -- reads (the SQL is in fhir_client.embedded.reads) -----------------------

    def read_text(self, resource_type: str, resource_id: str) -> str | None:
        """The stored JSON text of a resource, or None."""
        with self._reading() as conn:
            return reads.read_text(conn, resource_type, resource_id)

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        """A stored resource as a dict, or None if absent."""
        text = self.read_text(resource_type, resource_id)
        return json.loads(text) if text is not None else None

    def search(self, query: SearchQuery) -> SearchPage:
        """Run a parsed search: one page of matches and (if asked) the total."""
        with self._reading() as conn:
            return reads.search_page(conn, query)

    def everything(
        self, patient_id: str, *, count: int, offset: int, types: Sequence[str] = ()
    ) -> SearchPage | None:
        """A page of a patient's record: the Patient, its compartment, and the
        non-patient resources (Practitioner, Organization...) those point at.

        None if the patient does not exist. A first page computes the record's
        member list; later pages slice the snapshot of it (see
        :mod:`fhir_client.embedded.snapshots`).
        """
        key = (patient_id, tuple(types))
        with self._reading() as conn:
            if not reads.patient_exists(conn, patient_id):
                return None
            members = self._snapshots.get(key) if offset else None
            if members is None:
                members = reads.everything_members(conn, patient_id, types)
                self._snapshots.put(key, members)
            rows = reads.fetch_in_order(conn, members[offset : offset + count])
        return SearchPage(rows, len(members))

    def record_version(self) -> tuple[int, int]:
        """A value that changes whenever anyone commits a write to the store.

        The ``$everything`` snapshots' generation (bumped by this process's writes) and
        SQLite's ``data_version`` (bumped by any other connection's commit, another
        process's included). Whoever keeps what it read keys it by this, taken before the
        read, so no write is ever missed: a kept read made under an older version is
        simply never used again.
        """
        return self._snapshots.generation, self._reads.data_version()

    def is_empty(self) -> bool:
        """True when no resource has been stored yet (the loader checks this)."""
        with self._reading() as conn:
            return scalar(conn.execute("SELECT 1 FROM resource LIMIT 1")) is None

    def patient_page(
        self,
        *,
        name: str | None = None,
        count: int,
        offset: int = 0,
        only: Collection[str] | None = None,
        with_counts: bool = True,
    ) -> PatientRows:
        """One page of patients with their record counts, from the indexes (see
        :mod:`fhir_client.embedded.patients`)."""
        with self._reading() as conn:
            return patient_rows(
                conn, name=name, count=count, offset=offset, only=only, with_counts=with_counts
            )

    def counts_by_type(self, patient_id: str | None = None) -> dict[str, int]:
        """Number of resources per type, overall or in one patient's compartment."""
        with self._reading() as conn:
            return reads.counts_by_type(conn, patient_id)

    # -- for the read-only FHIR server (vread, ETag, _history, _include) --------

    def read_version(self, resource_type: str, resource_id: str) -> tuple[int, str, str] | None:
        """``(version, last_updated, json_text)`` of the stored (current) version, or None.

        The store keeps one version per resource; vread and ``_history`` serve it, and
        ETag/Last-Modified come from here without parsing the JSON.
        """
        with self._reading() as conn:
            return reads.read_version(conn, resource_type, resource_id)

    def history_page(
        self,
        *,
        resource_type: str | None,
        resource_id: str | None = None,
        since: str | None,
        count: int,
        offset: int,
    ) -> tuple[list[HistoryRow], int]:
        """One page of type, system or instance ``_history``, newest first, and its total
        (see :func:`fhir_client.embedded.reads.history_rows`)."""
        with self._reading() as conn:
            return reads.history_rows(
                conn,
                resource_type=resource_type,
                resource_id=resource_id,
                since=since,
                count=count,
                offset=offset,
            )

    def rows_matching(
        self, condition: str, args: Sequence[object], limit: int
    ) -> list[tuple[str, str, str]]:
        """Up to ``limit`` resources matching an SQL condition on ``resource r`` (built by
        the facade's include module from fixed SQL text and bound parameters)."""
        with self._reading() as conn:
            return reads.rows_matching(conn, condition, args, limit)
