"""The SQL that reads the store's ``resource`` table, one function a kind of read.

Why a module of its own: :class:`~fhir_client.embedded.store.EmbeddedStore` owns the
store's lifecycle, its locks and its write transactions; what a read asks of SQLite
(which rows, in which order, paged how) is a separate concern that changes with the
FHIR features the facade serves (search, ``$everything``, vread, ``_history``,
``_include``). Every function takes a connection already in a read transaction
(:meth:`ReadConnections.reading`) and returns the stored JSON text untouched, so the
facade can stream it without parsing. Conditions come from fixed SQL text with bound
parameters, never from request text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fhir_client.embedded.compartment import ALL_REFERENCES
from fhir_client.embedded.connection import scalar

if TYPE_CHECKING:
    from fhir_client.embedded.query import SearchQuery

__all__ = [
    "HistoryRow",
    "SearchPage",
    "counts_by_type",
    "everything_members",
    "fetch_in_order",
    "history_rows",
    "patient_exists",
    "read_text",
    "read_version",
    "rows_matching",
    "search_page",
]

HistoryRow = tuple[str, str, int, str, str]
"""``(type, id, version, last_updated, json_text)`` of one stored version."""


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of matches: (type, id, json text) rows plus the total if counted."""

    rows: list[tuple[str, str, str]]
    total: int | None


def fetch_in_order(conn: sqlite3.Connection, rids: list[int]) -> list[tuple[str, str, str]]:
    """(type, id, json) for rids, in the given order.

    Sorting only rids and fetching the JSON afterwards keeps large JSON text out
    of SQLite's sort, which made a sorted search several times slower.
    """
    return [(str(t), str(i), str(j)) for t, i, j in _columns_in_order(conn, _JSON_COLUMNS, rids)]


_JSON_COLUMNS = "res_type, res_id, json_text"
_HISTORY_COLUMNS = "res_type, res_id, version, last_updated, json_text"


def _columns_in_order(
    conn: sqlite3.Connection, columns: str, rids: list[int]
) -> list[tuple[Any, ...]]:
    """``columns`` of the resources with these rids, in the rids' order (gone ones skipped)."""
    if not rids:
        return []
    found = {
        row[0]: row[1:]
        for row in conn.execute(
            f"SELECT rid, {columns} FROM resource WHERE rid IN ({', '.join('?' * len(rids))})",
            tuple(rids),
        )
    }
    return [found[rid] for rid in rids if rid in found]


def read_text(conn: sqlite3.Connection, resource_type: str, resource_id: str) -> str | None:
    """The stored JSON text of a resource, or None."""
    value = scalar(
        conn.execute(
            "SELECT json_text FROM resource WHERE res_type = ? AND res_id = ?",
            (resource_type, resource_id),
        )
    )
    return value if isinstance(value, str) else None


def read_version(
    conn: sqlite3.Connection, resource_type: str, resource_id: str
) -> tuple[int, str, str] | None:
    """``(version, last_updated, json_text)`` of the stored version, or None."""
    row = conn.execute(
        "SELECT version, last_updated, json_text FROM resource WHERE res_type = ? AND res_id = ?",
        (resource_type, resource_id),
    ).fetchone()
    if row is None:
        return None
    return int(row[0]), str(row[1]), str(row[2])


def search_page(conn: sqlite3.Connection, query: SearchQuery) -> SearchPage:
    """Run a parsed search: one page of matches and (if asked) the total."""
    # With other filters, `+` stops SQLite from scanning every resource of the
    # type through the (res_type, res_id) index: the index subqueries, which
    # already carry the type, are far more selective and should drive.
    type_test = "+r.res_type = ?" if query.where else "r.res_type = ?"
    where = " AND ".join([type_test, *query.where])
    args: list[object] = [query.resource_type, *query.args]
    total: int | None = None
    if query.include_total or query.summary_count:
        total = int(
            scalar(conn.execute(f"SELECT COUNT(*) FROM resource r WHERE {where}", tuple(args))) or 0
        )
    rows: list[tuple[str, str, str]] = []
    if not query.summary_count and query.count > 0:
        sql = (
            f"SELECT r.rid FROM resource r WHERE {where} ORDER BY {query.order_by} LIMIT ? OFFSET ?"
        )
        params = (*args, *query.order_args, query.count, query.offset)
        rows = fetch_in_order(conn, _rids(conn, sql, params))
    return SearchPage(rows, total)


def patient_exists(conn: sqlite3.Connection, patient_id: str) -> bool:
    """True when a Patient with this id is stored."""
    return bool(
        scalar(
            conn.execute(
                "SELECT 1 FROM resource WHERE res_type = 'Patient' AND res_id = ?",
                (patient_id,),
            )
        )
    )


def everything_members(
    conn: sqlite3.Connection, patient_id: str, types: Sequence[str] = ()
) -> list[int]:
    """The rids of a patient's whole record, the Patient first, then in rid order.

    The record is the patient's compartment plus the non-patient resources
    (Practitioner, Organization...) its resources point at; ``types`` narrows it.
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
    return _rids(conn, f"SELECT r.rid {base} {order}", (*args, patient_id))


def counts_by_type(conn: sqlite3.Connection, patient_id: str | None = None) -> dict[str, int]:
    """Number of resources per type, overall or in one patient's compartment."""
    sql = "SELECT res_type, COUNT(*) FROM resource"
    args: tuple[str, ...] = ()
    if patient_id is not None:
        sql += " WHERE patient_id = ?"
        args = (patient_id,)
    rows = conn.execute(sql + " GROUP BY res_type ORDER BY res_type", args)
    return {str(t): int(n) for t, n in rows}


def history_rows(
    conn: sqlite3.Connection,
    *,
    resource_type: str | None,
    resource_id: str | None,
    since: str | None,
    count: int,
    offset: int,
) -> tuple[list[HistoryRow], int]:
    """One page of type, system or instance ``_history``, newest first, and its total.

    The store keeps one version per resource, so a history is the stored versions
    changed at or after ``since`` (an instant in the store's own ``last_updated``
    form, which sorts as text).
    """
    conditions: list[str] = []
    args: list[object] = []
    for column, value in (
        ("res_type = ?", resource_type),
        ("res_id = ?", resource_id),
        ("last_updated >= ?", since),
    ):
        if value is not None:
            conditions.append(column)
            args.append(value)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    total = int(scalar(conn.execute(f"SELECT COUNT(*) FROM resource {where}", tuple(args))) or 0)
    rids = _rids(
        conn,
        f"SELECT rid FROM resource {where} ORDER BY last_updated DESC, rid DESC LIMIT ? OFFSET ?",
        (*args, count, offset),
    )
    rows = _columns_in_order(conn, _HISTORY_COLUMNS, rids)
    return [(str(t), str(i), int(v), str(u), str(j)) for t, i, v, u, j in rows], total


def rows_matching(
    conn: sqlite3.Connection, condition: str, args: Sequence[object], limit: int
) -> list[tuple[str, str, str]]:
    """Up to ``limit`` resources of any type matching an SQL condition on ``resource r``.

    The condition is built by the facade's include module from fixed SQL text and
    bound parameters (never request text), as query.py builds a search's conditions.
    """
    rids = _rids(
        conn,
        f"SELECT r.rid FROM resource r WHERE {condition} ORDER BY r.rid LIMIT ?",
        (*args, limit),
    )
    return fetch_in_order(conn, rids)


def _rids(conn: sqlite3.Connection, sql: str, params: Sequence[object]) -> list[int]:
    """The first column of every row of a query that selects rids."""
    return [rid for (rid,) in conn.execute(sql, tuple(params))]
