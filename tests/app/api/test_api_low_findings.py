"""The low findings of issue 11, one test each, against real servers.

HTTP 500 on a ``"\\ud800"`` JSON escape, on a non-UTF-8 form body to ``/fhir/.../_search``
and on a huge ``_offset`` to ``$everything`` (now clear 4xx); a query-string token written
to the access log (now redacted); one-character tokens accepted and stored as unsalted
hashes (now a named minimum and HMAC under a per-install key).  SMART discovery's token
endpoint checks are in ``tests/fhir_client/test_client_auth.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from agent.api.access_log import redact_query
from agent.api.security import TokenConfigError, TokenRegistry, hash_token, install_key
from agent.cli import app as cli_app
from fhir_client.limits import MIN_API_TOKEN_CHARS
from tests.support.api_server import FIXTURES_DIR, hba1c_patient, running_server, store_copy


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("low")
    db = store_copy(directory, tmp_path_factory.getbasetemp())
    with running_server(db, audit_db=directory / "audit.sqlite") as url:
        yield url


def test_lone_surrogate_json_escape_is_a_clear_422_not_500(served: str) -> None:
    patient = hba1c_patient()
    with httpx.Client(base_url=served, timeout=60) as client:
        for path in (f"/patients/{patient}/ask", f"/patients/{patient}/ask/stream"):
            for body in (b'{"question": "\\ud800"}', b'{"question": "a \\udfff b"}'):
                response = client.post(
                    path, content=body, headers={"Content-Type": "application/json"}
                )
                assert response.status_code == 422, response.text
                [problem] = response.json()["detail"]
                assert problem["loc"] == ["body", "question"] and "unicode" in problem["msg"]


def test_non_utf8_form_body_to_fhir_search_is_a_400(served: str) -> None:
    response = httpx.post(
        served + "/fhir/Observation/_search",
        content=b"patient=\xff\xfe&code=\xc3",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=60,
    )
    assert response.status_code == 400
    assert "not UTF-8" in response.json()["issue"][0]["diagnostics"]


def test_huge_offset_to_everything_is_a_400(served: str) -> None:
    patient = hba1c_patient()
    with httpx.Client(base_url=served, timeout=60) as client:
        for offset in ("9" * 30, str(2**63), "-1"):
            response = client.get(
                f"/fhir/Patient/{patient}/$everything", params={"_offset": offset}
            )
            assert response.status_code == 400, (offset, response.text)
            assert "_offset" in response.json()["issue"][0]["diagnostics"]
        assert client.get(f"/fhir/Patient/{patient}/$everything?_offset=5").status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
def test_query_string_token_is_never_written_to_the_access_log(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    db = store_copy(tmp_path, tmp_path_factory.getbasetemp())
    port, secret = _free_port(), "qs-secret-token-d41d8cd98f00b204e980"
    env = {
        **os.environ,
        "EHR_AGENT_DB": str(db),
        "EHR_AGENT_FIXTURES": str(FIXTURES_DIR),
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "serve", "--port", str(port), "--model", "none",
             "--checkpoint-db", str(tmp_path / "threads.sqlite")],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    if httpx.get(base + "/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.3)
            response = httpx.get(
                base + f"/patients?access_token={secret}&name=Smithereens", timeout=30
            )
            assert response.status_code == 200
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(30)
    text = log_path.read_text()
    assert '"GET /patients?access_token=[redacted]&name=[redacted] HTTP/1.1" 200' in text, text
    assert secret not in text and "Smithereens" not in text


def test_redact_query_keeps_names_and_drops_values() -> None:
    assert redact_query("/fhir/Patient?name=Ann&_count=5") == (
        "/fhir/Patient?name=[redacted]&_count=[redacted]"
    )
    assert redact_query("/patients") == "/patients"
    assert redact_query("/x?%%%") == "/x?%%%=[redacted]"


def test_short_tokens_are_refused_and_hashes_are_salted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_path = tmp_path / "install" / "api-token.key"
    monkeypatch.setenv("EHR_AGENT_API_TOKEN_KEY", str(key_path))
    key = install_key()
    assert len(key) == 32 and stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert install_key() == key  # read back, not re-made

    short = "x" * (MIN_API_TOKEN_CHARS - 1)
    with pytest.raises(TokenConfigError, match=f"at least {MIN_API_TOKEN_CHARS} characters"):
        hash_token(short, key)
    result = CliRunner().invoke(cli_app, ["serve", "--hash-token"], input="a\n")
    assert result.exit_code == 1 and "at least" in result.stderr

    token = "t" * MIN_API_TOKEN_CHARS
    other_install = bytes(32)
    assert hash_token(token, key) != hash_token(token, other_install)  # salted per install
    tokens = tmp_path / "tokens.json"
    tokens.write_text(
        json.dumps({"tokens": [{"name": "a", "hmac": hash_token(token, key), "patients": "*"}]})
    )
    registry = TokenRegistry.load(tokens)
    assert registry.authenticate(token) is not None
    assert registry.authenticate(short) is None
    assert repr(key) not in repr(registry)
    assert TokenRegistry.load(tokens, key=other_install).authenticate(token) is None

    legacy = {"name": "old", "sha256": hashlib.sha256(token.encode()).hexdigest(), "patients": "*"}
    tokens.write_text(json.dumps({"tokens": [legacy]}))
    with pytest.raises(TokenConfigError, match="unsalted 'sha256' hash"):
        TokenRegistry.load(tokens)
