"""Findings "open mode accepts any Host (DNS rebinding), the attacker's host is echoed into
Bundle links" and "/health shows the store path": against a real open-mode server.

A DNS-rebinding page reaches 127.0.0.1 with its own name in ``Host``; a cross-site page
can POST with its ``Origin``.  Both are refused; loopback names, the bound address and
``--allowed-host`` names are served, and links are built only from those.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api_server import hba1c_patient, running_server, store_copy

EVIL = "evil.example"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    directory = tmp_path_factory.mktemp("host-guard")
    db = store_copy(directory, tmp_path_factory.getbasetemp())
    with running_server(
        db, audit_db=directory / "audit.sqlite", allowed_hosts=["ehr.clinic.example"]
    ) as url:
        yield url, db


def _port(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1])


def test_dns_rebinding_host_is_refused_in_open_mode(served: tuple[str, Path]) -> None:
    base_url, _ = served
    port, patient = _port(base_url), hba1c_patient()
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for host in (f"{EVIL}:{port}", EVIL, f"localhost.{EVIL}:{port}", f"127.0.0.1.{EVIL}"):
            for path in ("/patients", f"/fhir/Patient/{patient}/$everything", "/health"):
                response = client.get(path, headers={"Host": host})
                assert response.status_code == 400, (host, path, response.text)
                assert response.json()["kind"] == "bad_host"
                assert EVIL not in response.text
        for host in (f"localhost:{port}", f"127.0.0.1:{port}", "[::1]", "ehr.clinic.example"):
            assert client.get("/patients", headers={"Host": host}).status_code == 200, host


def test_bundle_links_never_echo_an_attackers_host(served: tuple[str, Path]) -> None:
    base_url, _ = served
    port, patient = _port(base_url), hba1c_patient()
    with httpx.Client(base_url=base_url, timeout=60) as client:
        path = f"/fhir/Observation?patient={patient}&_count=2"
        good = client.get(path, headers={"Host": f"localhost:{port}"})
        bad = client.get(path, headers={"Host": f"{EVIL}:{port}"})
    assert good.status_code == 200
    links = [link["url"] for link in good.json()["link"]]
    assert links and all(url.startswith(f"http://localhost:{port}/fhir/") for url in links)
    assert bad.status_code == 400 and EVIL not in bad.text


def test_cross_site_pages_cannot_post(served: tuple[str, Path]) -> None:
    base_url, _ = served
    port, patient = _port(base_url), hba1c_patient()
    ask = f"/patients/{patient}/ask"
    body = {"question": "Any allergies?"}
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for headers in (
            {"Origin": f"http://{EVIL}"},
            {"Origin": "null"},
            {"Origin": f"http://{EVIL}:{port}"},
            {"Sec-Fetch-Site": "cross-site"},
        ):
            refused = client.post(ask, json=body, headers=headers)
            assert refused.status_code == 403, (headers, refused.text)
            assert refused.json()["kind"] == "bad_origin"
        for headers in ({}, {"Origin": f"http://127.0.0.1:{port}"}, {"Origin": base_url}):
            assert client.post(ask, json=body, headers=headers).status_code == 200, headers
        # reads carry no Origin check: a GET cannot change anything
        assert client.get("/patients", headers={"Origin": f"http://{EVIL}"}).status_code == 200


def test_health_reveals_nothing_private(served: tuple[str, Path]) -> None:
    base_url, db = served
    response = httpx.get(base_url + "/health", timeout=30)
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checkpoints": "ok",  # the thread store's state (nothing private either)
        "model": "none",
        "fhir": "embedded store",
    }
    assert str(db.parent) not in response.text and "sqlite" not in response.text
