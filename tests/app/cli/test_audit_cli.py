"""The audit log end to end: ``ehr-agent ask`` writes it, ``ehr-agent audit`` shows it.

Real CLI runs (``--model none``) over a private copy of the fixture store, with one
planted note whose sentence must never reach the audit database or the logs.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.audit import AuditLog
from agent.cli import app
from agent.output import AgentOutput
from agent.record_source import open_embedded_store
from fhir_client.embedded import embedded_client
from tests.support.api_server import FIXTURES_DIR, hba1c_patient, store_copy

SECRET_NOTE = "The zebrafish bite on her left thumb healed under the violet lanternfish dressing."


def _plant_note(db: Path, patient_id: str) -> None:
    document = {
        "resourceType": "DocumentReference",
        "id": "audit-planted-note",
        "status": "current",
        "subject": {"reference": f"Patient/{patient_id}"},
        "date": "2026-01-05T10:00:00Z",
        "type": {"text": "Progress note"},
        "content": [
            {
                "attachment": {
                    "contentType": "text/plain",
                    "data": base64.b64encode(SECRET_NOTE.encode()).decode(),
                }
            }
        ],
    }

    async def put() -> None:
        async with embedded_client(store) as client:
            await client.update(document)

    store = open_embedded_store(db)
    try:
        asyncio.run(put())
    finally:
        store.close()


@pytest.fixture
def project(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = store_copy(tmp_path, tmp_path_factory.getbasetemp())
    _plant_note(db, hba1c_patient())
    return db


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, project: Path) -> CliRunner:
    for name in (
        "EHR_AGENT_FHIR_URL",
        "EHR_AGENT_FHIR_TOKEN",
        "EHR_AGENT_MODEL",
        "EHR_AGENT_AUDIT_DB",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EHR_AGENT_DB", str(project))
    monkeypatch.setenv("EHR_AGENT_FIXTURES", str(FIXTURES_DIR))
    return CliRunner()


def _ask(runner: CliRunner, patient_id: str, question: str, *extra: str) -> AgentOutput:
    result = runner.invoke(app, ["ask", "-p", patient_id, "-m", "none", "--json", *extra, question])
    assert result.exit_code == 0, result.stderr
    return AgentOutput.model_validate_json(result.stdout)


def test_ask_files_its_answer_citations_and_requests(runner: CliRunner, project: Path) -> None:
    patient = hba1c_patient()
    output = _ask(runner, patient, "What are the HbA1c results?", "--thread", "audit-t1")
    assert any(c.verified for c in output.citations)

    log = AuditLog(project.parent / "audit.sqlite")
    try:
        [entry] = log.entries(thread_id="audit-t1")
    finally:
        log.close()
    assert entry.answer.patient_id == patient and entry.answer.channel == "ask"
    assert entry.answer.question == "What are the HbA1c results?"
    assert entry.answer.model == "none" and entry.answer.error is None
    assert [(c.reference, c.verified) for c in entry.citations] == [
        (c.reference, c.verified) for c in output.citations
    ]
    assert entry.requests, "no FHIR request was audited"
    assert {(r.patient_id, r.thread_id) for r in entry.requests} == {(patient, "audit-t1")}
    assert any(r.path.startswith("Observation?") for r in entry.requests)
    assert all(r.status == 200 and r.result_count is not None for r in entry.requests)
    # the Patient check before the question is not part of the question
    assert not any(r.path == f"Patient/{patient}" for r in entry.requests)


def test_audit_command_lists_answers_with_their_requests(runner: CliRunner) -> None:
    patient = hba1c_patient()
    _ask(runner, patient, "Any allergies?", "--thread", "audit-t2")
    _ask(runner, patient, "What are the HbA1c results?", "--thread", "audit-t3")

    listed = runner.invoke(app, ["audit", "--patient", patient, "--json"])
    assert listed.exit_code == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [e["thread_id"] for e in entries] == ["audit-t2", "audit-t3"]
    assert all(e["fhir_requests"] and e["patient_id"] == patient for e in entries)
    assert entries[1]["citations"] and "Observation/" in entries[1]["citations"][0]["reference"]

    one = runner.invoke(app, ["audit", "--thread", "audit-t2", "--limit", "5"])
    assert one.exit_code == 0, one.stderr
    assert "Any allergies?" in one.stdout and "audit-t2" in one.stdout
    assert "audit-t3" not in one.stdout and "AllergyIntolerance" in one.stdout

    other = runner.invoke(app, ["audit", "--patient", "nobody", "--json"])
    assert other.exit_code == 0 and json.loads(other.stdout) == []


def test_audit_without_a_log_says_where_it_looked(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "elsewhere" / "audit.sqlite"
    result = runner.invoke(app, ["audit", "--audit-db", str(missing)])
    assert result.exit_code == 1 and str(missing) in result.stderr


def test_note_text_reaches_neither_the_audit_db_nor_the_logs(
    runner: CliRunner, project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # INFO is what `ehr-agent -v` turns on; our own loggers are checked down to DEBUG.
    # (aiosqlite's DEBUG lines dump whole checkpoints: third-party, off unless asked for.)
    caplog.set_level(logging.INFO)
    for name in ("agent", "fhir_client", "tools"):
        caplog.set_level(logging.DEBUG, logger=name)
    output = _ask(
        runner, hba1c_patient(), "What do the notes mention about zebrafish?", "--thread", "n1"
    )
    # the note was really read and quoted: otherwise this test would prove nothing
    assert "lanternfish" in output.answer or any("lanternfish" in e.line for e in output.evidence)

    audit_files = list(project.parent.glob("audit.sqlite*"))
    assert audit_files
    for path in audit_files:
        data = path.read_bytes()
        assert b"lanternfish" not in data and b"zebrafish bite" not in data
    with sqlite3.connect(project.parent / "audit.sqlite") as db:
        [(question,)] = db.execute("SELECT question FROM answer WHERE thread_id = 'n1'")
        [(requests,)] = db.execute("SELECT count(*) FROM fhir_request WHERE thread_id = 'n1'")
    assert question == "What do the notes mention about zebrafish?" and requests >= 1
    assert "lanternfish" not in caplog.text
