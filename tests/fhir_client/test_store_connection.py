"""The store's read connections (the standard library's sqlite3) and its SQLModel tables
agree, and a store that exists is opened and read without importing SQLAlchemy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlmodel import SQLModel

from fhir_client.embedded import EmbeddedStore, schema
from fhir_client.embedded.connection import TABLES

REPO = Path(__file__).resolve().parents[2]


def test_the_table_names_the_readers_check_are_the_declared_tables() -> None:
    assert schema.ResourceRow.metadata is SQLModel.metadata  # the tables a store creates
    assert set(SQLModel.metadata.tables) == set(TABLES)


def test_an_existing_store_is_opened_and_read_without_sqlalchemy(tmp_path: Path) -> None:
    db = tmp_path / "store.sqlite"
    store = EmbeddedStore(db)
    store.put_resources([{"resourceType": "Patient", "id": "p1", "name": [{"family": "Ng"}]}])
    store.close()
    script = (
        "import sys\n"
        "from fhir_client.embedded import EmbeddedStore\n"
        f"store = EmbeddedStore({str(db)!r})\n"
        "page = store.patient_page(count=5)\n"
        "print(page.total, store.counts_by_type(), store.read('Patient', 'p1')['id'])\n"
        "store.close()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'sqlmodel')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert done.stdout.splitlines() == ["1 {'Patient': 1} p1", "[]"]


def test_a_memory_store_reads_what_it_wrote(tmp_path: Path) -> None:
    store = EmbeddedStore(":memory:")
    try:
        assert store.is_empty()
        store.put_resources([{"resourceType": "Patient", "id": "p1"}])
        assert not store.is_empty()
        assert store.read("Patient", "p1") is not None
        assert store.patient_page(count=5).total == 1
    finally:
        store.close()
