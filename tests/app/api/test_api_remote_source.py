"""The same attacks with a remote record source (issue 11: "plus the same attacks on a
remote server through --fhir-url").

A plain FHIR server (the embedded facade under its own uvicorn, reached over HTTP like any
remote server) behind ``serve``'s app with tokens: the audit still names caller and
patient (``/fhir`` proxies reads), a scoped token opens its own citations only, a
DNS-rebinding Host is refused, and ``/health`` names neither the server's URL nor a path.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from agent.api.security import TokenRegistry, hash_token
from agent.audit import AuditLog
from agent.record_source import open_embedded_store
from fhir_client.client import FhirClient
from fhir_client.embedded import embedded_asgi_app
from tests.support.api_server import fixture_patients, hba1c_patient, running_server, store_copy

TOKEN = "remote-scoped-token-8e7d6c5b4a3f2e1d0c9b"
KEY = bytes(range(90, 122))


@pytest.fixture(scope="module")
def remote_fhir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("remote-fhir")
    store = open_embedded_store(store_copy(directory, tmp_path_factory.getbasetemp()))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(embedded_asgi_app(store), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/fhir"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()
        store.close()


@pytest.fixture(scope="module")
def served(
    remote_fhir: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    directory = tmp_path_factory.mktemp("remote-api")
    entry = {"name": "remote-ward", "hmac": hash_token(TOKEN, KEY), "patients": [hba1c_patient()]}
    (directory / "tokens.json").write_text(json.dumps({"tokens": [entry]}))
    tokens = TokenRegistry.load(directory / "tokens.json", key=KEY)

    @asynccontextmanager
    async def remote():  # type: ignore[no-untyped-def]
        async with FhirClient(remote_fhir) as client:
            yield client

    audit_db = directory / "audit.sqlite"
    # db_path is unused with a client factory; the record comes from the remote server.
    with running_server(
        directory / "unused.sqlite", fhir_client_factory=remote, tokens=tokens, audit_db=audit_db
    ) as url:
        yield url, audit_db


def test_remote_source_reads_are_audited_scoped_and_host_checked(
    served: tuple[str, Path], remote_fhir: str
) -> None:
    base_url, audit_db = served
    patient = hba1c_patient()
    other = next(p for p in sorted(fixture_patients()) if p != patient)
    own = next(r for r in fixture_patients()[patient] if r["resourceType"] == "Observation")
    foreign = next(r for r in fixture_patients()[other] if r["resourceType"] == "Condition")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        asked = client.post(f"/patients/{patient}/ask", json={"question": "Any allergies?"})
        assert asked.status_code == 200, asked.text
        mine = client.get(f"/patients/{patient}/resources/Observation/{own['id']}")
        assert mine.status_code == 200 and mine.json()["id"] == own["id"]
        smuggled = client.get(f"/patients/{patient}/resources/Condition/{foreign['id']}")
        assert smuggled.status_code == 404 and other not in smuggled.text
        assert client.get(f"/patients/{other}/summary").status_code == 403
        rebound = client.get("/patients", headers={"Host": "rebound.example"})
        assert rebound.status_code == 400
    health = httpx.get(base_url + "/health", timeout=30).json()
    assert health["fhir"] == "FHIR server" and "127.0.0.1" not in json.dumps(health)

    log = AuditLog(audit_db)
    try:
        rows = log.accesses(limit=100)
    finally:
        log.close()
    assert [(r.caller, r.patient_id, r.status) for r in rows] == [
        ("remote-ward", patient, 200),
        ("remote-ward", patient, 200),
        ("remote-ward", patient, 404),
        ("remote-ward", other, 403),
        ("remote-ward", None, 400),
    ]
    assert TOKEN.encode() not in audit_db.read_bytes()
