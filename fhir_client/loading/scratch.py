"""What a load must remember per resource, kept in a temporary SQLite file, not in memory.

Rewriting a bundle's references needs facts about the whole file before its first
entry is written: which ``urn:uuid:`` fullUrl names which ``Type/id``, that no
``Type/id`` appears twice, what each entry is (so the second pass can tell the file
did not change), which identifiers its resources carry. And a run must remember the
identifiers of every file it loaded, so a later file's conditional references find
them. Held in Python dicts that was about 0.6 KB per resource: 45 MiB for a lifetime
bundle of 78,696 resources, and without bound over a population.

Here they live in SQLite's private temporary database (``sqlite3.connect("")``:
a file SQLite creates, reads through a page cache of ``LOAD_SCRATCH_CACHE_KIB`` and
deletes when the connection closes), so a load's memory no longer grows with its
resources. No journal and no sync: nothing here outlives the run. Lookups of fullUrls
go through a small LRU (``LOAD_LOOKUP_CACHE_ENTRIES``): most references of a Synthea
entry name the patient or the entry's encounter, read again and again.

One scratch serves one load run, one file at a time (the loader's files are loaded in
turn); a lock makes each call safe from the loader's worker threads.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from types import TracebackType

from fhir_client.limits import LOAD_LOOKUP_CACHE_ENTRIES, LOAD_SCRATCH_CACHE_KIB
from fhir_client.loading.resolution import Candidate, IdentifierIndex

__all__ = ["FileFacts", "LoadScratch"]

_NAME_SEPARATOR = "\x1f"  # normalised names never hold control characters

_SCHEMA = (
    # Per file, cleared when the next file starts.
    "CREATE TABLE entry (position INTEGER PRIMARY KEY, target TEXT NOT NULL UNIQUE)",
    "CREATE TABLE local (full_url TEXT PRIMARY KEY, target TEXT NOT NULL) WITHOUT ROWID",
    # Identifier -> the one resource carrying it; target NULL when several do.
    "CREATE TABLE file_identifier (key TEXT PRIMARY KEY, target TEXT, names TEXT) WITHOUT ROWID",
    # The same for every file of the run loaded so far.
    "CREATE TABLE run_identifier (key TEXT PRIMARY KEY, target TEXT, names TEXT) WITHOUT ROWID",
)

# A second candidate for an identifier makes it ambiguous (NULL) unless it is the same
# resource with the same names; the right-hand sides read the row's old values.
_MERGE = """
ON CONFLICT(key) DO UPDATE SET
  target = CASE WHEN {t}.target IS excluded.target AND {t}.names IS excluded.names
           THEN {t}.target END,
  names = CASE WHEN {t}.target IS excluded.target AND {t}.names IS excluded.names
          THEN {t}.names END
"""


def _encode_names(names: frozenset[str]) -> str:
    return _NAME_SEPARATOR.join(sorted(names))


def _decode(target: str | None, names: str | None) -> Candidate | None:
    if target is None:
        return None
    return Candidate(target, frozenset(names.split(_NAME_SEPARATOR)) if names else frozenset())


class LoadScratch:
    """The temporary database of one load run; use as a context manager."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        for pragma in (
            f"cache_size=-{LOAD_SCRATCH_CACHE_KIB}",
            "journal_mode=OFF",
            "synchronous=OFF",
            "temp_store=FILE",
        ):
            self._db.execute(f"PRAGMA {pragma}")
        for statement in _SCHEMA:
            self._db.execute(statement)
        self._db.execute("BEGIN")  # one transaction for the run: never committed, dropped
        self._generation = 0

    def start_file(self) -> FileFacts:
        """Forget the previous file's facts; the new file's collector."""
        with self._lock:
            for table in ("entry", "local", "file_identifier"):
                self._db.execute(f"DELETE FROM {table}")
            self._generation += 1
            return FileFacts(self, self._generation)

    def remember_file(self) -> None:
        """Add the current file's identifiers to the run's: the file is now on the server."""
        with self._lock:
            self._db.execute(
                "INSERT INTO run_identifier (key, target, names) "
                "SELECT key, target, names FROM file_identifier WHERE true"
                + _MERGE.format(t="run_identifier")
            )

    def run_identifier(self, key: str) -> tuple[bool, Candidate | None]:
        """(known, candidate) for ``key`` among the files loaded so far in this run."""
        return self._identifier("run_identifier", key)

    def _identifier(self, table: str, key: str) -> tuple[bool, Candidate | None]:
        with self._lock:
            row = self._db.execute(
                f"SELECT target, names FROM {table} WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return False, None
        return True, _decode(row[0], row[1])

    def _execute(self, sql: str, parameters: tuple[object, ...]) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, parameters)

    def _one(self, sql: str, parameters: tuple[object, ...]) -> object:
        with self._lock:
            row = self._db.execute(sql, parameters).fetchone()
        return None if row is None else row[0]

    def close(self) -> None:
        """Close the connection; SQLite deletes the temporary file."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> LoadScratch:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class FileFacts:
    """One file's facts in the scratch database (valid until the next ``start_file``)."""

    def __init__(self, scratch: LoadScratch, generation: int) -> None:
        self._scratch = scratch
        self._generation = generation
        self.entries = 0
        self.local = LocalTargets(self)

    def _check_current(self) -> None:
        if self._generation != self._scratch._generation:
            raise RuntimeError("these file facts were replaced by another file's")

    def add_entry(self, position: int, target: str) -> int | None:
        """Record entry ``position`` as ``target``; the first position of ``target`` if
        the file already had it (the entry is then not recorded)."""
        self._check_current()
        added = self._scratch._execute(
            "INSERT OR IGNORE INTO entry (position, target) VALUES (?, ?)", (position, target)
        ).rowcount
        if added:
            self.entries += 1
            return None
        first = self._scratch._one("SELECT position FROM entry WHERE target = ?", (target,))
        return int(str(first))

    def target_at(self, position: int) -> str | None:
        """The ``Type/id`` the first pass saw at ``position``, or None past the last."""
        self._check_current()
        found = self._scratch._one("SELECT target FROM entry WHERE position = ?", (position,))
        return found if isinstance(found, str) else None

    def add_full_url(self, full_url: str, target: str) -> None:
        """``full_url`` names ``target`` in this file (a later entry's fullUrl wins)."""
        self._check_current()
        self._scratch._execute(
            "INSERT OR REPLACE INTO local (full_url, target) VALUES (?, ?)", (full_url, target)
        )

    def add_identifiers(self, index: IdentifierIndex) -> None:
        """Merge one resource's identifiers; one carried by two resources is ambiguous."""
        self._check_current()
        for key, candidate in index.items():
            self._scratch._execute(
                "INSERT INTO file_identifier (key, target, names) VALUES (?, ?, ?)"
                + _MERGE.format(t="file_identifier"),
                (
                    key,
                    candidate.target if candidate else None,
                    _encode_names(candidate.names) if candidate else None,
                ),
            )

    def identifier(self, key: str) -> tuple[bool, Candidate | None]:
        """(known, candidate) for ``key`` among this file's resources."""
        self._check_current()
        return self._scratch._identifier("file_identifier", key)

    def full_url_target(self, full_url: str) -> str | None:
        self._check_current()
        found = self._scratch._one("SELECT target FROM local WHERE full_url = ?", (full_url,))
        return found if isinstance(found, str) else None

    def full_url_count(self) -> int:
        self._check_current()
        return int(str(self._scratch._one("SELECT count(*) FROM local", ())))

    def full_urls(self) -> Iterator[str]:
        self._check_current()
        with self._scratch._lock:
            rows = self._scratch._db.execute("SELECT full_url FROM local").fetchall()
        return iter([url for (url,) in rows])


class LocalTargets(Mapping[str, str]):
    """fullUrl -> ``Type/id`` of one file, read from the scratch database through an LRU.

    The mapping :class:`fhir_client.loading.references.ReferenceTargets` takes as
    ``local``; iterating it reads every fullUrl (for tests and messages, not the load).
    """

    def __init__(self, facts: FileFacts, entries: int = LOAD_LOOKUP_CACHE_ENTRIES) -> None:
        self._facts = facts
        self._entries = entries
        self._recent: OrderedDict[str, str | None] = OrderedDict()

    def __getitem__(self, full_url: str) -> str:
        recent = self._recent
        if full_url in recent:
            recent.move_to_end(full_url)
            found = recent[full_url]
        else:
            found = self._facts.full_url_target(full_url)
            recent[full_url] = found
            if len(recent) > self._entries:
                recent.popitem(last=False)
        if found is None:
            raise KeyError(full_url)
        return found

    def __len__(self) -> int:
        return self._facts.full_url_count()

    def __iter__(self) -> Iterator[str]:
        return self._facts.full_urls()
