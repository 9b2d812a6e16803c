"""The audit database: where it lives, writing one question's records, reading them back.

SQLite next to the embedded store (one project directory holds record, threads and
audit), else the per-user data directory; ``EHR_AGENT_AUDIT_DB`` overrides both.  A
question's answer, citations and requests are written in one transaction, after the
answer, so a crash mid-answer cannot leave requests filed under no question.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs
from sqlalchemy import Engine, event, text
from sqlmodel import Session, col, create_engine, select

from agent.audit.records import (
    AccessRecord,
    AnswerRecord,
    AuditTable,
    CitationRecord,
    FhirRequestRecord,
)
from agent.settings import APP_NAME, Settings

if TYPE_CHECKING:  # annotations only: listing patients never builds an answer
    from agent.output import AgentOutput

__all__ = ["ENV_AUDIT_DB", "AuditEntry", "AuditLog", "default_audit_path"]

ENV_AUDIT_DB = "EHR_AGENT_AUDIT_DB"
AUDIT_FILE = "audit.sqlite"
_TABLES = ("answer", "answer_citation", "fhir_request", "access")
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


class AuditLog:
    """Append-only access to one audit database (tables created on first open)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._engine: Engine = create_engine(
            f"sqlite:///{path}",
            connect_args={"check_same_thread": False, "timeout": _BUSY_TIMEOUT_SECONDS},
            hide_parameters=True,  # a failed write's error must not quote the question
        )
        event.listen(self._engine, "connect", _wal)
        AuditTable.metadata.create_all(
            self._engine, tables=[AuditTable.metadata.tables[name] for name in _TABLES]
        )
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Bring a log written by an older version up to the current columns."""
        with self._engine.begin() as connection:
            for table, column, declaration in _ADDED_COLUMNS:
                present = {
                    row[1] for row in connection.execute(text(f"PRAGMA table_info({table})"))
                }
                if column not in present:
                    connection.execute(
                        text(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
                    )

    def close(self) -> None:
        self._engine.dispose()

    def record_access(self, access: AccessRecord) -> None:
        """Store one read or refused request (see :class:`AccessRecord`)."""
        with Session(self._engine) as session:
            session.add(access)
            session.commit()

    def accesses(
        self,
        *,
        caller: str | None = None,
        patient_id: str | None = None,
        limit: int = 50,
    ) -> list[AccessRecord]:
        """The newest ``limit`` reads (filtered), oldest first."""
        with Session(self._engine) as session:
            query = select(AccessRecord)
            if caller is not None:
                query = query.where(AccessRecord.caller == caller)
            if patient_id is not None:
                query = query.where(AccessRecord.patient_id == patient_id)
            query = query.order_by(col(AccessRecord.id).desc()).limit(limit)
            return list(reversed(session.exec(query).all()))

    def record(
        self,
        answer: AnswerRecord,
        requests: list[FhirRequestRecord],
        output: AgentOutput | None = None,
    ) -> int:
        """Store one question: the answer row, its citations (from ``output``), its requests."""
        with Session(self._engine) as session:
            session.add(answer)
            session.flush()
            assert answer.id is not None  # set by the flush
            for citation in output.citations if output is not None else []:
                session.add(
                    CitationRecord(
                        answer_id=answer.id,
                        reference=citation.reference,
                        verified=citation.verified,
                    )
                )
            for request in requests:
                request.answer_id = answer.id
                session.add(request)
            session.commit()
            return answer.id

    def entries(
        self,
        *,
        patient_id: str | None = None,
        thread_id: str | None = None,
        caller: str | None = None,
        limit: int = 20,
    ) -> list[AuditEntry]:
        """The newest ``limit`` answers (filtered), oldest first, each with what it read."""
        with Session(self._engine) as session:
            query = select(AnswerRecord)
            if caller is not None:
                query = query.where(AnswerRecord.caller == caller)
            if patient_id is not None:
                query = query.where(AnswerRecord.patient_id == patient_id)
            if thread_id is not None:
                query = query.where(AnswerRecord.thread_id == thread_id)
            query = query.order_by(col(AnswerRecord.id).desc()).limit(limit)
            answers = list(reversed(session.exec(query).all()))
            found: list[AuditEntry] = []
            for answer in answers:
                citations = session.exec(
                    select(CitationRecord)
                    .where(CitationRecord.answer_id == answer.id)
                    .order_by(col(CitationRecord.id))
                ).all()
                requests = session.exec(
                    select(FhirRequestRecord)
                    .where(FhirRequestRecord.answer_id == answer.id)
                    .order_by(col(FhirRequestRecord.id))
                ).all()
                found.append(AuditEntry(answer, list(citations), list(requests)))
            return found


def _wal(connection: Any, _record: Any) -> None:
    """WAL lets readers and one writer of other processes work at once."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()
