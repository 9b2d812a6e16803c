"""Finding "the audit log misses most access": every read is audited, with its caller.

A real server (uvicorn on loopback, tokens on, model none) is walked route by route; the
routes come from the FastAPI app itself, so a new route that is not audited fails here.
Then ``/fhir`` (read, search, ``_search`` form, ``$everything``, one resource), refused
requests (400, 401, 403, 404, 409, 422) and the CLI commands (ask, summary, patients,
chat).  Each must leave one row naming the caller (a token's name, never its secret;
``cli:<user>``), the patient, what was read and the status; ``ehr-agent audit --reads``
filters them by caller and patient.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agent.api import create_app
from agent.api.security import TokenRegistry, hash_token, is_public_path
from agent.audit import AccessRecord, AuditLog, cli_caller
from agent.cli import app as cli_app
from agent.settings import Settings
from tests.support.api_server import (
    FIXTURES_DIR,
    fixture_patients,
    hba1c_patient,
    hba1c_results,
    running_server,
    store_copy,
)

TOKEN_OPS = "audit-ops-token-7d1c0a9e55b2f4c3a8e6d0b1"
TOKEN_ONE = "audit-one-token-1f2e3d4c5b6a79880a1b2c3d"
KEY = bytes(range(100, 132))


def _other_patient() -> str:
    return next(pid for pid in sorted(fixture_patients()) if pid != hba1c_patient())


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    directory = tmp_path_factory.mktemp("audit-walk")
    db = store_copy(directory, tmp_path_factory.getbasetemp())
    entries = [
        {"name": "ops", "hmac": hash_token(TOKEN_OPS, KEY), "patients": "*"},
        {"name": "one-patient", "hmac": hash_token(TOKEN_ONE, KEY), "patients": [hba1c_patient()]},
    ]
    (directory / "tokens.json").write_text(json.dumps({"tokens": entries}))
    tokens = TokenRegistry.load(directory / "tokens.json", key=KEY)
    audit_db = directory / "audit.sqlite"
    with running_server(db, tokens=tokens, audit_db=audit_db) as base_url:
        yield base_url, audit_db


def _rows(audit_db: Path) -> list[AccessRecord]:
    log = AuditLog(audit_db)
    try:
        return log.accesses(limit=10_000)
    finally:
        log.close()


def _client(base_url: str, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=60)


def _api_routes() -> list[tuple[str, str]]:
    """Every (method, path template) of the app as built (its OpenAPI schema, which lists
    every API route), except the public ones that read no record."""
    app = create_app(Settings(db_path=Path(":memory:"), fixtures_dir=FIXTURES_DIR))
    routes = [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
        if not is_public_path(path)
    ]
    assert len(routes) >= 4, f"too few API routes found ({routes}): the walk would prove little"
    return routes


def _new_rows(audit_db: Path, before: int) -> list[AccessRecord]:
    return _rows(audit_db)[before:]


def test_every_api_route_leaves_one_row_with_caller_patient_and_status(
    served: tuple[str, Path],
) -> None:
    base_url, audit_db = served
    patient = hba1c_patient()
    values = {"patient_id": patient, "resource_type": "Patient", "resource_id": patient}
    with _client(base_url, TOKEN_OPS) as client:
        for method, template in _api_routes():
            path = re.sub(r"\{(\w+)\}", lambda m: values.get(m[1], m[0]), template)
            assert "{" not in path, f"{template}: teach this walk the new path parameter"
            before = len(_rows(audit_db))
            body = {"question": "Any allergies?"} if method == "POST" else None
            response = client.request(method, path, json=body)
            assert response.status_code < 500, (template, response.text)
            rows = _new_rows(audit_db, before)
            assert len(rows) == 1, f"{method} {template} left {len(rows)} audit rows"
            [row] = rows
            assert row.caller == "ops" and row.channel == "api"
            assert row.action == f"{method} {template}"
            assert row.status == response.status_code
            assert row.patient_id == (patient if "{patient_id}" in template else None)
            assert row.target.startswith(path)


def test_every_fhir_read_is_audited_with_the_patient_it_reads(served: tuple[str, Path]) -> None:
    base_url, audit_db = served
    patient = hba1c_patient()
    observation = next(iter(hba1c_results(fixture_patients()[patient]))).split("/")[1]
    reads = [
        ("GET", f"/fhir/Patient/{patient}", None, patient),
        ("GET", f"/fhir/Observation?patient={patient}&code=4548-4", None, patient),
        ("POST", "/fhir/Observation/_search", f"patient={patient}&_count=5", patient),
        ("GET", f"/fhir/Patient/{patient}/$everything?_count=10", None, patient),
        ("GET", f"/fhir/Observation/{observation}", None, patient),  # patient from its subject
        ("GET", "/fhir/metadata", None, None),
    ]
    with _client(base_url, TOKEN_OPS) as client:
        for method, path, form, expected_patient in reads:
            before = len(_rows(audit_db))
            headers = {"Content-Type": "application/x-www-form-urlencoded"} if form else {}
            response = client.request(method, path, content=form, headers=headers)
            assert response.status_code == 200, (path, response.text)
            [row] = _new_rows(audit_db, before)
            assert (row.caller, row.patient_id, row.status) == ("ops", expected_patient, 200)
            assert row.action.startswith(f"{method} /fhir")
            assert row.target.startswith(path.split("?")[0])
            assert "4548-4" not in row.target  # parameter names, never values
    data = audit_db.read_bytes()
    assert TOKEN_OPS.encode() not in data
    # nothing of the records read (the patient's name was in two responses)
    patient_resource = next(
        r for r in fixture_patients()[patient] if r["resourceType"] == "Patient"
    )
    family = patient_resource["name"][0]["family"]
    assert family.encode() not in data


def test_refused_requests_are_audited_with_who_tried(served: tuple[str, Path]) -> None:
    base_url, audit_db = served
    patient, other = hba1c_patient(), _other_patient()
    cases: list[tuple[str | None, str, str, dict[str, object] | None, int, str, str | None]] = [
        (None, "GET", f"/patients/{patient}/summary", None, 401, "unauthenticated", patient),
        ("wrong-" + TOKEN_OPS, "GET", "/patients", None, 401, "unauthenticated", None),
        (TOKEN_ONE, "GET", f"/patients/{other}/summary", None, 403, "one-patient", other),
        (TOKEN_ONE, "GET", f"/fhir/Patient/{patient}", None, 403, "one-patient", patient),
        (TOKEN_OPS, "GET", "/patients/no-such-patient/summary", None, 404, "ops", None),
        (TOKEN_OPS, "POST", f"/patients/{patient}/ask", {"question": ""}, 422, "ops", patient),
    ]
    for token, method, path, body, status, caller, expected_patient in cases:
        before = len(_rows(audit_db))
        with _client(base_url, token) as client:
            response = client.request(method, path, json=body)
        assert response.status_code == status, (path, response.text)
        [row] = _new_rows(audit_db, before)
        assert (row.caller, row.status) == (caller, status)
        if expected_patient is not None:
            assert row.patient_id == expected_patient
    # 409: the same caller's thread about another patient (ops may see both)
    with _client(base_url, TOKEN_OPS) as client:
        first = client.post(
            f"/patients/{patient}/ask", json={"question": "Allergies?", "thread_id": "audit-409"}
        )
        before = len(_rows(audit_db))
        second = client.post(
            f"/patients/{other}/ask", json={"question": "Allergies?", "thread_id": "audit-409"}
        )
    assert first.status_code == 200 and second.status_code == 409
    [row] = _new_rows(audit_db, before)
    assert (row.caller, row.patient_id, row.status, row.thread_id) == (
        "ops",
        other,
        409,
        "audit-409",
    )
    # 400: a Host this server does not answer to (DNS rebinding)
    before = len(_rows(audit_db))
    with _client(base_url, TOKEN_OPS) as client:
        rebound = client.get("/patients", headers={"Host": "evil.example"})
    assert rebound.status_code == 400
    [row] = _new_rows(audit_db, before)
    assert row.status == 400
    data = audit_db.read_bytes()
    assert TOKEN_OPS.encode() not in data and TOKEN_ONE.encode() not in data


@pytest.fixture
def cli_project(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    db = store_copy(tmp_path, tmp_path_factory.getbasetemp())
    for name in ("EHR_AGENT_FHIR_URL", "EHR_AGENT_FHIR_TOKEN", "EHR_AGENT_AUDIT_DB"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EHR_AGENT_DB", str(db))
    monkeypatch.setenv("EHR_AGENT_MODEL", "none")
    monkeypatch.setenv("EHR_AGENT_FIXTURES", str(FIXTURES_DIR))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    return db


def test_every_cli_read_is_audited_and_audit_filters_by_caller_and_patient(
    cli_project: Path,
) -> None:
    runner = CliRunner()
    patient, other = hba1c_patient(), _other_patient()
    commands = [
        (["ask", "-p", patient, "--json", "--thread", "cli-t1", "Any allergies?"], "cli ask"),
        (["summary", "-p", patient, "--json"], "cli summary"),
        (["patients", "--json"], "cli patients"),
        (["ask", "-p", "no-such-patient", "Any allergies?"], "cli ask"),
        (["ask", "-p", other, "--thread", "cli-t1", "Any allergies?"], "cli ask"),
    ]
    for args, _ in commands:
        runner.invoke(cli_app, args)
    chat = runner.invoke(
        cli_app, ["chat", "-p", patient, "--no-history"], input="Any allergies?\n/summary\n/quit\n"
    )
    assert chat.exit_code == 0, chat.stderr

    log = AuditLog(cli_project.parent / "audit.sqlite")
    try:
        rows = log.accesses(limit=100)
        mine = log.accesses(caller=cli_caller(), patient_id=patient, limit=100)
    finally:
        log.close()
    me = cli_caller()
    assert me.startswith("cli:") and all(r.caller == me and r.channel == "cli" for r in rows)
    outcomes = [(r.action, r.patient_id, r.status) for r in rows]
    assert outcomes == [
        ("cli ask", patient, 200),
        ("cli summary", patient, 200),
        ("cli patients", None, 200),
        ("cli ask", "no-such-patient", 404),
        ("cli ask", other, 409),  # the thread is this user's conversation about another patient
        ("cli chat ask", patient, 200),
        ("cli chat summary", patient, 200),
    ]
    assert [r.action for r in mine] == [
        "cli ask",
        "cli summary",
        "cli chat ask",
        "cli chat summary",
    ]

    listed = runner.invoke(
        cli_app, ["audit", "--reads", "--caller", me, "--patient", patient, "--json"]
    )
    assert listed.exit_code == 0, listed.stderr
    assert [r["action"] for r in json.loads(listed.stdout)] == [r.action for r in mine]
    nobody = runner.invoke(cli_app, ["audit", "--reads", "--caller", "someone-else", "--json"])
    assert json.loads(nobody.stdout) == []
    answers = runner.invoke(cli_app, ["audit", "--caller", me, "--json"])
    assert {a["caller"] for a in json.loads(answers.stdout)} == {me}
