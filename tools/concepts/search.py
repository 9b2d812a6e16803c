"""Record-wide ranked search: SQLite FTS5 with BM25 over the text of one patient's record.

The last resort when no tool and no concept fits: "what does the record have about X".
The index is built in memory from the same ``PatientRecord`` the concept index uses (read
through ``Patient/$everything``), so the ranking is the same on the embedded store and
on any remote server.  Each resource contributes its coded names, values, free text and
decoded notes (cut at ``MAX_SEARCH_TEXT_CHARS``); the Porter tokenizer joins word forms.
Record text is data: it is only ever matched and quoted, never interpreted.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fhir_client.limits import MAX_SEARCH_HITS, MAX_SEARCH_TEXT_CHARS
from tools.concepts.record import PatientRecord
from tools.concepts.text import STOP_WORDS
from tools.fhir_text import resource_date
from tools.notes import note_text
from tools.vocabulary import normalize_name

__all__ = ["RecordSearch", "SearchHit", "resource_text"]

Resource = dict[str, Any]

# Keys whose string values are human text worth searching (``text`` only when a string:
# ``Resource.text`` is generated XHTML narrative that restates the rest).
_TEXT_KEYS = frozenset(
    {"display", "text", "valueString", "description", "title", "comment", "name", "unit"}
)
_SKIP_KEYS = frozenset({"id", "reference", "fullUrl", "url", "system", "meta", "data", "div"})


@dataclass(frozen=True)
class SearchHit:
    """One resource that matches, with its BM25 rank (lower is better) and a snippet."""

    reference: str
    resource_type: str
    date: str | None
    rank: float
    snippet: str


def _strings(node: Any, key: str = "") -> Iterator[str]:
    if isinstance(node, dict):
        for child_key, value in node.items():
            if child_key not in _SKIP_KEYS:
                yield from _strings(value, child_key)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item, key)
    elif isinstance(node, str) and key in _TEXT_KEYS:
        yield node
    elif isinstance(node, int | float) and not isinstance(node, bool) and key == "value":
        yield str(node)


def resource_text(resource: Resource) -> str:
    """Every searchable word of a resource: names, values, free text, decoded notes."""
    parts = list(dict.fromkeys(_strings(resource)))
    note = note_text(resource)
    if note:
        parts.append(note)
    return " ".join(parts)[:MAX_SEARCH_TEXT_CHARS]


def _match_query(text: str, operator: str) -> str | None:
    """An FTS5 query: the content words, each quoted (no FTS syntax from the user), joined
    by ``AND`` or ``OR``.  BM25 ranks resources holding more of the words, and rarer ones,
    first.
    """
    words = [w for w in normalize_name(text).split() if w not in STOP_WORDS]
    words = [re.sub(r"[^a-z0-9]", "", w) for w in words]
    words = [w for w in dict.fromkeys(words) if w]
    if not words:
        return None
    return f" {operator} ".join(f'"{w}"' for w in words)


class RecordSearch:
    """An in-memory FTS5 index of one record (build once, query many times)."""

    def __init__(self, record: PatientRecord) -> None:
        self.resources = len(record.resources)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute(
            "CREATE VIRTUAL TABLE doc USING fts5("
            "body, reference UNINDEXED, rtype UNINDEXED, day UNINDEXED, "
            "tokenize = 'porter unicode61 remove_diacritics 2')"
        )
        rows = []
        for resource in record.resources:
            body = resource_text(resource)
            if body:
                kind = str(resource.get("resourceType"))
                rows.append((body, f"{kind}/{resource.get('id')}", kind, resource_date(resource)))
        self._db.executemany("INSERT INTO doc VALUES (?, ?, ?, ?)", rows)
        self.indexed = len(rows)

    def search(
        self, text: str, *, since: str | None = None, until: str | None = None
    ) -> tuple[list[SearchHit], int, bool]:
        """The best ``MAX_SEARCH_HITS`` hits in the day window, how many matched, and
        whether every word had to match (resources with all the words when any exist,
        else those with any of them)."""
        for operator in ("AND", "OR"):
            query = _match_query(text, operator)
            if query is None:
                return [], 0, True
            hits, total = self._run(query, since, until)
            if hits:
                return hits, total, operator == "AND"
        return [], 0, True

    def _run(self, query: str, since: str | None, until: str | None) -> tuple[list[SearchHit], int]:
        where = "doc MATCH ?"
        args: list[Any] = [query]
        if since:
            where += " AND day >= ?"
            args.append(since)
        if until:
            where += " AND day <= ?"
            args.append(until)
        with self._lock:
            total = int(
                self._db.execute(f"SELECT count(*) FROM doc WHERE {where}", args).fetchone()[0]
            )
            rows = self._db.execute(
                "SELECT reference, rtype, day, bm25(doc), "
                "snippet(doc, 0, '', '', '…', 12) "
                f"FROM doc WHERE {where} ORDER BY bm25(doc) LIMIT ?",
                [*args, MAX_SEARCH_HITS],
            ).fetchall()
        hits = [SearchHit(r[0], r[1], r[2], float(r[3]), str(r[4])) for r in rows]
        return hits, total

    def close(self) -> None:
        self._db.close()
