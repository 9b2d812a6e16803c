"""The audit database: where it lives, writing one question's records, reading them back.

The standard library's ``sqlite3``, one short connection per operation (the log is
written from worker threads and from several processes; each write is one transaction).

SQLite next to the embedded store (one project directory holds record, threads and
audit), else the per-user data directory; ``EHR_AGENT_AUDIT_DB`` overrides both.  A
question's answer, citations and requests are written in one transaction, after the
answer, so a crash mid-answer cannot leave requests filed under no question.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import platformdirs

from agent.audit.records import (
    RECORD_TYPES,
    AccessRecord,
    AnswerRecord,
    AuditRecord,
    CitationRecord,
    FhirRequestRecord,
    create_statements,
)
from agent.settings import APP_NAME, Settings

if TYPE_CHECKING:  # annotations only: listing patients never builds an answer
    from agent.output import AgentOutput

__all__ = ["ENV_AUDIT_DB", "AuditEntry", "AuditLog", "default_audit_path"]

ENV_AUDIT_DB = "EHR_AGENT_AUDIT_DB"
AUDIT_FILE = "audit.sqlite"
# Writers in other processes (serve workers, CLI commands) hold the file briefly; wait.
_BUSY_TIMEOUT_SECONDS = 30.0
# Columns added after the first release: (table, column, SQL type and default).
_ADDED_COLUMNS = (("answer", "caller", "VARCHAR NOT NULL DEFAULT ''"),)


def default_audit_path(settings: Settings, environ: Mapping[str, str] | None = None) -> Path:
    """``$EHR_AGENT_AUDIT_DB``, else next to the embedded store, else the data directory."""
    env = os.environ if environ is None else environ
    if env.get(ENV_AUDIT_DB):
        return Path(env[ENV_AUDIT_DB]).expanduser()
    if settings.uses_embedded_store and str(settings.db_path) != ":memory:":
        return settings.db_path.parent / AUDIT_FILE
    return Path(platformdirs.user_data_dir(APP_NAME)) / AUDIT_FILE


@dataclass(frozen=True)
class AuditEntry:
    """An answer with its citations and the FHIR requests made for it, for display."""

    answer: AnswerRecord
    citations: list[CitationRecord]
    requests: list[FhirRequestRecord]


_Record = TypeVar("_Record", bound=AuditRecord)


class AuditLog:
    """Append-only access to one audit database (tables created on first open)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as connection:
            # WAL lets readers and one writer of other processes work at once; the
            # mode is kept in the file, so this changes something only once.
            connection.execute("PRAGMA journal_mode=WAL")
            for record in RECORD_TYPES:
                for statement in create_statements(record):
                    connection.execute(statement)
            self._add_missing_columns(connection)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """One connection, in one transaction committed when the block ends."""
        opened = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_SECONDS)
        with closing(opened) as connection, connection:
            yield connection

    @staticmethod
    def _add_missing_columns(connection: sqlite3.Connection) -> None:
        """Bring a log written by an older version up to the current columns."""
        for table, column, declaration in _ADDED_COLUMNS:
            present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                connection.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    def close(self) -> None:
        """Nothing stays open between operations; kept so callers can close what they open."""

    def record_access(self, access: AccessRecord) -> None:
        """Store one read or refused request (see :class:`AccessRecord`)."""
        with self._connection() as connection:
            _insert(connection, access)

    def accesses(
        self,
        *,
        caller: str | None = None,
        patient_id: str | None = None,
        limit: int = 50,
    ) -> list[AccessRecord]:
        """The newest ``limit`` reads (filtered), oldest first."""
        with self._connection() as connection:
            rows = _newest(
                connection, AccessRecord, {"caller": caller, "patient_id": patient_id}, limit
            )
        return list(reversed(rows))

    def record(
        self,
        answer: AnswerRecord,
        requests: list[FhirRequestRecord],
        output: AgentOutput | None = None,
    ) -> int:
        """Store one question: the answer row, its citations (from ``output``), its requests."""
        with self._connection() as connection:
            answer_id = _insert(connection, answer)
            for citation in output.citations if output is not None else []:
                _insert(
                    connection,
                    CitationRecord(
                        answer_id=answer_id,
                        reference=citation.reference,
                        verified=citation.verified,
                    ),
                )
            for request in requests:
                request.answer_id = answer_id
                _insert(connection, request)
        return answer_id

    def entries(
        self,
        *,
        patient_id: str | None = None,
        thread_id: str | None = None,
        caller: str | None = None,
        limit: int = 20,
    ) -> list[AuditEntry]:
        """The newest ``limit`` answers (filtered), oldest first, each with what it read."""
        wanted = {"caller": caller, "patient_id": patient_id, "thread_id": thread_id}
        with self._connection() as connection:
            answers = list(reversed(_newest(connection, AnswerRecord, wanted, limit)))
            return [
                AuditEntry(
                    answer,
                    _of_answer(connection, CitationRecord, answer.id),
                    _of_answer(connection, FhirRequestRecord, answer.id),
                )
                for answer in answers
            ]


def _insert(connection: sqlite3.Connection, record: AuditRecord) -> int:
    """Write ``record`` as a new row; sets and returns its id."""
    columns = record.columns()
    cursor = connection.execute(
        f"INSERT INTO {record.TABLE} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})",
        record.to_row(),
    )
    assert cursor.lastrowid is not None  # an INSERT into a rowid table sets it
    record.id = cursor.lastrowid
    return record.id


def _newest(
    connection: sqlite3.Connection,
    record: type[_Record],
    wanted: Mapping[str, str | None],
    limit: int,
) -> list[_Record]:
    """The newest ``limit`` rows whose columns equal the given (non-None) values."""
    tests = {column: value for column, value in wanted.items() if value is not None}
    where = " AND ".join(f"{column} = ?" for column in tests) or "1"
    rows = connection.execute(
        f"SELECT {', '.join(record.columns())} FROM {record.TABLE} "
        f"WHERE {where} ORDER BY id DESC LIMIT ?",
        (*tests.values(), limit),
    )
    return [record.from_row(row) for row in rows]


def _of_answer(
    connection: sqlite3.Connection, record: type[_Record], answer_id: int | None
) -> list[_Record]:
    """The rows of ``record``'s table filed under one answer, in the order written."""
    rows = connection.execute(
        f"SELECT {', '.join(record.columns())} FROM {record.TABLE} WHERE answer_id = ? ORDER BY id",
        (answer_id,),
    )
    return [record.from_row(row) for row in rows]
