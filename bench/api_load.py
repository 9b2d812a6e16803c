"""Load test of the HTTP API: N concurrent clients for a bounded time, on loopback.

    python bench/api_load.py [--clients 20] [--seconds 20] [--url http://127.0.0.1:PORT]
                             [--db FILLED.sqlite] [--seed 0]

Why: the dashboard is one server answering many browser tabs (and scripts) at once,
over one embedded SQLite store and one checkpointer.  Issue 7's target is 0 errors at
20 concurrent clients, with the store still serving plain FHIR reads while the agent
is busy; this script is how that is measured, and ``tests/project/test_load_api.py`` runs a
short version of it.

Without ``--url`` it starts ``ehr-agent serve`` in a subprocess (its own interpreter,
so the server does not share a GIL with the load generator) on a free 127.0.0.1 port,
with model ``none`` and an in-memory checkpointer, over a temporary copy of ``--db``
or, without it, a temporary store the server fills from ``synthea_fixtures/fhir`` on
start.  Each simulated client has its own connection pool and loops, until the time
is up, over a weighted mix of:

- ``POST /patients/{id}/ask`` single-fact questions (a new thread, or a follow-up in
  the client's previous thread for the same patient);
- ``GET /patients/{id}/summary``;
- ``GET /fhir/Observation?patient={id}`` searches.

One more task, the *reader*, issues FHIR reads back to back during the whole load;
its latency shows whether reads stall behind the agent work.

Printed: per endpoint the request count, throughput (req/s), p50/p95/max latency and
errors (non-2xx or exceptions, with the first few messages).  Exit status 1 when there
were errors or the reader completed nothing.  Traffic goes only to the given URL,
which must be a loopback address.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

MAX_SECONDS = 120.0
MAX_CLIENTS = 200
REQUEST_TIMEOUT_SECONDS = 60.0
STARTUP_TIMEOUT_SECONDS = 600.0  # an empty store is filled from the fixtures first
READER = "reader GET /fhir/Observation"
QUESTIONS = (
    "Any allergies?",
    "What medications is the patient on?",
    "Show the HbA1c trend",
    "What are the active conditions?",
    "What was the last blood pressure?",
    "Which immunizations were given?",
    "When was the last visit?",
)
FOLLOW_UPS = ("Which of them are food allergies?", "And the one before that?", "Since when?")
# (label, weight): most traffic asks, as the dashboard does.
MIX = (
    ("POST /patients/{id}/ask", 6),
    ("GET /patients/{id}/summary", 2),
    ("GET /fhir/Observation", 2),
)
MAX_ERROR_MESSAGES = 5
FHIR_READS_ONLY = False
"""``--fhir-reads``: the /fhir requests (mix and reader) become ``GET /fhir/Patient/{id}``,
for an API whose record source is a remote server (its /fhir then serves reads only).
The labels keep their names; the output's header says which ran."""
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass
class EndpointStats:
    """Latencies (seconds) of successful and failed requests to one endpoint."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    messages: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.latencies)

    def record(self, seconds: float, error: str | None) -> None:
        self.latencies.append(seconds)
        if error is not None:
            self.errors += 1
            if len(self.messages) < MAX_ERROR_MESSAGES:
                self.messages.append(error)


@dataclass
class LoadResult:
    """Everything one run measured, per endpoint label."""

    clients: int
    seconds: float
    stats: dict[str, EndpointStats]

    @property
    def errors(self) -> int:
        return sum(s.errors for s in self.stats.values())

    @property
    def requests(self) -> int:
        return sum(s.count for s in self.stats.values())

    def reader_completed(self) -> int:
        reader = self.stats.get(READER)
        return 0 if reader is None else reader.count - reader.errors


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; 0 for no values (an idle endpoint is not an error)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


def _error_of(response: httpx.Response) -> str | None:
    if response.is_success:
        return None
    return f"{response.request.method} {response.request.url.path}: {response.status_code} " + (
        response.text[:200].replace("\n", " ")
    )


async def _timed(
    stats: EndpointStats, client: httpx.AsyncClient, method: str, url: str, **kwargs: object
) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
    except httpx.HTTPError as error:
        stats.record(time.perf_counter() - started, f"{method} {url}: {error!r}")
        return None
    stats.record(time.perf_counter() - started, _error_of(response))
    return response


async def _client_loop(
    number: int,
    base_url: str,
    patients: list[str],
    deadline: float,
    stats: dict[str, EndpointStats],
    seed: int,
) -> None:
    """One simulated user: its own connection, its own thread, until ``deadline``."""
    rng = random.Random(seed * 1000 + number)
    labels = [label for label, _ in MIX]
    weights = [weight for _, weight in MIX]
    thread: tuple[str, str] | None = None  # (patient, thread_id) of the last answer
    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS) as client:
        while time.monotonic() < deadline:
            label = rng.choices(labels, weights)[0]
            patient = rng.choice(patients)
            if label.startswith("POST"):
                body: dict[str, str] = {"question": rng.choice(QUESTIONS)}
                if thread is not None and rng.random() < 0.3:
                    patient, body = thread[0], {"question": rng.choice(FOLLOW_UPS)}
                    body["thread_id"] = thread[1]
                url = f"/patients/{patient}/ask"
                response = await _timed(stats[label], client, "POST", url, json=body)
                if response is not None and response.is_success:
                    thread = (patient, str(response.json()["thread_id"]))
            elif label.startswith("GET /patients"):
                await _timed(stats[label], client, "GET", f"/patients/{patient}/summary")
            elif FHIR_READS_ONLY:
                await _timed(stats[label], client, "GET", f"/fhir/Patient/{patient}")
            else:
                url = f"/fhir/Observation?patient={patient}&_count=50"
                await _timed(stats[label], client, "GET", url)


async def _reader_loop(
    base_url: str, patients: list[str], deadline: float, stats: EndpointStats
) -> None:
    """Back-to-back FHIR reads for the whole run: do reads keep flowing under load?"""
    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS) as client:
        turn = 0
        while time.monotonic() < deadline:
            patient = patients[turn % len(patients)]
            turn += 1
            url = f"/fhir/Observation?patient={patient}&category=vital-signs&_count=20"
            if FHIR_READS_ONLY:
                url = f"/fhir/Patient/{patient}"
            await _timed(stats, client, "GET", url)


def check_loopback(base_url: str) -> None:
    """Refuse to send load anywhere but this machine."""
    host = urlsplit(base_url).hostname
    if host not in LOOPBACK_HOSTS:
        raise SystemExit(f"--url must be a loopback address (127.0.0.1/localhost), got {host!r}")


async def run_load(base_url: str, clients: int, seconds: float, *, seed: int = 0) -> LoadResult:
    """Drive ``base_url`` with ``clients`` users plus one reader for ``seconds``."""
    check_loopback(base_url)
    clients = max(1, min(clients, MAX_CLIENTS))
    seconds = max(0.1, min(seconds, MAX_SECONDS))
    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_SECONDS) as client:
        listed = await client.get("/patients")
        listed.raise_for_status()
        patients = [str(p["id"]) for p in listed.json()]
    if not patients:
        raise SystemExit(f"{base_url} serves no patients; load some with `ehr-agent load`")
    stats = {label: EndpointStats() for label, _ in MIX}
    stats[READER] = EndpointStats()
    started = time.monotonic()
    deadline = started + seconds
    tasks = [
        _client_loop(number, base_url, patients, deadline, stats, seed) for number in range(clients)
    ]
    tasks.append(_reader_loop(base_url, patients, deadline, stats[READER]))
    # In-flight requests may finish after the deadline, each within its own timeout.
    await asyncio.wait_for(asyncio.gather(*tasks), seconds + REQUEST_TIMEOUT_SECONDS + 10)
    return LoadResult(clients, time.monotonic() - started, stats)


def format_result(result: LoadResult) -> str:
    lines = [
        f"{result.clients} clients + 1 reader for {result.seconds:.1f} s: "
        f"{result.requests} requests, {result.requests / result.seconds:.1f} req/s, "
        f"{result.errors} errors",
        f"{'endpoint':<32} {'count':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'max ms':>8} {'errors':>6}",
    ]
    for label, stats in result.stats.items():
        lines.append(
            f"{label:<32} {stats.count:>6} {stats.count / result.seconds:>7.1f} "
            f"{percentile(stats.latencies, 0.5) * 1000:>8.0f} "
            f"{percentile(stats.latencies, 0.95) * 1000:>8.0f} "
            f"{max(stats.latencies, default=0.0) * 1000:>8.0f} {stats.errors:>6}"
        )
    for label, stats in result.stats.items():
        lines.extend(f"  error ({label}): {message}" for message in stats.messages)
    return "\n".join(lines)


def _free_port() -> int:
    """A free loopback port (a tiny race with other processes; fine on a bench box)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited ({server.returncode}):\n{log.read_text()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/health", timeout=2).is_success:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer /health in time:\n{log.read_text()}")


@contextlib.contextmanager
def serving(db: Path | None = None) -> Iterator[str]:
    """``ehr-agent serve`` (model none) on a free 127.0.0.1 port; yields its base URL.

    The store is a temporary copy of ``db`` (the server never writes the record, but
    SQLite may leave side files), or an empty one the server fills from the fixtures.
    """
    with tempfile.TemporaryDirectory(prefix="api-load-") as tmp:
        store = Path(tmp) / "store.sqlite"
        if db is not None:
            shutil.copyfile(db, store)
        port = _free_port()
        log = Path(tmp) / "server.log"
        command = [
            sys.executable,
            "-m",
            "agent.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--model",
            "none",
            "--checkpoint-db",
            ":memory:",
            "--db",
            str(store),
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with log.open("wb") as out:
            server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(base_url, server, log)
            yield base_url
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (max 200)")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration (max 120)")
    parser.add_argument("--url", help="use this running server (loopback only)")
    parser.add_argument("--db", type=Path, help="a filled embedded store to serve (copied)")
    parser.add_argument("--seed", type=int, default=0, help="for the request mix")
    parser.add_argument(
        "--fhir-reads", action="store_true", help="/fhir requests are Patient reads (remote source)"
    )
    args = parser.parse_args()
    if args.fhir_reads:
        global FHIR_READS_ONLY
        FHIR_READS_ONLY = True
        print("/fhir requests: GET /fhir/Patient/{id} reads (labels keep their names)")
    if args.url:
        result = asyncio.run(run_load(args.url, args.clients, args.seconds, seed=args.seed))
    else:
        with serving(args.db) as base_url:
            result = asyncio.run(run_load(base_url, args.clients, args.seconds, seed=args.seed))
    print(format_result(result))
    return 1 if result.errors or not result.reader_completed() else 0


if __name__ == "__main__":
    sys.exit(main())
