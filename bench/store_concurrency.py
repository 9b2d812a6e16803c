"""Two CLI processes and one ``serve`` on one embedded store, for a while: zero errors?

    python bench/store_concurrency.py [--seconds 60]

Why: a user runs ``ehr-agent serve`` and, in another terminal, ``load`` and
``ask`` against the same store. Before issue 11 a second ``load`` crashed with
"database is locked" (dropping its remaining files and printing resource JSON)
and concurrent ``ask`` runs failed at close. Here, for the whole duration:

- process 1 loads ``synthea_fixtures/fhir`` again and again (a writer);
- process 2 alternates ``load synthea_fixtures/ndjson`` (a second writer) and
  ``ask`` (a reader that closes the store);
- an HTTP client asks ``serve`` for the patient list, a summary and an answer.

Printed: runs and failures per process, HTTP requests and non-200 answers, and
whether any output held "Traceback" or "database is locked". The same function
is the slow test ``tests/fhir_client/test_store_concurrency.py``.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "synthea_fixtures" / "fhir"
NDJSON = REPO / "synthea_fixtures" / "ndjson"
BAD_SIGNS = ("Traceback", "database is locked", '"resourceType"')


@dataclass
class Tally:
    """What one worker did."""

    runs: int = 0
    failures: list[str] = field(default_factory=list)


@dataclass
class ConcurrencyResult:
    seconds: float
    loader: Tally
    mixed: Tally
    http: Tally

    @property
    def errors(self) -> int:
        return len(self.loader.failures) + len(self.mixed.failures) + len(self.http.failures)


def _cli() -> list[str]:
    return [sys.executable, "-m", "agent.cli"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(args: list[str], env: dict[str, str], tally: Tally) -> str:
    done = subprocess.run(
        [*_cli(), *args], env=env, capture_output=True, text=True, timeout=900, check=False
    )
    tally.runs += 1
    output = done.stdout + done.stderr
    bad = [sign for sign in BAD_SIGNS if sign in output]
    if done.returncode != 0 or bad:
        tally.failures.append(f"{args[0]} exit {done.returncode} {bad}: {output[-400:]}")
    return done.stdout


def _loop(until: float, jobs: list[list[str]], env: dict[str, str], tally: Tally) -> None:
    turn = 0
    while time.monotonic() < until:
        _run(jobs[turn % len(jobs)], env, tally)
        turn += 1


def _http_loop(until: float, base: str, patient: str, tally: Tally) -> None:
    with httpx.Client(base_url=base, timeout=120) as client:
        while time.monotonic() < until:
            for method, path, body in (
                ("GET", "/patients", None),
                ("GET", f"/patients/{patient}/summary", None),
                ("POST", f"/patients/{patient}/ask", {"question": "What are the allergies?"}),
            ):
                tally.runs += 1
                try:
                    response = client.request(method, path, json=body)
                    if response.status_code != 200:
                        tally.failures.append(f"{method} {path}: {response.status_code}")
                except httpx.HTTPError as error:
                    tally.failures.append(f"{method} {path}: {type(error).__name__}")


def run_concurrency(seconds: float, workdir: Path) -> ConcurrencyResult:
    """Run the three workers on one fresh store in ``workdir`` for ``seconds``."""
    env = {
        **os.environ,
        "EHR_AGENT_DB": str(workdir / "store.sqlite"),
        "EHR_AGENT_AUDIT_DB": str(workdir / "audit.sqlite"),
        "EHR_AGENT_FIXTURES": str(FIXTURES),
        "PYTHONPATH": str(REPO),
    }
    for name in ("EHR_AGENT_FHIR_URL", "EHR_AGENT_FHIR_TOKEN", "EHR_AGENT_MODEL"):
        env.pop(name, None)
    setup = Tally()
    listed = _run(["patients", "--count", "1"], env, setup)  # fills the store once
    if setup.failures:
        raise RuntimeError(f"the store could not be filled: {setup.failures}")
    patient = listed.split("\t", 1)[0].strip()
    checkpoints = ["--checkpoint-db", str(workdir / "threads.sqlite"), "--model", "none"]
    port = _free_port()
    server = subprocess.Popen(
        [*_cli(), "serve", "--port", str(port), *checkpoints],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(base, server)
        loader, mixed, http = Tally(), Tally(), Tally()
        started = time.monotonic()
        until = started + seconds
        ask = ["ask", "What medications?", "--patient", patient, *checkpoints]
        workers = [
            threading.Thread(target=_loop, args=(until, [["load", str(FIXTURES)]], env, loader)),
            threading.Thread(target=_loop, args=(until, [["load", str(NDJSON)], ask], env, mixed)),
            threading.Thread(target=_http_loop, args=(until, base, patient, http)),
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        return ConcurrencyResult(time.monotonic() - started, loader, mixed, http)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def _wait_for(base: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"serve exited: {server.stderr.read() if server.stderr else ''}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise RuntimeError("serve did not start within 120 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ehr-concurrency-") as tmp:
        result = run_concurrency(args.seconds, Path(tmp))
    print(f"two CLI processes + serve on one store for {result.seconds:.0f} s")
    for name, tally in (("load loop", result.loader), ("load+ask loop", result.mixed)):
        print(f"  {name:14} {tally.runs:4d} runs, {len(tally.failures)} failed")
    print(f"  serve (HTTP)   {result.http.runs:4d} requests, {len(result.http.failures)} failed")
    print(f"errors: {result.errors}")
    for failure in [*result.loader.failures, *result.mixed.failures, *result.http.failures][:5]:
        print(f"  {failure}")


if __name__ == "__main__":
    main()
