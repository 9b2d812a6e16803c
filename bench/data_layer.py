"""Ingest rate and search latency: the embedded store versus a real HAPI FHIR server.

    python bench/data_layer.py [--repeat 40] [--hapi-url URL] [--no-hapi]

Why: the embedded store is the zero-setup default and the one a laptop
user runs; it must ingest Synthea far faster than a JPA server and answer
the tools' patient-scoped searches in milliseconds. Both servers are loaded
through the same loader and queried through the same ``FhirClient``, so
the figures compare the servers, not two code paths.

Printed, from one run (the machine is shared and noisy: compare the ratios):
- load rate in resources/s of ``synthea_fixtures/fhir`` into a fresh
  file-backed embedded store and into a fresh HAPI server, with the
  loader's FHIR validation on (the default) and off (the servers alone);
- p50/p95 latency of 5 typical patient-scoped searches on both, and the
  ratios. Targets (issue 2): embedded ingest >= 10x HAPI's rate; embedded
  patient-scoped search p50 < 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fhir_client import FhirClient  # noqa: E402
from fhir_client.embedded import EmbeddedStore, embedded_client  # noqa: E402
from fhir_client.loading import load_paths  # noqa: E402
from tests.support.hapi_server import hapi  # noqa: E402

FIXTURES = REPO / "synthea_fixtures" / "fhir"
Params = dict[str, str]


SEARCHES: list[tuple[str, str, Params]] = [
    (
        "latest HbA1c",
        "Observation",
        {"code": "http://loinc.org|4548-4", "_sort": "-date", "_count": "1"},
    ),
    ("active conditions", "Condition", {"clinical-status": "active"}),
    ("active medications", "MedicationRequest", {"status": "active"}),
    (
        "encounters since 2023",
        "Encounter",
        {"date": "ge2023-01-01", "_sort": "-date", "_count": "10"},
    ),
    (
        "newest 20 vital signs",
        "Observation",
        {"category": "vital-signs", "_sort": "-date", "_count": "20"},
    ),
]


def busiest_patient(fixtures: Path) -> str:
    """The id of the patient with the largest bundle: the slowest searches."""
    largest = max(
        (p for p in fixtures.glob("*.json") if "Information" not in p.name),
        key=lambda p: p.stat().st_size,
    )
    return largest.stem.rsplit("_", 1)[-1]


async def timed_load(client: FhirClient, *, validate: bool) -> float:
    """Load the fixtures; return resources per second (fails loudly on any failed file)."""
    report = await load_paths(client, [FIXTURES], validate=validate)
    if report.failures:
        raise SystemExit(f"load failed: {[str(f.error) for f in report.failures]}")
    return report.resource_count / report.elapsed_seconds


async def search_latencies(
    client: FhirClient, patient_id: str, repeat: int
) -> dict[str, list[float]]:
    """Milliseconds per search, each search run ``repeat`` times after one warm-up."""
    latencies: dict[str, list[float]] = {}
    for label, resource_type, params in SEARCHES:
        query = {"patient": patient_id, **params}
        await client.search_bundle(resource_type, query)
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            await client.search_bundle(resource_type, query)
            samples.append((time.perf_counter() - started) * 1000)
        latencies[label] = samples
    return latencies


@contextlib.asynccontextmanager
async def fresh_embedded() -> AsyncIterator[FhirClient]:
    with tempfile.TemporaryDirectory() as tmp:
        store = EmbeddedStore(Path(tmp) / "bench.sqlite")
        try:
            async with embedded_client(store, timeout=600) as client:
                yield client
        finally:
            store.close()


@contextlib.contextmanager
def hapi_url(external: str | None) -> Iterator[str]:
    if external:
        yield external
        return
    with hapi.HapiServer() as server:
        yield server.base_url


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> None:
    patient_id = busiest_patient(FIXTURES)
    rates: dict[tuple[str, bool], float] = {}
    latencies: dict[str, dict[str, list[float]]] = {}
    for validate in (True, False):
        async with fresh_embedded() as embedded:
            rates[("embedded", validate)] = await timed_load(embedded, validate=validate)
            if not validate:
                latencies["embedded"] = await search_latencies(embedded, patient_id, args.repeat)
    if not args.no_hapi:
        for validate in (True, False):
            # A fresh in-memory HAPI for each load, so both runs insert rather than update.
            with hapi_url(args.hapi_url) as url:
                async with FhirClient(url, timeout=600) as remote:
                    rates[("hapi", validate)] = await timed_load(remote, validate=validate)
                    if not validate:
                        latencies["hapi"] = await search_latencies(remote, patient_id, args.repeat)
    report(rates, latencies, patient_id, args.repeat)


def report(
    rates: dict[tuple[str, bool], float],
    latencies: dict[str, dict[str, list[float]]],
    patient_id: str,
    repeat: int,
) -> None:
    print(
        f"Fixtures: {FIXTURES.relative_to(REPO)}  busiest patient: {patient_id}  repeat: {repeat}"
    )
    print("\nLoad rate (resources/s)")
    print(f"{'loader validation':<20}{'embedded':>12}{'HAPI':>12}{'ratio':>10}")
    for validate in (True, False):
        ours = rates[("embedded", validate)]
        theirs = rates.get(("hapi", validate))
        ratio = f"{ours / theirs:.1f}x" if theirs else "-"
        hapi_text = f"{theirs:.0f}" if theirs else "-"
        print(f"{'on' if validate else 'off':<20}{ours:>12.0f}{hapi_text:>12}{ratio:>10}")
    print("\nPatient-scoped search latency (ms, through FhirClient)")
    print(
        f"{'search':<24}{'emb p50':>9}{'emb p95':>9}"
        f"{'HAPI p50':>10}{'HAPI p95':>10}{'p50 ratio':>11}"
    )
    embedded_p50s = []
    for label, _, _ in SEARCHES:
        our_samples = latencies["embedded"][label]
        p50, p95 = statistics.median(our_samples), percentile(our_samples, 0.95)
        embedded_p50s.append(p50)
        line = f"{label:<24}{p50:>9.2f}{p95:>9.2f}"
        if "hapi" in latencies:
            their_samples = latencies["hapi"][label]
            h50, h95 = statistics.median(their_samples), percentile(their_samples, 0.95)
            line += f"{h50:>10.2f}{h95:>10.2f}{h50 / p50:>10.1f}x"
        print(line)
    print(
        "\nembedded search p50, median over the 5 searches: "
        f"{statistics.median(embedded_p50s):.2f} ms (target < 5 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=40, help="runs of each search (default 40)")
    parser.add_argument("--hapi-url", help="use this running HAPI server instead of starting one")
    parser.add_argument("--no-hapi", action="store_true", help="embedded store only")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
