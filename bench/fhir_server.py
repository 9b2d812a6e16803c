"""What the read-only FHIR server's features cost: includes, subsets, conditional reads.

    python bench/fhir_server.py [--repeat 30] [--db PATH] [--hapi-url URL]

Why: ``_include``/``_revinclude`` and ``_elements`` do extra work per page (more SQL,
parsing stored JSON), and a conditional read exists to be cheaper than a read. This
prints, from one run over the committed fixtures loaded into a file-backed embedded
store (in-process ASGI, as the API's ``/fhir`` serves it; ``--db`` reuses a filled
store), the median and p95 latency in ms of each request form for the patient with
the most resources, and each one's ratio to the plain search it extends. With
``--hapi-url`` (a HAPI server already holding the fixtures) the same requests run
against HAPI too, for scale. The machine is shared and noisy: compare the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from fhir_client.embedded import (  # noqa: E402
    EMBEDDED_BASE_URL,
    EmbeddedStore,
    embedded_asgi_app,
    embedded_client,
)
from fhir_client.loading import load_paths  # noqa: E402
from tests.support.conformance_queries import patient_resources  # noqa: E402

FIXTURES = REPO / "synthea_fixtures" / "fhir"


Request = tuple[str, str, dict[str, str], dict[str, str]]


def _requests(patient_id: str, version: str) -> list[Request]:
    """(label, path, params, headers); the first of each group is its baseline."""
    obs = {"patient": patient_id, "_count": "100"}
    patient = f"/Patient/{patient_id}"
    by_id = {"_id": patient_id}
    return [
        ("read Patient", patient, {}, {}),
        ("  conditional read (304)", patient, {}, {"If-None-Match": f'W/"{version}"'}),
        ("  vread", f"{patient}/_history/{version}", {}, {}),
        ("Observation search, 100", "/Observation", obs, {}),
        ("  + _include=Observation:encounter", "/Observation",
         {**obs, "_include": "Observation:encounter"}, {}),
        ("  + _include=*", "/Observation", {**obs, "_include": "*"}, {}),
        ("  + _elements=code,value", "/Observation", {**obs, "_elements": "code,value"}, {}),
        ("  _summary=count", "/Observation", {"patient": patient_id, "_summary": "count"}, {}),
        ("Patient by _id", "/Patient", by_id, {}),
        ("  + _revinclude=Observation:subject", "/Patient",
         {**by_id, "_revinclude": "Observation:subject"}, {}),
        ("  + _revinclude=* (bounded)", "/Patient", {**by_id, "_revinclude": "*"}, {}),
    ]  # fmt: skip


async def _time(client: httpx.AsyncClient, path: str, params: dict[str, str],
                headers: dict[str, str], repeat: int) -> list[float]:  # fmt: skip
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = await client.get(path, params=params, headers=headers)
        await response.aread()
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 304), (path, response.status_code, response.text)
    return samples


async def _run(db: Path, repeat: int, hapi_url: str | None) -> None:
    store = EmbeddedStore(db)
    if store.is_empty():
        started = time.perf_counter()
        async with embedded_client(store) as loader:
            await load_paths(loader, [FIXTURES])
        print(f"loaded the fixtures in {time.perf_counter() - started:.1f} s")
    paths = [p for p in sorted(FIXTURES.glob("*.json")) if "Information" not in p.name]
    patient_id, resources = max((patient_resources(p) for p in paths), key=lambda r: len(r[1]))
    stored = store.read_version("Patient", patient_id)
    assert stored is not None
    version = stored[0]
    print(f"patient {patient_id}: {len(resources)} resources; {repeat} runs each\n")
    transport = httpx.ASGITransport(app=embedded_asgi_app(store))
    clients = {"embedded": httpx.AsyncClient(transport=transport, base_url=EMBEDDED_BASE_URL)}
    if hapi_url:
        clients["HAPI"] = httpx.AsyncClient(base_url=hapi_url, timeout=120)
    header = f"{'request':40} {'p50 ms':>8} {'p95 ms':>8} {'x base':>7}"
    header += "".join(f" {name + ' p50':>10}" for name in clients if name != "embedded")
    print(header)
    baseline = 1.0
    for label, path, params, headers in _requests(patient_id, str(version)):
        figures = {}
        for name, client in clients.items():
            if name == "HAPI" and "If-None-Match" in headers:
                continue  # HAPI's version numbers are its own
            if name == "HAPI" and "_history" in path:
                continue
            samples = sorted(await _time(client, path, params, headers, repeat))
            figures[name] = (statistics.median(samples), samples[int(0.95 * (len(samples) - 1))])
        p50, p95 = figures["embedded"]
        if not label.startswith(" "):
            baseline = p50
        row = f"{label:40} {p50:8.2f} {p95:8.2f} {p50 / baseline:7.2f}"
        row += "".join(f" {figures[n][0] if n in figures else float('nan'):10.2f}"
                       for n in clients if n != "embedded")  # fmt: skip
        print(row)
    for client in clients.values():
        await client.aclose()
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--db", type=Path, help="a store file to reuse (filled when empty)")
    parser.add_argument("--hapi-url", help="a HAPI server already holding the fixtures")
    args = parser.parse_args()
    if args.db:
        asyncio.run(_run(args.db, args.repeat, args.hapi_url))
        return
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_run(Path(tmp) / "bench.sqlite", args.repeat, args.hapi_url))


if __name__ == "__main__":
    main()
