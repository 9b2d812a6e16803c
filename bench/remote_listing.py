"""Listing patients on a remote FHIR server: HTTP requests and seconds per page, before and after.

    nice -n 10 python bench/remote_listing.py [--hapi-url URL] [--count 50] [--repeat 3]

Why (issue 13 item 1): on a remote server a page's counts by record type come from
``_summary=count`` searches, one per record type and patient: about twenty requests
per patient listed. ``fhir_client.directory`` now sends those searches inside FHIR
``batch`` requests (``REMOTE_COUNT_BATCH_ENTRIES`` each). This prints, against a real
HAPI FHIR JPA server holding the committed fixtures, for one page of ``--count``
patients with counts:

- before: the same searches one request each (as the listing did until now);
- after: ``patient_page`` as it is;
- and the page without counts (``GET /patients`` without ``counts=true``).

Requests are counted by the client's request observer; seconds are medians of
``--repeat`` runs. Without ``--hapi-url`` a HAPI server is started (minutes on a busy
machine) and loaded with the fixtures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fhir_client import FhirClient  # noqa: E402
from fhir_client.directory import REMOTE_COUNTED_TYPES, PatientPage, patient_page  # noqa: E402
from fhir_client.loading import load_paths  # noqa: E402
from fhir_client.observe import RequestObservation  # noqa: E402
from tests.support.hapi_server import hapi  # noqa: E402

FIXTURES = REPO / "synthea_fixtures" / "fhir"
HAPI_START_TIMEOUT_SECONDS = 1200.0


async def one_by_one(client: FhirClient, count: int) -> PatientPage:
    """The listing as it was: the page, then one ``_summary=count`` request per type."""
    page = await patient_page(client, count=count, with_counts=False)
    gate = asyncio.Semaphore(8)  # REMOTE_COUNT_CONCURRENCY, as before

    async def one(patient_id: str, rtype: str) -> int:
        async with gate:
            return await client.count(rtype, {"patient": patient_id})

    await asyncio.gather(
        *(one(str(e.patient["id"]), t) for e in page.entries for t in REMOTE_COUNTED_TYPES)
    )
    return page


async def measure(
    client: FhirClient, run: Callable[[], Awaitable[PatientPage]], repeat: int
) -> tuple[int, float, int]:
    """(requests per run, median seconds, patients listed)."""
    seen: list[RequestObservation] = []
    seconds: list[float] = []
    listed = 0
    for _ in range(repeat):
        seen.clear()
        client.add_observer(seen.append)
        started = time.perf_counter()
        page = await run()
        seconds.append(time.perf_counter() - started)
        client.remove_observer(seen.append)
        listed = len(page.entries)
    return len(seen), statistics.median(seconds), listed


async def run(url: str, count: int, repeat: int, load: bool) -> None:
    async with FhirClient(url, timeout=3600) as client:
        if load:
            report = await load_paths(client, [FIXTURES], validate=False)
            if report.failures:
                raise SystemExit([str(f.error) for f in report.failures][:3])
        before = await measure(client, lambda: one_by_one(client, count), repeat)
        after = await measure(client, lambda: patient_page(client, count=count), repeat)
        bare = await measure(
            client, lambda: patient_page(client, count=count, with_counts=False), repeat
        )
    print(f"== Remote listing against HAPI FHIR JPA ({url}), one page, median of {repeat}")
    for label, (requests, seconds, listed) in (
        ("before: one _summary=count per type and patient", before),
        ("after: the counts in FHIR batch requests", after),
        ("without counts", bare),
    ):
        print(f"  {label:50} {listed:>3} patients  {requests:>5} requests  {seconds:6.2f} s")
    print(
        f"  requests: {before[0]} -> {after[0]} ({before[0] / after[0]:.0f}x fewer); "
        f"time {before[1] / after[1]:.1f}x"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hapi-url", help="a running HAPI server (loaded with the fixtures)")
    parser.add_argument("--count", type=int, default=50, help="patients per page")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--load", action="store_true", help="load the fixtures into --hapi-url")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        url = args.hapi_url
        load = args.load
        if url is None:
            server = hapi.HapiServer(startup_timeout=HAPI_START_TIMEOUT_SECONDS)
            url = stack.enter_context(server).base_url
            load = True
        asyncio.run(run(url, args.count, args.repeat, load))


if __name__ == "__main__":
    main()
