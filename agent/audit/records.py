"""The audit tables: which FHIR requests each question caused, and what was answered.

Deliberately absent: evidence lines, note text, the answer text (it quotes the record) and
any header or token.  An auditor can re-read a cited resource from the record itself; the
log only has to say who asked what about whom, what was read, and what was cited.  The
question is kept: it is the user's own input and the thing an audit has to show.

Each table is one dataclass: its fields are the columns (in order), and
:func:`create_statements` derives the ``CREATE TABLE``/``CREATE INDEX`` text from them,
so this module is the one place the audit schema is written.  Plain dataclasses over
the standard library's ``sqlite3`` (not SQLModel): every command that reads the record
writes an access row, and importing SQLAlchemy and SQLModel for that cost half a second
of start-up (``bench/startup.py``).  The DDL matches what the earlier SQLModel tables
created (names, column types, ``ix_<table>_<column>`` indexes), so an existing audit
file is used as it is.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Self

__all__ = [
    "RECORD_TYPES",
    "AccessRecord",
    "AnswerRecord",
    "AuditRecord",
    "CitationRecord",
    "FhirRequestRecord",
    "create_statements",
    "utc_now",
]


def utc_now() -> datetime:
    return datetime.now(UTC)


_INDEXED: dict[str, Any] = {"index": True}
"""Field metadata: the column has an index (``ix_<table>_<column>``)."""

_ANSWER_ID: dict[str, Any] = {"index": True, "references": "answer"}
"""Field metadata: the column holds an ``answer.id`` (indexed)."""


_SQL_TYPES: dict[str, str] = {
    "str": "VARCHAR NOT NULL",
    "str | None": "VARCHAR",
    "int": "INTEGER NOT NULL",
    "int | None": "INTEGER",
    "float": "FLOAT NOT NULL",
    "bool": "BOOLEAN NOT NULL",
    "datetime": "DATETIME NOT NULL",
}
"""Column declaration by field annotation (the annotations are strings here)."""

_STORED_TIME = "%Y-%m-%d %H:%M:%S.%f"
"""How a time is stored: UTC without an offset, the text SQLAlchemy wrote before."""


@dataclass(kw_only=True)
class AuditRecord:
    """Base of the audit tables: ``id`` is the row id, set when the row is written."""

    TABLE: ClassVar[str]

    id: int | None = None

    @classmethod
    def columns(cls) -> list[str]:
        """The table's columns, ``id`` first, in field order."""
        return [f.name for f in dataclasses.fields(cls)]

    def to_row(self) -> tuple[Any, ...]:
        """The values to insert, column by column (``id`` included, None for a new row)."""
        return tuple(_to_sql(getattr(self, name)) for name in self.columns())

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Self:
        """A record from a row selected as :meth:`columns`."""
        kinds = {f.name: f.type for f in dataclasses.fields(cls)}
        values = {
            name: _from_sql(str(kinds[name]), value)
            for name, value in zip(cls.columns(), row, strict=True)
        }
        return cls(**values)

    def as_json(self, *, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
        """The record as JSON values (times in ISO 8601), for ``ehr-agent audit --json``."""
        return {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in dataclasses.asdict(self).items()
            if name not in exclude
        }


def _to_sql(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime(_STORED_TIME)
    return value


def _from_sql(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "datetime":
        return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
    if kind == "bool":
        return bool(value)
    return value


@dataclass(kw_only=True)
class AnswerRecord(AuditRecord):
    """One question and its outcome; ``error`` is set (and no citations) when it failed."""

    TABLE: ClassVar[str] = "answer"

    at: datetime = field(metadata=_INDEXED, default_factory=utc_now)
    thread_id: str = field(metadata=_INDEXED)
    patient_id: str = field(metadata=_INDEXED)
    channel: str  # "ask", "chat" or "api": where the question came in
    caller: str = field(metadata=_INDEXED, default="")  # a token name, "cli:<user>", "anonymous"
    question: str
    model: str
    fallback: bool = False
    error: str | None = None
    total_seconds: float = 0.0
    model_seconds: float = 0.0


@dataclass(kw_only=True)
class CitationRecord(AuditRecord):
    """A reference cited by an answer, and whether it was verified against the evidence."""

    TABLE: ClassVar[str] = "answer_citation"

    answer_id: int = field(metadata=_ANSWER_ID)
    reference: str
    verified: bool


@dataclass(kw_only=True)
class FhirRequestRecord(AuditRecord):
    """One FHIR request made while answering; ``path`` has the query but never credentials."""

    TABLE: ClassVar[str] = "fhir_request"

    answer_id: int | None = field(metadata=_ANSWER_ID, default=None)
    at: datetime = field(default_factory=utc_now)
    thread_id: str = field(metadata=_INDEXED)
    patient_id: str = field(metadata=_INDEXED)
    method: str
    path: str
    status: int
    result_count: int | None = None
    ms: float = 0.0


@dataclass(kw_only=True)
class AccessRecord(AuditRecord):
    """One read (or refused attempt) by one caller: an API request or a CLI command.

    ``action`` is the route template (``GET /patients/{patient_id}/summary``) or the CLI
    command (``cli summary``); ``target`` says what was read: the path with the query's
    parameter names but never their values (a value may be a name from the record or a
    token), e.g. ``/fhir/Observation?code&patient``.  ``status`` is the HTTP status, or
    for the CLI the status the same outcome would have had (200, 404, 409, 502, 500).
    """

    TABLE: ClassVar[str] = "access"

    at: datetime = field(metadata=_INDEXED, default_factory=utc_now)
    caller: str = field(metadata=_INDEXED)
    channel: str  # "api" or "cli"
    action: str
    patient_id: str | None = field(metadata=_INDEXED, default=None)
    target: str
    status: int
    thread_id: str | None = None
    ms: float = 0.0


RECORD_TYPES: tuple[type[AuditRecord], ...] = (
    AnswerRecord,
    CitationRecord,
    FhirRequestRecord,
    AccessRecord,
)
"""Every audit table, parents before the tables that reference them."""


def create_statements(record: type[AuditRecord]) -> list[str]:
    """``CREATE TABLE`` and ``CREATE INDEX`` (``IF NOT EXISTS``) for one record type."""
    table = record.TABLE
    columns = ["id INTEGER NOT NULL"]
    constraints = ["PRIMARY KEY (id)"]
    indexes: list[str] = []
    for column in dataclasses.fields(record):
        if column.name == "id":
            continue
        columns.append(f"{column.name} {_SQL_TYPES[str(column.type)]}")
        if "references" in column.metadata:
            constraints.append(
                f"FOREIGN KEY({column.name}) REFERENCES {column.metadata['references']} (id)"
            )
        if column.metadata.get("index"):
            indexes.append(
                f"CREATE INDEX IF NOT EXISTS ix_{table}_{column.name} ON {table} ({column.name})"
            )
    body = ",\n\t".join([*columns, *constraints])
    return [f"CREATE TABLE IF NOT EXISTS {table} (\n\t{body}\n)", *indexes]
