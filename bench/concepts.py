"""Cost of the whole-record views: $everything read, concept index, resolution, FTS search.

    nice -n 10 python bench/concepts.py [dataset dirs ...]   # default: synthea_fixtures/fhir

Why: the concept index and the record-wide search are built once per toolset from
``Patient/$everything``; a question pays that once, then each resolution or search is a
walk over a few hundred index entries or one FTS5 query.  This loads the bundles into an
in-memory embedded store with the project's loader, then for every patient times (median
and max over patients, and per 1,000 resources): the $everything read, the index build,
the FTS5 build, one resolution of each of a fixed set of phrases, and one search query.
The brand table's one-off load (drug-named-entity-recognition's data file) is timed apart.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fhir_client.embedded import EmbeddedStore, embedded_client  # noqa: E402
from fhir_client.loading import load_paths  # noqa: E402
from tools.concepts import build_index, load_record, resolve  # noqa: E402
from tools.concepts.brands import generic_names  # noqa: E402
from tools.concepts.search import RecordSearch  # noqa: E402
from tools.scope import PatientScope  # noqa: E402

PHRASES = (
    "blood thinners", "kidney function", "covid", "BP", "is she diabetic",
    "hospitalized", "ER visits", "statins", "metfromin", "employment", "lipids",
)  # fmt: skip


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


async def run(paths: list[Path]) -> None:
    store = EmbeddedStore(":memory:")
    async with embedded_client(store, timeout=600.0) as client:
        await load_paths(client, paths, validate=False)
        ids = [p["id"] for p in await client.search("Patient", {"_count": "200"})]
        started = time.perf_counter()
        generic_names("plavix")
        print(f"brand table first load: {_ms(time.perf_counter() - started)}")
        rows: dict[str, list[float]] = {k: [] for k in ("read", "index", "fts", "resolve", "q")}
        sizes = []
        for patient_id in ids:
            scope = PatientScope(client, patient_id)
            t0 = time.perf_counter()
            record = await load_record(scope)
            t1 = time.perf_counter()
            index = build_index(record)
            t2 = time.perf_counter()
            search = RecordSearch(record)
            t3 = time.perf_counter()
            for phrase in PHRASES:
                resolve(phrase, index)
            t4 = time.perf_counter()
            search.search("chest pain")
            t5 = time.perf_counter()
            search.close()
            sizes.append(len(record.resources))
            rows["read"].append(t1 - t0)
            rows["index"].append(t2 - t1)
            rows["fts"].append(t3 - t2)
            rows["resolve"].append((t4 - t3) / len(PHRASES))
            rows["q"].append(t5 - t4)
    store.close()
    total = sum(sizes)
    print(f"{len(ids)} patients, {total} resources (median {statistics.median(sizes):.0f})")
    for name, label in (
        ("read", "$everything read"),
        ("index", "concept index build"),
        ("fts", "FTS5 index build"),
        ("resolve", "one resolution"),
        ("q", "one search query"),
    ):
        values = rows[name]
        per_k = sum(values) / total * 1000
        print(
            f"{label:22s} median {_ms(statistics.median(values))}  max {_ms(max(values))}"
            f"  per 1,000 resources {_ms(per_k)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, default=[REPO / "synthea_fixtures/fhir"])
    asyncio.run(run(parser.parse_args().paths))


if __name__ == "__main__":
    main()
