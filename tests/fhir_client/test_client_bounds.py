"""Hostile FHIR servers on loopback: huge, trickling, deeply nested and gzip-bombed
answers are cut off with a clear error, never read whole, never a traceback or a 500.

The servers are real sockets (``http.server`` in a thread), so httpx's streaming,
timeouts and decompression are the real ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from agent.api.app import create_app
from agent.cli import app as cli
from agent.settings import Settings
from fhir_client.client import FhirClient
from fhir_client.errors import InvalidResponse, RequestDeadlineExceeded, ResponseTooLarge
from fhir_client.limits import MAX_RESPONSE_BYTES, MIB, REQUEST_DEADLINE_SECONDS

DEEP = (
    b'{"resourceType":"Bundle","type":"searchset","entry":[{"resource":'
    + (b'{"resourceType":"Patient","id":"p","extension":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    + b"}]}"
)
SHALLOW_BUT_DEEPER_THAN_FHIR = (
    b'{"resourceType":"Patient","id":"p","extension":' + b"[" * 100 + b"]" * 100 + b"}"
)


class HostileServer(BaseHTTPRequestHandler):
    """Each path prefix is one misbehaviour; ``sent`` counts body bytes written."""

    sent: ClassVar[dict[str, int]] = {}

    def log_message(self, format: str, *args: object) -> None:
        return None

    def do_GET(self) -> None:
        kind = self.path.split("/")[1]
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            getattr(self, f"_{kind.replace('-', '_')}")()

    def _head(self, status: int = 200, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/fhir+json")
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()

    def _write(self, kind: str, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()
        HostileServer.sent[kind] = HostileServer.sent.get(kind, 0) + len(data)

    def _huge(self) -> None:
        self._head(Connection="close")  # no Content-Length: the body runs until we stop
        self._write("huge", b'{"resourceType":"Patient","id":"p","text":"')
        block = b"A" * MIB
        for _ in range(2048):  # 2 GiB if nobody stops reading
            self._write("huge", block)

    def _declared(self) -> None:
        self._head(Content_Length=str(10 * 1024 * MIB))
        self._write("declared", b"{")

    def _gzip(self) -> None:
        body = gzip.compress(b'{"resourceType":"Patient","id":"p","text":"' + b"0" * 200 * MIB)
        self._head(Content_Encoding="gzip", Content_Length=str(len(body)))
        self._write("gzip", body)

    def _trickle(self) -> None:
        self._head(Content_Length="1000")
        for _ in range(1000):
            self._write("trickle", b" ")
            time.sleep(2)

    def _busy(self) -> None:
        self._head(503, Retry_After="1", Content_Length="0")

    def _deep(self) -> None:
        self._head(Content_Length=str(len(DEEP)))
        self._write("deep", DEEP)

    def _nested(self) -> None:
        self._head(Content_Length=str(len(SHALLOW_BUT_DEEPER_THAN_FHIR)))
        self._write("nested", SHALLOW_BUT_DEEPER_THAN_FHIR)


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), HostileServer)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_the_defaults_are_the_named_bounds() -> None:
    client = FhirClient("http://127.0.0.1:9")
    assert client.retry_policy.deadline_seconds == REQUEST_DEADLINE_SECONDS
    assert client.retry_policy.max_response_bytes == MAX_RESPONSE_BYTES


async def test_a_huge_body_is_cut_off_at_the_bound_not_read_whole(hostile: str) -> None:
    async with FhirClient(f"{hostile}/huge", max_response_bytes=4 * MIB) as client:
        with pytest.raises(ResponseTooLarge, match="larger than 4 MiB"):
            await client.read("Patient", "p")
    await asyncio.sleep(0.5)
    # The server was stopped long before its 2 GiB: the client hung up.
    assert HostileServer.sent["huge"] < 64 * MIB


async def test_a_declared_huge_body_is_refused_before_reading(hostile: str) -> None:
    async with FhirClient(f"{hostile}/declared", max_response_bytes=4 * MIB) as client:
        with pytest.raises(ResponseTooLarge):
            await client.read("Patient", "p")


async def test_a_gzip_bomb_is_counted_after_decompression(hostile: str) -> None:
    async with FhirClient(f"{hostile}/gzip", max_response_bytes=4 * MIB) as client:
        with pytest.raises(ResponseTooLarge):
            await client.read("Patient", "p")


@pytest.mark.slow
async def test_a_trickling_server_is_cut_off_at_the_deadline(hostile: str) -> None:
    """A byte every 2 s never trips httpx's per-read timeout; the total deadline does."""
    started = time.monotonic()
    async with FhirClient(f"{hostile}/trickle", timeout=60, deadline_seconds=5) as client:
        with pytest.raises(RequestDeadlineExceeded, match="within 5 s"):
            await client.read("Patient", "p")
    assert time.monotonic() - started < 9


async def test_the_deadline_covers_the_retries(hostile: str) -> None:
    started = time.monotonic()
    async with FhirClient(f"{hostile}/busy", max_retries=50, deadline_seconds=2.5) as client:
        with pytest.raises(RequestDeadlineExceeded, match="retries included"):
            await client.read("Patient", "p")
    assert time.monotonic() - started < 6


@pytest.mark.parametrize("kind", ["deep", "nested"])
async def test_deeply_nested_json_is_an_invalid_response(hostile: str, kind: str) -> None:
    async with FhirClient(f"{hostile}/{kind}") as client:
        with pytest.raises(InvalidResponse, match="nested too deeply"):
            await client.search("Patient") if kind == "deep" else await client.read("Patient", "p")


def test_the_cli_says_what_is_wrong_without_a_traceback(
    hostile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("EHR_AGENT_DB", "EHR_AGENT_FHIR_URL", "EHR_AGENT_FHIR_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(cli, ["patients", "--fhir-url", f"{hostile}/deep"])
    assert result.exit_code == 1
    assert "nested too deeply" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_the_api_answers_502_with_the_reason_not_500(hostile: str, tmp_path: Path) -> None:
    settings = Settings(db_path=tmp_path / "unused.sqlite", fhir_url=f"{hostile}/deep")
    app = create_app(settings, checkpoint=":memory:", audit=False)
    with TestClient(app, raise_server_exceptions=False) as api:
        listed = api.get("/patients")
        summary = api.get("/patients/p/summary")
    assert listed.status_code == 502
    assert "nested too deeply" in listed.json()["detail"]
    assert summary.status_code == 502, summary.text


@pytest.mark.parametrize(
    "command",
    [["summary", "--patient", "p"], ["ask", "--patient", "p", "--model", "none", "Allergies?"]],
    ids=["summary", "ask"],
)
def test_every_cli_door_reports_a_hostile_server_without_a_traceback(
    hostile: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    for name in ("EHR_AGENT_DB", "EHR_AGENT_FHIR_URL", "EHR_AGENT_FHIR_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EHR_AGENT_AUDIT_DB", str(tmp_path / "audit.sqlite"))
    extra = ["--checkpoint-db", str(tmp_path / "threads.sqlite")] if command[0] == "ask" else []
    result = CliRunner().invoke(cli, [*command, *extra, "--fhir-url", f"{hostile}/deep"])
    assert result.exit_code != 0
    assert "nested too deeply" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
