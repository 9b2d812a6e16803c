"""Memory held by the record cache: each kept lifetime record, its concept and text index.

    nice -n 10 python bench/record_cache_memory.py --store DB [--patients ID ...] [--quick]

Why (issue 13): the Assistant and the LangGraph server keep up to
``RECORD_CACHE_ENTRIES`` patients' whole records (``agent.record_cache``) so a concept
question does not read a lifetime record again; this prints what each kept record costs.

For each patient (``--patients``, else the store's largest records, up to
``RECORD_CACHE_ENTRIES``): the record, its concept index and its full-text index are
built through a :class:`RecordCache` as a concept question and a record search build
them, and the growth of this process's resident memory (RSS) once built, and of its
peak RSS while building, is printed, then the total for all kept records. ``--heap``
adds the growth of the Python heap (``tracemalloc``: what the cache keeps, exactly; it
slows the build about 2x and its own bookkeeping inflates the RSS figures). Beside it,
the cache's own estimate of the entry (``estimated_bytes``, what ``RECORD_CACHE_BYTES``
bounds) and heap / estimate: near 1 when ``HEAP_PER_JSON_BYTE`` is right.
The store is opened for writing (SQLite's WAL): pass a copy, never a shared file.
``--quick`` (CI size): the committed fixtures in a fresh in-memory store, 2 patients.

``--fhir-url URL [--patients ID]`` instead times questions on a remote server (e.g.
HAPI holding the fixtures): the same concept question ``--repeat`` times through an
Assistant without the record cache and with it (keyed by the server's newest history
entry), and prints the median seconds per question after the first for each.
"""

from __future__ import annotations

import _sqlite3
import argparse
import asyncio
import ctypes
import gc
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent import build_graph, open_checkpointer  # noqa: E402
from agent.assistant import Assistant  # noqa: E402
from agent.record_cache import RecordCache, estimated_bytes  # noqa: E402
from fhir_client.client import FhirClient  # noqa: E402
from fhir_client.embedded import EmbeddedStore, embedded_client  # noqa: E402
from fhir_client.limits import RECORD_CACHE_BYTES, RECORD_CACHE_ENTRIES  # noqa: E402
from fhir_client.loading import load_paths  # noqa: E402
from tools import make_toolset  # noqa: E402

FIXTURES = REPO / "synthea_fixtures" / "fhir"
MIB = 1024 * 1024


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def largest_patients(store: EmbeddedStore, count: int) -> list[str]:
    counts = store.patient_page(count=500, with_counts=True).counts
    return sorted(counts, key=lambda patient: -sum(counts[patient].values()))[:count]


_SQLITE = ctypes.CDLL(_sqlite3.__file__)  # the libsqlite3 the sqlite3 module uses
_SQLITE.sqlite3_memory_used.restype = ctypes.c_int64


def sqlite_mib() -> float:
    """SQLite's own heap now: mostly the page caches of the store's read connections."""
    return float(_SQLITE.sqlite3_memory_used()) / MIB


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def heap_mib(heap: bool) -> float:
    return tracemalloc.get_traced_memory()[0] / MIB if heap else float("nan")


async def measure(store: EmbeddedStore, patients: list[str], heap: bool) -> None:
    # Entries and bytes unbounded here: this measures what each record would cost.
    cache = RecordCache(store.record_version, entries=len(patients), max_bytes=2**62)
    if heap:
        tracemalloc.start()
    total_heap = 0.0
    start_rss = rss_mib()
    print(
        f"{'patient':38}{'resources':>10}{'heap MiB':>10}{'est. MiB':>10}{'heap/est':>9}"
        f"{'RSS +MiB':>10}"
        f"{'peak RSS':>10}{'SQLite':>8}{'build s':>9}"
    )
    async with embedded_client(store, timeout=3600) as client:
        for patient in patients:
            gc.collect()
            heap_before, rss_before = heap_mib(heap), rss_mib()
            started = time.perf_counter()
            toolset = cache.attach(make_toolset(client, patient))
            record = await toolset.record()
            await toolset.record_index()
            await toolset.record_search()
            seconds = time.perf_counter() - started
            del toolset
            gc.collect()
            kept = heap_mib(heap) - heap_before
            total_heap += kept
            shown = f"{kept:.1f}" if heap else "-"  # without --heap: not measured
            estimate = estimated_bytes(record) / MIB
            ratio = f"{kept / estimate:.2f}" if heap else "-"
            print(
                f"{patient:38}{len(record.resources):>10,}{shown:>10}{estimate:>10.1f}{ratio:>9}"
                f"{rss_mib() - rss_before:>10.0f}{peak_rss_mib():>10.0f}{sqlite_mib():>8.0f}"
                f"{seconds:>9.1f}"
            )
    heap_total = f"{total_heap:.0f} MiB" if heap else "(--heap to measure)"
    print(
        f"{len(cache)} kept records (RECORD_CACHE_ENTRIES = {RECORD_CACHE_ENTRIES}): "
        f"{heap_total} of Python heap, RSS +{rss_mib() - start_rss:.0f} MiB, "
        f"peak RSS {peak_rss_mib():.0f} MiB; estimated {cache.kept_bytes / MIB:.0f} MiB "
        f"(RECORD_CACHE_BYTES = {RECORD_CACHE_BYTES / MIB:.0f} MiB)"
    )


REMOTE_QUESTION = "Does the patient have diabetes?"


async def remote_questions(url: str, patient: str | None, repeat: int) -> None:
    """Median seconds per question on a remote server, without and with the record cache."""
    async with FhirClient(url, timeout=600) as client, open_checkpointer(":memory:") as saver:
        if patient is None:
            found = await client.search("Patient", {"_count": "1"}, max_results=1)
            patient = str(found[0]["id"])
        medians: dict[str, float] = {}
        for cached in (False, True):
            assistant = Assistant(client, build_graph(checkpointer=saver), model="none")
            if not cached:
                assistant.records = None  # each question reads the record, as before
            seconds = []
            for _ in range(repeat):
                started = time.perf_counter()
                await assistant.ask(patient, REMOTE_QUESTION)
                seconds.append(time.perf_counter() - started)
            medians["with" if cached else "without"] = statistics.median(seconds[1:])
            print(
                f"{'with' if cached else 'without':8} the record cache: first question "
                f"{seconds[0]:.3f} s, median of the next {repeat - 1}: "
                f"{medians['with' if cached else 'without']:.3f} s"
            )
        print(
            f"remote {url}: {medians['without'] / medians['with']:.1f}x faster per question "
            f"with the cache ({medians['without'] - medians['with']:.3f} s saved)"
        )


async def run(args: argparse.Namespace) -> None:
    if args.fhir_url:
        patient = args.patients[0] if args.patients else None
        await remote_questions(args.fhir_url, patient, args.repeat)
        return
    if args.quick:
        store = EmbeddedStore(":memory:")
        async with embedded_client(store) as client:
            await load_paths(client, [FIXTURES], validate=False)
    else:
        store = EmbeddedStore(args.store)
    try:
        patients = args.patients or largest_patients(
            store, 2 if args.quick else RECORD_CACHE_ENTRIES
        )
        await measure(store, patients, args.heap)
    finally:
        store.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, default=None, help="a loaded store (a copy)")
    parser.add_argument("--patients", nargs="*", default=None)
    parser.add_argument("--quick", action="store_true", help="CI size: committed fixtures")
    parser.add_argument("--heap", action="store_true", help="also the Python heap (slower)")
    parser.add_argument("--fhir-url", default=None, help="time questions on this server")
    parser.add_argument("--repeat", type=int, default=6, help="questions per mode (--fhir-url)")
    args = parser.parse_args(argv)
    if not args.quick and args.store is None and args.fhir_url is None:
        parser.error("--store DB (a copy of a loaded store), --fhir-url URL or --quick")
    if args.repeat < 2:
        parser.error("--repeat must be at least 2")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
