"""EmbeddedStore: FHIR resources and their search indexes in one SQLite file.

Writes are bulk: a batch of resources is validated, serialised once and
written with SQLAlchemy Core `executemany` in a single transaction, so a
Synthea load is all-or-nothing and runs at thousands of resources per second.
Reads return stored JSON text untouched so the facade can stream it.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select
from sqlmodel import SQLModel

from fhir_client.embedded import schema
from fhir_client.embedded.dates import DateRange, format_instant, parse_date
from fhir_client.embedded.extract import ALL_REFERENCES, IndexRows, all_references, extract
from fhir_client.embedded.query import SearchQuery, check_type

try:  # orjson serialises about 10x faster; optional, the stdlib is the fallback
    import orjson

    def _dumps(value: Any) -> str:
        return orjson.dumps(value).decode()

except ImportError:  # pragma: no cover - depends on the environment

    def _dumps(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
Row = tuple[Any, ...]
_CHUNK = 500  # SQLite's bound-parameter limit is generous, but keep IN lists small


class StoreError(ValueError):
    """A resource cannot be stored; the message names its position and the problem."""

    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class SchemaMismatch(RuntimeError):
    """The database was written by an incompatible version of the store."""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What happened to one written resource."""

    resource_type: str
    id: str
    version: int
    created: bool
    last_updated: str


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of matches: (type, id, json text) rows plus the total if counted."""

    rows: list[tuple[str, str, str]]
    total: int | None


def validate_resource(resource: object, index: int) -> tuple[str, str]:
    """Check the minimum a stored resource needs; return (type, id)."""
    if not isinstance(resource, dict):
        raise StoreError(f"resource #{index} is not a JSON object", index)
    rtype, rid = resource.get("resourceType"), resource.get("id")
    if not isinstance(rtype, str) or not rtype:
        raise StoreError(f"resource #{index} has no resourceType", index)
    try:
        check_type(rtype)
    except ValueError as exc:
        raise StoreError(f"resource #{index}: {exc}", index) from None
    if not isinstance(rid, str) or not _ID_RE.match(rid):
        raise StoreError(
            f"resource #{index} ({rtype}) has a missing or invalid id {rid!r}; FHIR ids are "
            "1-64 characters of A-Z, a-z, 0-9, '-' and '.'",
            index,
        )
    return rtype, rid


class EmbeddedStore:
    """A FHIR resource store in SQLite, searchable with FHIR R4 semantics.

    Thread-safe: writes are serialised by a lock (SQLite allows one writer
    anyway); for `:memory:` reads take the lock too because all threads share
    one connection.
    """

    def __init__(self, db_path: str | Path) -> None:
        self.db_path = str(db_path)
        self._memory = self.db_path == ":memory:"
        self._engine = schema.make_engine(db_path)
        self._write_lock = threading.RLock()
        self._init_schema()

    # -- lifecycle -----------------------------------------------------------

    def _init_schema(self) -> None:
        with self._engine.begin() as conn:
            SQLModel.metadata.create_all(conn)
            meta = schema.table("store_meta")
            row = conn.execute(
                select(meta.c.value).where(meta.c.key == "schema_version")
            ).scalar_one_or_none()
            if row is None:
                conn.execute(
                    insert(meta).values(key="schema_version", value=str(schema.SCHEMA_VERSION))
                )
            elif row != str(schema.SCHEMA_VERSION):
                raise SchemaMismatch(
                    f"{self.db_path} was written with embedded store schema version {row}; "
                    f"this version needs {schema.SCHEMA_VERSION}. Delete the file and load "
                    "the data again (the store is a cache of your FHIR data)."
                )

    def close(self) -> None:
        """Release the database; the store must not be used afterwards."""
        if not self._memory:
            with self._engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA optimize")
        self._engine.dispose()

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        if self._memory:
            with self._write_lock, self._engine.connect() as conn:
                yield conn
        else:
            with self._engine.connect() as conn:
                yield conn

    # -- writes --------------------------------------------------------------

    def put_resources(self, resources: Sequence[dict[str, Any]]) -> list[WriteResult]:
        """Create or replace resources, all or nothing, in one SQL transaction.

        Raises StoreError naming the first bad resource's position; in that case
        nothing is written. Sets meta.versionId and meta.lastUpdated.
        """
        keys = [validate_resource(resource, i) for i, resource in enumerate(resources)]
        if len(set(keys)) != len(keys):
            seen: set[tuple[str, str]] = set()
            for i, key in enumerate(keys):
                if key in seen:
                    raise StoreError(f"resource #{i} ({key[0]}/{key[1]}) appears twice", i)
                seen.add(key)
        if not keys:
            return []
        now = datetime.now(UTC)
        stamp = format_instant(now)
        stamp_range = parse_date(stamp, as_point=True)
        with self._write_lock, self._engine.begin() as conn:
            existing = self._existing(conn, keys)
            next_rid = (conn.exec_driver_sql("SELECT MAX(rid) FROM resource").scalar() or 0) + 1
            new_rows: list[Row] = []
            changed_rows: list[Row] = []
            index: dict[str, list[Row]] = {name: [] for name in schema.INDEX_TABLES}
            results: list[WriteResult] = []
            for resource, (rtype, rid_text) in zip(resources, keys, strict=True):
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
                text = _dumps(stored)
                rows.refs.extend(all_references(text))
                record = (rid, rtype, rid_text, rows.patient_id, version, stamp, text)
                (changed_rows if prior else new_rows).append(record)
                _collect_index(index, rid, rtype, rows)
                index["idx_date"].append(_date_row(rid, rtype, "_lastUpdated", stamp_range))
                results.append(WriteResult(rtype, rid_text, version, prior is None, stamp))
            self._write(conn, new_rows, changed_rows, index)
        return results

    def _existing(
        self, conn: Connection, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, int]]:
        found: dict[tuple[str, str], tuple[int, int]] = {}
        by_type: dict[str, list[str]] = {}
        for rtype, rid in keys:
            by_type.setdefault(rtype, []).append(rid)
        for rtype, ids in by_type.items():
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                for rid, res_id, version in conn.exec_driver_sql(
                    f"SELECT rid, res_id, version FROM resource WHERE res_type = ? "
                    f"AND res_id IN ({marks})",
                    (rtype, *chunk),
                ):
                    found[(rtype, res_id)] = (rid, version)
        return found

    def _write(
        self,
        conn: Connection,
        new_rows: list[Row],
        changed_rows: list[Row],
        index: dict[str, list[Row]],
    ) -> None:
        if changed_rows:
            rids = [row[0] for row in changed_rows]
            for name in schema.INDEX_TABLES:
                for start in range(0, len(rids), _CHUNK):
                    chunk = rids[start : start + _CHUNK]
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

    def delete(self, resource_type: str, resource_id: str) -> bool:
        """Remove a resource and its index rows; True if it existed."""
        with self._write_lock, self._engine.begin() as conn:
            rid = conn.exec_driver_sql(
                "SELECT rid FROM resource WHERE res_type = ? AND res_id = ?",
                (resource_type, resource_id),
            ).scalar()
            if rid is None:
                return False
            for name in schema.INDEX_TABLES:
                conn.exec_driver_sql(f"DELETE FROM {name} WHERE rid = ?", (rid,))
            conn.exec_driver_sql("DELETE FROM resource WHERE rid = ?", (rid,))
            return True

    # -- reads ---------------------------------------------------------------

    def read_text(self, resource_type: str, resource_id: str) -> str | None:
        """The stored JSON text of a resource, or None."""
        with self._reading() as conn:
            value = conn.exec_driver_sql(
                "SELECT json_text FROM resource WHERE res_type = ? AND res_id = ?",
                (resource_type, resource_id),
            ).scalar()
        return value if isinstance(value, str) else None

    def read(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        """A stored resource as a dict, or None if absent."""
        text = self.read_text(resource_type, resource_id)
        return json.loads(text) if text is not None else None

    def search(self, query: SearchQuery) -> SearchPage:
        """Run a parsed search: one page of matches and (if asked) the total."""
        # With other filters, `+` stops SQLite from scanning every resource of the
        # type through the (res_type, res_id) index: the index subqueries, which
        # already carry the type, are far more selective and should drive.
        type_test = "+r.res_type = ?" if query.where else "r.res_type = ?"
        where = " AND ".join([type_test, *query.where])
        args: list[object] = [query.resource_type, *query.args]
        with self._reading() as conn:
            total: int | None = None
            if query.include_total or query.summary_count:
                total = int(
                    conn.exec_driver_sql(
                        f"SELECT COUNT(*) FROM resource r WHERE {where}", tuple(args)
                    ).scalar()
                    or 0
                )
            rows: list[tuple[str, str, str]] = []
            if not query.summary_count and query.count > 0:
                sql = (
                    f"SELECT r.rid FROM resource r WHERE {where} "
                    f"ORDER BY {query.order_by} LIMIT ? OFFSET ?"
                )
                params = (*args, *query.order_args, query.count, query.offset)
                rids = [rid for (rid,) in conn.exec_driver_sql(sql, params)]
                rows = _fetch_in_order(conn, rids)
        return SearchPage(rows, total)

    def everything(
        self, patient_id: str, *, count: int, offset: int, types: Sequence[str] = ()
    ) -> SearchPage | None:
        """A page of a patient's record: the Patient, its compartment, and the
        non-patient resources (Practitioner, Organization...) those point at.

        None if the patient does not exist.
        """
        type_filter = ""
        type_args: tuple[str, ...] = ()
        if types:
            type_filter = f" AND r.res_type IN ({', '.join('?' * len(types))})"
            type_args = tuple(types)
        members = (
            "SELECT rid FROM resource WHERE patient_id = ? "
            "UNION SELECT t.rid FROM idx_ref f JOIN resource o ON o.rid = f.rid "
            "JOIN resource t ON t.res_type = f.target_type AND t.res_id = f.target_id "
            "WHERE o.patient_id = ? AND f.param = ? AND t.patient_id IS NULL"
        )
        base = f"FROM resource r WHERE r.rid IN ({members}){type_filter}"
        args = (patient_id, patient_id, ALL_REFERENCES, *type_args)
        order = "ORDER BY (r.res_type = 'Patient' AND r.res_id = ?) DESC, r.rid"
        with self._reading() as conn:
            exists = conn.exec_driver_sql(
                "SELECT 1 FROM resource WHERE res_type = 'Patient' AND res_id = ?", (patient_id,)
            ).scalar()
            if not exists:
                return None
            total = int(conn.exec_driver_sql(f"SELECT COUNT(*) {base}", args).scalar() or 0)
            rids = [
                rid
                for (rid,) in conn.exec_driver_sql(
                    f"SELECT r.rid {base} {order} LIMIT ? OFFSET ?",
                    (*args, patient_id, count, offset),
                )
            ]
            rows = _fetch_in_order(conn, rids)
        return SearchPage(rows, total)

    def is_empty(self) -> bool:
        """True when no resource has been stored yet (the loader checks this)."""
        with self._reading() as conn:
            return conn.exec_driver_sql("SELECT 1 FROM resource LIMIT 1").scalar() is None

    def counts_by_type(self, patient_id: str | None = None) -> dict[str, int]:
        """Number of resources per type, overall or in one patient's compartment."""
        sql = "SELECT res_type, COUNT(*) FROM resource"
        args: tuple[str, ...] = ()
        if patient_id is not None:
            sql += " WHERE patient_id = ?"
            args = (patient_id,)
        with self._reading() as conn:
            rows = conn.exec_driver_sql(sql + " GROUP BY res_type ORDER BY res_type", args)
            return {str(t): int(n) for t, n in rows}

    # -- added for the read-only FHIR server (vread, ETag, _include/_revinclude) --------

    def read_version(self, resource_type: str, resource_id: str) -> tuple[int, str, str] | None:
        """``(version, last_updated, json_text)`` of the stored (current) version, or None.

        The store keeps one version per resource; vread and ``_history`` serve it, and
        ETag/Last-Modified come from here without parsing the JSON.
        """
        with self._reading() as conn:
            row = conn.exec_driver_sql(
                "SELECT version, last_updated, json_text FROM resource "
                "WHERE res_type = ? AND res_id = ?",
                (resource_type, resource_id),
            ).first()
        if row is None:
            return None
        return int(row[0]), str(row[1]), str(row[2])

    def rows_matching(
        self, condition: str, args: Sequence[object], limit: int
    ) -> list[tuple[str, str, str]]:
        """Up to ``limit`` resources of any type matching an SQL condition on ``resource r``.

        The condition is built by the facade's include module from fixed SQL text and
        bound parameters (never request text), as query.py builds a search's conditions.
        """
        with self._reading() as conn:
            rids = [
                rid
                for (rid,) in conn.exec_driver_sql(
                    f"SELECT r.rid FROM resource r WHERE {condition} ORDER BY r.rid LIMIT ?",
                    (*args, limit),
                )
            ]
            return _fetch_in_order(conn, rids)


def _fetch_in_order(conn: Connection, rids: list[int]) -> list[tuple[str, str, str]]:
    """(type, id, json) for rids, in the given order.

    Sorting only rids and fetching the JSON afterwards keeps large JSON text out
    of SQLite's sort, which made a sorted search several times slower.
    """
    if not rids:
        return []
    found = {
        rid: (rtype, res_id, text)
        for rid, rtype, res_id, text in conn.exec_driver_sql(
            "SELECT rid, res_type, res_id, json_text FROM resource "
            f"WHERE rid IN ({', '.join('?' * len(rids))})",
            tuple(rids),
        )
    }
    return [found[rid] for rid in rids if rid in found]


@cache
def _insert_sql(table_name: str) -> str:
    """INSERT text for a table, columns in declaration order.

    Rows are plain tuples in that order: executemany over tuples skips
    SQLAlchemy's per-row parameter processing, which cost more than SQLite
    itself during a bulk load.
    """
    columns = [c.name for c in schema.table(table_name).columns]
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
