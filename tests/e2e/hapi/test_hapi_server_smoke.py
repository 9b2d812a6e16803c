"""Smoke test of the real HAPI FHIR JPA server that tests/support/hapi_server/ builds and runs.

It checks exactly the server features the conformance tests rely on: a transaction
with client-assigned ids (PUT), read, a reference search, ``_summary=count``,
``Patient/{id}/$everything``, and how an unknown search parameter is reported.

The server comes from the session fixture ``hapi_base_url`` (tests/conftest.py):
started once per session with ``tests/support/hapi_server/hapi.py``, or taken from
``EHR_AGENT_HAPI_URL``. Without java/mvn it skips, unless ``EHR_AGENT_REQUIRE_HAPI=1``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.hapi_server import hapi

FHIR_JSON = "application/fhir+json"
PATIENT_ID = "abc-123"
OBSERVATION_ID = "abc-123-height"
PAGING_PATIENT_ID = "abc-456-paging"
PAGING_OBSERVATIONS = 25  # more than HAPI's default page size (20)


def _transaction() -> dict[str, Any]:
    patient = {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "name": [{"family": "Smoke", "given": ["Ada"]}],
        "gender": "female",
        "birthDate": "1970-01-01",
    }
    observation = {
        "resourceType": "Observation",
        "id": OBSERVATION_ID,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8302-2"}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": "2020-01-01T10:00:00Z",
        "valueQuantity": {
            "value": 170,
            "unit": "cm",
            "system": "http://unitsofmeasure.org",
            "code": "cm",
        },
    }
    paging_patient = {"resourceType": "Patient", "id": PAGING_PATIENT_ID}
    paging_observations = [
        {
            **observation,
            "id": f"{PAGING_PATIENT_ID}-{i}",
            "subject": {"reference": f"Patient/{PAGING_PATIENT_ID}"},
        }
        for i in range(PAGING_OBSERVATIONS)
    ]
    resources: list[dict[str, Any]] = [patient, observation, paging_patient, *paging_observations]
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"{r['resourceType']}/{r['id']}",
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
            }
            for r in resources
        ],
    }


@pytest.fixture(scope="module")
def fhir(hapi_base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=hapi_base_url, headers={"Accept": FHIR_JSON}, timeout=120.0
    ) as client:
        response = client.post("", json=_transaction(), headers={"Content-Type": FHIR_JSON})
        assert response.status_code == 200, response.text[:2000]
        body = response.json()
        assert body["type"] == "transaction-response"
        statuses = [entry["response"]["status"] for entry in body["entry"]]
        # 201 the first time, 200 when an earlier run (external server) already made them.
        assert all(s.split()[0] in {"200", "201"} for s in statuses), statuses
        yield client


@pytest.mark.hapi
def test_metadata_is_r4(fhir: httpx.Client) -> None:
    capability = fhir.get("metadata").json()
    assert capability["resourceType"] == "CapabilityStatement"
    assert capability["fhirVersion"].startswith("4.0")


@pytest.mark.hapi
def test_read_client_assigned_id(fhir: httpx.Client) -> None:
    response = fhir.get(f"Patient/{PATIENT_ID}")
    assert response.status_code == 200
    assert response.json()["id"] == PATIENT_ID
    assert response.json()["name"][0]["family"] == "Smoke"


@pytest.mark.hapi
def test_search_by_patient_sees_fresh_data(fhir: httpx.Client) -> None:
    bundle = fhir.get("Observation", params={"patient": PATIENT_ID}).json()
    assert bundle["type"] == "searchset"
    ids = [entry["resource"]["id"] for entry in bundle.get("entry", [])]
    assert ids == [OBSERVATION_ID]


@pytest.mark.hapi
def test_summary_count(fhir: httpx.Client) -> None:
    bundle = fhir.get("Observation", params={"patient": PATIENT_ID, "_summary": "count"}).json()
    assert bundle["total"] == 1
    assert "entry" not in bundle


@pytest.mark.hapi
def test_patient_everything(fhir: httpx.Client) -> None:
    bundle = fhir.get(f"Patient/{PATIENT_ID}/$everything").json()
    refs = {
        f"{entry['resource']['resourceType']}/{entry['resource']['id']}"
        for entry in bundle.get("entry", [])
    }
    assert {f"Patient/{PATIENT_ID}", f"Observation/{OBSERVATION_ID}"} <= refs


@pytest.mark.hapi
def test_page_size_default_and_max(fhir: httpx.Client) -> None:
    def relations(bundle: dict[str, Any]) -> set[str]:
        return {link["relation"] for link in bundle.get("link", [])}

    default = fhir.get("Observation", params={"patient": PAGING_PATIENT_ID}).json()
    assert len(default["entry"]) == 20
    assert "next" in relations(default)
    big = fhir.get("Observation", params={"patient": PAGING_PATIENT_ID, "_count": "500"}).json()
    assert len(big["entry"]) == PAGING_OBSERVATIONS
    assert "next" not in relations(big)


@pytest.mark.hapi
def test_unknown_search_parameter_is_rejected(fhir: httpx.Client) -> None:
    """HAPI answers 400 + OperationOutcome HAPI-0524 for an unknown search parameter.

    ``Prefer: handling=lenient`` does not change that: a stock HAPI JPA server (like
    hapi-fhir-jpaserver-starter) does not register HAPI's SearchPreferHandlingInterceptor.
    """
    for headers in ({}, {"Prefer": "handling=lenient"}):
        response = fhir.get(
            "Observation", params={"patient": PATIENT_ID, "bogus-param": "x"}, headers=headers
        )
        assert response.status_code == 400, headers
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        diagnostics = outcome["issue"][0]["diagnostics"]
        assert "HAPI-0524" in diagnostics
        assert "bogus-param" in diagnostics


# -- hapi.py itself (no Java needed) ---------------------------------------------------


def test_free_port_is_bindable() -> None:
    port = hapi.free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))


def test_external_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hapi.ENV_URL, "http://127.0.0.1:9/fhir/ ")
    assert hapi.external_base_url() == "http://127.0.0.1:9/fhir"
    monkeypatch.setenv(hapi.ENV_URL, "")
    assert hapi.external_base_url() is None


def test_base_url_needs_start() -> None:
    with pytest.raises(hapi.HapiServerError):
        _ = hapi.HapiServer().base_url


def test_stopping_an_unstarted_server_is_a_no_op() -> None:
    hapi.HapiServer().stop()


def test_terminate_pid_reports_a_clean_exit() -> None:
    # A child that exits on SIGTERM counts as a clean stop.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.2)
        assert hapi.terminate_pid(child.pid, grace=10.0) is True
    finally:
        if child.poll() is None:
            child.kill()
        child.wait()
