"""A real ``ehr-agent serve`` app for the API and browser tests, plus fixture facts.

The server is uvicorn on a pre-bound 127.0.0.1 socket (port 0, so no race for a free
port) in a thread, over an embedded store filled from the fixtures once per test process
and copied per server.  Expected answers come from the bundle JSON, never from the API.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import httpx_sse
import uvicorn

from agent.api import create_app
from agent.record_source import fill_from_fixtures, open_embedded_store
from agent.settings import Settings

FIXTURES_DIR = Path(__file__).resolve().parents[2] / "synthea_fixtures" / "fhir"
HBA1C_LOINC = "4548-4"

Resource = dict[str, Any]


@cache
def _filled_store(directory: Path) -> Path:
    path = directory / "filled.sqlite"
    store = open_embedded_store(path)
    try:  # in a thread of its own, so async tests (with a running loop) can call this too
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, fill_from_fixtures(store, FIXTURES_DIR)).result()
    finally:
        store.close()
    return path


def store_copy(tmp: Path, shared: Path) -> Path:
    """A private copy of the fixture-filled store (filled once into ``shared``)."""
    target = tmp / "store.sqlite"
    shutil.copyfile(_filled_store(shared), target)
    return target


@contextmanager
def running_server(db_path: Path, **app_options: Any) -> Iterator[str]:
    """Serve ``create_app`` over ``db_path``; yields the base URL."""
    options = {"model": None, "checkpoint": ":memory:", **app_options}
    app = create_app(Settings(db_path=db_path, fixtures_dir=FIXTURES_DIR), **options)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the API server did not start; see the log above")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@cache
def fixture_patients() -> dict[str, list[Resource]]:
    """Every fixture patient's resources (id -> resources), straight from the JSON."""
    patients: dict[str, list[Resource]] = {}
    for path in sorted(FIXTURES_DIR.glob("*.json")):
        bundle = json.loads(path.read_bytes())
        resources = [e["resource"] for e in bundle.get("entry", []) if "resource" in e]
        patient = next((r for r in resources if r["resourceType"] == "Patient"), None)
        if patient is not None:
            patients[str(patient["id"])] = resources
    return patients


def of_type(resources: list[Resource], resource_type: str) -> list[Resource]:
    return [r for r in resources if r["resourceType"] == resource_type]


def hba1c_results(resources: list[Resource]) -> dict[str, float]:
    """``Observation/id`` -> value of every HbA1c result."""
    return {
        f"Observation/{r['id']}": float(r["valueQuantity"]["value"])
        for r in of_type(resources, "Observation")
        if any(c.get("code") == HBA1C_LOINC for c in r.get("code", {}).get("coding", []))
        and "valueQuantity" in r
    }


def hba1c_patient() -> str:
    """The fixture patient with the most HbA1c results (at least 3)."""
    best = max(fixture_patients(), key=lambda pid: len(hba1c_results(fixture_patients()[pid])))
    assert len(hba1c_results(fixture_patients()[best])) >= 3, "no patient with an HbA1c series"
    return best


def sse_events(body: str) -> list[tuple[str, Any]]:
    """Parse a ``text/event-stream`` body into (event, JSON data) pairs, with httpx-sse
    (an SSE client independent of the server's sse-starlette); pings carry no event."""
    response = httpx.Response(
        200, headers={"content-type": "text/event-stream"}, content=body.encode()
    )
    return [
        (event.event, json.loads(event.data))
        for event in httpx_sse.EventSource(response).iter_sse()
        if event.data
    ]
