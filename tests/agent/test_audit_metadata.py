"""The audit log and the record store keep their tables apart (separate SQLModel metadata).

Before, both shared ``SQLModel.metadata``: any store opened after ``agent.audit`` was
imported created the audit tables in the record's own file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agent.audit import AuditLog
from fhir_client.embedded import EmbeddedStore

AUDIT_TABLES = {"answer", "answer_citation", "fhir_request", "access"}


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_the_store_file_holds_no_audit_table_and_the_audit_file_no_record(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "store.sqlite")  # opened after agent.audit's import
    store.close()
    log = AuditLog(tmp_path / "audit.sqlite")
    log.close()
    store_tables = _tables(tmp_path / "store.sqlite")
    audit_tables = _tables(tmp_path / "audit.sqlite")
    assert store_tables and not store_tables & AUDIT_TABLES
    assert audit_tables == AUDIT_TABLES
