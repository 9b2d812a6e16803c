"""The whole multi-process deployment on one machine, and the load bench driving it.

    nice -n 10 python bench/deployment.py [--workers 1,2,4] [--clients 8] [--seconds 20]
                                          [--patients 2] [--model gguf|none] [--keep]

Why: issue 13 item 4. The same pieces that run on a laptop scale out unchanged: a FHIR
server (here HAPI FHIR JPA on PostgreSQL), N stateless API workers that keep their
threads in a shared PostgreSQL checkpointer, and a model server speaking the OpenAI API
(here llama-cpp-python's server with the Gemma 3 270M GGUF; vLLM in production). This
script starts them all on 127.0.0.1, each on a free port, with every state directory in
``.bench-out/deployment/``:

1. a private PostgreSQL cluster (``tests/support/hapi_server/postgres.py``: Debian's initdb and
   pg_ctl) with two databases, ``hapi`` and ``threads``;
2. HAPI FHIR JPA on PostgreSQL (``tests/support/hapi_server``), loaded with the hospital and
   practitioner bundles and ``--patients`` fixture patients through the loader;
3. ``python -m llama_cpp.server`` with the GGUF (``--model gguf``), or no model;
4. the API: ``ehr-agent serve --workers N`` when this checkout's ``serve`` has that
   option; otherwise N separate ``ehr-agent serve`` processes on their own ports behind
   a small round-robin TCP balancer in this script (connection-level, like an L4 load
   balancer). The report says which ran. Every worker uses ``--fhir-url`` HAPI,
   ``--model openai:...`` and ``--checkpoint-db postgresql://.../threads``.

Then ``bench/api_load.py --url`` (the existing load bench) drives the API for each N in
``--workers``; its per-endpoint p50/p95/errors are printed for each N, then a summary.
Ctrl-C or the end stops everything this script started (by process, never by name).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from fhir_client import FhirClient  # noqa: E402
from fhir_client.loading import load_paths  # noqa: E402
from tests.support.hapi_server import hapi  # noqa: E402
from tests.support.hapi_server.postgres import PostgresCluster  # noqa: E402

OUT = REPO / ".bench-out" / "deployment"
FIXTURES = REPO / "synthea_fixtures" / "fhir"
EHR_AGENT = Path(sys.executable).with_name("ehr-agent")
START_TIMEOUT_SECONDS = 600.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:]
            raise SystemExit(f"{process.args!r} exited ({process.returncode}):\n{tail}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=10).status_code < 500:
                return
        time.sleep(1)
    raise SystemExit(f"{url} did not answer within {START_TIMEOUT_SECONDS:.0f} s; see {log}")


@contextlib.contextmanager
def process(name: str, command: list[str], ready_url: str, env: dict[str, str]) -> Iterator[None]:
    """Start one child (its log in OUT), wait for ``ready_url``, stop it at the end."""
    log = OUT / f"{name}.log"
    with log.open("wb") as sink:
        child = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, **env}
        )
    try:
        wait_http(ready_url, child, log)
        yield
    finally:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


# -- a round-robin TCP balancer, for when `serve --workers` is not available ---------------


class RoundRobin:
    """Accepts on 127.0.0.1:port and pipes each connection to the next backend in turn."""

    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self.port = free_port()
        self._next = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._ready = threading.Event()

    def __enter__(self) -> RoundRobin:
        self._thread.start()
        self._ready.wait(30)
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        backend = self.backends[self._next % len(self.backends)]
        self._next += 1
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", backend)
        except OSError:
            writer.close()
            return

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                while chunk := await src.read(65536):
                    dst.write(chunk)
                    await dst.drain()
            with contextlib.suppress(Exception):
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


def serve_has_workers() -> bool:
    proc = subprocess.run(
        [str(EHR_AGENT), "serve", "--help"], capture_output=True, text=True, check=False
    )
    return "--workers" in proc.stdout


@contextlib.contextmanager
def api(workers: int, common: list[str], env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """The API with ``workers`` workers; yields (base URL, how it was run)."""
    if serve_has_workers():
        port = free_port()
        command = [str(EHR_AGENT), "serve", "--port", str(port), "--workers", str(workers)]
        url = f"http://127.0.0.1:{port}"
        with process(f"api-{workers}", [*command, *common], f"{url}/health", env):
            yield url, f"ehr-agent serve --workers {workers}"
        return
    ports = [free_port() for _ in range(workers)]
    with contextlib.ExitStack() as stack:
        for index, port in enumerate(ports):
            command = [str(EHR_AGENT), "serve", "--port", str(port), *common]
            url = f"http://127.0.0.1:{port}"
            stack.enter_context(process(f"api-{workers}-{index}", command, f"{url}/health", env))
        balancer = stack.enter_context(RoundRobin(ports))
        yield (
            f"http://127.0.0.1:{balancer.port}",
            f"{workers} separate `ehr-agent serve` processes behind a round-robin TCP balancer "
            "(this checkout's serve has no --workers)",
        )


def load_hapi(base_url: str, patients: int) -> int:
    files = sorted(FIXTURES.glob("*.json"))
    reference = [p for p in files if "Information" in p.name]
    people = sorted(
        (p for p in files if "Information" not in p.name), key=lambda p: p.stat().st_size
    )[:patients]

    async def run() -> int:
        async with FhirClient(base_url, timeout=3600) as client:
            report = await load_paths(client, [*reference, *people], validate=False)
        if report.failures:
            raise SystemExit([str(f.error) for f in report.failures][:3])
        return report.resource_count

    return asyncio.run(run())


def drive(url: str, clients: int, seconds: float) -> tuple[str, int]:
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "api_load.py"),
            "--url",
            url,
            "--clients",
            str(clients),
            "--seconds",
            str(seconds),
            "--fhir-reads",  # with a remote record source the API's /fhir serves reads only
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout + proc.stderr, proc.returncode


def summary_line(text: str) -> str:
    """The ask endpoint's row of api_load's table (p50/p95/errors)."""
    rows = [line for line in text.splitlines() if re.search(r"POST .*ask", line)]
    return rows[0].strip() if rows else "(no ask row; see the full output above)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--patients", type=int, default=2, help="fixture patients in HAPI")
    parser.add_argument("--model", choices=("gguf", "none"), default="gguf")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    levels = [int(n) for n in args.workers.split(",")]
    results: list[tuple[int, str, str]] = []
    with PostgresCluster(OUT / "pg") as pg, contextlib.ExitStack() as stack:
        pg.create_database("hapi")
        pg.create_database("threads")
        started = time.perf_counter()
        server = stack.enter_context(
            hapi.HapiServer(
                jdbc_url=pg.jdbc_url("hapi"),
                log_path=OUT / "hapi.log",
                startup_timeout=START_TIMEOUT_SECONDS,
            )
        )
        resources = load_hapi(server.base_url, args.patients)
        hapi_rows = pg.psql("SELECT count(*) FROM hfj_resource", "hapi")
        print(
            f"HAPI FHIR JPA on PostgreSQL {pg.url('hapi')}: {resources} resources loaded, "
            f"{hapi_rows} rows in hfj_resource ({time.perf_counter() - started:.0f} s)"
        )
        model = "none"
        if args.model == "gguf":
            from agent.models.spec import small_test_model_path

            port = free_port()
            base = f"http://127.0.0.1:{port}/v1"
            command = [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(small_test_model_path()),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--n_ctx",
                "4096",
                "--n_threads",
                str(args.threads),
                "--model_alias",
                "gemma-270m",
            ]
            stack.enter_context(process("llama-server", command, f"{base}/models", {}))
            model = f"openai:{base}#gemma-270m"
            print(f"llama-cpp-python OpenAI-compatible server: {base} (Gemma 3 270M Q4_K_M)")
        common = [
            "--fhir-url",
            server.base_url,
            "--model",
            model,
            "--checkpoint-db",
            pg.url("threads"),
        ]
        for workers in levels:
            with api(workers, common, {}) as (url, how):
                print(f"\n== {workers} worker(s): {how}; load: {args.clients} clients")
                text, code = drive(url, args.clients, args.seconds)
                print(text)
                results.append((workers, summary_line(text), "ok" if code == 0 else "errors"))
    print("\n== Summary (POST ask row of each run: requests, req/s, p50, p95, max, errors)")
    for workers, line, status in results:
        print(f"{workers} worker(s) [{status}]: {line}")


if __name__ == "__main__":
    main()
