"""API access control and auditing against a real server (uvicorn on loopback, model none).

Token A may see one patient, the ops token every patient; the tokens file holds only
hashes.  The bearer tokens must never appear in a response or a log line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agent.api.security import (
    InsecureBinding,
    TokenConfigError,
    TokenRegistry,
    check_exposure,
    hash_token,
)
from agent.audit import AuditLog
from agent.cli import app
from tests.support.api_server import fixture_patients, hba1c_patient, running_server, store_copy

TOKEN_A = "tok-A-9f8e7d6c5b4a-only-one-patient"
TOKEN_OPS = "tok-OPS-0a1b2c3d4e5f-every-patient"
KEY = bytes(range(32))  # this test install's token-hashing key


@pytest.fixture(autouse=True)
def install_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "api-token.key"
    path.write_bytes(KEY)
    monkeypatch.setenv("EHR_AGENT_API_TOKEN_KEY", str(path))
    return path


def _other_patient() -> str:
    return next(pid for pid in sorted(fixture_patients()) if pid != hba1c_patient())


def _tokens_file(directory: Path) -> Path:
    path = directory / "tokens.json"
    entries = [
        {"name": "dashboard-a", "hmac": hash_token(TOKEN_A, KEY), "patients": [hba1c_patient()]},
        {"name": "ops", "hmac": hash_token(TOKEN_OPS, KEY), "patients": "*"},
    ]
    path.write_text(json.dumps({"tokens": entries}))
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    directory = tmp_path_factory.mktemp("auth")
    db = store_copy(directory, tmp_path_factory.getbasetemp())
    tokens = TokenRegistry.load(_tokens_file(directory), key=KEY)
    audit_db = directory / "audit.sqlite"
    with running_server(db, tokens=tokens, audit_db=audit_db) as base_url:
        yield base_url, audit_db


def _client(base_url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=base_url, headers=headers, timeout=60)


def _no_token_in(response: httpx.Response) -> None:
    text = response.text + json.dumps(dict(response.headers))
    assert TOKEN_A not in text and TOKEN_OPS not in text


def test_missing_or_wrong_token_is_401_with_a_bearer_challenge(
    served: tuple[str, Path],
) -> None:
    base_url, _ = served
    for token in (None, "not-a-configured-token", TOKEN_A + "x"):
        with _client(base_url, token) as client:
            for response in (
                client.get("/patients"),
                client.post(f"/patients/{hba1c_patient()}/ask", json={"question": "Allergies?"}),
                client.get(f"/fhir/Patient/{hba1c_patient()}"),
            ):
                assert response.status_code == 401, response.text
                assert response.headers["www-authenticate"].startswith("Bearer")
                assert response.json()["kind"] == "unauthorized"
                _no_token_in(response)


def test_public_routes_stay_open(served: tuple[str, Path]) -> None:
    with _client(served[0]) as client:
        assert client.get("/health").json()["status"] == "ok"
        assert client.get("/").status_code == 200
        assert client.get("/static/app.js").status_code == 200
        assert client.get("/openapi.json").status_code == 200


def test_a_token_sees_only_its_patients(served: tuple[str, Path]) -> None:
    patient_a, patient_b = hba1c_patient(), _other_patient()
    with _client(served[0], TOKEN_A) as client:
        assert [p["id"] for p in client.get("/patients").json()] == [patient_a]
        assert client.get(f"/patients/{patient_a}/summary").status_code == 200
        for response in (
            client.get(f"/patients/{patient_b}/summary"),
            client.post(f"/patients/{patient_b}/ask", json={"question": "Any allergies?"}),
            client.post(f"/patients/{patient_b}/ask/stream", json={"question": "Allergies?"}),
            client.get(f"/fhir/Patient/{patient_a}"),  # /fhir needs a "*" token
        ):
            assert response.status_code == 403, response.text
            assert response.json()["kind"] == "forbidden"
            _no_token_in(response)
    with _client(served[0], TOKEN_OPS) as client:
        assert {p["id"] for p in client.get("/patients").json()} == set(fixture_patients())
        assert client.get(f"/patients/{patient_b}/summary").status_code == 200
        assert client.get(f"/fhir/Patient/{patient_a}").status_code == 200


def test_api_questions_are_audited_and_tokens_never_logged(
    served: tuple[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="agent")
    caplog.set_level(logging.DEBUG, logger="fhir_client")
    base_url, audit_db = served
    patient = hba1c_patient()
    with _client(base_url, TOKEN_A) as client:
        asked = client.post(
            f"/patients/{patient}/ask",
            json={"question": "What are the HbA1c results?", "thread_id": "api-audit-1"},
        )
        streamed = client.post(
            f"/patients/{patient}/ask/stream",
            json={"question": "Any allergies?", "thread_id": "api-audit-2"},
        )
    assert asked.status_code == 200 and streamed.status_code == 200
    assert "event: done" in streamed.text

    log = AuditLog(audit_db)
    try:
        entries = {e.answer.thread_id: e for e in log.entries(patient_id=patient)}
    finally:
        log.close()
    first, second = entries["api-audit-1"], entries["api-audit-2"]
    assert first.answer.channel == "api" and first.answer.question == "What are the HbA1c results?"
    assert [c.reference for c in first.citations] == [
        c["reference"] for c in asked.json()["citations"]
    ]
    for entry in (first, second):
        assert entry.answer.error is None and entry.requests
        assert {(r.patient_id, r.thread_id) for r in entry.requests} == {
            (patient, entry.answer.thread_id)
        }
    assert TOKEN_A not in caplog.text and TOKEN_OPS not in caplog.text
    assert TOKEN_A.encode() not in audit_db.read_bytes()


def test_open_api_is_refused_beyond_loopback(tmp_path: Path) -> None:
    check_exposure("127.0.0.1", None)
    check_exposure("::1", None)
    with pytest.raises(InsecureBinding, match=r"refusing to listen on 0\.0\.0\.0"):
        check_exposure("0.0.0.0", None)
    check_exposure("0.0.0.0", TokenRegistry.load(_tokens_file(tmp_path), key=KEY))

    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--model", "none"], env={})
    assert result.exit_code == 1
    assert "no API tokens configured: refusing to listen on 0.0.0.0" in result.stderr
    assert "--tokens FILE or bind 127.0.0.1" in result.stderr


def test_hash_token_prints_the_hash_a_tokens_file_stores() -> None:
    result = CliRunner().invoke(app, ["serve", "--hash-token"], input=TOKEN_A + "\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == hash_token(TOKEN_A, KEY)
    assert TOKEN_A not in result.stdout


def test_bad_tokens_files_say_how_to_fix_them(tmp_path: Path) -> None:
    raw = tmp_path / "raw.json"
    raw.write_text(json.dumps({"tokens": [{"name": "x", "hmac": TOKEN_A, "patients": "*"}]}))
    with pytest.raises(TokenConfigError, match="64-hex-digit salted hash") as caught:
        TokenRegistry.load(raw)
    assert TOKEN_A not in str(caught.value)

    toml = tmp_path / "tokens.toml"
    toml.write_text(f'[[tokens]]\nname = "a"\nhmac = "{hash_token(TOKEN_A, KEY)}"\npatients = []\n')
    with pytest.raises(TokenConfigError, match="non-empty list of patient ids"):
        TokenRegistry.load(toml)
    result = CliRunner().invoke(app, ["serve", "--tokens", str(tmp_path / "missing.json")])
    assert result.exit_code == 1 and "Cannot read the API tokens file" in result.stderr


def test_scoped_tokens_open_their_citations_and_nothing_else(served: tuple[str, Path]) -> None:
    """Finding "citation links go to /fhir, which scoped tokens cannot read": the
    patient-scoped resource route serves the patient's own resources to its token, and
    another patient's resource is the same 404 as a missing one (nothing to probe)."""
    patient_a, patient_b = hba1c_patient(), _other_patient()
    own = next(r for r in fixture_patients()[patient_a] if r["resourceType"] == "Observation")
    foreign = next(r for r in fixture_patients()[patient_b] if r["resourceType"] == "Condition")
    with _client(served[0], TOKEN_A) as client:
        mine = client.get(f"/patients/{patient_a}/resources/Observation/{own['id']}")
        assert mine.status_code == 200 and mine.json()["id"] == own["id"]
        assert mine.headers["content-type"].startswith("application/fhir+json")
        smuggled = client.get(f"/patients/{patient_a}/resources/Condition/{foreign['id']}")
        missing = client.get(f"/patients/{patient_a}/resources/Condition/no-such-condition")
        assert smuggled.status_code == missing.status_code == 404
        assert smuggled.json()["kind"] == missing.json()["kind"] == "unknown_resource"
        assert patient_b not in smuggled.text
        other = client.get(f"/patients/{patient_b}/resources/Condition/{foreign['id']}")
        assert other.status_code == 403


def test_openapi_shows_the_bearer_scheme_on_every_route_that_reads_the_record(
    tmp_path: Path,
) -> None:
    """Authorization is FastAPI security dependencies, so the schema says who needs what."""
    from agent.api.app import create_app

    tokens = TokenRegistry.load(_tokens_file(tmp_path), key=KEY)
    schema = create_app(tokens=tokens).openapi()
    assert schema["components"]["securitySchemes"]["ApiToken"]["scheme"] == "bearer"
    guarded = {
        (path, method)
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
        if {"ApiToken": []} in operation.get("security", [])
    }
    every = {(path, method) for path, methods in schema["paths"].items() for method in methods}
    assert every - guarded == {("/health", "get")}
    summary = schema["paths"]["/patients/{patient_id}/summary"]["get"]
    assert [p["name"] for p in summary["parameters"] if p["in"] == "path"] == ["patient_id"]
