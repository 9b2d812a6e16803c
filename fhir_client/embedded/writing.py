"""Writes to the embedded store: one SQLite write transaction, waited for with a bound.

Several processes may use one store file at once (two ``ehr-agent load`` runs, an
``ask`` and a ``serve``). SQLite allows one writer at a time; in WAL mode readers
never wait for it. Two things make concurrent writers safe here:

- every write transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock
  before reading anything, so SQLite's busy handler can wait for it. A deferred
  ``BEGIN`` that reads and then writes fails at once with "database is locked" when
  another process committed in between (the busy handler cannot help then), which
  is how a second ``load`` used to crash.
- a writer that still finds the lock taken after ``STORE_BUSY_TIMEOUT_SECONDS``
  retries until ``STORE_WRITE_WAIT_SECONDS`` have passed, then raises
  :class:`StoreBusy` with a message saying what to do. Nothing was written then.

Errors never carry resource JSON: the engine hides statement parameters
(``hide_parameters=True`` in :mod:`fhir_client.embedded.schema`) and
:class:`StoreBusy` is raised ``from None``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from fhir_client.embedded.connection import BEGIN_IMMEDIATE, INDEX_TABLES, StoreBusy
from fhir_client.embedded.dates import DateRange, format_instant, parse_date
from fhir_client.embedded.extract import IndexRows, all_references, extract
from fhir_client.embedded.validation import StoreError, validate_resource
from fhir_client.limits import STORE_WRITE_WAIT_SECONDS

try:  # orjson serialises about 10x faster; optional, the stdlib is the fallback
    import orjson

    def _dumps(value: Any) -> str:
        return orjson.dumps(value).decode()

except ImportError:  # pragma: no cover - depends on the environment
    import json

    def _dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


if TYPE_CHECKING:  # SQLAlchemy is imported when something is written, not to read
    from sqlalchemy import Connection, Engine

logger = logging.getLogger(__name__)

Row = tuple[Any, ...]
CHUNK = 500  # SQLite's bound-parameter limit is generous, but keep IN lists small
_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_RETRY_PAUSE_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What happened to one written resource."""

    resource_type: str
    id: str
    version: int
    created: bool
    last_updated: str


def is_busy(error: BaseException) -> bool:
    """True for SQLite's "database is locked" / "database table is locked" errors."""
    orig = getattr(error, "orig", error)
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        return (code & 0xFF) in _BUSY_CODES
    return "locked" in str(orig) or "busy" in str(orig)


@contextmanager
def write_transaction(engine: Engine, db_path: str, lock: threading.RLock) -> Iterator[Connection]:
    """A connection inside ``BEGIN IMMEDIATE``; committed on success, rolled back on error.

    Waits (bounded, see the module docstring) for another process's write lock.
    ``lock`` serialises this process's own threads, which share the engine.
    """
    from sqlalchemy.exc import OperationalError

    deadline = time.monotonic() + STORE_WRITE_WAIT_SECONDS
    waiting = False
    with lock:
        while True:
            conn = engine.connect()
            try:
                conn.execution_options(**{BEGIN_IMMEDIATE: True})
                transaction = conn.begin()
                break
            except OperationalError as error:
                conn.close()
                if not is_busy(error):
                    raise
                if not waiting:
                    waiting = True
                    logger.warning(
                        "The embedded store %s is being written by another process; waiting "
                        "for it (up to %.0f s).",
                        db_path,
                        STORE_WRITE_WAIT_SECONDS,
                    )
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"the embedded store {db_path} is busy: another process has been "
                        f"writing to it for more than {STORE_WRITE_WAIT_SECONDS:.0f} s. Nothing "
                        "was written; run the same command again when that process is done"
                    ) from None
                time.sleep(_RETRY_PAUSE_SECONDS)
        try:
            yield conn
            transaction.commit()
        except BaseException:
            transaction.rollback()
            raise
        finally:
            conn.close()


class StoreWriter:
    """Create or replace resources inside one open write transaction.

    ``put`` may be called many times (a streamed load writes a file chunk by
    chunk); everything commits or rolls back together with the transaction.
    All resources of one writer share one ``meta.lastUpdated``.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        now = datetime.now(UTC)
        self._stamp = format_instant(now)
        self._stamp_range = parse_date(self._stamp, as_point=True)
        self.written = 0

    @contextmanager
    def page_cache(self, kib: int) -> Iterator[None]:
        """At most ``kib`` KiB of SQLite page cache inside, the connection's usual after.

        For a bulk load (see ``LOAD_PAGE_CACHE_KIB``): SQLite spills what does not fit
        to the WAL, and the usual cache, once filled, stays resident."""
        usual = int(self._conn.exec_driver_sql("PRAGMA cache_size").scalar() or 0)
        self._conn.exec_driver_sql(f"PRAGMA cache_size=-{int(kib)}")
        try:
            yield
        finally:
            self._conn.exec_driver_sql(f"PRAGMA cache_size={usual}")

    def put(self, resources: Sequence[dict[str, Any]]) -> list[WriteResult]:
        """Write ``resources``; raises StoreError naming the first bad one (position in
        ``resources``), after which the caller must let the transaction roll back."""
        keys = [validate_resource(resource, i) for i, resource in enumerate(resources)]
        if len(set(keys)) != len(keys):
            seen: set[tuple[str, str]] = set()
            for i, key in enumerate(keys):
                if key in seen:
                    raise StoreError(f"resource #{i} ({key[0]}/{key[1]}) appears twice", i)
                seen.add(key)
        results: list[WriteResult] = []
        for start in range(0, len(keys), CHUNK):
            chunk = slice(start, start + CHUNK)
            results.extend(self._put_chunk(resources[chunk], keys[chunk], start))
        self.written += len(results)
        return results

    def _put_chunk(
        self, resources: Sequence[dict[str, Any]], keys: list[tuple[str, str]], start: int
    ) -> list[WriteResult]:
        conn = self._conn
        existing = _existing(conn, keys)
        next_rid = (conn.exec_driver_sql("SELECT MAX(rid) FROM resource").scalar() or 0) + 1
        new_rows: list[Row] = []
        changed_rows: list[Row] = []
        index: dict[str, list[Row]] = {name: [] for name in INDEX_TABLES}
        results: list[WriteResult] = []
        stamp = self._stamp
        for offset, (resource, (rtype, rid_text)) in enumerate(zip(resources, keys, strict=True)):
            prior = existing.get((rtype, rid_text))
            version = prior[1] + 1 if prior else 1
            if prior:
                rid = prior[0]
            else:
                rid, next_rid = next_rid, next_rid + 1
            stored = {
                **resource,
                "meta": {
                    **resource.get("meta", {}),
                    "versionId": str(version),
                    "lastUpdated": stamp,
                },
            }
            rows = extract(stored)
            try:
                text = _dumps(stored)
            except (TypeError, ValueError) as error:  # orjson: a lone surrogate "\ud800"
                raise StoreError(
                    f"resource #{start + offset} ({rtype}/{rid_text}) contains text that is "
                    "not valid Unicode (a lone surrogate); fix or remove that text",
                    start + offset,
                ) from error
            rows.refs.extend(all_references(text))
            record = (rid, rtype, rid_text, rows.patient_id, version, stamp, text)
            (changed_rows if prior else new_rows).append(record)
            _collect_index(index, rid, rtype, rows)
            index["idx_date"].append(_date_row(rid, rtype, "_lastUpdated", self._stamp_range))
            results.append(WriteResult(rtype, rid_text, version, prior is None, stamp))
        _write(conn, new_rows, changed_rows, index)
        return results


def delete_resource(conn: Connection, resource_type: str, resource_id: str) -> bool:
    """Remove a resource and its index rows inside an open transaction."""
    rid = conn.exec_driver_sql(
        "SELECT rid FROM resource WHERE res_type = ? AND res_id = ?",
        (resource_type, resource_id),
    ).scalar()
    if rid is None:
        return False
    for name in INDEX_TABLES:
        conn.exec_driver_sql(f"DELETE FROM {name} WHERE rid = ?", (rid,))
    conn.exec_driver_sql("DELETE FROM resource WHERE rid = ?", (rid,))
    return True


def _existing(
    conn: Connection, keys: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, int]]:
    found: dict[tuple[str, str], tuple[int, int]] = {}
    by_type: dict[str, list[str]] = {}
    for rtype, rid in keys:
        by_type.setdefault(rtype, []).append(rid)
    for rtype, ids in by_type.items():
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start : start + CHUNK]
            marks = ", ".join("?" * len(chunk))
            for rid, res_id, version in conn.exec_driver_sql(
                f"SELECT rid, res_id, version FROM resource WHERE res_type = ? "
                f"AND res_id IN ({marks})",
                (rtype, *chunk),
            ):
                found[(rtype, res_id)] = (rid, version)
    return found


def _write(
    conn: Connection, new_rows: list[Row], changed_rows: list[Row], index: dict[str, list[Row]]
) -> None:
    if changed_rows:
        rids = [row[0] for row in changed_rows]
        for name in INDEX_TABLES:
            for start in range(0, len(rids), CHUNK):
                chunk = rids[start : start + CHUNK]
                conn.exec_driver_sql(
                    f"DELETE FROM {name} WHERE rid IN ({', '.join('?' * len(chunk))})",
                    tuple(chunk),
                )
        conn.exec_driver_sql(
            "UPDATE resource SET res_type = ?, res_id = ?, patient_id = ?, version = ?, "
            "last_updated = ?, json_text = ? WHERE rid = ?",
            [(*row[1:], row[0]) for row in changed_rows],
        )
    if new_rows:
        conn.exec_driver_sql(_insert_sql("resource"), new_rows)
    for name, rows in index.items():
        if rows:
            conn.exec_driver_sql(_insert_sql(name), rows)


@cache
def _insert_sql(table_name: str) -> str:
    """INSERT text for a table, columns in declaration order.

    Rows are plain tuples in that order: executemany over tuples skips
    SQLAlchemy's per-row parameter processing, which cost more than SQLite
    itself during a bulk load.
    """
    from fhir_client.embedded.schema import table

    columns = [c.name for c in table(table_name).columns]
    return (
        f"INSERT INTO {table_name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    )


def _date_row(rid: int, rtype: str, param: str, value: DateRange) -> Row:
    return (rid, param, value.low_ms, value.high_ms, value.low_ord, value.high_ord, rtype)


def _collect_index(index: dict[str, list[Row]], rid: int, rtype: str, rows: IndexRows) -> None:
    index["idx_token"].extend((rid, p, s, c, rtype) for p, s, c in rows.tokens)
    index["idx_ref"].extend((rid, p, t, i, rtype) for p, t, i in dict.fromkeys(rows.refs))
    index["idx_date"].extend(_date_row(rid, rtype, p, d) for p, d in dict.fromkeys(rows.dates))
    index["idx_string"].extend((rid, p, n, e, rtype) for p, n, e in rows.strings)
